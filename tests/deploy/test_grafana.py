"""The dashboard is found and wired: its panels use the provisioned data source, and the
provisioning reads the folder compose mounts it in."""

from __future__ import annotations

import json

import yaml

from tests.deploy.tools import COMPOSE_FILE, DASHBOARD, DEPLOY_DIR, dashboard_panels

PROVISIONING = DEPLOY_DIR / "grafana" / "provisioning"


def test_every_panel_queries_the_provisioned_prometheus() -> None:
    (source,) = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    for panel in dashboard_panels():
        assert panel["datasource"]["uid"] == source["uid"], panel["title"]
        assert panel["targets"] and panel["description"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == source["uid"], panel["title"]


def test_dashboard_ids_are_unique_and_panels_do_not_overlap() -> None:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        mine = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & mine, f"{panel['title']} overlaps another panel"
        cells |= mine


def test_provisioning_reads_the_folder_compose_mounts_the_dashboards_in() -> None:
    (provider,) = yaml.safe_load((PROVISIONING / "dashboards" / "triage.yml").read_text())[
        "providers"
    ]
    grafana = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["grafana"]
    mounts = dict(volume.split(":")[:2] for volume in grafana["volumes"])
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
