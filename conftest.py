"""Shared test fixtures: two companies (A and B) with one user per predefined role in each."""

from __future__ import annotations

import os

import pytest

from xietong.core.roles import DEFAULT_ROLES

PASSWORD = "correct-horse-battery-staple"


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    on_postgres = os.environ.get("DATABASE_URL", "").startswith("postgres")
    skip = pytest.mark.skip(reason="needs PostgreSQL (DATABASE_URL=postgres://…)")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fast_hashing(settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def company_a(db):  # type: ignore[no-untyped-def]
    from xietong.core.services import company_create

    return company_create(
        name="Alpha Works", legal_name="Alpha Works Ltd.", base_currency="CNY", country="CN"
    )


@pytest.fixture
def company_b(db):  # type: ignore[no-untyped-def]
    from xietong.core.services import company_create

    return company_create(
        name="Beta Trading",
        legal_name="Beta Trading Co.",
        base_currency="HKD",
        country="HK",
        timezone_name="Asia/Hong_Kong",
    )


def _users(company, prefix):  # type: ignore[no-untyped-def]
    from xietong.core.services import user_create

    return {
        role: user_create(
            company=company,
            username=f"{prefix}_{role}",
            password=PASSWORD,
            roles=[role],
            validate=False,
        )
        for role in DEFAULT_ROLES
    }


@pytest.fixture
def users_a(company_a):  # type: ignore[no-untyped-def]
    """One user per predefined role in company A, keyed by role code."""
    return _users(company_a, "a")


@pytest.fixture
def users_b(company_b):  # type: ignore[no-untyped-def]
    return _users(company_b, "b")


@pytest.fixture
def admin_a(users_a):  # type: ignore[no-untyped-def]
    return users_a["admin"]


@pytest.fixture
def client_for():  # type: ignore[no-untyped-def]
    """A function giving a test client signed in as the given user."""
    from django.test import Client

    def make(user):  # type: ignore[no-untyped-def]
        client = Client()
        client.force_login(user)
        return client

    return make
