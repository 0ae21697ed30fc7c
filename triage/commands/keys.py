"""`triage keys create | list | rotate | revoke`: the API keys, from the command line."""

from __future__ import annotations

import argparse
import asyncio
import sys

from triage.actors import CLI_ACTOR
from triage.commands.exit_codes import EXIT_OK
from triage.commands.records import RecordWriter, add_json
from triage.commands.store import add_config, load_target, with_store
from triage.errors import ConfigError, Conflict, NotFound
from triage.keys import parse_hosts, parse_scopes
from triage.models import ApiKey, Scope, new_api_key_token
from triage.store.protocol import Store

KEY_FIELDS = ("id", "name", "scopes", "hosts", "created_at", "revoked_at")

EXAMPLES = """\
examples:
  triage keys create --config /etc/triage/config.yaml --scope admin --name alice
  triage keys create --scope read --hosts video.example --name example-platform
  triage keys list --json
  triage keys rotate key_0123abcd             a new key like it; the old one still works
  triage keys revoke key_0123abcd             once the holder has switched"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser(
        "keys",
        help="create, list, rotate or revoke API keys",
        description="Manage the API keys; the store keeps only their SHA-256 digests.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser(
        "create",
        help="create a key and print it once",
        description="Create a key and print it on stdout, once: it cannot be shown again.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config(create, create=True)
    create.add_argument("--scope", required=True, help="comma-separated: submit,read,review,admin")
    create.add_argument("--name", default="key", help="who or what the key is for")
    create.add_argument("--hosts", default=None, help="limit a read key to these hosts")
    create.set_defaults(handler=create_command)
    listing = actions.add_parser(
        "list",
        help="list keys (never the keys themselves)",
        description="Every key, revoked ones included, oldest first: " + ", ".join(KEY_FIELDS),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config(listing, create=True)
    add_json(listing)
    listing.set_defaults(handler=list_command)
    revoke = actions.add_parser(
        "revoke",
        help="revoke a key by id",
        description="Revoke a key: requests with it are refused from now on.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config(revoke, create=True)
    revoke.add_argument("id", help="the key's id (from `triage keys list`), not the key")
    revoke.set_defaults(handler=revoke_command)
    rotate = actions.add_parser(
        "rotate",
        help="replace a key by a new one with the same name, scopes and hosts",
        description="Create a key like the one given (name, scopes, hosts) and print it once. "
        "The old key keeps working until revoked, so the holder can switch without a gap; "
        "--revoke revokes it at once.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config(rotate, create=True)
    rotate.add_argument("id", help="the id of the key to replace (from `triage keys list`)")
    rotate.add_argument("--revoke", action="store_true", help="revoke the old key now")
    rotate.set_defaults(handler=rotate_command)


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

    return asyncio.run(with_store(load_target(args.config), work, create=args.create))


def list_command(args: argparse.Namespace) -> int:
    async def work(store: Store) -> int:
        with RecordWriter(KEY_FIELDS, as_json=args.json) as out:
            for key in await store.list_api_keys():
                out.write(key.model_dump())
        return EXIT_OK

    return asyncio.run(with_store(load_target(args.config), work, create=args.create))


def revoke_command(args: argparse.Namespace) -> int:
    async def work(store: Store) -> int:
        key = await store.revoke_api_key(args.id)
        await store.append_audit(actor=CLI_ACTOR, action="key.revoke", target=key.id)
        print(f"revoked {key.id} ({key.name})", file=sys.stderr)
        return EXIT_OK

    return asyncio.run(with_store(load_target(args.config), work, create=args.create))


def rotate_command(args: argparse.Namespace) -> int:
    token = new_api_key_token()
    target = load_target(args.config)

    async def work(store: Store) -> int:
        old = next((key for key in await store.list_api_keys() if key.id == args.id), None)
        if old is None:
            raise NotFound(f"no key {args.id}")
        if not old.active:
            raise Conflict(f"key {old.id} is revoked: create a new one with `triage keys create`")
        key = await store.create_api_key(
            old.name, old.scopes, ApiKey.digest(token), hosts=old.hosts
        )
        await store.append_audit(
            actor=CLI_ACTOR, action="key.rotate", target=key.id, details={"replaces": old.id}
        )
        if args.revoke:
            await store.revoke_api_key(old.id)
            await store.append_audit(actor=CLI_ACTOR, action="key.revoke", target=old.id)
        print(token, flush=True)
        if args.revoke:
            after = f"{old.id} is revoked"
        else:
            revoke = target.command("keys revoke", old.id)
            after = f"{old.id} still works; once its holder has switched, run:\n  {revoke}"
        print(f"created key {key.id} to replace {old.id}; it is shown only once. {after}",
              file=sys.stderr)  # fmt: skip
        return EXIT_OK

    return asyncio.run(with_store(target, work, create=args.create))
