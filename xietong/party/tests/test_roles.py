"""Who may do what with parties, on screens and through the API: a sales rep edits customers
but cannot set credit terms, an accountant sets credit terms, a warehouse clerk only reads,
merging is for sales managers; every party URL is walked for every role."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import URLPattern, get_resolver, reverse

from xietong.core.roles import DEFAULT_ROLES, role_permissions
from xietong.party.models import Party
from xietong.party.tests.conftest import API, make_party, token_client
from xietong.party.tests.matrix import POST_ONLY, URL_RECORDS, party_records

pytestmark = pytest.mark.django_db


def _party_patterns() -> list[tuple[str, URLPattern]]:
    resolver = next(
        p for p in get_resolver().url_patterns if getattr(p, "namespace", None) == "party"
    )
    return [(f"party:{p.name}", p) for p in resolver.url_patterns]


@pytest.mark.parametrize("role", list(DEFAULT_ROLES))
def test_each_role_reaches_exactly_the_party_screens_it_may(role, company_a, users_a, client_for):
    records = party_records(company_a, "a")
    client = client_for(users_a[role])
    permissions = set(role_permissions(role))
    for name, pattern in _party_patterns():
        required = pattern.callback.required_permission
        args = [records[URL_RECORDS[name]].pk] if name in URL_RECORDS else []
        response = client.get(reverse(name, args=args))
        if name in POST_ONLY:
            assert response.status_code == 405, (role, name)
        elif required in permissions:
            assert response.status_code == 200, (role, name, response.status_code)
        else:
            assert response.status_code == 403, (role, name, response.status_code)


def test_sales_rep_edits_customers_but_not_credit_terms(company_a, users_a, client_for):
    party = make_party(company_a, "Alpha Bikes")
    rep = client_for(users_a["sales_rep"])
    response = rep.post(
        reverse("party:party_edit", args=[party.pk]),
        {
            "name": "Alpha Bikes Shanghai",
            "kind": "organisation",
            "is_customer": "on",
            "language": "zh-hans",
            "currency": "CNY",
            "code": party.code,
        },
    )
    assert response.status_code == 302
    assert Party.unscoped.get(pk=party.pk).name == "Alpha Bikes Shanghai"
    detail = rep.get(reverse("party:party_detail", args=[party.pk])).content.decode()
    assert reverse("party:party_edit", args=[party.pk]) in detail
    assert reverse("party:party_credit", args=[party.pk]) not in detail
    response = rep.post(reverse("party:party_credit", args=[party.pk]), {"credit_limit": "999999"})
    assert response.status_code == 403
    assert Party.unscoped.get(pk=party.pk).credit_limit is None


def test_accountant_sets_credit_terms(company_a, users_a, client_for):
    party = make_party(company_a)
    accountant = client_for(users_a["accountant"])
    response = accountant.post(
        reverse("party:party_credit", args=[party.pk]), {"credit_limit": "250000"}
    )
    assert response.status_code == 302
    assert Party.unscoped.get(pk=party.pk).credit_limit == Decimal("250000")
    bad = accountant.post(reverse("party:party_credit", args=[party.pk]), {"credit_limit": "-5"})
    assert bad.status_code == 400 and 'data-field-error="credit_limit"' in bad.content.decode()
    # The accountant reads parties but does not edit them.
    assert accountant.get(reverse("party:party_edit", args=[party.pk])).status_code == 403


def test_warehouse_clerk_only_reads(company_a, users_a, client_for):
    party = make_party(company_a, "Read Only Ltd")
    clerk = client_for(users_a["warehouse_clerk"])
    detail = clerk.get(reverse("party:party_detail", args=[party.pk]))
    assert detail.status_code == 200
    html = detail.content.decode()
    assert reverse("party:party_edit", args=[party.pk]) not in html
    assert reverse("party:contact_create", args=[party.pk]) not in html
    assert 'id="timeline-note"' not in html
    for name in ("party:party_edit", "party:contact_create", "party:timeline_note"):
        assert clerk.post(reverse(name, args=[party.pk]), {"name": "x"}).status_code == 403
    assert clerk.post(reverse("party:party_archive", args=[party.pk])).status_code == 403
    assert Party.unscoped.get(pk=party.pk).active


@pytest.mark.parametrize(
    "role,change,credit,merge",
    [
        ("sales_rep", 200, 403, 403),
        ("sales_manager", 200, 200, 200),
        ("accountant", 403, 200, 403),
        ("warehouse_clerk", 403, 403, 403),
        ("buyer", 200, 403, 403),
    ],
)
def test_api_roles(company_a, users_a, role, change, credit, merge):
    client: Client = token_client(users_a[role], company_a)
    party, other = make_party(company_a), make_party(company_a)
    base = f"{API}/parties/{party.pk}"
    assert client.get(base).status_code == 200
    assert client.patch(base, {"notes": "x"}, content_type="application/json").status_code == change
    response = client.put(
        f"{base}/credit-terms", {"credit_limit": "10"}, content_type="application/json"
    )
    assert response.status_code == credit
    response = client.post(
        f"{base}/merge", {"duplicate": other.pk}, content_type="application/json"
    )
    assert response.status_code == merge
