"""The API matrix's samples for CRM marketing (merged by xietong/crm/tests/api_samples.py): a
request per operation that succeeds for a user holding its permission, each changing operation
with a record of its own."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from xietong.core.models import Company, User
from xietong.core.tenancy import company_scope
from xietong.crm import campaigns, segments
from xietong.crm.models import Campaign, Segment
from xietong.party.models import Party
from xietong.party.services import contact_create, party_create

PATH_PARAMETERS: tuple[str, ...] = ("segment_id", "campaign_id")
_serial = itertools.count(1)


def _sample(path_params: dict[str, Any], body: Any = None, query: Any = None) -> dict[str, Any]:
    return {"path_params": path_params, "body": body, "query": query}


def reader(company: Company) -> Party:
    """A customer with a contact to e-mail (made once per company)."""
    found = Party.unscoped.filter(company=company, name="Marketing API reader").first()
    if found is None:
        with company_scope(company):
            found = party_create(company=company, actor=None, name="Marketing API reader",
                                 is_customer=True, allow_duplicate=True)  # fmt: skip
            contact_create(party=found, actor=None, name="Reader",
                           email=f"reader-{company.pk}@example.com")  # fmt: skip
    return found


def segment(company: Company) -> Segment:
    """A new static list holding the reader."""
    with company_scope(company):
        made = segments.segment_create(company=company, actor=None, kind="static",
                                       name=f"API list {next(_serial)}")  # fmt: skip
        segments.segment_members_add(segment=made, actor=None, parties=[reader(company)])
    return made


def campaign(company: Company, state: str = "draft", *, mail: bool = False) -> Campaign:
    """A new e-mail campaign to a new list, with dates (and its e-mail when `mail`)."""
    with company_scope(company):
        made = campaigns.campaign_create(
            company=company, actor=None, name=f"API campaign {next(_serial)}",
            segment=segment(company), start_date="2026-01-01", end_date="2026-12-31",
        )  # fmt: skip
        if mail:
            campaigns.template_save(campaign=made, actor=None, language="en", subject="Hi",
                                    body="Hello {{ party_name }}: https://example.com/")  # fmt: skip
        if state != "draft":
            campaigns.campaign_transition(campaign=made, actor=None, state=state)
    return made


# (method, path) -> (user, company) -> keyword arguments of the API matrix's `Sample`.
SAMPLES: dict[tuple[str, str], Callable[[User, Company], dict[str, Any]]] = {
    ("GET", "/crm/marketing/segments"): lambda u, c: _sample({}),
    ("POST", "/crm/marketing/segments"): lambda u, c: _sample(
        {}, {"name": "Matrix segment", "rules": [{"field": "country", "op": "eq", "value": "CN"}]}
    ),
    ("GET", "/crm/marketing/segments/{segment_id}"): lambda u, c: _sample(
        {"segment_id": segment(c).pk}
    ),
    ("POST", "/crm/marketing/segments/{segment_id}/members"): lambda u, c: _sample(
        {"segment_id": segment(c).pk}, {"parties": [reader(c).code]}
    ),
    ("GET", "/crm/marketing/campaigns"): lambda u, c: _sample({}, query={"state": "draft"}),
    ("POST", "/crm/marketing/campaigns"): lambda u, c: _sample(
        {}, {"name": "Matrix campaign", "channel": "web", "budget": "1000"}
    ),
    ("GET", "/crm/marketing/campaigns/{campaign_id}"): lambda u, c: _sample(
        {"campaign_id": campaign(c).pk}
    ),
    ("POST", "/crm/marketing/campaigns/{campaign_id}/state"): lambda u, c: _sample(
        {"campaign_id": campaign(c).pk}, {"state": "scheduled"}
    ),
    ("POST", "/crm/marketing/campaigns/{campaign_id}/promotions"): lambda u, c: _sample(
        {"campaign_id": campaign(c).pk},
        {"name": "Matrix promotion", "value": "5", "coupons": [f"MATRIX{next(_serial)}"]},
    ),
    ("POST", "/crm/marketing/campaigns/{campaign_id}/templates"): lambda u, c: _sample(
        {"campaign_id": campaign(c).pk},
        {"language": "en", "subject": "Hello", "body": "Dear {{ contact_name }}"},
    ),
    ("POST", "/crm/marketing/campaigns/{campaign_id}/send"): lambda u, c: _sample(
        {"campaign_id": campaign(c, "running", mail=True).pk}
    ),
    ("GET", "/crm/marketing/campaigns/{campaign_id}/results"): lambda u, c: _sample(
        {"campaign_id": campaign(c, "running").pk}
    ),
}
