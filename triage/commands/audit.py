"""`triage audit`: the audit log, oldest first."""

from __future__ import annotations

import argparse
import asyncio
import collections
import json

from triage.commands.exit_codes import EXIT_OK
from triage.commands.store import add_config, with_store
from triage.config import load_settings
from triage.errors import ConfigError
from triage.models import AuditEntry
from triage.store.protocol import Store


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = commands.add_parser("audit", help="print the audit log, oldest first")
    add_config(audit)
    audit.add_argument("--after", type=int, default=0, help="only entries after this cursor")
    audit.add_argument("--limit", type=int, default=None, help="only the newest N entries")
    audit.set_defaults(handler=audit_command)


def _audit_line(entry: AuditEntry) -> str:
    details = json.dumps(entry.details, sort_keys=True) if entry.details else ""
    return (
        f"{entry.cursor}\t{entry.at:%Y-%m-%d %H:%M:%S}\t{entry.actor}\t"
        f"{entry.action}\t{entry.target or ''}\t{details}"
    )


def audit_command(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        raise ConfigError("--limit must be at least 1")

    async def work(store: Store) -> int:
        after = args.after
        # With --limit only the newest entries are kept while paging; without it, all stream.
        newest: collections.deque[AuditEntry] = collections.deque(maxlen=args.limit or 0)
        while True:
            entries = await store.list_audit(after=after, limit=500)
            for entry in entries:
                if args.limit is None:
                    print(_audit_line(entry))
                else:
                    newest.append(entry)
            if len(entries) < 500:
                break
            after = entries[-1].cursor
        for entry in newest:
            print(_audit_line(entry))
        return EXIT_OK

    return asyncio.run(with_store(load_settings(args.config), work))
