"""Inbound e-mail to leads: a message to one of the company's sales mailboxes
(`crm.LeadMailbox`, e.g. sales@…) becomes a new lead of the mailbox's team, source e-mail,
owner chosen by the team's assignment strategy. Messages are read by `xietong.crm.inbound`'s
public functions (`parse_message`, `message_recipients`), from a folder (`folder_fetch`:
processed files move to `done/`, refused ones to `failed/` with a `.error` file) or from an
IMAP mailbox (`imap_fetch`; the connection from `settings.XIETONG_LEADS_IMAP`).

- The lead's name and e-mail are the sender's (the address's local part when the From header
  has no name); its company name is read from the signature (the block after a "-- " line) when
  one of its lines names a company (有限公司, Ltd, GmbH …), else left empty; its description is
  the body text (the subject when the body is empty).
- The campaign is the one a plus-tag names (sales+spring-fair@… → the campaign of code
  "spring-fair"), else the mailbox's own campaign, else none.
- A message is idempotent by its Message-ID (without one: by a digest of its bytes): a second
  delivery creates nothing and reports the lead made the first time.
- A message to no active sales mailbox is refused (ValueError).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from xietong.core.models import Company, User
from xietong.crm import mail_fetch, services
from xietong.crm.campaign_selectors import campaign_for_code
from xietong.crm.inbound import message_recipients, parse_message
from xietong.crm.models import Campaign, Lead, LeadMailbox, LeadMessage

COMPANY_WORDS = re.compile(
    r"(有限公司|股份|集团|公司|厂|Ltd\.?|Limited|GmbH|Inc\.?|Corp\.?|Co\.,?|LLC|S\.A\.|AG\b)",
    re.IGNORECASE,
)
SIGNATURE = re.compile(r"^-- ?$", re.MULTILINE)


@dataclass
class LeadIngested:
    lead: Lead
    created: bool
    duplicate: bool = False


def _mailbox(company: Company, recipients: list[str]) -> tuple[LeadMailbox | None, str]:
    """The first active sales mailbox among the recipients, and the plus-tag it was sent to."""
    boxes = {
        box.address: box
        for box in LeadMailbox.unscoped.filter(company=company, active=True).select_related(
            "team", "campaign"
        )
    }
    for address in recipients:
        local, _at, domain = address.partition("@")
        base, _plus, tag = local.partition("+")
        box = boxes.get(f"{base}@{domain}")
        if box is not None:
            return box, tag
    return None, ""


def signature_company(body: str) -> str:
    """The company a signature names: the first line after the "-- " delimiter (else in the
    last five lines) with a company word (有限公司, Ltd, GmbH …); "" when none does."""
    parts = SIGNATURE.split(body)
    block = parts[-1] if len(parts) > 1 else "\n".join(body.splitlines()[-5:])
    for line in block.splitlines():
        line = line.strip()
        if line and len(line) <= 200 and COMPANY_WORDS.search(line):
            return line
    return ""


def _campaign_code(company: Company, box: LeadMailbox, tag: str) -> str:
    if tag:
        pk = campaign_for_code(company.pk, tag)
        if pk is not None:
            return str(Campaign.unscoped.filter(pk=pk).values_list("code", flat=True).get())
    return box.campaign.code if box.campaign is not None else ""


def lead_mail_ingest(*, company: Company, raw: bytes, actor: User | None = None) -> LeadIngested:
    """Turn one RFC 822 message to a sales mailbox into a lead (see the module docstring).
    Raises ValueError for an unreadable message or one to no sales mailbox, ValidationError
    when the lead services refuse it. Nothing is written when it raises."""
    parsed = parse_message(raw)
    key = parsed.message_id or f"sha256:{hashlib.sha256(raw).hexdigest()}"
    key = key[:255]
    seen = LeadMessage.unscoped.filter(company=company, message_id=key).select_related("lead")
    if (found := seen.first()) is not None:
        return LeadIngested(lead=found.lead, created=False, duplicate=True)
    box, tag = _mailbox(company, message_recipients(raw))
    if box is None:
        raise ValueError(_("The message is not addressed to a sales mailbox."))
    local = parsed.from_email.split("@")[0]
    body = parsed.body or parsed.subject
    try:
        with transaction.atomic():
            lead = services.lead_create(
                company=company, actor=actor, name=(parsed.from_name or local)[:120],
                email=parsed.from_email, company_name=signature_company(parsed.body),
                description=body[:10_000], campaign=_campaign_code(company, box, tag),
                source=Lead.Source.EMAIL, team=box.team, assign=True,
            )  # fmt: skip
            LeadMessage.unscoped.create(company=company, message_id=key, lead=lead, mailbox=box,
                                        subject=parsed.subject[:200])  # fmt: skip
    except IntegrityError:  # the same message stored meanwhile by another fetch
        found = seen.first()
        if found is None:
            raise
        return LeadIngested(lead=found.lead, created=False, duplicate=True)
    return LeadIngested(lead=lead, created=True)


def _outcome(result: LeadIngested) -> str:
    return "duplicate" if result.duplicate else "created"


def folder_fetch(*, company: Company, folder: Path | str,
                 actor: User | None = None) -> dict[str, int]:  # fmt: skip
    """Ingest every file of `folder` (see `mail_fetch.folder_fetch`); returns the counts
    created / duplicate / failed."""
    return mail_fetch.folder_fetch(
        folder, outcome=_outcome, counts={"created": 0, "duplicate": 0, "failed": 0},
        ingest=lambda raw: lead_mail_ingest(company=company, raw=raw, actor=actor),
    )  # fmt: skip


def imap_fetch(*, company: Company, client: Any, mailbox: str = "INBOX",
               actor: User | None = None) -> dict[str, int]:  # fmt: skip
    """Ingest the unseen messages of `mailbox` (see `mail_fetch.imap_fetch`); returns the counts
    as `folder_fetch`."""
    return mail_fetch.imap_fetch(
        client, mailbox, outcome=_outcome, counts={"created": 0, "duplicate": 0, "failed": 0},
        ingest=lambda raw: lead_mail_ingest(company=company, raw=raw, actor=actor),
    )  # fmt: skip


def imap_connect() -> tuple[Any, str]:
    """The IMAP4 connection of `settings.XIETONG_LEADS_IMAP` and its mailbox."""
    return mail_fetch.imap_connect("XIETONG_LEADS_IMAP")
