"""What the shell's generated screen matrix needs from CRM service (merged by
xietong/crm/tests/matrix.py): records per company (`records`, keys `crm_…`, named
CANARY-<key>-…), the URL name → record key of every URL with a primary key, the POST-only views.

The public survey's URL takes the survey's token, not a primary key: its record is the token
wrapped as something with a `pk`; the public support form takes the company."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from xietong.core.models import Company
from xietong.core.tenancy import company_scope
from xietong.crm import knowledge, tickets
from xietong.crm.models import SatisfactionSurvey
from xietong.party.services import party_create

URL_RECORDS: dict[str, str] = {
    "crm:ticket_detail": "crm_ticket",
    "crm:ticket_reply": "crm_ticket",
    "crm:ticket_state": "crm_ticket",
    "crm:ticket_assign": "crm_ticket",
    "crm:ticket_update": "crm_ticket",
    "crm:ticket_article": "crm_ticket",
    "crm:ticket_rma": "crm_ticket",
    "crm:article_detail": "crm_article",
    "crm:article_edit": "crm_article",
    "crm:article_translate": "crm_article",
    "crm:article_publish": "crm_article",
    "crm:survey": "crm_survey_token",
    "crm:support_form": "crm_company",
}
POST_ONLY: set[str] = {
    "crm:ticket_reply",
    "crm:ticket_state",
    "crm:ticket_assign",
    "crm:ticket_update",
    "crm:ticket_article",
    "crm:ticket_rma",
    "crm:article_publish",
}


def records(company: Company, key: str) -> dict[str, Any]:
    """An open ticket of a new customer, a published article, and a resolved ticket's survey."""
    with company_scope(company):
        customer = party_create(company=company, actor=None, name=f"CANARY-{key}-service",
                                is_customer=True, allow_duplicate=True)  # fmt: skip
        ticket = tickets.ticket_create(company=company, actor=None, party=customer,
                                       subject=f"CANARY-{key}-ticket",
                                       description="The brakes squeak.", assign=False)  # fmt: skip
        article = knowledge.article_create(company=company, actor=None, publish=True,
                                           title=f"CANARY-{key}-article", language="en",
                                           body="Squeaking brakes: clean the rotor.")  # fmt: skip
        solved = tickets.ticket_create(company=company, actor=None, party=customer,
                                       subject=f"CANARY-{key}-solved", assign=False)  # fmt: skip
        tickets.ticket_resolve(ticket=solved, actor=None, resolution="Done")
        token = SatisfactionSurvey.unscoped.get(ticket=solved).token
    return {"crm_ticket": ticket, "crm_article": article,
            "crm_survey_token": SimpleNamespace(pk=token), "crm_company": company}  # fmt: skip
