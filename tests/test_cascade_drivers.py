"""Every number reported describes the code the service runs: one query cascade, driven by
everyone, its steps called nowhere else."""

from __future__ import annotations

import ast
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# The cascade's hashing steps and decisions: only `hashes/cascade.py` sequences them.
CASCADE_STEPS = frozenset(
    {"first_look", "complete_look", "closer_look", "settles", "wants_closer_look", "query_cascade"}
)
DRIVERS = {"workers/pipeline.py": "query_cascade"}


def _names_used(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            used |= {alias.name for alias in node.names}
        elif isinstance(node, ast.Attribute):
            used.add(node.attr)
        elif isinstance(node, ast.Name):
            used.add(node.id)
    return used


def test_nothing_outside_hashes_sequences_the_cascade_steps() -> None:
    offenders = {}
    for package in ("triage", "workers"):
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            relative = path.relative_to(REPO_ROOT).as_posix()
            allowed = {DRIVERS[relative]} if relative in DRIVERS else set()
            steps = (_names_used(path) & CASCADE_STEPS) - allowed
            if steps:
                offenders[relative] = sorted(steps)
    assert offenders == {}, f"cascade steps called outside hashes/cascade.py: {offenders}"


def test_the_pipeline_drives_the_shared_cascade() -> None:
    assert "query_cascade" in _names_used(REPO_ROOT / "workers" / "pipeline.py")


def test_the_edit_family_tests_take_the_service_entry_point() -> None:
    used = _names_used(REPO_ROOT / "tests" / "hashes" / "test_edit_families.py")
    assert {"match_query", "VerdictStep"} <= used
    assert "hash_query" not in used
