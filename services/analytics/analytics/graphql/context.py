"""What every resolver of the subgraph reaches through `info.context.services`."""

from __future__ import annotations

from dataclasses import dataclass

from servicekit.graphql import Context
from strawberry.types import Info

from analytics.reads import Reports
from analytics.service import Analytics


@dataclass
class Services:
    """Built by app.py."""

    analytics: Analytics
    reports: Reports


def services(info: Info[Context, None]) -> Services:
    found: Services = info.context.services
    return found
