"""Parsing of key scopes and host lists, as given on the command line.

Key tokens and their digests are `triage.models.new_api_key_token` and `ApiKey.digest`.
"""

from __future__ import annotations

from triage.errors import InvalidInput
from triage.models import Scope


def parse_scopes(text: str) -> frozenset[Scope]:
    """`"submit,read"` → {SUBMIT, READ}; raises `InvalidInput` naming an unknown scope."""
    scopes: set[Scope] = set()
    for part in text.split(","):
        name = part.strip().lower()
        if not name:
            continue
        try:
            scopes.add(Scope(name))
        except ValueError as exc:
            known = ", ".join(s.value for s in Scope)
            raise InvalidInput(f"unknown scope {name!r} (known: {known})") from exc
    if not scopes:
        raise InvalidInput("at least one scope is needed")
    return frozenset(scopes)


def parse_hosts(text: str | None) -> tuple[str, ...] | None:
    """`"a.com, b.com"` → ("a.com", "b.com"), lower-cased; empty or None → None (all hosts)."""
    if not text:
        return None
    hosts = [h.strip().lower() for h in text.split(",") if h.strip()]
    for host in hosts:
        if "/" in host or " " in host or ":" in host:
            raise InvalidInput(f"not a host name: {host!r}")
    return tuple(dict.fromkeys(hosts)) or None


def grants(scopes: frozenset[Scope], needed: Scope) -> bool:
    """Admin keys may do everything; other keys only what their scopes name."""
    return needed in scopes or Scope.ADMIN in scopes
