"""CLI subcommands that need no running service; each module has `register(subparsers)`."""
