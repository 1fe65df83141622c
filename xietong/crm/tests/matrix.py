"""What the shell's generated screen matrix needs from the sales pipeline: one record of each
kind per company (`crm_records`, keys `crm_…`, named CANARY-<key>-… for the isolation probes),
the URL name → record key of every CRM URL with a primary key, and the POST-only views.

The records' team has every user of the company as a member, so that each role holding
`crm.view` reaches them (the rule that a rep sees only their own team's pipeline is tested in
xietong/crm/tests)."""

from __future__ import annotations

from typing import Any

from xietong.core.models import Company, Membership
from xietong.core.tenancy import company_scope
from xietong.crm import services
from xietong.crm.tests import matrix_intake, matrix_marketing, matrix_service

URL_RECORDS = {
    "crm:lead_detail": "crm_lead",
    "crm:lead_qualify": "crm_lead",
    "crm:lead_disqualify": "crm_lead",
    "crm:opportunity_detail": "crm_opportunity",
    "crm:opportunity_move": "crm_opportunity",
    "crm:opportunity_won": "crm_opportunity",
    "crm:opportunity_lost": "crm_opportunity",
    "crm:activity_done": "crm_activity",
    "crm:stage_create": "crm_team",
    "crm:team_edit": "crm_team",
    "crm:opportunity_quotation_create": "crm_opportunity",
    **matrix_marketing.URL_RECORDS,
    **matrix_service.URL_RECORDS,
    **matrix_intake.URL_RECORDS,
}
POST_ONLY = {
    "crm:lead_qualify",
    "crm:lead_disqualify",
    "crm:opportunity_move",
    "crm:opportunity_won",
    "crm:opportunity_lost",
    "crm:activity_create",
    "crm:activity_done",
    "crm:team_create",
    "crm:stage_create",
    "crm:lost_reason_create",
    *matrix_marketing.POST_ONLY,
    *matrix_service.POST_ONLY,
    *matrix_intake.POST_ONLY,
}


def crm_records(company: Company, key: str) -> dict[str, Any]:
    """A team of everybody in `company` with the default stages, a new lead, an open
    opportunity of a new customer and an activity on it; names are CANARY-<key>-…."""
    from xietong.party.services import party_create

    with company_scope(company):
        users = [m.user for m in Membership.unscoped.filter(company=company, is_active=True)
                 .select_related("user")]  # fmt: skip
        team = services.team_create(company=company, actor=None, name=f"CANARY-{key}-team",
                                    members=users)  # fmt: skip
        lead = services.lead_create(company=company, actor=None, name=f"CANARY-{key}-lead",
                                    email=f"lead-{key}@example.com", team=team)  # fmt: skip
        customer = party_create(company=company, actor=None, name=f"CANARY-{key}-prospect",
                                is_customer=True, allow_duplicate=True)  # fmt: skip
        opportunity = services.opportunity_create(
            company=company, actor=None, party=customer, team=team,
            name=f"CANARY-{key}-opportunity", expected_revenue="1000", owner=users[0],
        )  # fmt: skip
        activity = services.activity_create(company=company, actor=None, opportunity=opportunity,
                                            subject=f"CANARY-{key}-call", owner=users[0])  # fmt: skip
    return {"crm_team": team, "crm_lead": lead, "crm_opportunity": opportunity,
            "crm_activity": activity, **matrix_marketing.records(company, key),
            **matrix_service.records(company, key),
            **matrix_intake.records(company, key)}  # fmt: skip
