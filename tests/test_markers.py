"""The markers `make test-fast` selects on are set where the fixtures imply them."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT

# Collects the given test files and prints each test's marker names.
_REPORT_MARKS = """
import sys
import pytest

class Report:
    def pytest_collection_finish(self, session):
        for item in session.items:
            names = sorted({mark.name for mark in item.iter_markers()})
            print("MARKS", item.nodeid, ",".join(names))

args = ["--collect-only", "-q", "-p", "no:cacheprovider", *sys.argv[1:]]
sys.exit(pytest.main(args, plugins=[Report()]))
"""

SQL = "tests/triage/store/test_sql.py"
E2E = "tests/test_e2e_service.py"
CASCADE = "tests/hashes/test_cascade.py"


def _marks(*files: str) -> dict[str, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", _REPORT_MARKS, *files],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rows = [line.split(" ") for line in done.stdout.splitlines() if line.startswith("MARKS ")]
    return {row[1]: set(filter(None, row[2].split(","))) for row in rows}


def test_postgres_media_and_e2e_marks_follow_the_fixtures_and_modules() -> None:
    marks = _marks(SQL, E2E, CASCADE)
    postgres = {test for test, names in marks.items() if "postgres" in names}
    expected = {test for test in marks if test.startswith(SQL) and test.endswith("[postgresql]")}
    expected.add(f"{E2E}::test_service_on_postgresql_with_a_separate_worker")
    assert postgres == expected
    # Every test of the cascade decodes a shared clip or the generated texture.
    cascade = [names for test, names in marks.items() if test.startswith(CASCADE)]
    assert cascade and all("media" in names for names in cascade)
    assert all("e2e" in names for test, names in marks.items() if test.startswith(E2E))
    assert not any("e2e" in names for test, names in marks.items() if test.startswith(SQL))
