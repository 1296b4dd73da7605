"""Every metric an alert rule names is one the code exports, so no alert watches nothing."""

from __future__ import annotations

import re
from pathlib import Path

import servicekit.bus.consumer  # noqa: F401 — registers the bus's metrics
import yaml
from prometheus_client import REGISTRY

RULES = Path(__file__).resolve().parents[2] / "deploy" / "monitoring" / "alerts.yaml"
METRIC = re.compile(r"\b(realty_[a-z0-9_]+)\b")


def exported() -> set[str]:
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        names.add(f"{family.name}_total")
    return names


def test_every_metric_an_alert_names_is_exported() -> None:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert rules
    known = exported()
    for rule in rules:
        named = set(METRIC.findall(rule["expr"]))
        assert named, rule["alert"]
        assert named <= known, (rule["alert"], named - known)
        assert rule["labels"]["severity"] in {"page", "warn"}
        assert rule["annotations"]["runbook"]
