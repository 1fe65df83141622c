"""Sales-pipeline test data, all through the services: staff users with roles, a sales team
with the default stages, customers, opportunities and a lost reason."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from xietong.core.models import Company, User
from xietong.core.services import user_create
from xietong.core.tenancy import company_scope
from xietong.crm import services
from xietong.crm.models import LostReason, Opportunity, PipelineStage, SalesTeam
from xietong.party.models import Party
from xietong.party.services import party_create

D = Decimal
_numbers = itertools.count(1)


def staff(company: Company, role: str = "sales_rep", name: str = "") -> User:
    """A new user of `company` with one role."""
    n = next(_numbers)
    return user_create(company=company, username=name or f"crm_{role}_{n}", password=None,
                       roles=[role], validate=False, first_name=f"{role} {n}")  # fmt: skip


def team(company: Company, name: str = "", *, members: list[User] = (), manager: User | None = None,
         assignment: str = "least_loaded") -> SalesTeam:  # type: ignore[assignment]  # fmt: skip
    with company_scope(company):
        return services.team_create(
            company=company, actor=None, name=name or f"Team {next(_numbers)}",
            members=list(members), manager=manager, assignment=assignment,
        )  # fmt: skip


def stage(team: SalesTeam, name: str) -> PipelineStage:
    return PipelineStage.unscoped.get(team=team, name=name)


def customer(company: Company, name: str = "", **fields: Any) -> Party:
    fields.setdefault("is_customer", True)
    with company_scope(company):
        return party_create(company=company, actor=None, name=name or f"Customer {next(_numbers)}",
                            allow_duplicate=True, **fields)  # fmt: skip


def opportunity(company: Company, sales_team: SalesTeam, *, owner: User | None = None,
                revenue: str = "1000", party: Party | None = None, stage_name: str = "",
                **fields: Any) -> Opportunity:  # fmt: skip
    with company_scope(company):
        return services.opportunity_create(
            company=company, actor=None, party=party or customer(company),
            name=fields.pop("name", f"Deal {next(_numbers)}"), team=sales_team, owner=owner,
            stage=stage(sales_team, stage_name) if stage_name else None,
            expected_revenue=revenue, **fields,
        )  # fmt: skip


def lost_reason(company: Company, name: str = "Too expensive") -> LostReason:
    found = LostReason.unscoped.filter(company=company, name=name).first()
    if found:
        return found
    with company_scope(company):
        return services.lost_reason_create(company=company, actor=None, name=name)
