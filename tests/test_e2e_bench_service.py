"""The offline path and the service agree, query by query.

Generated crops, a caption overlay, a compilation and three negatives go through a real
`triage serve` (references uploaded as videos, then imported as the JSONL `triage hash`
makes) and through the offline bench path; any difference in verdict, best reference or score
(beyond 1%) fails.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from triage.bench.manifest import Manifest, QueryEntry, ReferenceEntry
from triage.bench.runner import hash_references, match_queries
from triage.bench.service import ReferenceInput, disagreements, run_through_service
from triage.config import load_settings
from triage.devset import footage, images
from triage.devset.ffmpeg import run
from triage.devset.graph import Graph
from triage.devset.recipes import FAMILIES, Context
from triage.models import Verdict
from triage.verdicts import VerdictStep

REPO_ROOT = Path(__file__).resolve().parents[1]
MAX_SIDE = 480
CUTS = (
    ("chair", "te-chair-orig-22-sd-bar.mp4", 0.0, 4.0),
    ("doorknob", "te-doorknob-hd-no-bar.mp4", 0.0, 4.0),
)
# (family, reference, seed): the edits the service lost before it kept every view.
EDITS = (
    ("crop", "chair", 3),
    ("crop", "doorknob", 4),
    ("text_overlay", "doorknob", 2),
    ("compilation", "chair", 5),
)

pytestmark = [pytest.mark.e2e, pytest.mark.media]


@pytest.fixture(scope="module")
def manifest(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    folder = tmp_path_factory.mktemp("through-service")
    sources = shared_data / "sources"
    clips = {
        name: footage.cut(sources / source, folder / f"ref-{name}.mp4", start, seconds, MAX_SIDE)
        for name, source, start, seconds in CUTS
    }
    rng = np.random.default_rng(5)
    filler = footage.pan(images.scene(rng, 1000, 700), folder / "filler.mp4", (480, 270), 4.0,
                         rng)  # fmt: skip
    queries = []
    for number, (family, reference, seed) in enumerate(EDITS):
        out = folder / f"q{number}-{family}-{reference}.mp4"
        graph = Graph(folder)
        edited, _ = FAMILIES[family](graph, graph.clip(clips[reference]),
                                     np.random.default_rng(seed), Context([filler]))  # fmt: skip
        run(graph.command(edited, out))
        queries.append(QueryEntry(f"q{number}", out, reference, family))
    # Negatives: unrelated footage, a test pattern, and a later stretch of the chair's own
    # recording that shares none of the reference's moments.
    pattern = footage.generated("testsrc2=s=480x270:r=25", folder / "pattern.mp4", 4.0)
    later = footage.cut(sources / CUTS[0][1], folder / "chair-later.mp4", 15.0, 4.0, MAX_SIDE)
    for number, clip in enumerate((filler, pattern, later), start=len(queries)):
        hard = clip is later
        family = "hard_negative" if hard else "unrelated"
        queries.append(QueryEntry(f"q{number}", clip.path, None, family, hard_negative=hard))
    references = tuple(ReferenceEntry(name, clip.path) for name, clip in clips.items())
    return Manifest(folder, references, tuple(queries))


def test_the_service_gives_the_offline_verdict_on_every_query(manifest: Manifest) -> None:
    settings = load_settings(REPO_ROOT / "config.yaml", environ={})
    index = hash_references(manifest, settings.match.reference_params(), progress=False).index
    offline = match_queries(
        manifest, index, settings.match.query_params(), settings.match.match_params(),
        VerdictStep.from_settings(settings), progress=False,
    ).outcomes  # fmt: skip
    # The offline path finds every edit and no negative: the comparison means something.
    assert [o.found for o in offline if o.query.must_match] == [True] * len(EDITS)
    assert all(o.verdict is Verdict.NONE for o in offline if not o.query.must_match)
    for how in ReferenceInput:
        service = asyncio.run(run_through_service(manifest, how, print))
        differ = disagreements(offline, service, settings.match.review_at)
        assert differ == [], f"{how.value}: {differ}"
