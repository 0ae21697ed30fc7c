"""The receiver's recipe in docs/webhooks.md, run against what the webhook sink signs."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from tests.workers.delivery.test_relay import confirm
from triage.store.memory import MemoryStore
from workers.delivery.webhook import referral_body, sign

DOC = REPO_ROOT / "docs" / "webhooks.md"
SECRET = "s3cret"


@pytest.fixture(scope="module")
def recipe() -> dict[str, Any]:
    (code,) = re.findall(r"```python\n(.*?)```", DOC.read_text("utf-8"), flags=re.DOTALL)
    namespace: dict[str, Any] = {}
    exec(compile(code, str(DOC), "exec"), namespace)
    return namespace


async def _delivery(timestamp: int) -> tuple[dict[str, str], bytes, str]:
    store = MemoryStore()
    await confirm(store, "https://a.example/v/1")
    (referral,) = await store.list_referrals()
    body = referral_body(referral)
    headers = {
        "X-Triage-Event-Id": referral.id,
        "X-Triage-Timestamp": str(timestamp),
        "X-Triage-Signature": sign(SECRET, str(timestamp), body),
    }
    return headers, body, referral.id


async def test_a_fresh_genuine_delivery_passes(recipe: dict[str, Any]) -> None:
    now = int(time.time())
    headers, body, event_id = await _delivery(now)
    assert recipe["verify_delivery"](SECRET.encode(), headers, body, now=now + 10) == event_id


@pytest.mark.parametrize("age_seconds", [301, 3600, -301])
async def test_a_delivery_signed_over_five_minutes_away_is_rejected(
    recipe: dict[str, Any], age_seconds: int
) -> None:
    now = int(time.time())
    headers, body, _ = await _delivery(now - age_seconds)
    with pytest.raises(recipe["RejectedDelivery"], match="timestamp"):
        recipe["verify_delivery"](SECRET.encode(), headers, body, now=now)


async def test_a_changed_body_or_another_secret_is_rejected(recipe: dict[str, Any]) -> None:
    now = int(time.time())
    headers, body, _ = await _delivery(now)
    with pytest.raises(recipe["RejectedDelivery"], match="signature"):
        recipe["verify_delivery"](SECRET.encode(), headers, body + b" ", now=now)
    with pytest.raises(recipe["RejectedDelivery"], match="signature"):
        recipe["verify_delivery"](b"other", headers, body, now=now)


async def test_missing_headers_are_rejected(recipe: dict[str, Any]) -> None:
    with pytest.raises(recipe["RejectedDelivery"], match="headers"):
        recipe["verify_delivery"](SECRET.encode(), {}, b"{}", now=time.time())
