"""Fixtures of the CRM tests: company A's scope, a team of two reps with a manager."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from xietong.core.models import Company
from xietong.core.tenancy import company_scope
from xietong.crm.tests import factories


@pytest.fixture
def in_a(company_a: Company) -> Iterator[Company]:
    """Run the test inside company A's scope (as a request of company A would)."""
    with company_scope(company_a):
        yield company_a


@pytest.fixture
def sales(company_a: Company, users_a) -> SimpleNamespace:  # type: ignore[no-untyped-def]
    """Team "East" (reps `rep` and `rep2`, manager the role user sales_manager) and team "West"
    (rep `other`), in company A."""
    rep = users_a["sales_rep"]
    rep2 = factories.staff(company_a)
    other = factories.staff(company_a)
    manager = users_a["sales_manager"]
    east = factories.team(company_a, "East", members=[rep, rep2], manager=manager)
    west = factories.team(company_a, "West", members=[other])
    return SimpleNamespace(rep=rep, rep2=rep2, other=other, manager=manager, east=east,
                           west=west)  # fmt: skip
