"""The triage service: config, models, store, API, metrics and the CLI."""
