"""Every metric an alert rule names is one the code exports, so no alert watches nothing,
and every rule's expression is PromQL as Prometheus parses it (promql-parser, the same
grammar and type rules; promtool is not packaged for an offline check)."""

from __future__ import annotations

import re
from pathlib import Path

import media.consumers  # noqa: F401 — registers media's Chime metrics
import promql_parser
import pytest
import scheduling.live
import scheduling.metrics  # noqa: F401 — registers scheduling's booking outcomes
import servicekit.backlog  # registers the outbox, consumer and pool gauges
import servicekit.bus.consumer  # registers the bus's metrics
import servicekit.http  # noqa: F401 — registers the request metrics every service serves
import yaml
from gateway.metrics import GatewayMetrics
from prometheus_client import REGISTRY, CollectorRegistry

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "monitoring" / "alerts.yaml"
RUNBOOK = ROOT / "deploy" / "RUNBOOK.md"
METRIC = re.compile(r"\b((?:realty|gateway|scheduling)_[a-z0-9_]+)\b")

# The series Prometheus stores for each kind of family (exposition format).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("_count", "_sum", "_created"),
    "gauge": (),
}


def _names(registry: CollectorRegistry) -> set[str]:
    names: set[str] = set()
    for family in registry.collect():
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ()))
        names.update(sample.name for sample in family.samples)
    return names


def _monotonic(registry: CollectorRegistry) -> set[str]:
    """Series that only grow (counters, histogram and summary parts): rate() takes these."""
    names: set[str] = set()
    for family in registry.collect():
        if family.type in ("counter", "histogram", "summary"):
            names.update(family.name + suffix for suffix in SUFFIXES[family.type])
    return names


def monotonic() -> set[str]:
    return _monotonic(REGISTRY) | _monotonic(GatewayMetrics().registry)


RANGE_FUNCTION = re.compile(r"\b(?:rate|increase)\(\s*([a-z_:][a-z0-9_:]*)")
QUANTILE = re.compile(
    r"histogram_quantile\(\s*0?\.\d+\s*,\s*sum by \(([^)]*)\)\s*\(\s*rate\(\s*([a-z0-9_]+)"
)


def query_mistakes(expr: str) -> list[str]:
    """What is wrong in a query by the metrics' kinds: rate() of a gauge, a quantile from
    something other than buckets summed by `le`, unbalanced brackets."""
    mistakes = []
    counters = monotonic()
    for name in RANGE_FUNCTION.findall(expr):
        if name not in counters:
            mistakes.append(f"rate/increase of {name}, which is not a counter")
    for by, name in QUANTILE.findall(expr):
        if "le" not in {label.strip() for label in by.split(",")} or not name.endswith("_bucket"):
            mistakes.append(f"histogram_quantile over {name} by ({by})")
    if expr.count("histogram_quantile(") != len(QUANTILE.findall(expr)):
        mistakes.append("a histogram_quantile not of the form sum by (le, ...) (rate(<buckets>))")
    for opening, closing in ("()", "{}", "[]"):
        if expr.count(opening) != expr.count(closing):
            mistakes.append(f"unbalanced {opening}{closing}")
    return mistakes


def exported() -> set[str]:
    """Every series name the services (process-wide registry) and the gateway (its own)
    can expose."""
    return _names(REGISTRY) | _names(GatewayMetrics().registry)


def rules() -> list[dict[str, object]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_every_metric_an_alert_names_is_exported() -> None:
    found = rules()
    assert found
    known = exported()
    for rule in found:
        named = set(METRIC.findall(str(rule["expr"])))
        assert named, rule["alert"]
        assert named <= known, (rule["alert"], named - known)


def test_every_rule_queries_each_metric_by_its_kind() -> None:
    for rule in rules():
        assert query_mistakes(str(rule["expr"])) == [], rule["alert"]


def test_query_mistakes_are_seen() -> None:
    assert query_mistakes("rate(realty_outbox_unpublished[5m])")
    assert query_mistakes(
        "histogram_quantile(0.95, sum by (path) (rate(realty_http_request_seconds_bucket[5m])))"
    )
    assert query_mistakes("sum(rate(realty_http_requests_total[5m])")
    assert not query_mistakes("sum(rate(realty_http_requests_total[5m]))")


def test_every_alert_pages_or_warns_and_says_what_to_do() -> None:
    for rule in rules():
        assert rule["labels"]["severity"] in {"page", "warn"}  # type: ignore[index]
        assert rule["annotations"]["runbook"]  # type: ignore[index]


def test_the_runbook_explains_every_alert() -> None:
    """Each alert has its own section in deploy/RUNBOOK.md (the anchor its rule links)."""
    headings = set(re.findall(r"^#{2,4} (\w+)\s*$", RUNBOOK.read_text(), re.MULTILINE))
    for rule in rules():
        assert rule["alert"] in headings, rule["alert"]


def test_the_runbook_explains_every_cloudwatch_alarm() -> None:
    """The alarms Terraform makes (deploy/terraform/alarms.tf) are explained there too."""
    terraform = (ROOT / "deploy" / "terraform" / "alarms.tf").read_text()
    alarms = re.findall(r"^    (\w+) = \{$", terraform, re.MULTILINE)
    assert alarms
    headings = set(re.findall(r"^#{2,4} (\w+)\s*$", RUNBOOK.read_text(), re.MULTILINE))
    assert set(alarms) <= headings, set(alarms) - headings


def test_the_slo_rules_hold_the_seeds_thresholds() -> None:
    by_name = {rule["alert"]: str(rule["expr"]) for rule in rules()}
    assert "histogram_quantile(0.95" in by_name["ApiLatencyP95High"]
    assert by_name["ApiLatencyP95High"].strip().endswith("> 0.2")
    assert by_name["ApiErrorRateHigh"].strip().endswith("> 0.01")
    assert by_name["BookingSuccessLow"].strip().endswith("< 0.98")


def test_the_scan_sees_a_metric_the_code_does_not_export() -> None:
    assert "realty_no_such_metric_total" not in exported()
    assert "gateway_request_duration_seconds_bucket" in exported()


COMPARISONS = {">", "<", ">=", "<=", "==", "!="}


def selected(expr: str) -> set[str]:
    """The metric names an expression selects, read from the parsed expression."""
    names: set[str] = set()

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def test_every_rule_parses_as_promql_and_alerts_on_a_comparison() -> None:
    for rule in rules():
        expr = str(rule["expr"])
        parsed = promql_parser.parse(expr)  # raises ValueError on a bad query or type
        assert isinstance(parsed, promql_parser.BinaryExpr), rule["alert"]
        assert str(parsed.op) in COMPARISONS, f"{rule['alert']}: alerts when a comparison holds"
        # What the parser selects is what the export check above reads from the text.
        assert selected(expr) == set(METRIC.findall(expr)), rule["alert"]
        if "for" in rule:  # a rule without one fires on its first evaluation
            assert promql_parser.parse_duration(str(rule["for"])).total_seconds() > 0


@pytest.mark.parametrize(
    "broken",
    [
        "sum(rate(realty_http_requests_total[5m])",  # unclosed
        "rate(realty_http_requests_total) > 1",  # rate of an instant vector
        "sum by (service) (realty_outbox_unpublished) >",  # no right-hand side
        'realty_outbox_unpublished{service="x" > 1',  # unclosed matcher
    ],
)
def test_the_parser_refuses_broken_promql(broken: str) -> None:
    with pytest.raises(ValueError):
        promql_parser.parse(broken)
