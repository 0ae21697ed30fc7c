"""The exit statuses every `triage` command shares, so scripts can tell failures apart."""

EXIT_OK = 0
EXIT_INPUT_FAILED = 1
"""The command ran, but an input (a file, a URL, a record) could not be used."""
EXIT_USAGE = 2
"""The command could not run as asked: arguments, configuration or setup (as argparse)."""
