"""Schemathesis against the running API's own `/openapi.json`, with a key of every scope.

Positive and negative examples for every operation, fixed seed: no answer may be a 5xx other
than a documented one, and every status, content type and body must match the document. The
API runs on a loopback port in a thread of its own (schemathesis calls it synchronously),
over the in-memory store.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import hypothesis.errors
import pytest
import requests
import schemathesis
from aiohttp import web
from aiohttp.typedefs import Middleware
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hashes.formats.vpdq import read_vpdq
from hashes.index import ExactIndex
from hashes.matcher import Matcher
from hashes.types import VideoHashes
from tests.triage.api.test_app import VPDQ_NAME
from triage.api.app import create_app
from triage.api.auth import API_KEY
from triage.api.context import LookupFunction
from triage.api.operation import Handler
from triage.api.server import ApiRunner
from triage.config import load_settings
from triage.models import ApiKey, Scope, new_api_key_token
from triage.store.memory import MemoryStore
from triage.verdicts import Decision, VerdictPolicy, VerdictStep

SEED = 20261207
# Per operation and generation mode; ~20 operations x 2 modes x 30 >= 1,000 examples.
EXAMPLES_PER_MODE = 30
MIN_TOTAL_EXAMPLES = 1000
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass
class Tally:
    """Counted on the server: requests answered, and those that got past routing and auth."""

    answered: int = 0
    reached_handler: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class ServedApi:
    base_url: str
    keys: dict[Scope, str]
    tally: Tally


def _counting_middleware(tally: Tally, open_paths: set[str]) -> Middleware:
    @web.middleware
    async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        finally:
            resource = request.match_info.route.resource
            path = resource.canonical if resource is not None else None
            with tally.lock:
                tally.answered += 1
                if API_KEY in request or path in open_paths:
                    tally.reached_handler += 1

    return count


def _lookup(reference_vpdq: Path) -> LookupFunction:
    """The real matcher over an index holding one reference from the shared interop set."""
    index = ExactIndex()
    index.add("chair", read_vpdq(reference_vpdq))
    matcher = Matcher(index)

    verdicts = VerdictStep(VerdictPolicy(1.0, 0.5))

    async def lookup(query: VideoHashes) -> Decision:
        return verdicts.decide(matcher.match(query), lambda _: "chair attack")

    return lookup


async def _start(
    tmp_path: Path, tally: Tally, lookup: LookupFunction
) -> tuple[web.AppRunner, int, dict[Scope, str]]:
    settings = load_settings(
        None,
        {
            "TRIAGE_DATA_DIR": str(tmp_path / "data"),
            "TRIAGE_STORE__URL": "memory://",
            "TRIAGE_SERVER__MAX_UPLOAD_BYTES": str(1024 * 1024),
            "TRIAGE_SERVER__RATE_LIMIT": "1000000/minute",
        },
    )
    store = MemoryStore()
    keys: dict[Scope, str] = {}
    for scope in Scope:
        token = new_api_key_token()
        await store.create_api_key(f"{scope.value} key", {scope}, ApiKey.digest(token))
        keys[scope] = token
    app = create_app(
        store,
        settings,
        readiness={"index": lambda: None},
        lookup=lookup,
    )
    open_paths = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"}
    app.middlewares.append(_counting_middleware(tally, open_paths))
    runner = ApiRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, int(runner.addresses[0][1]), keys


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[ServedApi]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fuzzed-api", daemon=True)
    thread.start()
    tally = Tally()
    started = asyncio.run_coroutine_threadsafe(
        _start(
            tmp_path_factory.mktemp("fuzz"),
            tally,
            _lookup(shared_data / "interop" / "vpdq" / VPDQ_NAME),
        ),
        loop,
    )
    runner, port, keys = started.result(timeout=60)
    try:
        yield ServedApi(f"http://127.0.0.1:{port}", keys, tally)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=60)
        loop.close()


def _fuzz_operation(
    served: ServedApi,
    session: requests.Session,
    operation: APIOperation[Any, Any, Any, Any],
    mode: GenerationMode,
    scope_names: list[Scope],
) -> int:
    """Runs the examples of one operation in one mode; returns how many were sent."""
    sent = 0

    @hypothesis.seed(SEED)
    @hypothesis.settings(
        max_examples=EXAMPLES_PER_MODE,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    @hypothesis.given(
        case=operation.as_strategy(generation_mode=mode), scope=st.sampled_from(scope_names)
    )
    def run(case: Case[Any], scope: Scope) -> None:
        nonlocal sent
        headers = {"Authorization": f"Bearer {served.keys[scope]}"}
        response = case.call(base_url=served.base_url, session=session, headers=headers, timeout=30)
        sent += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        # Negative mode of an operation with nothing to make invalid (no parameter, no body).
        assert mode is GenerationMode.NEGATIVE and sent == 0
    return sent


def test_fuzzing_the_api_finds_no_error_and_no_schema_mismatch(
    served: ServedApi, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = schemathesis.openapi.from_url(f"{served.base_url}/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    assert len(operations) >= 15
    total = 0
    with requests.Session() as session:
        for operation in operations:
            needed = _needed_scope(operation.definition.raw)
            # Mostly the key the operation needs (so most examples reach it), every scope some.
            scope_names = [needed] * 3 + list(Scope) if needed else list(Scope)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                total += _fuzz_operation(served, session, operation, mode, scope_names)
    tally = served.tally
    with capsys.disabled():
        print(
            f"\nschemathesis: {total} examples over {len(operations)} operations, "
            f"{tally.reached_handler} reached a handler (past routing and auth), "
            f"{tally.answered} answered"
        )
    assert total >= MIN_TOTAL_EXAMPLES
    assert tally.reached_handler >= total // 3


def _needed_scope(definition: dict[str, object]) -> Scope | None:
    description = str(definition.get("description", ""))
    for scope in Scope:
        if f"`{scope.value}` scope" in description:
            return scope
    return None
