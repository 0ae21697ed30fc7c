"""The composition root: `triage serve | worker`, and the parser of every `triage` command.

This is the one module of `triage` allowed to import `workers`: it wires the API, the store and
the workers together, and assembles the parser. Every other command lives in its own module
under `triage.commands`, which registers its subcommands.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from aiohttp import web

from triage.api.app import create_app
from triage.api.metrics_app import serve_metrics
from triage.api.server import ApiRunner
from triage.commands import audit, backup, bench, hashlist, jobs, keys, media, migrate
from triage.commands.exit_codes import EXIT_INPUT_FAILED, EXIT_OK, EXIT_USAGE
from triage.commands.migrate import migrate_store
from triage.commands.store import StoreTarget, add_config, load_target, with_store
from triage.commands.version import version_line
from triage.config import Settings
from triage.errors import ConfigError, TriageError
from triage.logs import configure_logging
from triage.store.protocol import Store
from workers import limits_bench
from workers.live_index import live_index_of
from workers.service import WorkerService

_log = logging.getLogger("triage")


# --- shared plumbing ----------------------------------------------------------------------------


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)


# --- serve and worker ---------------------------------------------------------------------------


async def _first_key_hint(store: Store, target: StoreTarget) -> None:
    if await store.list_api_keys():
        return
    if target.settings.store.url.startswith("memory://"):
        # `triage keys` in another process would write to a store of its own.
        print("no API key exists, and a memory:// store gets none from `triage keys`: "
              "use a SQLite or PostgreSQL store.url", file=sys.stderr, flush=True)  # fmt: skip
        return
    command = target.command("keys create", "--scope", "admin", "--name", "admin")
    print(
        f"no API key exists yet; create the first admin key with:\n  {command}",
        file=sys.stderr,
        flush=True,
    )


async def _serve(target: StoreTarget, host: str, port: int) -> int:
    settings = target.settings

    async def work(store: Store) -> int:
        await _first_key_hint(store, target)
        stop = asyncio.Event()
        _stop_on_signals(stop)
        slots = settings.jobs.in_process_workers
        async with WorkerService(store, settings, slots=slots, primary=True) as svc:
            app = create_app(
                store,
                settings,
                readiness=svc.readiness(),
                lookup=svc.pipeline.lookup,
            )
            runner = ApiRunner(app, access_log=None, handle_signals=False)
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

    return await with_store(target, work)


async def _worker(target: StoreTarget, slots: int, metrics_port: int | None) -> int:
    settings = target.settings

    async def work(store: Store) -> int:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        async with contextlib.AsyncExitStack() as stack:
            if metrics_port is not None:
                bound = await stack.enter_async_context(
                    serve_metrics(store, settings.metrics.host, metrics_port)
                )
                host = settings.metrics.host
                print(f"metrics on http://{host}:{bound}/metrics", file=sys.stderr, flush=True)
            svc = await stack.enter_async_context(WorkerService(store, settings, slots=slots))
            print(f"worker running {slots} slot(s)", file=sys.stderr, flush=True)
            await svc.run(stop)
        return EXIT_OK

    return await with_store(target, work)


def _store_kind(settings: Settings) -> str:
    return settings.store.url.split(":", 1)[0]


def _cmd_serve(args: argparse.Namespace) -> int:
    target = load_target(args.config)
    settings = target.settings
    configure_logging(settings)
    host = args.host or settings.server.host
    port = settings.server.port if args.port is None else args.port
    if args.migrate:
        asyncio.run(migrate_store(target, create=True))
    return asyncio.run(_serve(target, host, port))


def _cmd_worker(args: argparse.Namespace) -> int:
    target = load_target(args.config)
    settings = target.settings
    configure_logging(settings)
    slots = args.slots if args.slots is not None else max(1, settings.jobs.in_process_workers)
    if slots < 1:
        raise ConfigError("--slots must be at least 1")
    metrics_port = settings.metrics.port if args.metrics_port is None else args.metrics_port
    if metrics_port is not None and not 0 <= metrics_port <= 65535:
        raise ConfigError(f"--metrics-port must be a port number, got {metrics_port}")
    return asyncio.run(_worker(target, slots, metrics_port))


# --- the parser ---------------------------------------------------------------------------------


SERVICE_EXAMPLES = """\
The store must be at the newest schema revision: run `triage migrate` first.

examples:
  triage migrate --config /etc/triage/config.yaml --create
  triage serve --config /etc/triage/config.yaml
  triage serve --port 0                          any free port (printed on stderr)
  triage serve --migrate                         migrate first (a container's only process)
  triage worker --config /etc/triage/config.yaml --slots 2"""


def _register_service(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the API with in-process workers",
        description="Run the HTTP API, "
        "the store and `jobs.in_process_workers` workers in one process.",
        epilog=SERVICE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config(serve)
    serve.add_argument("--host", default=None, help="address to listen on (server.host)")
    serve.add_argument("--port", type=int, default=None, help="port; 0 picks a free one")
    serve.add_argument(
        "--migrate",
        action="store_true",
        help="first make or upgrade the store, as `triage migrate --create` (one-process setups)",
    )
    serve.set_defaults(handler=_cmd_serve)

    worker = commands.add_parser(
        "worker",
        help="run workers only",
        description="Run workers on the configured store.",
        epilog=SERVICE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config(worker)
    worker.add_argument("--slots", type=int, default=None, help="jobs run at once")
    worker.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve /metrics on this port, at metrics.host (default: metrics.port; 0 picks one)",
    )
    worker.set_defaults(handler=_cmd_worker)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="triage",
        description="Find re-uploads of known attack videos and route them to takedown.",
        epilog="Every command takes --config FILE (default: ./config.yaml when present); "
        "`triage COMMAND --help` shows examples.",
    )
    parser.add_argument("--version", action="version", version=version_line())
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    media.register(commands)
    hashlist.register(commands)
    bench.register(commands, live_list=live_index_of, limits_bench=limits_bench.command)
    _register_service(commands)
    migrate.register(commands)
    keys.register(commands)
    jobs.register(commands)
    audit.register(commands)
    backup.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = args.handler
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
