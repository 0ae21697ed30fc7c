"""The logs of a real run: `triage serve` takes a reference and a submission to a verdict, then
stops; every log line is a JSON object, the ids of the work are on its lines, and neither the
API key nor a cookie appears anywhere."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.processes import Process, run_cli, until, write_config

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

# Printed by the CLI for a person at the terminal, before and beside the log lines.
CONSOLE_LINES = ("listening on http://",)


def _clip(path: Path, *filters: str) -> Path:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
         "testsrc2=s=320x240:r=25:d=5", *filters, "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )  # fmt: skip
    return path


def _log_lines(output: str) -> list[dict[str, Any]]:
    lines = []
    for text in output.splitlines():
        if text.startswith(CONSOLE_LINES):
            continue
        line = json.loads(text)  # fails the test on any line that is not JSON
        assert isinstance(line, dict), text
        assert {"time", "level", "logger", "message"} <= set(line), text
        lines.append(line)
    return lines


async def test_logs_of_a_run_to_a_verdict_are_json_lines_with_ids_and_no_secrets(
    tmp_path: Path,
) -> None:
    config = write_config(
        tmp_path / "config.yaml",
        tmp_path / "data",
        jobs={"in_process_workers": 1, "poll_seconds": 0.2},
        logging={"format": "json", "level": "INFO"},
    )
    conf = ("--config", str(config))
    await run_cli(tmp_path, "migrate", *conf, "--create")
    admin = (await run_cli(tmp_path, "keys", "create", "--scope", "admin", *conf)).strip()
    submitter = (await run_cli(tmp_path, "keys", "create", "--scope", "submit,read", *conf)).strip()
    reference = _clip(tmp_path / "ref-testcard.mp4")
    copy = _clip(tmp_path / "copy.mp4", "-vf", "scale=288:216", "-crf", "30")

    serve = Process("serve", ["serve", *conf], tmp_path)
    await serve.start()
    try:
        base = (await serve.wait_for_line(r"listening on (http://\S+)")).group(1)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            form = aiohttp.FormData()
            form.add_field("file", reference.read_bytes(), filename=reference.name)
            form.add_field("id", "ref-testcard")
            async with session.post(
                f"{base}/v1/references",
                data=form,
                headers={"Authorization": f"Bearer {admin}"},
            ) as response:
                assert response.status == 202, await response.text()

            async def active() -> bool:
                async with session.get(
                    f"{base}/v1/references/ref-testcard",
                    headers={"Authorization": f"Bearer {admin}"},
                ) as response:
                    return bool((await response.json())["status"] == "active")

            await until(active, 120, "the reference to be hashed")

            # The key also rides in a cookie and a query string: none of them may be logged.
            secret_headers = {
                "Authorization": f"Bearer {submitter}",
                "Cookie": f"session={submitter}",
            }
            form = aiohttp.FormData()
            form.add_field("file", copy.read_bytes(), filename="copy.mp4")
            async with session.post(
                f"{base}/v1/submissions?api_key={submitter}", data=form, headers=secret_headers
            ) as response:
                assert response.status == 202, await response.text()
                submission_id = (await response.json())["id"]

            async def finished() -> dict[str, Any] | None:
                async with session.get(
                    f"{base}/v1/submissions/{submission_id}", headers=secret_headers
                ) as response:
                    view: dict[str, Any] = await response.json()
                    return view if view["status"] in ("done", "failed") else None

            view = await until(finished, 120, "the submission's verdict")
        assert view["verdict"] == "confirmed", view
    finally:
        assert await serve.stop() == 0, serve.output()[-3000:]

    output = serve.output()
    for token in (admin, submitter):
        assert token not in output
    lines = _log_lines(output)

    (accepted,) = [line for line in lines if line.get("submission_id") == submission_id]
    media_id = accepted["media_id"]
    (verdict,) = [
        line for line in lines if line["message"].startswith("verdict ") and "verdict" in line
    ]
    assert verdict["level"] == "INFO"
    assert (verdict["media_id"], verdict["job_id"]) == (media_id, view["job_id"])
    assert (verdict["verdict"], verdict["best_reference_id"]) == ("confirmed", "ref-testcard")
    assert verdict["score"] == pytest.approx(view["score"], abs=1e-3)
    # Lines the worker wrote while on the job carry its ids, whatever logger wrote them.
    on_job = [line for line in lines if line.get("job_id") == view["job_id"]]
    assert len(on_job) >= 2 and all(line["media_id"] == media_id for line in on_job)

    access = [line for line in lines if line["logger"] == "triage.access"]
    submit_line = next(line for line in access if line["method"] == "POST"
                       and line["path"] == "/v1/submissions")  # fmt: skip
    assert submit_line["status"] == 202 and submit_line["key_id"].startswith("key_")
    assert all("?" not in line["path"] for line in access)

    messages = [line["message"] for line in lines]
    assert any(message.startswith("shutting down") for message in messages)
    assert messages[-1] == "stopped"
