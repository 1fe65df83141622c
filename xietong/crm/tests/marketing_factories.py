"""Marketing test data, all through the services: a shop to sell from (sales factories),
customers with a contact, confirmed orders, segments and campaigns."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from django.utils import timezone

from xietong.core.jobs import job_run
from xietong.core.models import Company, User
from xietong.core.tenancy import company_scope
from xietong.crm import campaigns, mailing, segments
from xietong.crm.models import Campaign, Segment
from xietong.party.models import Contact, Party
from xietong.party.services import contact_create, party_create
from xietong.sales import documents
from xietong.sales.models import SalesOrder

D = Decimal
_numbers = itertools.count(1)


def today() -> dt.date:
    return timezone.localdate()


def customer(company: Company, name: str = "", *, email: str = "", language: str = "zh-hans",
             contact_language: str | None = None, **fields: Any) -> Party:  # fmt: skip
    """A customer with a primary contact (when `email`) in `contact_language`."""
    with company_scope(company):
        party = party_create(company=company, actor=None, name=name or f"Kunde {next(_numbers)}",
                             is_customer=True, allow_duplicate=True, language=language,
                             **fields)  # fmt: skip
        if email:
            contact_create(party=party, actor=None, name=f"{party.name} buyer", email=email,
                           language=contact_language or language)  # fmt: skip
    return party


def contact_of(party: Party) -> Contact:
    return Contact.unscoped.get(party=party, is_primary=True)


def order(company: Company, party: Party, product: Any, *, quantity: str = "1",
          date: dt.date | None = None, confirm: bool = True, **fields: Any) -> SalesOrder:  # fmt: skip
    with company_scope(company):
        made = documents.order_create(company=company, actor=None, party=party,
                                      lines=[{"product": product.pk, "quantity": quantity}],
                                      date=date or today(), **fields)  # fmt: skip
        if confirm:
            made = documents.order_confirm(order=made, actor=None)
    return made


def segment(company: Company, rules: list[dict[str, Any]], *, match: str = "all",
            name: str = "") -> Segment:  # fmt: skip
    with company_scope(company):
        return segments.segment_create(company=company, actor=None,
                                       name=name or f"Segment {next(_numbers)}", rules=rules,
                                       match=match)  # fmt: skip


def campaign(company: Company, *, state: str = "running", start: dt.date | None = None,
             end: dt.date | None = None, **fields: Any) -> Campaign:  # fmt: skip
    """A campaign from `start` (today − 5) to `end` (today + 25), moved to `state`."""
    start = start or today() - dt.timedelta(days=5)
    end = end or today() + dt.timedelta(days=25)
    with company_scope(company):
        made = campaigns.campaign_create(company=company, actor=None,
                                         name=fields.pop("name", f"Campaign {next(_numbers)}"),
                                         start_date=start, end_date=end, **fields)  # fmt: skip
        if state in ("scheduled", "running", "done", "cancelled"):
            path = {"scheduled": ["scheduled"], "running": ["running"],
                    "done": ["running", "done"], "cancelled": ["cancelled"]}[state]  # fmt: skip
            for step in path:
                campaigns.campaign_transition(campaign=made, actor=None, state=step)
    return made


def send(campaign_: Campaign, actor: User | None = None) -> Any:
    """Queue and run the sending job now (as the worker would); returns the job, refreshed."""
    with company_scope(campaign_.company):
        job = mailing.email_campaign_send(campaign=campaign_, actor=actor)
    job_run(job_id=job.pk)
    job.refresh_from_db()
    return job
