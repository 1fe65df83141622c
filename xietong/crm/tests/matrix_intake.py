"""The screen matrix's part for lead intake and territories: URL name → record key, POST-only
views, and `records(company, key)` adding this part's records (keys `crm_…`) to the matrix's:
a territory and a sales mailbox of a CANARY team."""

from __future__ import annotations

from typing import Any

from xietong.core.models import Company
from xietong.core.tenancy import company_scope
from xietong.crm import services, territories

URL_RECORDS: dict[str, str] = {
    "crm:territory_edit": "crm_territory",
    "crm:mailbox_edit": "crm_mailbox",
}
POST_ONLY: set[str] = {"crm:lead_import_confirm"}


def records(company: Company, key: str) -> dict[str, Any]:
    with company_scope(company):
        team = services.team_create(company=company, actor=None, name=f"CANARY-{key}-intake",
                                    assignment="territory")  # fmt: skip
        territory = territories.territory_create(company=company, actor=None, team=team,
                                                 name=f"CANARY-{key}-territory",
                                                 countries=["CN"])  # fmt: skip
        mailbox = territories.mailbox_create(company=company, actor=None, team=team,
                                             address=f"canary-{key.lower()}@xietong.example")  # fmt: skip
    return {"crm_territory": territory, "crm_mailbox": mailbox}
