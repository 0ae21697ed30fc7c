"""The deployment files under test, and the tools that check them (installed by
`make ops-tools` and the dev extra)."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT

DEPLOY_DIR = REPO_ROOT / "deploy"
ALERTS = DEPLOY_DIR / "prometheus" / "alerts.yml"
ALERT_TESTS = DEPLOY_DIR / "prometheus" / "alerts_test.yml"
PROMETHEUS_CONFIG = DEPLOY_DIR / "prometheus" / "prometheus.yml"
DASHBOARD = DEPLOY_DIR / "grafana" / "dashboards" / "triage.json"
DOCKERFILE = REPO_ROOT / "Dockerfile"
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"

_METRIC = re.compile(r"\b(triage_[a-z0-9_]+)\b")


def tool(name: str) -> str:
    """The path of a checking tool: beside this Python first (PyPI wheels), then on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run `make ops-tools` (or reinstall the dev extra)")
    return found


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def dashboard_panels() -> list[dict[str, Any]]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [panel for panel in panels if panel["type"] != "row"]


def dashboard_queries() -> list[str]:
    return [target["expr"] for panel in dashboard_panels() for target in panel["targets"]]


def metrics_used() -> set[str]:
    """Every `triage_*` series name the dashboard and the alert rules query."""
    queries = [*dashboard_queries(), *(rule["expr"] for rule in alert_rules())]
    return {name for query in queries for name in _METRIC.findall(query)}
