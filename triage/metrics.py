"""Every Prometheus metric of the service, defined once (Prometheus naming, base units).

Workers and the API import the metric they update from here; `/metrics` renders the default
registry, on the API's port and on a `triage worker --metrics-port`. Gauges that describe the
store (queue depth and wait, review backlog) are refreshed from the store just before each
scrape, by `refresh_store_gauges`, so every process that is scraped reports the same values.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from triage.models import JobState, QueueStat

_SECONDS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

http_requests_total = Counter(
    "triage_http_requests_total",
    "HTTP requests answered, by route template, method and status code.",
    ["method", "route", "status"],
)
http_request_duration_seconds = Histogram(
    "triage_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    buckets=_SECONDS_BUCKETS,
)
submissions_total = Counter(
    "triage_submissions_total",
    "Submissions received, by outcome: new, deduplicated (linked to known media), replayed "
    "(same idempotency key).",
    ["outcome"],
)
jobs_finished_total = Counter(
    "triage_jobs_finished_total",
    "Job attempts ended, by kind and outcome (done, failed, retry, dead, released, moved to "
    "the long lane).",
    ["kind", "outcome"],
)
queue_jobs = Gauge(
    "triage_queue_jobs",
    "Open jobs in the store (queued or running; finished ones are not counted), by kind and state.",
    ["kind", "state"],
)
queue_oldest_job_age_seconds = Gauge(
    "triage_queue_oldest_job_age_seconds",
    "Age of the oldest open job of each kind in each state, since it was created (0: none).",
    ["kind", "state"],
)
queue_oldest_due_job_wait_seconds = Gauge(
    "triage_queue_oldest_due_job_wait_seconds",
    "How long the queued job of each kind that has waited longest for a worker has been due "
    "(0: none due; jobs still in retry backoff are not due).",
    ["kind"],
)
fetch_bytes_total = Counter("triage_fetch_bytes_total", "Bytes of media fetched.")
fetch_duration_seconds = Histogram(
    "triage_fetch_duration_seconds",
    "Time to fetch one media, post-page resolution included.",
    buckets=_SECONDS_BUCKETS,
)
fetch_errors_total = Counter("triage_fetch_errors_total", "Failed fetches, by reason.", ["reason"])
hash_seconds_per_media_second = Histogram(
    "triage_hash_seconds_per_media_second",
    "Wall seconds spent hashing per second of media.",
    buckets=(0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
)
query_looks_total = Counter(
    "triage_query_looks_total",
    "Media matched, by what was hashed: full_frames (they settled the match), every_view, "
    "or closer (every view and zoomed parts, for a lead with less evidence than asked).",
    ["look"],
)
match_duration_seconds = Histogram(
    "triage_match_duration_seconds",
    "Time to match one media's hashes against the hash list.",
    buckets=_SECONDS_BUCKETS,
)
verdicts_total = Counter("triage_verdicts_total", "Verdicts recorded, by kind.", ["verdict"])
hashlist_references = Gauge("triage_hashlist_references", "References in the live matcher index.")
hashlist_full_frames_only_references = Gauge(
    "triage_hashlist_full_frames_only_references",
    "References in the live index with full-frame hashes only (industry lists, or videos hashed "
    "before every view was stored): crops of them rely on the query's views alone.",
)
hashlist_other_design_references = Gauge(
    "triage_hashlist_other_design_references",
    "References in the live index matched on their full frames only because their derived "
    "views were made with another design than this service's: hash them again.",
)
hashlist_version = Gauge(
    "triage_hashlist_version", "Hash-list version the live matcher index reflects."
)
index_load_seconds = Gauge(
    "triage_index_load_seconds",
    "Seconds this process took to load the hash list at start, by source: snapshot (opened, "
    "then the changes since synced) or store (every hash record parsed and indexed).",
    ["source"],
)
index_snapshot_timestamp_seconds = Gauge(
    "triage_index_snapshot_timestamp_seconds",
    "Unix time the newest index snapshot this process loaded, wrote or found on disk was "
    "written (0: none).",
)
index_snapshot_writes_total = Counter(
    "triage_index_snapshot_writes_total",
    "Index snapshots this process wrote, by outcome: written, failed.",
    ["outcome"],
)
worker_heartbeats_total = Counter(
    "triage_worker_heartbeats_total", "Lease heartbeats sent by workers of this process."
)
worker_last_heartbeat_timestamp_seconds = Gauge(
    "triage_worker_last_heartbeat_timestamp_seconds",
    "Unix time a worker slot of this process last showed it is alive: a poll of the store "
    "for work (idle) or a lease heartbeat (busy).",
)
worker_slots = Gauge("triage_worker_slots", "Worker slots this process runs (0: none).")
workers_busy = Gauge("triage_workers_busy", "Worker slots of this process running a job.")
referral_deliveries_total = Counter(
    "triage_referral_deliveries_total",
    "Referral delivery attempts, by sink and outcome (delivered, failed).",
    ["sink", "outcome"],
)
referral_delivery_lag_seconds = Gauge(
    "triage_referral_delivery_lag_seconds",
    "Age of the oldest referral a sink has not delivered yet (0 when caught up).",
    ["sink"],
)
review_queue_items = Gauge("triage_review_queue_items", "Review items awaiting a person.")
retro_matches_total = Counter(
    "triage_retro_matches_total",
    "Stored queries that matched a newly added reference, by the verdict they got.",
    ["verdict"],
)
lookups_total = Counter("triage_lookups_total", "Hash lookups answered, by verdict.", ["verdict"])
hashing_steps_total = Counter(
    "triage_hashing_steps_total",
    "Hashing steps run in a hashing child, by outcome: done, raised (the media's own error), "
    "decoder_crashed, timeout (the child was replaced), cancelled.",
    ["outcome"],
)
hashing_peak_memory_bytes = Histogram(
    "triage_hashing_peak_memory_bytes",
    "Peak resident memory of a hashing child during one step.",
    buckets=tuple(mib * 1024 * 1024 for mib in (128, 256, 384, 512, 768, 1024, 1536, 2048, 3072)),
)
after_commit_failures_total = Counter(
    "triage_after_commit_failures_total",
    "Follow-up steps that failed after a request's change was stored (the request still "
    "succeeded; the log names what is missing), by step.",
    ["step"],
)


def refresh_store_gauges(stats: list[QueueStat], open_review_items: int) -> None:
    """Set the gauges that describe the store: the queue from `Store.queue_stats()` (kinds and
    states without jobs read 0) and the review queue size."""
    review_queue_items.set(open_review_items)
    for stat in stats:
        kind, state = stat.kind.value, stat.state.value
        queue_jobs.labels(kind=kind, state=state).set(stat.count)
        queue_oldest_job_age_seconds.labels(kind=kind, state=state).set(
            stat.oldest_age_seconds or 0.0
        )
        if stat.state is JobState.QUEUED:
            queue_oldest_due_job_wait_seconds.labels(kind=kind).set(stat.longest_due_seconds or 0.0)
