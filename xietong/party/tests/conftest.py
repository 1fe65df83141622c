"""Fixtures of the party tests: a few parties per company, valid tax IDs, signed-in clients."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client
from stdnum.cn import uscc

from xietong.core.models import Company, User
from xietong.core.services import api_token_create
from xietong.core.tenancy import company_scope
from xietong.party import services
from xietong.party.models import Party

_numbers = itertools.count(1)

API = "/api/v1"


def token_client(user: User, company: Company | None = None) -> Client:
    """A client that calls the API with a fresh token of `user` (in their active company)."""
    _token, raw = api_token_create(
        user=user, company=company or user.active_company, name="party tests"
    )
    return Client(headers={"Authorization": f"Bearer {raw}"})


def valid_uscc(number: int | None = None, region: str = "310000") -> str:
    """A unified social credit code with a correct check digit (stdnum computes it)."""
    body = f"91{region}{(number if number is not None else next(_numbers)):09d}"
    return body + uscc.calc_check_digit(body)


def make_party(company: Company, name: str | None = None, **fields: Any) -> Party:
    """A customer of `company` (created through the service, duplicates allowed)."""
    fields.setdefault("is_customer", True)
    return services.party_create(
        company=company,
        actor=None,
        name=name or f"Party {next(_numbers)}",
        allow_duplicate=True,
        **fields,
    )


@pytest.fixture
def in_a(company_a: Company) -> Iterator[Company]:
    """Run the test inside company A's scope (as a request of company A would)."""
    with company_scope(company_a):
        yield company_a


@pytest.fixture
def customer_a(company_a: Company) -> Party:
    return make_party(
        company_a,
        "上海骑行者贸易有限公司",
        country="CN",
        tax_id=valid_uscc(),
        phone="+86 21 5555 1234",
        email="info@qixingzhe.example",
    )


@pytest.fixture
def customer_b(company_b: Company) -> Party:
    return make_party(company_b, "CANARY-b Velo Sport GmbH", country="DE")


@pytest.fixture
def client_for() -> Callable[[User], Client]:
    def make(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make
