"""Who the audit log names when no API key acted (a key's actions name the key's id)."""

CLI_ACTOR = "cli"
"""Changes made from the command line."""

SYSTEM_ACTOR = "system"
"""Work no person started: hashing, retro-matching, delivery."""
