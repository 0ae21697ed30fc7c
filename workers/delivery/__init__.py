"""Referral delivery: the outbox relayed to each sink at least once, in order (`relay`), and
the signed HTTP webhook sink (`webhook`)."""
