"""`triage audit`: the audit log, oldest first."""

from __future__ import annotations

import argparse
import asyncio
import collections

from triage.commands.exit_codes import EXIT_OK
from triage.commands.records import RecordWriter, add_json
from triage.commands.store import add_config, load_target, with_store
from triage.errors import ConfigError
from triage.models import AuditEntry
from triage.store.protocol import Store

AUDIT_FIELDS = ("cursor", "at", "actor", "action", "target", "details")

EXAMPLES = """\
examples:
  triage audit --config /etc/triage/config.yaml --limit 20
  triage audit --after 1200 --json"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = commands.add_parser(
        "audit",
        help="print the audit log, oldest first",
        description="Who did what to what, and when, oldest first: " + ", ".join(AUDIT_FIELDS),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config(audit, create=True)
    add_json(audit)
    audit.add_argument("--after", type=int, default=0, help="only entries after this cursor")
    audit.add_argument("--limit", type=int, default=None, help="only the newest N entries")
    audit.set_defaults(handler=audit_command)


def audit_command(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        raise ConfigError("--limit must be at least 1")

    async def work(store: Store) -> int:
        after = args.after
        # With --limit only the newest entries are kept while paging; without it, all stream.
        newest: collections.deque[AuditEntry] = collections.deque(maxlen=args.limit or 0)
        with RecordWriter(AUDIT_FIELDS, as_json=args.json) as out:
            while True:
                entries = await store.list_audit(after=after, limit=500)
                for entry in entries:
                    if args.limit is None:
                        out.write(entry.model_dump())
                    else:
                        newest.append(entry)
                if len(entries) < 500:
                    break
                after = entries[-1].cursor
            for entry in newest:
                out.write(entry.model_dump())
        return EXIT_OK

    return asyncio.run(with_store(load_target(args.config), work, create=args.create))
