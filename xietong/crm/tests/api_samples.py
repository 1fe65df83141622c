"""The CRM API's part of the API permission matrix (xietong/api/tests/test_permissions.py): a
sales team of every user of the company (found again by name, so each test database builds it
once), a customer and a lost reason; for each operation, a request that succeeds for a user
holding its permission. Operations that change a record get a record of their own on every
call (a new lead to qualify, a new open opportunity to move …)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from xietong.core.models import Company, Membership, User
from xietong.core.tenancy import company_scope
from xietong.crm import services
from xietong.crm.models import Activity, Lead, LostReason, Opportunity, PipelineStage, SalesTeam
from xietong.crm.tests import api_samples_marketing, api_samples_service
from xietong.party.models import Party
from xietong.party.services import party_create
from xietong.sales.tests.api_samples import lines_body, sales_base

TEAM = "CRM API team"
_serial = itertools.count(1)


def crm_base(company: Company) -> SimpleNamespace:
    with company_scope(company):
        team = SalesTeam.unscoped.filter(company=company, name=TEAM).first()
        if team is None:
            users = [m.user_id for m in Membership.unscoped.filter(company=company)]
            team = services.team_create(company=company, actor=None, name=TEAM, members=users)
        customer = Party.unscoped.filter(company=company, name="CRM API customer").first()
        if customer is None:
            customer = party_create(company=company, actor=None, name="CRM API customer",
                                    is_customer=True, allow_duplicate=True)  # fmt: skip
        reason = LostReason.unscoped.filter(company=company, name="CRM API reason").first()
        if reason is None:
            reason = services.lost_reason_create(company=company, actor=None,
                                                 name="CRM API reason")  # fmt: skip
        proposal = PipelineStage.unscoped.get(team=team, name="Proposal")
    return SimpleNamespace(team=team, customer=customer, reason=reason, proposal=proposal)


def lead(company: Company) -> Lead:
    base = crm_base(company)
    with company_scope(company):
        return services.lead_create(company=company, actor=None, team=base.team,
                                    name=f"API lead {next(_serial)}",
                                    email=f"api-lead-{next(_serial)}@example.com")  # fmt: skip


def opportunity(company: Company) -> Opportunity:
    base = crm_base(company)
    with company_scope(company):
        return services.opportunity_create(company=company, actor=None, party=base.customer,
                                           team=base.team, name=f"API deal {next(_serial)}",
                                           expected_revenue="500")  # fmt: skip


def activity(company: Company) -> Activity:
    deal = opportunity(company)
    with company_scope(company):
        return services.activity_create(company=company, actor=None, opportunity=deal,
                                        subject="API call")  # fmt: skip


def _sample(path_params: dict[str, Any], body: Any = None, query: Any = None) -> dict[str, Any]:
    return {"path_params": path_params, "body": body, "query": query}


def _quotation_sample(company: Company) -> dict[str, Any]:
    sales_base(company)  # a warehouse, the item and the sales settings
    return _sample({"opportunity_id": opportunity(company).pk}, {"lines": lines_body()})


def team(company: Company) -> SalesTeam:
    with company_scope(company):
        users = [m.user_id for m in Membership.unscoped.filter(company=company)]
        return services.team_create(company=company, actor=None,
                                    name=f"API team {next(_serial)}", members=users)  # fmt: skip


PATH_PARAMETERS: tuple[str, ...] = (
    "lead_id",
    "opportunity_id",
    "activity_id",
    "team_id",
    *api_samples_marketing.PATH_PARAMETERS,
    *api_samples_service.PATH_PARAMETERS,
)

# (method, path) -> (user, company) -> keyword arguments of the API matrix's `Sample`.
SAMPLES: dict[tuple[str, str], Callable[[User, Company], dict[str, Any]]] = {
    ("GET", "/crm/teams"): lambda u, c: _sample({}),
    ("POST", "/crm/teams"): lambda u, c: _sample({}, {"name": "Matrix team"}),
    ("PUT", "/crm/teams/{team_id}/members"): lambda u, c: _sample(
        {"team_id": team(c).pk}, {"members": []}
    ),
    ("PATCH", "/crm/teams/{team_id}"): lambda u, c: _sample(
        {"team_id": team(c).pk}, {"assignment": "round_robin"}
    ),
    ("POST", "/crm/teams/{team_id}/stages"): lambda u, c: _sample(
        {"team_id": team(c).pk}, {"name": "Demo", "sequence": 35, "probability": "45"}
    ),
    ("GET", "/crm/targets"): lambda u, c: _sample({}, query={"on": "2026-03-15"}),
    ("POST", "/crm/targets"): lambda u, c: _sample(
        {},
        {
            "team": crm_base(c).team.pk,
            "period_start": "2026-03-01",
            "period_end": "2026-03-31",
            "amount": "100000",
        },
    ),  # fmt: skip
    ("GET", "/crm/lost-reasons"): lambda u, c: _sample({}),
    ("POST", "/crm/lost-reasons"): lambda u, c: _sample({}, {"name": "Matrix reason"}),
    ("POST", "/crm/leads/{lead_id}/assign"): lambda u, c: _sample({"lead_id": lead(c).pk}, {}),
    ("POST", "/crm/opportunities/{opportunity_id}/assign"): lambda u, c: _sample(
        {"opportunity_id": opportunity(c).pk}
    ),
    ("GET", "/crm/forecast"): lambda u, c: _sample({}, query={"by": "owner"}),
    ("GET", "/crm/leads"): lambda u, c: _sample({}, query={"state": "new"}),
    ("POST", "/crm/leads"): lambda u, c: _sample(
        {}, {"name": "Matrix lead", "email": "matrix@example.com", "team": crm_base(c).team.pk}
    ),
    ("POST", "/crm/leads/web-form"): lambda u, c: _sample(
        {}, {"fields": {"name": "Web", "email": "web@example.com", "message": "Hi"}}
    ),
    ("GET", "/crm/leads/{lead_id}"): lambda u, c: _sample({"lead_id": lead(c).pk}),
    ("GET", "/crm/leads/{lead_id}/duplicates"): lambda u, c: _sample({"lead_id": lead(c).pk}),
    ("POST", "/crm/leads/{lead_id}/qualify"): lambda u, c: _sample(
        {"lead_id": lead(c).pk}, {"create_party": True, "expected_revenue": "1000"}
    ),
    ("POST", "/crm/leads/{lead_id}/disqualify"): lambda u, c: _sample(
        {"lead_id": lead(c).pk}, {"reason": "spam"}
    ),
    ("GET", "/crm/opportunities"): lambda u, c: _sample({}, query={"state": "open"}),
    ("POST", "/crm/opportunities"): lambda u, c: _sample(
        {}, {"party": crm_base(c).customer.pk, "name": "Matrix deal", "team": crm_base(c).team.pk}
    ),
    ("GET", "/crm/opportunities/{opportunity_id}"): lambda u, c: _sample(
        {"opportunity_id": opportunity(c).pk}
    ),
    ("POST", "/crm/opportunities/{opportunity_id}/move"): lambda u, c: _sample(
        {"opportunity_id": opportunity(c).pk}, {"stage": crm_base(c).proposal.pk}
    ),
    ("POST", "/crm/opportunities/{opportunity_id}/won"): lambda u, c: _sample(
        {"opportunity_id": opportunity(c).pk}
    ),
    ("POST", "/crm/opportunities/{opportunity_id}/lost"): lambda u, c: _sample(
        {"opportunity_id": opportunity(c).pk}, {"lost_reason": crm_base(c).reason.pk}
    ),
    ("GET", "/crm/activities"): lambda u, c: _sample({}, query={"done": "false"}),
    ("POST", "/crm/activities"): lambda u, c: _sample(
        {}, {"subject": "Matrix call", "opportunity": opportunity(c).pk}
    ),
    ("POST", "/crm/activities/{activity_id}/done"): lambda u, c: _sample(
        {"activity_id": activity(c).pk}, {}
    ),
    ("POST", "/crm/opportunities/{opportunity_id}/quotations"): lambda u, c: _quotation_sample(c),
    ("GET", "/crm/opportunities/{opportunity_id}/quotations"): lambda u, c: _sample(
        {"opportunity_id": opportunity(c).pk}
    ),
    ("GET", "/crm/opportunities/{opportunity_id}/orders"): lambda u, c: _sample(
        {"opportunity_id": opportunity(c).pk}
    ),
    **api_samples_marketing.SAMPLES,
    **api_samples_service.SAMPLES,
}
