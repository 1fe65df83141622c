"""The API matrix's samples for CRM service (merged by xietong/crm/tests/api_samples.py): for
each operation, a request that succeeds for a user holding its permission; operations that
change a record get a record of their own on every call."""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable
from typing import Any

from xietong.core.models import Company, User
from xietong.core.tenancy import company_scope
from xietong.crm import knowledge, service_setup, tickets
from xietong.crm.models import BusinessCalendar, KnowledgeArticle, Ticket
from xietong.party.models import Party
from xietong.party.services import party_create

PATH_PARAMETERS: tuple[str, ...] = ("ticket_id", "article_id")
CUSTOMER = "CRM service API customer"
_serial = itertools.count(1)


def _sample(path_params: dict[str, Any], body: Any = None, query: Any = None) -> dict[str, Any]:
    return {"path_params": path_params, "body": body, "query": query}


def customer(company: Company) -> Party:
    with company_scope(company):
        found = Party.unscoped.filter(company=company, name=CUSTOMER).first()
        return found or party_create(company=company, actor=None, name=CUSTOMER,
                                     is_customer=True, allow_duplicate=True)  # fmt: skip


def ticket(company: Company, *, resolved: bool = False) -> Ticket:
    with company_scope(company):
        made = tickets.ticket_create(company=company, actor=None, party=customer(company),
                                     subject=f"API ticket {next(_serial)}",
                                     description="The display stays dark.", assign=False)  # fmt: skip
        if resolved:
            tickets.ticket_resolve(ticket=made, actor=None, resolution="Replaced the cable.")
    return made


def delivered_ticket(company: Company) -> Ticket:
    """A ticket about a new delivered sales order (of the sales matrix's sample product)."""
    from xietong.sales.tests.api_samples import order

    made = order(company, confirm=True, deliver=True)
    line = made.lines.get()
    with company_scope(company):
        return tickets.ticket_create(company=company, actor=None, party=made.party,
                                     subject=f"API return {next(_serial)}", sales_order=made,
                                     product=line.product, assign=False)  # fmt: skip


def article(company: Company) -> KnowledgeArticle:
    with company_scope(company):
        return knowledge.article_create(company=company, actor=None, language="en",
                                        title=f"API article {next(_serial)}",
                                        body="Reset the display.")  # fmt: skip


def calendar(company: Company) -> BusinessCalendar:
    with company_scope(company):
        return service_setup.calendar_create(company=company, actor=None,
                                             name=f"API calendar {next(_serial)}")  # fmt: skip


def _mail() -> str:
    n = next(_serial)
    raw = (f"Message-ID: <api-{n}@example.com>\r\nFrom: Api Sender <api{n}@example.com>\r\n"
           f"To: support@example.com\r\nSubject: API mail {n}\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n")  # fmt: skip
    return base64.b64encode(raw.encode()).decode()


# (method, path) -> (user, company) -> keyword arguments of the API matrix's `Sample`.
SAMPLES: dict[tuple[str, str], Callable[[User, Company], dict[str, Any]]] = {
    ("GET", "/crm/service/tickets"): lambda u, c: _sample({}, query={"state": "new"}),
    ("POST", "/crm/service/tickets"): lambda u, c: _sample(
        {}, {"subject": "Matrix ticket", "party": customer(c).pk, "assign": False}
    ),
    ("GET", "/crm/service/tickets/{ticket_id}"): lambda u, c: _sample({"ticket_id": ticket(c).pk}),
    ("POST", "/crm/service/tickets/{ticket_id}/messages"): lambda u, c: _sample(
        {"ticket_id": ticket(c).pk}, {"kind": "reply", "body": "We are on it."}
    ),
    ("POST", "/crm/service/tickets/{ticket_id}/transition"): lambda u, c: _sample(
        {"ticket_id": ticket(c).pk}, {"action": "resolve", "resolution": "Fixed."}
    ),
    ("POST", "/crm/service/tickets/{ticket_id}/assign"): lambda u, c: _sample(
        {"ticket_id": ticket(c).pk}, {"assignee": None}
    ),
    ("GET", "/crm/service/tickets/{ticket_id}/warranty"): lambda u, c: _sample(
        {"ticket_id": ticket(c).pk}
    ),
    ("POST", "/crm/service/tickets/{ticket_id}/article"): lambda u, c: _sample(
        {"ticket_id": ticket(c, resolved=True).pk}
    ),
    ("POST", "/crm/service/tickets/{ticket_id}/rma"): lambda u, c: _sample(
        {"ticket_id": delivered_ticket(c).pk}, {"quantity": "1", "reason": "Broken in transit"}
    ),
    ("POST", "/crm/service/inbound-mail"): lambda u, c: _sample({}, {"raw_base64": _mail()}),
    ("GET", "/crm/service/articles"): lambda u, c: _sample({}, query={"language": "en"}),
    ("POST", "/crm/service/articles"): lambda u, c: _sample(
        {}, {"title": "Matrix article", "body": "Text", "language": "en"}
    ),
    ("GET", "/crm/service/articles/{article_id}"): lambda u, c: _sample(
        {"article_id": article(c).pk}
    ),
    ("POST", "/crm/service/articles/{article_id}/translations"): lambda u, c: _sample(
        {"article_id": article(c).pk}, {"language": "zh-hans", "title": "译文", "body": "正文"}
    ),
    ("POST", "/crm/service/articles/{article_id}/publish"): lambda u, c: _sample(
        {"article_id": article(c).pk}, {"publish": True}
    ),
    ("GET", "/crm/service/sla-policies"): lambda u, c: _sample({}),
    ("POST", "/crm/service/sla-policies"): lambda u, c: _sample(
        {},
        {
            "name": f"Matrix policy {next(_serial)}",
            "priority": "low",
            "calendar": calendar(c).pk,
            "first_response_hours": "8",
            "resolution_hours": "40",
            "customer_group": None,
        },
    ),  # fmt: skip
    ("GET", "/crm/service/reports/sla"): lambda u, c: _sample(
        {}, query={"start": "2026-01-01", "end": "2026-12-31", "by": "priority"}
    ),
    ("GET", "/crm/service/reports/csat"): lambda u, c: _sample(
        {}, query={"start": "2026-01-01", "end": "2026-12-31"}
    ),
}
