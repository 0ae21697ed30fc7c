"""The worker side of the service, assembled from settings: the live index that follows the
hash list, the pipeline with the real fetcher, resolver and hashers, and the runner."""

from __future__ import annotations

import asyncio
import functools
import logging
from types import TracebackType

from hashes.matcher import Matcher
from hashes.video.reference import hash_reference
from triage import metrics
from triage.api.context import ReadinessCheck
from triage.config import Settings
from triage.disk import DiskSpace
from triage.index_kinds import new_index
from triage.models import JobKind
from triage.store.protocol import Store
from triage.store.protocols import HashList
from triage.verdicts import VerdictStep
from workers.delivery.relay import RelayTiming
from workers.delivery.webhook import WebhookRelay
from workers.fetch.download import fetch_media
from workers.fetch.resolve import resolve_post_page
from workers.hashing.pool import HashingPool, StepReport
from workers.index_snapshots import IndexSnapshots
from workers.live_index import LiveIndex
from workers.pipeline import MediaTools, Pipeline, fetch_limits
from workers.retro_match import RetroMatcher
from workers.runner import Runner

_log = logging.getLogger(__name__)


def media_tools(settings: Settings) -> MediaTools:
    return MediaTools(
        fetch=fetch_media,
        resolve=resolve_post_page,
        query_params=settings.match.query_params(),
        hash_reference=functools.partial(hash_reference, params=settings.match.reference_params()),
    )


def _observe_step(report: StepReport) -> None:
    metrics.hashing_steps_total.labels(outcome=report.outcome).inc()
    if report.peak_memory_bytes:
        metrics.hashing_peak_memory_bytes.observe(report.peak_memory_bytes)


def live_index(store: HashList, settings: Settings) -> LiveIndex:
    """A live index of the configured kind, empty until its first sync (or `IndexSnapshots`'
    load, which may swap in the snapshot's index), holding references of the design this
    service hashes with."""
    index = new_index(settings.index)
    matcher = Matcher(index, settings.match.match_params())
    return LiveIndex(store, index, matcher, design=settings.match.reference_params().design)


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
        self.index = live_index(store, settings)
        self.snapshots = IndexSnapshots(
            self.index,
            store,
            settings.index,
            settings.index_snapshot_dir,
            settings.match.match_params(),
        )
        self.disk = DiskSpace(settings.data_dir, settings.data_min_free_bytes)
        # Built now, so a bad webhook setting stops the start with a clear error.
        self.relay = self._relay() if primary else None
        # Media are decoded only in limited child processes, replaced when they die.
        self._executor = HashingPool(
            settings.hashing,
            max(1, slots + settings.jobs.long_lane_slots),
            observer=_observe_step,
        )
        self.verdicts = VerdictStep.from_settings(settings)
        self.pipeline = Pipeline(
            store, self.index, media_tools(settings), settings, self._executor, self.verdicts
        )
        self.retro = RetroMatcher(
            store, self.verdicts, settings.retro_match_days, self.pipeline.lookup
        )

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
            RelayTiming.from_settings(referrals),
            share_notes=referrals.share_notes,
        )

    def readiness(self) -> dict[str, ReadinessCheck]:
        """The checks `/readyz` adds to the store's: the index, the hashing processes (when this
        process runs jobs), free space in data_dir, and the webhook destination."""
        checks: dict[str, ReadinessCheck] = {
            "index": self._index_problem,
            "disk": self.disk.problem,
        }
        if self.slots > 0:  # an API-only process hashes nothing
            checks["hashing"] = self._hashing_problem
        if self.relay is not None:
            relay = self.relay
            checks["webhook"] = lambda: relay.problem
        return checks

    def _hashing_problem(self) -> str | None:
        return None if self.hashing_ready else "no hashing process can be started"

    def _index_problem(self) -> str | None:
        return self.snapshots.problem()

    async def run(self, stop: asyncio.Event) -> None:
        """Sync the index and run the workers until `stop`; running jobs finish or go back."""
        self.settings.media_dir.mkdir(parents=True, exist_ok=True)
        await self.snapshots.load()
        _log.info(
            "started %d worker slot(s)%s",
            self.slots,
            " and the referral relay" if self.relay is not None else "",
        )
        async with asyncio.TaskGroup() as group:
            group.create_task(self._log_stop(stop))
            group.create_task(self.index.run(stop, self.settings.index.sync_seconds))
            group.create_task(self.snapshots.run(stop, self.settings.jobs.poll_seconds))
            if self.relay is not None:
                group.create_task(self.relay.run(stop))
            if self.slots > 0:
                runner = Runner(
                    self.store,
                    {**self.pipeline.handlers(), JobKind.RETRO_MATCH: self.retro.handle},
                    self.settings.jobs,
                    slots=self.slots,
                    long_slots=self.settings.jobs.long_lane_slots,
                    claim_gate=self.disk.problem,
                )
                group.create_task(runner.run(stop))
        _log.info("stopped")

    async def _log_stop(self, stop: asyncio.Event) -> None:
        await stop.wait()
        _log.info(
            "shutting down: no new jobs; running jobs get %.0f s to finish, then go back to "
            "the queue",
            self.settings.jobs.shutdown_grace_seconds,
        )
