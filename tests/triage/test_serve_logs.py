"""A real `triage serve`: a request that carries a key in a malformed header is answered as
problem+json, and the key appears nowhere in what the process writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.loopback import raw_exchange
from tests.processes import Process, run_cli, write_config
from triage.api.problems import PROBLEM_JSON


@pytest.mark.timeout(120)
async def test_folded_authorization_leaves_no_key_in_the_serve_log(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "config.yaml", tmp_path / "data", jobs={"in_process_workers": 0}
    )
    await run_cli(tmp_path, "migrate", "--config", str(config), "--create")
    created = await run_cli(tmp_path, "keys", "create", "--config", str(config), "--scope", "admin")
    token = created.strip()
    assert token.startswith("tt_")
    serve = Process("serve", ["serve", "--config", str(config)], tmp_path)
    await serve.start()
    try:
        base = (await serve.wait_for_line(r"listening on http://127\.0\.0\.1:(\d+)")).group(1)
        port = int(base)
        folded = (
            b"GET /v1/audit HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer\r\n "
            + token.encode()
            + b"\r\nConnection: close\r\n\r\n"
        )
        status, headers, body = await raw_exchange(port, folded)
        assert status == 400
        assert headers["content-type"].startswith(PROBLEM_JSON)
        assert json.loads(body)["status"] == 400 and token.encode() not in body
        # The same key, well formed, works: it was the folding that was refused.
        status, headers, body = await raw_exchange(
            port,
            b"GET /v1/audit HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
            + token.encode()
            + b"\r\nConnection: close\r\n\r\n",
        )
        assert status == 200, (headers, body)
        await serve.wait_for_line(r"refused a malformed request from 127\.0\.0\.1")
    finally:
        assert await serve.stop() == 0
    log = serve.output()
    assert "refused a malformed request" in log
    assert token not in log and token[3:20] not in log
