"""Pages for moderators: sign in with a key, submit, follow submissions, review matches."""
