"""Random `VideoHashes` survive both formats: the full-frame rows come back unchanged."""

from __future__ import annotations

import io

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hashes.formats.jsonl import HashListEntry, dumps_record, loads_record
from hashes.formats.vpdq import read_vpdq, write_vpdq
from hashes.types import PDQ_BYTES, VideoHashes, View

PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, database=None)

reference_ids = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40
).filter(lambda text: text.strip() != "")


@st.composite
def video_hashes(draw: st.DrawFn) -> VideoHashes:
    count = draw(st.integers(min_value=1, max_value=40))
    digests = draw(
        st.lists(st.binary(min_size=PDQ_BYTES, max_size=PDQ_BYTES), min_size=count, max_size=count)
    )
    steps = draw(
        st.lists(
            st.floats(min_value=0, max_value=30, allow_nan=False), min_size=count, max_size=count
        )
    )
    qualities = draw(st.lists(st.integers(0, 100), min_size=count, max_size=count))
    views = draw(
        st.one_of(
            st.just(()), st.lists(st.sampled_from(View), min_size=count, max_size=count).map(tuple)
        )
    )
    if views:
        # At least one full-frame row, as every exported video has.
        views = (View.FULL, *views[1:])
    return VideoHashes(
        hashes=np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(count, PDQ_BYTES).copy(),
        timestamps=np.cumsum(np.array(steps, dtype=np.float64)),
        qualities=np.array(qualities, dtype=np.int16),
        views=views,
        duration_seconds=draw(st.floats(min_value=0, max_value=1e5, allow_nan=False)),
        frame_count=draw(st.integers(min_value=0, max_value=10**6)),
    )


@PROPERTY_SETTINGS
@given(hashes=video_hashes())
def test_vpdq_round_trip_keeps_full_frame_rows(hashes: VideoHashes) -> None:
    out = io.StringIO()
    write_vpdq(hashes, out)
    read = read_vpdq(io.StringIO(out.getvalue()))
    full = hashes.full_frame()
    np.testing.assert_array_equal(read.hashes, full.hashes)
    np.testing.assert_array_equal(read.qualities, full.qualities)
    # Timestamps are written with three decimals, as Meta's tools do.
    np.testing.assert_allclose(read.timestamps, full.timestamps, rtol=0, atol=0.0005 + 1e-9)
    assert read.frame_count == len(full)
    assert read.views == ()


@PROPERTY_SETTINGS
@given(
    hashes=video_hashes(),
    reference_id=reference_ids,
    label=st.text(),
    source=st.text(),
    metadata=st.dictionaries(st.text(), st.text(), max_size=4),
)
def test_jsonl_round_trip_is_exact(
    hashes: VideoHashes, reference_id: str, label: str, source: str, metadata: dict[str, str]
) -> None:
    entry = HashListEntry(reference_id, hashes, label=label, source=source, metadata=metadata)
    line = dumps_record(entry)
    assert line.count("\n") == 1
    read = loads_record(line)
    full = hashes.full_frame()
    assert (read.reference_id, read.label, read.source) == (reference_id, label, source)
    assert dict(read.metadata) == metadata
    np.testing.assert_array_equal(read.hashes.hashes, full.hashes)
    np.testing.assert_array_equal(read.hashes.qualities, full.qualities)
    np.testing.assert_array_equal(read.hashes.timestamps, full.timestamps)
    assert read.hashes.duration_seconds == full.duration_seconds
    assert read.hashes.frame_count == full.frame_count
    assert read.hashes.views == ()
