"""Fixtures of the API tests: clients that sign in by token or by session, and sample rows."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.test import Client

from xietong.core.models import Company, ExchangeRate, User
from xietong.core.services import api_token_create, exchange_rate_create

API = "/api/v1"

_dates = itertools.count()


def next_date() -> dt.date:
    """A date no other sample rate in the test run has used yet."""
    return dt.date(2024, 1, 1) + dt.timedelta(days=next(_dates))


def token_for(user: User, company: Company | None = None, **kwargs: object) -> str:
    """A new raw API token of `user` in `company` (their active company by default)."""
    _token, raw = api_token_create(
        user=user, company=company or user.active_company, name="test", **kwargs
    )
    return raw


def token_client(raw: str, **kwargs: object) -> Client:
    return Client(headers={"Authorization": f"Bearer {raw}"}, **kwargs)


@pytest.fixture
def as_token() -> Callable[..., Client]:
    """`as_token(user, company=None)`: a client that authenticates with a fresh API token."""

    def make(user: User, company: Company | None = None) -> Client:
        return token_client(token_for(user, company))

    return make


@pytest.fixture
def as_session() -> Callable[..., Client]:
    """`as_session(user)`: a client signed in with a browser session (CSRF not enforced)."""

    def make(user: User, **kwargs: object) -> Client:
        client = Client(**kwargs)
        client.force_login(user)
        return client

    return make


def make_rate(company: Company, currency: str = "USD", rate: str = "7.1234") -> ExchangeRate:
    return exchange_rate_create(
        company=company, actor=None, currency=currency, date=next_date(), rate=Decimal(rate)
    )


@pytest.fixture
def rate_a(company_a: Company) -> ExchangeRate:
    return make_rate(company_a)


@pytest.fixture
def rate_b(company_b: Company) -> ExchangeRate:
    return make_rate(company_b)
