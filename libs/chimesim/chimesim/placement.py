"""What Chime hands a client to connect: the media placement URLs of a meeting's region and
the attendee's join token. They look as Chime's do and lead nowhere: there is no media
plane here."""

from __future__ import annotations

import base64
import secrets
import uuid

# The media Regions Chime SDK meetings run in; CreateMeeting refuses any other.
MEDIA_REGIONS = frozenset(
    {
        "af-south-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-south-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ca-central-1",
        "eu-central-1",
        "eu-north-1",
        "eu-south-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "il-central-1",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "us-gov-east-1",
        "us-gov-west-1",
    }
)


def region_code(region: str) -> str:
    """`us-east-1` → `ue1`, as in Chime's media host names."""
    parts = region.split("-")
    return "".join(p[0] for p in parts[:-1]) + parts[-1]


def media_placement(meeting_id: str, region: str) -> dict[str, str]:
    code = region_code(region)
    cell = int(uuid.UUID(meeting_id)) % 9000 + 1000
    return {
        "AudioHostUrl": f"{uuid.UUID(meeting_id).hex[:12]}.k.m3.{code}.app.chime.aws:3478",
        "AudioFallbackUrl": f"wss://haxrp.m3.{code}.app.chime.aws:443/calls/{meeting_id}",
        "SignalingUrl": f"wss://signal.m3.{code}.app.chime.aws/control/{meeting_id}",
        "TurnControlUrl": f"https://{cell}.cell.{region}.meetings.chime.aws/v2/turn_sessions",
        "ScreenDataUrl": f"wss://bitpw.m3.{code}.app.chime.aws:443/v2/screen/{meeting_id}",
        "ScreenViewingUrl": f"wss://bitpw.m3.{code}.app.chime.aws:443/ws/connect?passcode=null&viewer_uuid=null&X-BitHub-Call-Id={meeting_id}",
        "ScreenSharingUrl": f"wss://bitpw.m3.{code}.app.chime.aws:443/v2/screen/{meeting_id}",
        "EventIngestionUrl": f"https://data.svc.{code}.ingest.chime.aws/v1/client-events",
    }


def join_token(attendee_id: str) -> str:
    """Base64 without padding (the model's `^[a-zA-Z0-9+/]+$`) of the attendee and a secret."""
    raw = attendee_id.encode() + b":" + secrets.token_bytes(48)
    return base64.b64encode(raw).decode().rstrip("=")
