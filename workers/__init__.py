"""Background work: fetching media, hashing jobs, referral delivery."""
