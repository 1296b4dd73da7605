"""Chime's EventBridge events: the envelope a rule delivers to an SQS queue, with the
`detail` fields the Chime SDK documents for meeting and media pipeline state changes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

MEETING_STATE_CHANGE = "Chime Meeting State Change"
PIPELINE_STATE_CHANGE = "Chime Media Pipeline State Change"


def envelope(
    detail_type: str,
    detail: dict[str, Any],
    *,
    at: datetime,
    account: str,
    region: str,
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.chime",
        "account": account,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [],
        "detail": {"version": "0", "timestamp": epoch_ms(at), **detail},
    }


def epoch_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)
