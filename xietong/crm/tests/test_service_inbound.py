"""Inbound e-mail to tickets on real-looking RFC 822 samples (tests/mail/): plain, multipart
with HTML and an attachment, HTML only, a GB2312 message, reply threading by References and by
the ticket number in the subject, a duplicate Message-ID, an unknown sender; the folder feed
(done/ and failed/), the management command, and IMAP through a fake client."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

from xietong.crm import inbound, tickets
from xietong.crm.models import Ticket, TicketMessage
from xietong.crm.tests import service_factories as f

pytestmark = pytest.mark.django_db
MAIL = Path(__file__).parent / "mail"


def raw(name: str) -> bytes:
    return (MAIL / name).read_bytes()


@pytest.fixture
def li_wei(company_a):  # type: ignore[no-untyped-def]
    f.policies(company_a)
    party, contact = f.customer(company_a, "Hangzhou Qixing", email="li.wei@hzqixing.example")
    return party, contact


def test_parse_plain_message():
    parsed = inbound.parse_message(raw("plain.eml"))
    assert parsed.message_id == "20260309091240.5521@hzqixing.example"
    assert parsed.from_email == "li.wei@hzqixing.example"  # lower-cased
    assert parsed.from_name == "Li Wei"
    assert parsed.subject == "E-City 3 battery does not charge"
    assert "charger LED stays green" in parsed.body and parsed.attachments == []


def test_parse_multipart_html_and_attachment():
    parsed = inbound.parse_message(raw("multipart.eml"))
    assert parsed.subject == "刹车异响 (brake noise)"
    assert parsed.body == "刹车有异响，请帮忙检查。见附件照片。"  # the plain part wins
    assert parsed.attachments == [{"filename": "brake.jpg", "size": 160,
                                   "content_type": "image/jpeg"}]  # fmt: skip


def test_parse_html_only_and_other_charsets():
    parsed = inbound.parse_message(raw("html_only.eml"))
    assert parsed.body == "Please send a copy of invoice INV-2026-0042.\nThanks & regards"
    assert "color" not in parsed.body
    parsed = inbound.parse_message(raw("gb2312.eml"))
    assert parsed.subject == "电池充不进电" and parsed.from_name == "张磊"
    assert parsed.body == "新买的电助力车电池充不进电，请尽快处理。"
    with pytest.raises(ValueError):
        inbound.parse_message(raw("broken.eml"))


def test_new_message_opens_a_ticket_for_the_contact(company_a, li_wei):
    party, contact = li_wei
    result = inbound.mail_ingest(company=company_a, raw=raw("plain.eml"))
    ticket = result.ticket
    assert result.created and ticket.channel == "email"
    assert ticket.party == party and ticket.contact == contact
    assert ticket.subject == "E-City 3 battery does not charge"
    assert ticket.sla_policy is not None
    message = ticket.messages.get()
    assert (
        message.kind == "inbound" and message.message_id == "20260309091240.5521@hzqixing.example"
    )


def test_duplicate_message_id_changes_nothing(company_a, li_wei):
    first = inbound.mail_ingest(company=company_a, raw=raw("plain.eml"))
    again = inbound.mail_ingest(company=company_a, raw=raw("plain.eml"))
    assert again.duplicate and again.ticket == first.ticket
    assert Ticket.unscoped.filter(company=company_a).count() == 1
    assert TicketMessage.unscoped.filter(company=company_a).count() == 1


def test_reply_threads_by_references_and_resumes(company_a, users_a, li_wei):
    ticket = inbound.mail_ingest(company=company_a, raw=raw("plain.eml")).ticket
    tickets.ticket_reply(ticket=ticket, actor=users_a["service_agent"],
                         body="Which charger do you use?", wait=True)  # fmt: skip
    assert ticket.state == "waiting"
    result = inbound.mail_ingest(company=company_a, raw=raw("reply.eml"))
    assert not result.created and result.ticket == ticket
    ticket.refresh_from_db()
    assert ticket.state == "open" and ticket.waiting_since is None
    assert ticket.messages.count() == 3


def test_reply_threads_by_the_number_in_the_subject(company_a, li_wei):
    ticket = inbound.mail_ingest(company=company_a, raw=raw("plain.eml")).ticket
    assert ticket.number == "TCK-2026-00001" or ticket.number.startswith("TCK-")
    data = raw("subject_tag.eml").replace(b"TCK-2026-00001", ticket.number.encode())
    result = inbound.mail_ingest(company=company_a, raw=data)
    assert result.ticket == ticket and ticket.messages.count() == 2


def test_reply_to_a_resolved_ticket_reopens_it(company_a, li_wei):
    ticket = inbound.mail_ingest(company=company_a, raw=raw("plain.eml")).ticket
    tickets.ticket_resolve(ticket=ticket, actor=None, resolution="Replace the fuse.")
    inbound.mail_ingest(company=company_a, raw=raw("reply.eml"))
    ticket.refresh_from_db()
    assert ticket.state == "open" and ticket.reopened == 1


def test_unknown_sender_keeps_the_address(company_a, li_wei):
    ticket = inbound.mail_ingest(company=company_a, raw=raw("unknown.eml")).ticket
    assert ticket.party is None and ticket.requester_email == "someone@freemail.example"


def test_other_company_contacts_and_tickets_are_not_matched(company_a, company_b, li_wei):
    f.customer(company_b, email="zhang.lei@nanjing-cycle.example")
    theirs = inbound.mail_ingest(company=company_b, raw=raw("plain.eml")).ticket
    mine = inbound.mail_ingest(company=company_a, raw=raw("gb2312.eml")).ticket
    assert mine.party is None  # the contact with that address is company B's
    # the same Message-ID in another company is another message
    again = inbound.mail_ingest(company=company_a, raw=raw("plain.eml"))
    assert again.created and again.ticket.company == company_a and again.ticket != theirs


def test_folder_feed_and_command(company_a, li_wei, tmp_path):
    for name in ("plain.eml", "reply.eml", "unknown.eml", "broken.eml", "multipart.eml"):
        shutil.copy(MAIL / name, tmp_path / name)
    shutil.copy(MAIL / "plain.eml", tmp_path / "plain-again.eml")
    counts = inbound.folder_fetch(company=company_a, folder=tmp_path)
    assert counts == {"created": 3, "threaded": 1, "duplicate": 1, "failed": 1}
    assert sorted(p.name for p in (tmp_path / "done").iterdir()) == [
        "multipart.eml", "plain-again.eml", "plain.eml", "reply.eml", "unknown.eml"]  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "failed").iterdir()) == ["broken.eml",
                                                                      "broken.eml.error"]  # fmt: skip
    assert not [p for p in tmp_path.iterdir() if p.is_file()]
    shutil.copy(MAIL / "html_only.eml", tmp_path / "html_only.eml")
    call_command("tickets_fetch", company=str(company_a.pk), folder=str(tmp_path))
    assert Ticket.unscoped.filter(company=company_a, subject="Invoice copy").exists()


class FakeImap:
    """imaplib's IMAP4 interface over a dict of messages; records the flags set."""

    def __init__(self, messages: dict[bytes, bytes]) -> None:
        self.messages = messages
        self.flags: dict[bytes, str] = {}
        self.selected = ""

    def select(self, mailbox: str) -> tuple[str, list[bytes]]:
        self.selected = mailbox
        return "OK", [str(len(self.messages)).encode()]

    def search(self, charset: object, criterion: str) -> tuple[str, list[bytes]]:
        assert criterion == "UNSEEN"
        unseen = [n for n in self.messages if "Seen" not in self.flags.get(n, "")]
        return "OK", [b" ".join(unseen)]

    def fetch(self, number: bytes, parts: str) -> tuple[str, list[object]]:
        return "OK", [(number + b" (RFC822 {%d}" % len(self.messages[number]),
                       self.messages[number]), b")"]  # fmt: skip

    def store(self, number: bytes, command: str, flags: str) -> tuple[str, list[bytes]]:
        self.flags[number] = flags
        return "OK", []


def test_imap_fetch_with_a_fake_client(company_a, li_wei):
    client = FakeImap({b"1": raw("plain.eml"), b"2": raw("broken.eml"), b"3": raw("reply.eml")})
    counts = inbound.imap_fetch(company=company_a, client=client, mailbox="Support")
    assert client.selected == "Support"
    assert counts == {"created": 1, "threaded": 1, "duplicate": 0, "failed": 1}
    assert client.flags == {b"1": "(\\Seen)", b"2": "(\\Seen \\Flagged)", b"3": "(\\Seen)"}
    assert inbound.imap_fetch(company=company_a, client=client)["created"] == 0  # all seen


def test_imap_needs_configuration(settings):
    settings.XIETONG_TICKETS_IMAP = {}
    with pytest.raises(ValueError):
        inbound.imap_connect()


def test_replies_are_mailed_and_the_answer_threads_back(company_a, users_a, li_wei, mailoutbox,
                                                        django_capture_on_commit_callbacks):  # fmt: skip
    ticket = inbound.mail_ingest(company=company_a, raw=raw("plain.eml")).ticket
    with django_capture_on_commit_callbacks(execute=True):
        reply = tickets.ticket_reply(ticket=ticket, actor=users_a["service_agent"],
                                     body="Which charger do you use?", wait=True)  # fmt: skip
    sent = mailoutbox[-1]
    assert sent.to == ["li.wei@hzqixing.example"]
    assert sent.subject == f"[{ticket.number}] E-City 3 battery does not charge"
    assert sent.extra_headers["In-Reply-To"] == "<20260309091240.5521@hzqixing.example>"
    assert sent.extra_headers["Message-ID"] == f"<{reply.message_id}>"
    # the customer answers the mail: only In-Reply-To names our reply
    answer = (
        f"Message-ID: <answer-9@hzqixing.example>\r\nIn-Reply-To: <{reply.message_id}>\r\n"
        "From: li.wei@hzqixing.example\r\nSubject: Re: battery\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nThe C-42 one.\r\n"
    ).encode()
    result = inbound.mail_ingest(company=company_a, raw=answer)
    assert result.ticket == ticket and not result.created
    ticket.refresh_from_db()
    assert ticket.state == "open"
