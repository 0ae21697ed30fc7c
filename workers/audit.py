"""Who the audit log names for work no person started: hashing, retro-matching, delivery."""

SYSTEM_ACTOR = "system"
