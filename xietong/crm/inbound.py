"""Inbound e-mail to tickets: RFC 822 messages read with the standard library's `email` package
(policy `default`), fed from a folder (`folder_fetch`: processed files move to `done/`, refused
ones to `failed/`) or from an IMAP mailbox (`imap_fetch`, unseen messages, marked seen once
stored; the connection comes from `settings.XIETONG_TICKETS_IMAP`).

A message is idempotent by its Message-ID: a second delivery changes nothing. A reply — one
whose In-Reply-To or References names a message of a ticket, or whose subject carries the
ticket's number in brackets ("Re: [TCK-2026-00012] …") — is added to that ticket (which resumes
when it was waiting on the customer, or reopens when resolved). Any other message opens a new
ticket of channel e-mail; its customer is found from the sender's address among the contacts
(then the parties' own e-mail addresses); an unknown sender's ticket keeps the address as its
requester, without a customer. Attachments are listed on the message (name, type, size); their
content is not stored."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import html
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from pathlib import Path
from typing import Any

from django.utils.html import strip_tags
from django.utils.translation import gettext as _

from xietong.core.models import Company, User
from xietong.crm import mail_fetch
from xietong.crm.models import Ticket, TicketMessage
from xietong.crm.tickets import ticket_create, ticket_customer_message
from xietong.party.models import Contact, Party

TICKET_TAG = re.compile(r"\[(TCK-\d{4}-\d+)\]", re.IGNORECASE)
MESSAGE_ID = re.compile(r"<([^<>\s]+)>")


@dataclass
class Parsed:
    message_id: str
    references: list[str]
    subject: str
    from_name: str
    from_email: str
    body: str
    attachments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Ingested:
    ticket: Ticket
    message: TicketMessage | None
    created: bool
    duplicate: bool = False


def _ids(value: str | None) -> list[str]:
    return MESSAGE_ID.findall(str(value or ""))


def _html_text(markup: str) -> str:
    markup = re.sub(r"(?is)<(script|style)\b.*?</\1>", "", markup)
    markup = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</li>|</tr>", "\n", markup)
    text = html.unescape(strip_tags(markup))
    return "\n".join(line.strip() for line in text.splitlines()).strip()


def _text_of(part: EmailMessage) -> str:
    try:
        return str(part.get_content())
    except (LookupError, UnicodeDecodeError):  # an unknown or lying charset
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""


def parse_message(raw: bytes) -> Parsed:
    """Read one RFC 822 message: ids, subject, sender, the text body (the plain part, else the
    HTML part as text) and the attachments' names, types and sizes. Raises ValueError when it
    has no sender address."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    name, address = parseaddr(str(message.get("From", "")))
    if not address or "@" not in address:
        raise ValueError("the message has no sender address")
    own = _ids(message.get("Message-ID"))
    references = _ids(message.get("In-Reply-To")) + _ids(message.get("References"))
    body_part = message.get_body(preferencelist=("plain", "html"))
    body = ""
    if body_part is not None:
        text = _text_of(body_part)  # type: ignore[arg-type]
        body = _html_text(text) if body_part.get_content_subtype() == "html" else text.strip()
    attachments = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True) or b""
        attachments.append({"filename": part.get_filename() or "", "size": len(payload),
                            "content_type": part.get_content_type()})  # fmt: skip
    return Parsed(
        message_id=own[0] if own else "",
        references=list(dict.fromkeys(references)),
        subject=" ".join(str(message.get("Subject", "")).split()),
        from_name=name,
        from_email=address.strip().lower(),
        body=body,
        attachments=attachments,
    )


def message_recipients(raw: bytes) -> list[str]:
    """The addresses an RFC 822 message was delivered to: Delivered-To and X-Original-To (what
    the mail server saw), then To and Cc; lower-cased, each once, in that order."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    found: list[str] = []
    for header in ("Delivered-To", "X-Original-To", "To", "Cc"):
        values = [str(v) for v in message.get_all(header) or ()]
        for _name, address in getaddresses(values):
            address = address.strip().lower()
            if "@" in address and address not in found:
                found.append(address)
    return found


def _thread(company: Company, parsed: Parsed) -> Ticket | None:
    if parsed.references:
        found = (TicketMessage.unscoped.filter(company=company, message_id__in=parsed.references)
                 .select_related("ticket").order_by("-pk").first())  # fmt: skip
        if found is not None:
            return found.ticket
    tag = TICKET_TAG.search(parsed.subject)
    if tag:
        return Ticket.unscoped.filter(company=company, number__iexact=tag.group(1)).first()
    return None


def sender_find(company: Company, address: str) -> tuple[Party | None, Contact | None]:
    """The customer (and contact) writing from `address`: an active contact with that e-mail,
    else a party with it; (None, None) when unknown."""
    contact = (Contact.unscoped.filter(company=company, email__iexact=address, active=True)
               .select_related("party").order_by("-is_primary", "pk").first())  # fmt: skip
    if contact is not None:
        return contact.party, contact
    party = Party.unscoped.filter(company=company, email__iexact=address).order_by("pk").first()
    return party, None


def mail_ingest(*, company: Company, raw: bytes, actor: User | None = None,
                now: dt.datetime | None = None) -> Ingested:  # fmt: skip
    """Turn one RFC 822 message into a new ticket or a message of an existing one (see the
    module docstring). Raises ValueError for an unreadable message, ValidationError when the
    services refuse it."""
    parsed = parse_message(raw)
    if parsed.message_id:
        seen = (TicketMessage.unscoped.filter(company=company, message_id=parsed.message_id)
                .select_related("ticket").first())  # fmt: skip
        if seen is not None:
            return Ingested(ticket=seen.ticket, message=seen, created=False, duplicate=True)
    body = parsed.body or _("(empty message)")
    ticket = _thread(company, parsed)
    if ticket is not None:
        message = ticket_customer_message(
            ticket=ticket, actor=actor, body=body, from_email=parsed.from_email,
            message_id=parsed.message_id, attachments=parsed.attachments, now=now,
        )  # fmt: skip
        return Ingested(ticket=ticket, message=message, created=False)
    party, contact = sender_find(company, parsed.from_email)
    ticket = ticket_create(
        company=company, actor=actor, subject=parsed.subject[:200] or _("(no subject)"),
        description=body, party=party, contact=contact, requester_name=parsed.from_name[:120],
        requester_email=parsed.from_email, channel=Ticket.Channel.EMAIL,
        message_id=parsed.message_id, attachments=parsed.attachments, now=now,
    )  # fmt: skip
    return Ingested(ticket=ticket, message=ticket.messages.first(), created=True)


def _outcome(result: Ingested) -> str:
    return "duplicate" if result.duplicate else "created" if result.created else "threaded"


def folder_fetch(*, company: Company, folder: Path | str, actor: User | None = None,
                 now: dt.datetime | None = None) -> dict[str, int]:  # fmt: skip
    """Ingest every file of `folder` (see `mail_fetch.folder_fetch`); returns the counts
    created / threaded / duplicate / failed."""
    return mail_fetch.folder_fetch(
        folder, outcome=_outcome,
        ingest=lambda raw: mail_ingest(company=company, raw=raw, actor=actor, now=now),
        counts={"created": 0, "threaded": 0, "duplicate": 0, "failed": 0},
    )  # fmt: skip


def imap_fetch(*, company: Company, client: Any, mailbox: str = "INBOX",
               actor: User | None = None, now: dt.datetime | None = None) -> dict[str, int]:  # fmt: skip
    """Ingest the unseen messages of `mailbox` (see `mail_fetch.imap_fetch`); returns the counts
    as `folder_fetch`."""
    return mail_fetch.imap_fetch(
        client, mailbox, outcome=_outcome,
        ingest=lambda raw: mail_ingest(company=company, raw=raw, actor=actor, now=now),
        counts={"created": 0, "threaded": 0, "duplicate": 0, "failed": 0},
    )  # fmt: skip


def imap_connect() -> tuple[Any, str]:
    """The IMAP4 connection of `settings.XIETONG_TICKETS_IMAP` and its mailbox."""
    return mail_fetch.imap_connect("XIETONG_TICKETS_IMAP")


def fetch_job(context: Any, folder: str = "", imap: bool = False) -> dict[str, Any]:
    """The job "crm.tickets_fetch": a folder, or the configured IMAP mailbox."""
    if folder:
        return folder_fetch(company=context.company, folder=folder, actor=context.user)
    if imap:
        client, mailbox = imap_connect()
        try:
            return imap_fetch(company=context.company, client=client, mailbox=mailbox,
                              actor=context.user)  # fmt: skip
        finally:
            client.logout()
    return {}
