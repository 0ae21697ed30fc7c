"""The composition root: `triage serve | worker | keys | jobs | hash | match | hashlist | bench`.

This is the one module of `triage` allowed to import `workers`: it wires the API, the store and
the workers together. Each command module registers its own subcommands.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from aiohttp import web

from triage.api.app import create_app
from triage.commands import bench, hashlist, media
from triage.commands.exit_codes import EXIT_INPUT_FAILED, EXIT_OK, EXIT_USAGE
from triage.config import Settings, load_settings
from triage.errors import ConfigError, TriageError
from triage.keys import parse_hosts, parse_scopes
from triage.models import ApiKey, AuditEntry, JobState, Scope, new_api_key_token
from triage.store import open_store
from triage.store.protocol import Store
from workers import limits_bench
from workers.service import WorkerService

CLI_ACTOR = "cli"

_log = logging.getLogger("triage")


# --- shared plumbing ----------------------------------------------------------------------------


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, default=None, help="settings file (default: ./config.yaml)"
    )


def _setup_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Access lines are noise at INFO; errors still surface through the problem middleware.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


async def _with_store(settings: Settings, work: Callable[[Store], Awaitable[int]]) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.store.url)
    try:
        await store.migrate()
        return await work(store)
    finally:
        await store.close()


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)


# --- serve and worker ---------------------------------------------------------------------------


async def _first_key_hint(store: Store) -> None:
    if not await store.list_api_keys():
        print(
            "no API key exists yet; create the first admin key with:\n"
            "  triage keys create --scope admin --name admin",
            file=sys.stderr,
            flush=True,
        )


async def _serve(settings: Settings, host: str, port: int) -> int:
    async def work(store: Store) -> int:
        await _first_key_hint(store)
        stop = asyncio.Event()
        _stop_on_signals(stop)
        slots = settings.jobs.in_process_workers
        async with WorkerService(store, settings, slots=slots, primary=True) as svc:
            app = create_app(
                store,
                settings,
                readiness={"index": lambda: svc.index.loaded, "hashing": lambda: svc.hashing_ready},
                lookup=svc.pipeline.lookup,
                rate_limit=settings.server.rate_limit,
            )
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            try:
                site = web.TCPSite(runner, host, port)
                try:
                    await site.start()
                except OSError as exc:
                    raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
                bound_port = runner.addresses[0][1]
                print(f"listening on http://{host}:{bound_port}", file=sys.stderr, flush=True)
                _log.info("store: %s", _store_kind(settings))
                await svc.run(stop)
            finally:
                await runner.cleanup()
        return EXIT_OK

    return await _with_store(settings, work)


async def _worker(settings: Settings, slots: int) -> int:
    async def work(store: Store) -> int:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        async with WorkerService(store, settings, slots=slots) as svc:
            print(f"worker running {slots} slot(s)", file=sys.stderr, flush=True)
            await svc.run(stop)
        return EXIT_OK

    return await _with_store(settings, work)


def _store_kind(settings: Settings) -> str:
    return settings.store.url.split(":", 1)[0]


def _cmd_serve(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    host = args.host or settings.server.host
    port = settings.server.port if args.port is None else args.port
    return asyncio.run(_serve(settings, host, port))


def _cmd_worker(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    slots = args.slots if args.slots is not None else max(1, settings.jobs.in_process_workers)
    if slots < 1:
        raise ConfigError("--slots must be at least 1")
    return asyncio.run(_worker(settings, slots))


# --- keys ---------------------------------------------------------------------------------------


def _cmd_keys_create(args: argparse.Namespace) -> int:
    scopes = parse_scopes(args.scope)
    hosts = parse_hosts(args.hosts)
    if hosts is not None and scopes != {Scope.READ}:
        raise ConfigError("--hosts applies to read-only keys (--scope read)")
    token = new_api_key_token()

    async def work(store: Store) -> int:
        key = await store.create_api_key(args.name, scopes, ApiKey.digest(token), hosts=hosts)
        await store.append_audit(
            actor=CLI_ACTOR,
            action="key.create",
            target=key.id,
            details={"name": key.name, "scopes": sorted(scopes), "hosts": list(hosts or ())},
        )
        print(token, flush=True)
        print(
            f"created key {key.id} ({', '.join(sorted(scopes))}); it is shown only once",
            file=sys.stderr,
        )
        return EXIT_OK

    return asyncio.run(_with_store(load_settings(args.config), work))


def _cmd_keys_list(args: argparse.Namespace) -> int:
    async def work(store: Store) -> int:
        for key in await store.list_api_keys():
            revoked = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
            hosts = ",".join(key.hosts) if key.hosts else "*"
            scopes = ",".join(sorted(key.scopes))
            print(
                f"{key.id}\t{key.name}\t{scopes}\thosts={hosts}\t"
                f"{key.created_at:%Y-%m-%d %H:%M}\t{revoked}"
            )
        return EXIT_OK

    return asyncio.run(_with_store(load_settings(args.config), work))


def _cmd_keys_revoke(args: argparse.Namespace) -> int:
    async def work(store: Store) -> int:
        key = await store.revoke_api_key(args.id)
        await store.append_audit(actor=CLI_ACTOR, action="key.revoke", target=key.id)
        print(f"revoked {key.id} ({key.name})", file=sys.stderr)
        return EXIT_OK

    return asyncio.run(_with_store(load_settings(args.config), work))


# --- jobs ---------------------------------------------------------------------------------------


def _cmd_jobs_list(args: argparse.Namespace) -> int:
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

    return asyncio.run(_with_store(load_settings(args.config), work))


def _cmd_jobs_retry(args: argparse.Namespace) -> int:
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

    return asyncio.run(_with_store(load_settings(args.config), work))


# --- audit --------------------------------------------------------------------------------------


def _audit_line(entry: AuditEntry) -> str:
    details = json.dumps(entry.details, sort_keys=True) if entry.details else ""
    return (
        f"{entry.cursor}\t{entry.at:%Y-%m-%d %H:%M:%S}\t{entry.actor}\t"
        f"{entry.action}\t{entry.target or ''}\t{details}"
    )


def _cmd_audit(args: argparse.Namespace) -> int:
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

    return asyncio.run(_with_store(load_settings(args.config), work))


# --- the parser ---------------------------------------------------------------------------------


def _register_service(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the API with in-process workers",
        description="Run the HTTP API, "
        "the store and `jobs.in_process_workers` workers in one process.",
    )
    _add_config(serve)
    serve.add_argument("--host", default=None, help="address to listen on (server.host)")
    serve.add_argument("--port", type=int, default=None, help="port; 0 picks a free one")
    serve.set_defaults(handler=_cmd_serve)

    worker = commands.add_parser(
        "worker", help="run workers only", description="Run workers on the configured store."
    )
    _add_config(worker)
    worker.add_argument("--slots", type=int, default=None, help="jobs run at once")
    worker.set_defaults(handler=_cmd_worker)


def _register_keys(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("keys", help="create, list or revoke API keys")
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a key and print it once")
    _add_config(create)
    create.add_argument("--scope", required=True, help="comma-separated: submit,read,review,admin")
    create.add_argument("--name", default="key", help="who or what the key is for")
    create.add_argument("--hosts", default=None, help="limit a read key to these hosts")
    create.set_defaults(handler=_cmd_keys_create)
    listing = actions.add_parser("list", help="list keys (never the keys themselves)")
    _add_config(listing)
    listing.set_defaults(handler=_cmd_keys_list)
    revoke = actions.add_parser("revoke", help="revoke a key by id")
    _add_config(revoke)
    revoke.add_argument("id")
    revoke.set_defaults(handler=_cmd_keys_revoke)


def _register_jobs(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    jobs = commands.add_parser("jobs", help="list jobs or retry a dead one")
    actions = jobs.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="jobs, oldest first")
    _add_config(listing)
    listing.add_argument("--state", default=None, help="comma-separated states")
    listing.add_argument("--limit", type=int, default=100)
    listing.set_defaults(handler=_cmd_jobs_list)
    retry = actions.add_parser("retry", help="queue a dead or failed job again")
    _add_config(retry)
    retry.add_argument("id")
    retry.set_defaults(handler=_cmd_jobs_retry)


def _register_audit(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = commands.add_parser("audit", help="print the audit log, oldest first")
    _add_config(audit)
    audit.add_argument("--after", type=int, default=0, help="only entries after this cursor")
    audit.add_argument("--limit", type=int, default=None, help="only the newest N entries")
    audit.set_defaults(handler=_cmd_audit)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="triage",
        description="Find re-uploads of known attack videos and route them to takedown.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    media.register(commands)
    hashlist.register(commands)
    bench.register(commands, limits_bench=limits_bench.command)
    _register_service(commands)
    _register_keys(commands)
    _register_jobs(commands)
    _register_audit(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = args.handler
    if args.command in ("serve", "worker"):
        _setup_logging()
    try:
        return int(handler(args))
    except ConfigError as exc:
        print(f"triage: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except TriageError as exc:
        print(f"triage: {exc}", file=sys.stderr)
        return EXIT_INPUT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
