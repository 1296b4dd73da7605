"""Mail goes over real SMTP into the catcher, which keeps RFC 5322 files."""

from __future__ import annotations

from pathlib import Path

from servicekit.mail import Attachment, MailCatcher, SmtpMailer, compose, read_mailbox


async def test_smtp_mail_lands_in_the_catcher_as_eml(mail_catcher: MailCatcher) -> None:
    mailer = SmtpMailer("127.0.0.1", mail_catcher.port)
    invite = b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"
    await mailer.send(
        compose(
            sender="RealtyForYou <no-reply@realtyforyou.com>",
            to=["ana@example.com"],
            subject="Your tour is confirmed",
            text="See you Saturday.",
            html="<p>See you Saturday.</p>",
            attachments=[Attachment("tour.ics", "text/calendar; method=REQUEST", invite)],
        )
    )
    [message] = await mail_catcher.wait_for(to="ana@example.com", subject_contains="confirmed")
    assert list(mail_catcher.mail_dir.glob("*.eml"))
    assert message["Subject"] == "Your tour is confirmed"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and "See you Saturday." in body.get_content()
    [part] = list(message.iter_attachments())
    assert part.get_content_type() == "text/calendar"
    assert part.get_param("method") == "REQUEST"
    assert part.get_content().replace("\r\n", "\n") == invite.decode().replace("\r\n", "\n")
    assert mail_catcher.messages(to="someone-else@example.com") == []


def test_a_message_being_written_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "00000000000000000001-aaaa.eml").write_bytes(
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: done\r\n\r\nhello\r\n"
    )
    (tmp_path / ".00000000000000000002-bbbb.eml").write_bytes(b"From: a@exa")
    (tmp_path / ".00000000000000000003-cccc.eml.partial").write_bytes(b"From: a@exa")
    assert [m["Subject"] for m in read_mailbox(tmp_path)] == ["done"]
