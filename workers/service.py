"""The worker side of the service, assembled from settings: the live index that follows the
hash list, the pipeline with the real fetcher, resolver and hashers, and the runner."""

from __future__ import annotations

import asyncio
import functools
from types import TracebackType

from hashes.index import ExactIndex
from hashes.matcher import Matcher
from hashes.policy import VerdictPolicy
from hashes.video import (
    QueryParams,
    ReferenceParams,
    closer_look,
    complete_look,
    first_look,
    hash_reference,
)
from triage import metrics
from triage.config import Settings
from triage.models import JobKind
from triage.store.protocol import Store
from workers.fetch import fetch_media
from workers.hashing_pool import HashingPool, StepReport
from workers.index_cache import LiveIndex
from workers.pipeline import MediaTools, Pipeline, fetch_limits
from workers.resolve import resolve_post_page
from workers.retro import RetroMatcher
from workers.runner import Runner
from workers.webhook import WebhookRelay

GRACE_SECONDS = 20.0


def media_tools(settings: Settings) -> MediaTools:
    query_params = QueryParams(fps=settings.match.query_fps)
    return MediaTools(
        fetch=fetch_media,
        resolve=resolve_post_page,
        first_look=functools.partial(first_look, params=query_params),
        complete_look=functools.partial(complete_look, params=query_params),
        closer_look=closer_look,
        hash_reference=functools.partial(
            hash_reference,
            params=ReferenceParams(derived_every=settings.match.reference_derived_every),
        ),
    )


def _observe_step(report: StepReport) -> None:
    metrics.hashing_steps_total.labels(outcome=report.outcome).inc()
    if report.peak_memory_bytes:
        metrics.hashing_peak_memory_bytes.observe(report.peak_memory_bytes)


def live_index(store: Store) -> LiveIndex:
    index = ExactIndex()
    matcher = Matcher(index)
    return LiveIndex(
        store, index, matcher.match, matcher.settle_on_full_frames, matcher.wants_closer_look
    )


class WorkerService:
    """Owns the hashing processes; use as an async context manager around `run`.

    With `primary` (the `triage serve` process) it also delivers referrals to the webhook;
    separate `triage worker` processes only run jobs.
    """

    def __init__(
        self, store: Store, settings: Settings, *, slots: int, primary: bool = False
    ) -> None:
        self.store = store
        self.settings = settings
        self.slots = slots
        self.primary = primary
        self.index = live_index(store)
        # Built now, so a bad webhook setting stops the start with a clear error.
        self.relay = self._relay() if primary else None
        # Media are decoded only in limited child processes, replaced when they die.
        self._executor = HashingPool(settings.hashing, max(1, slots), observer=_observe_step)
        self.pipeline = Pipeline(store, self.index, media_tools(settings), settings, self._executor)
        policy = VerdictPolicy(settings.match.confirm_at, settings.match.review_at)
        self.retro = RetroMatcher(store, policy, settings.retro_match_days, self.pipeline.lookup)

    @property
    def hashing_ready(self) -> bool:
        """False while no hashing process can be started (reported by `/readyz`)."""
        return self._executor.ready

    async def __aenter__(self) -> WorkerService:
        if self.slots > 0:
            await self._executor.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._executor.close()

    def _relay(self) -> WebhookRelay | None:
        referrals = self.settings.referrals
        if referrals.webhook_url is None or referrals.webhook_secret is None:
            return None
        return WebhookRelay(
            self.store,
            referrals.webhook_url,
            referrals.webhook_secret.get_secret_value(),
            fetch_limits(self.settings),
            poll_seconds=self.settings.jobs.poll_seconds,
            backoff_base_seconds=self.settings.jobs.backoff_base_seconds,
            backoff_max_seconds=self.settings.jobs.backoff_max_seconds,
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Sync the index and run the workers until `stop`; running jobs finish or go back."""
        self.settings.media_dir.mkdir(parents=True, exist_ok=True)
        await self.index.sync()
        async with asyncio.TaskGroup() as group:
            group.create_task(self.index.run(stop, poll_seconds=1.0))
            if self.relay is not None:
                group.create_task(self.relay.run(stop))
            if self.slots > 0:
                runner = Runner(
                    self.store,
                    {**self.pipeline.handlers(), JobKind.RETRO_MATCH: self.retro.handle},
                    self.settings.jobs,
                    slots=self.slots,
                    grace_seconds=GRACE_SECONDS,
                )
                group.create_task(runner.run(stop))
