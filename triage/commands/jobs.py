"""`triage jobs list | retry`: the job queue, from the command line."""

from __future__ import annotations

import argparse
import asyncio
import sys

from triage.commands.exit_codes import EXIT_OK
from triage.commands.store import CLI_ACTOR, add_config, with_store
from triage.config import load_settings
from triage.errors import ConfigError
from triage.models import JobState
from triage.store.protocol import Store


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    jobs = commands.add_parser("jobs", help="list jobs or retry a dead one")
    actions = jobs.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="jobs, oldest first")
    add_config(listing)
    listing.add_argument("--state", default=None, help="comma-separated states")
    listing.add_argument("--limit", type=int, default=100)
    listing.set_defaults(handler=list_command)
    retry = actions.add_parser("retry", help="queue a dead or failed job again")
    add_config(retry)
    retry.add_argument("id")
    retry.set_defaults(handler=retry_command)


def list_command(args: argparse.Namespace) -> int:
    try:
        states = [JobState(s.strip()) for s in args.state.split(",")] if args.state else None
    except ValueError as exc:
        raise ConfigError(f"--state: unknown job state in {args.state!r}") from exc

    async def work(store: Store) -> int:
        for job in await store.list_jobs(states=states, limit=args.limit):
            error = job.last_error or ""
            print(
                f"{job.id}\t{job.kind}\t{job.target_id}\t{job.state}\t"
                f"{job.attempts}/{job.max_attempts}\t{error}"
            )
        return EXIT_OK

    return asyncio.run(with_store(load_settings(args.config), work))


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

    return asyncio.run(with_store(load_settings(args.config), work))
