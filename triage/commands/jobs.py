"""`triage jobs list | retry`: the job queue, from the command line."""

from __future__ import annotations

import argparse
import asyncio
import sys

from triage.actors import CLI_ACTOR
from triage.commands.exit_codes import EXIT_OK
from triage.commands.records import RecordWriter, add_json
from triage.commands.store import add_config, load_target, with_store
from triage.errors import ConfigError
from triage.models import JobState
from triage.store.protocol import Store

JOB_FIELDS = ("id", "kind", "target_id", "state", "attempts", "max_attempts", "last_error",
              "created_at", "updated_at")  # fmt: skip

EXAMPLES = """\
examples:
  triage jobs list --config /etc/triage/config.yaml --state dead,failed
  triage jobs list --json --limit 1000
  triage jobs retry job_0123abcd"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    jobs = commands.add_parser(
        "jobs",
        help="list jobs or retry a dead one",
        description="Look into the job queue and put dead or failed jobs back in it.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = jobs.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list",
        help="jobs, oldest first",
        description="Jobs, oldest first: " + ", ".join(JOB_FIELDS),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config(listing, create=True)
    add_json(listing)
    states = ",".join(state.value for state in JobState)
    listing.add_argument("--state", default=None, help=f"comma-separated, of: {states}")
    listing.add_argument("--limit", type=int, default=100, help="at most this many jobs")
    listing.set_defaults(handler=list_command)
    retry = actions.add_parser(
        "retry",
        help="queue a dead or failed job again",
        description="Queue a dead or failed job again, with its attempts reset.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config(retry, create=True)
    retry.add_argument("id", help="the job's id (from `triage jobs list`)")
    retry.set_defaults(handler=retry_command)


def list_command(args: argparse.Namespace) -> int:
    try:
        states = [JobState(s.strip()) for s in args.state.split(",")] if args.state else None
    except ValueError as exc:
        raise ConfigError(f"--state: unknown job state in {args.state!r}") from exc

    async def work(store: Store) -> int:
        with RecordWriter(JOB_FIELDS, as_json=args.json) as out:
            for job in await store.list_jobs(states=states, limit=args.limit):
                out.write(job.model_dump())
        return EXIT_OK

    return asyncio.run(with_store(load_target(args.config), work, create=args.create))


def retry_command(args: argparse.Namespace) -> int:
    async def work(store: Store) -> int:
        job = await store.retry_job(args.id)
        await store.append_audit(
            actor=CLI_ACTOR,
            action="job.retry",
            target=job.id,
            details={"kind": job.kind.value, "target_id": job.target_id},
        )
        print(f"job {job.id} is {job.state} again", file=sys.stderr)
        return EXIT_OK

    return asyncio.run(with_store(load_target(args.config), work, create=args.create))
