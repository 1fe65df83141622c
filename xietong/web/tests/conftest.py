from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from xietong.core import jobs, services
from xietong.core.models import Job, Membership, Sequence, UnitOfMeasure
from xietong.crm.tests.matrix import crm_records
from xietong.finance.tests.matrix import finance_records
from xietong.inventory.tests.matrix import inventory_records
from xietong.manufacturing.tests.matrix import manufacturing_records
from xietong.party.tests.matrix import party_records
from xietong.product.tests.bom_matrix import bom_records
from xietong.product.tests.catalog_factories import catalogue_records
from xietong.purchase.tests.matrix import purchase_records
from xietong.sales.tests.matrix import sales_records
from xietong.workflow.tests.matrix import workflow_records


@pytest.fixture(scope="module")
def module_records(module_world, django_db_blocker):  # type: ignore[no-untyped-def]
    """The records below, built once for a module that shares `module_world`
    (`pytest.mark.usefixtures("module_world", "module_records")`)."""
    with django_db_blocker.unblock():
        module_world["records"] = build_records(
            module_world["company_a"],
            module_world["company_b"],
            module_world["users_a"],
            module_world["users_b"],
        )


@pytest.fixture
def records(request, shared_copy, company_a, company_b, users_a, users_b):  # type: ignore[no-untyped-def]
    """One record of each kind per company, for the URL matrix and the isolation probes."""
    if shared_copy is not None and "module_records" in request.fixturenames:
        return shared_copy["records"]
    return build_records(company_a, company_b, users_a, users_b)


def build_records(company_a, company_b, users_a, users_b):  # type: ignore[no-untyped-def]
    out = {}
    for key, company, users in (("a", company_a, users_a), ("b", company_b, users_b)):
        rate = services.exchange_rate_create(
            company=company,
            actor=None,
            currency="USD",
            date=dt.date(2026, 1, 5),
            rate=Decimal("7.1"),
            source=f"CANARY-{key}-rate",
        )
        job = Job.unscoped.create(
            company=company,
            user=users["admin"],
            kind="core.import",
            name=f"CANARY-{key}-job",
        )
        token, _raw = services.api_token_create(
            user=users["admin"], company=company, name=f"CANARY-{key}-token"
        )
        out[key] = {
            "rate": rate,
            "job": job,
            "token": token,
            "sequence": Sequence.unscoped.filter(company=company).first(),
            "membership": Membership.unscoped.get(company=company, user=users["sales_rep"]),
        }
        out[key].update(catalogue_records(company, key))
        out[key].update(party_records(company, key))
        out[key].update(bom_records(company, key))
        out[key].update(workflow_records(company, key))
        out[key].update(finance_records(company, key))
        out[key].update(inventory_records(company, key))
        out[key].update(sales_records(company, key))
        out[key].update(purchase_records(company, key))
        out[key].update(manufacturing_records(company, key))
        out[key].update(crm_records(company, key))
    out["unit"] = UnitOfMeasure.objects.get(code="kg")
    assert jobs  # the job kinds are registered on import
    return out
