"""`triage keys create | list | revoke`: the API keys, from the command line."""

from __future__ import annotations

import argparse
import asyncio
import sys

from triage.commands.exit_codes import EXIT_OK
from triage.commands.store import CLI_ACTOR, add_config, with_store
from triage.config import load_settings
from triage.errors import ConfigError
from triage.keys import parse_hosts, parse_scopes
from triage.models import ApiKey, Scope, new_api_key_token
from triage.store.protocol import Store


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("keys", help="create, list or revoke API keys")
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a key and print it once")
    add_config(create)
    create.add_argument("--scope", required=True, help="comma-separated: submit,read,review,admin")
    create.add_argument("--name", default="key", help="who or what the key is for")
    create.add_argument("--hosts", default=None, help="limit a read key to these hosts")
    create.set_defaults(handler=create_command)
    listing = actions.add_parser("list", help="list keys (never the keys themselves)")
    add_config(listing)
    listing.set_defaults(handler=list_command)
    revoke = actions.add_parser("revoke", help="revoke a key by id")
    add_config(revoke)
    revoke.add_argument("id")
    revoke.set_defaults(handler=revoke_command)


def create_command(args: argparse.Namespace) -> int:
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

    return asyncio.run(with_store(load_settings(args.config), work))


def list_command(args: argparse.Namespace) -> int:
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

    return asyncio.run(with_store(load_settings(args.config), work))


def revoke_command(args: argparse.Namespace) -> int:
    async def work(store: Store) -> int:
        key = await store.revoke_api_key(args.id)
        await store.append_audit(actor=CLI_ACTOR, action="key.revoke", target=key.id)
        print(f"revoked {key.id} ({key.name})", file=sys.stderr)
        return EXIT_OK

    return asyncio.run(with_store(load_settings(args.config), work))
