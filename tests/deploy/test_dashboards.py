"""The Grafana dashboards: well-formed, and every metric a panel queries is one the code
exports (the same reading of the code as the alert rules'), and every query parses as
PromQL once Grafana's variables are put in."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest

from tests.deploy.test_alerts import METRIC, exported, query_mistakes, selected

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "deploy" / "monitoring" / "dashboards").glob("*.json"))
SERVICES = sorted(path.parent.name for path in (ROOT / "services").glob("*/pyproject.toml"))


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def test_there_is_a_gateway_and_a_service_dashboard() -> None:
    assert {path.stem for path in DASHBOARDS} >= {"gateway", "service"}


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_metric_a_panel_queries_is_exported(path: Path) -> None:
    known = exported()
    found = list(queries(load(path)))
    assert found
    for title, expr in found:
        named = set(METRIC.findall(expr))
        assert named, (title, expr)
        assert named <= known, (title, named - known)
        assert query_mistakes(expr.replace("$__rate_interval", "5m")) == [], title


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_panels_are_unique_and_do_not_overlap(path: Path) -> None:
    dashboard = load(path)
    assert dashboard["uid"].startswith("realty-")
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids))
    taken: set[tuple[int, int]] = set()
    for panel in panels(dashboard):
        box = panel["gridPos"]
        assert box["x"] + box["w"] <= 24, panel["title"]
        cells = {
            (x, y)
            for x in range(box["x"], box["x"] + box["w"])
            for y in range(box["y"], box["y"] + box["h"])
        }
        assert not cells & taken, panel["title"]
        taken |= cells


def test_the_service_dashboard_offers_every_service() -> None:
    dashboard = load(ROOT / "deploy" / "monitoring" / "dashboards" / "service.json")
    (variable,) = [v for v in dashboard["templating"]["list"] if v["name"] == "service"]
    assert sorted(variable["query"].split(",")) == SERVICES
    used = "\n".join(expr for _, expr in queries(dashboard))
    assert used.count('service="$service"') >= 5


def test_the_gateway_dashboard_covers_requests_errors_latency_and_subgraphs() -> None:
    used = "\n".join(
        expr
        for _, expr in queries(load(ROOT / "deploy" / "monitoring" / "dashboards" / "gateway.json"))
    )
    for metric in (
        "gateway_requests_total",
        "gateway_request_errors_total",
        "gateway_request_duration_seconds_bucket",
        "gateway_subgraph_fetch_duration_seconds",
        "gateway_subgraph_fetch_errors_total",
    ):
        assert re.search(rf"\b{metric}", used), metric


# Grafana's variables as it interpolates them before Prometheus sees the query.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$service": "identity"}


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_panel_query_parses_as_promql(path: Path) -> None:
    for title, expr in queries(load(path)):
        interpolated = expr
        for variable, value in GRAFANA_VARIABLES.items():
            interpolated = interpolated.replace(variable, value)
        assert "$" not in interpolated, f"{title}: a variable this test does not know"
        promql_parser.parse(interpolated)  # raises ValueError on a bad query or type
        assert selected(interpolated) == set(METRIC.findall(interpolated)), title
