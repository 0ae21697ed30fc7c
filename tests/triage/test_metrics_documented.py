"""Every metric the service exports is listed in the operations guide, with its labels."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client.metrics import MetricWrapperBase

import triage.metrics

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
ROW = re.compile(r"^\| `(triage_[a-z_]+)` \| (\w+) \| ([a-z_,]*) \|", re.M)


def exported() -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for value in vars(triage.metrics).values():
        if isinstance(value, MetricWrapperBase):
            name = str(value._name)
            if value._type == "counter":
                name += "_total"
            found[name] = (str(value._type), ",".join(value._labelnames))
    return found


def test_the_operations_guide_lists_every_metric_with_its_labels() -> None:
    listed = {name: (kind, labels) for name, kind, labels in ROW.findall(GUIDE.read_text())}
    assert listed == exported()
