"""The benchmarks build analytics exactly as its tests do (real servers, local API servers)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import uvloop

_path = Path(__file__).resolve().parents[1] / "tests" / "conftest.py"
_spec = importlib.util.spec_from_file_location("analytics_test_support", _path)
assert _spec is not None and _spec.loader is not None
support = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = support
_spec.loader.exec_module(support)

stack = support.stack
forwarding = support.forwarding
analytics_stack_factory = support.analytics_stack_factory


def pytest_asyncio_loop_factories(config: object, item: object) -> dict[str, object]:
    """On uvloop, as every service process runs (servicekit.runtime)."""
    return {"uvloop": uvloop.new_event_loop}
