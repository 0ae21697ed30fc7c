"""What `triage serve` and `triage worker` load: never the bench or the devset tools.

import-linter (`make imports`) forbids the static imports; it cannot tell an import inside a
function from one at the top of a module, so this test checks what a fresh interpreter loads.
"""

from __future__ import annotations

import subprocess
import sys

# What the `triage` entry point does before it dispatches to serve or worker.
_LOAD_THE_CLI = """
import sys
import triage.cli
triage.cli.build_parser()
print("\\n".join(sorted(sys.modules)))
"""


def _modules_loaded_by(program: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", program], check=True, capture_output=True, text=True, timeout=120
    )
    return set(done.stdout.split())


def test_the_cli_loads_serve_and_worker_but_not_the_bench_or_devset_tools() -> None:
    loaded = _modules_loaded_by(_LOAD_THE_CLI)
    # The modules serve and worker run are there, so the check below means something.
    assert {"triage.api.app", "triage.store", "workers.service", "workers.pipeline"} <= loaded
    tools = sorted(m for m in loaded if m.startswith(("triage.bench", "triage.devset")))
    assert tools == []
