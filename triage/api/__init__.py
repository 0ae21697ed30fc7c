"""The HTTP API: `create_app(store, settings)` in `triage.api.app`."""
