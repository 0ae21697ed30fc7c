"""Every error the service raises on purpose; the API maps each class to one HTTP status."""

from __future__ import annotations


class TriageError(Exception):
    """Root of the service's errors; the message is meant for the person who caused it."""


class ConfigError(TriageError):
    """A setting is missing or invalid; the message names the key."""


class StoreError(TriageError):
    """The store could not do its work (database unreachable, driver failure)."""


class NotFound(TriageError):
    """The named record does not exist."""


class Conflict(TriageError):
    """The request clashes with the record's current state (wrong job state, duplicate id)."""


class LeaseLost(Conflict):
    """A worker acted on a job whose lease it no longer holds (it expired and was re-claimed)."""


class InvalidInput(TriageError):
    """The caller's input is malformed or out of range."""


class AuthError(TriageError):
    """No credentials, or credentials that do not name an active key."""


class Forbidden(TriageError):
    """The key is valid but lacks the scope or host access the request needs."""
