"""Outgoing email: one `Mailer` interface, an SMTP and an SES backend, and a local catcher.

The catcher is a real SMTP server that writes every message it receives as an RFC 5322
`.eml` file under `<data dir>/mail/`, so development and tests read real mail. It runs on
aiosmtpd, a development dependency (servicekit's `dev` extra) imported only when a catcher
starts: production images do not ship it, and sending mail never needs it.
"""

from __future__ import annotations

import asyncio
import smtplib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from servicekit.settings import InfraSettings

if TYPE_CHECKING:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str  # e.g. "text/calendar; method=REQUEST"
    data: bytes


def compose(
    *,
    sender: str,
    to: Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    attachments: Sequence[Attachment] = (),
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4()}@realtyforyou.com>"
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    for item in attachments:
        maintype, _, rest = item.content_type.partition("/")
        subtype, _, params = rest.partition(";")
        extra: dict[str, Any] = {}
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key:
                extra[key] = value
        message.add_attachment(
            item.data,
            maintype=maintype,
            subtype=subtype.strip(),
            filename=item.filename,
            params=extra,
        )
    return message


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class SmtpMailer:
    def __init__(self, host: str, port: int, *, timeout: float = 10.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout

    def _send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            smtp.send_message(message)

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._send, message)


class SesMailer:
    """Amazon SES v2 with the raw message, so attachments (invitations) survive."""

    def __init__(self, region: str, endpoint_url: str | None = None) -> None:
        import boto3

        self.client = boto3.client("sesv2", region_name=region, endpoint_url=endpoint_url)

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(
            self.client.send_email, Content={"Raw": {"Data": message.as_bytes(policy=policy.SMTP)}}
        )


def build_mailer(infra: InfraSettings) -> Mailer:
    if infra.mail_backend == "ses":
        return SesMailer(infra.aws_region, infra.aws_endpoint_url)
    return SmtpMailer(infra.smtp_host, infra.smtp_port)


def read_mailbox(mail_dir: Path) -> list[EmailMessage]:
    """Every message in a catcher's folder, oldest first."""
    parser = BytesParser(policy=policy.default)
    messages: list[EmailMessage] = []
    for path in sorted(p for p in mail_dir.glob("*.eml") if not p.name.startswith(".")):
        parsed = parser.parsebytes(path.read_bytes())
        assert isinstance(parsed, EmailMessage)
        messages.append(parsed)
    return messages


class _Store:
    def __init__(self, mail_dir: Path) -> None:
        self.mail_dir = mail_dir

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.eml"
        content = envelope.original_content or b""
        # Written aside, then renamed: a reader never sees half a message.
        partial = self.mail_dir / f".{name}.partial"
        partial.write_bytes(content)
        partial.rename(self.mail_dir / name)
        return "250 Message accepted for delivery"


class MailCatcher:
    """A local SMTP server that keeps every message as an `.eml` file."""

    def __init__(self, mail_dir: Path, *, host: str = "127.0.0.1", port: int = 1025) -> None:
        self.mail_dir = mail_dir
        self.host = host
        self.port = port
        self._controller: Controller | None = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.mail_dir.mkdir(parents=True, exist_ok=True)
        self._controller = Controller(_Store(self.mail_dir), hostname=self.host, port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages(self, *, to: str | None = None) -> list[EmailMessage]:
        found = read_mailbox(self.mail_dir)
        if to is None:
            return found
        return [m for m in found if to.lower() in str(m.get("To", "")).lower()]

    async def wait_for(
        self, *, to: str, subject_contains: str = "", count: int = 1, timeout: float = 10.0
    ) -> list[EmailMessage]:
        """Wait until `count` messages to `to` whose subject contains the text have arrived."""
        deadline = time.monotonic() + timeout
        while True:
            found = [
                m
                for m in self.messages(to=to)
                if subject_contains.lower() in str(m["Subject"]).lower()
            ]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.05)
