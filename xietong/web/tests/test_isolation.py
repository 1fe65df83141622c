"""A user of company A can neither read nor change company B's records through the shell."""

from __future__ import annotations

import pytest
from django.urls import reverse

from xietong.core.models import ExchangeRate

DETAIL_URLS = [
    ("core:rate_detail", "rate"),
    ("core:rate_edit", "rate"),
    ("core:sequence_detail", "sequence"),
    ("core:sequence_edit", "sequence"),
    ("core:user_detail", "membership"),
    ("core:user_roles", "membership"),
    ("core:job_detail", "job"),
]
# Companies, users and records are built once for this module; each test's changes are rolled
# back after it (see the root conftest's `module_world`).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("module_world", "module_records")]

LIST_URLS = [
    "core:rate_list",
    "core:sequence_list",
    "core:user_list",
    "core:audit_list",
    "core:job_list",
]


@pytest.mark.django_db
@pytest.mark.parametrize("name,kind", DETAIL_URLS)
def test_other_company_records_are_not_found(name, kind, users_a, records, client_for):
    client = client_for(users_a["admin"])
    assert client.get(reverse(name, args=[records["a"][kind].pk])).status_code == 200
    assert client.get(reverse(name, args=[records["b"][kind].pk])).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("name", LIST_URLS)
def test_lists_and_exports_hold_no_other_company_rows(name, users_a, records, client_for):
    client = client_for(users_a["admin"])
    for suffix in ("", "?export=csv", "?export=xlsx"):
        response = client.get(reverse(name) + suffix)
        assert response.status_code == 200
        assert b"CANARY-b" not in response.content


@pytest.mark.django_db
def test_writes_to_other_company_records_are_refused(users_a, records, client_for):
    client = client_for(users_a["admin"])
    theirs = records["b"]["rate"]
    before = ExchangeRate.unscoped.filter(pk=theirs.pk).values().get()
    response = client.post(
        reverse("core:rate_edit", args=[theirs.pk]),
        {"currency": "USD", "date": "2026-01-05", "rate": "1"},
    )
    assert response.status_code == 404
    assert client.post(reverse("core:rate_delete", args=[theirs.pk])).status_code == 404
    assert ExchangeRate.unscoped.filter(pk=theirs.pk).values().get() == before


@pytest.mark.django_db
def test_switching_to_a_company_without_membership_is_refused(users_a, company_b, client_for):
    client = client_for(users_a["admin"])
    client.post(reverse("web:switch_company"), {"company": company_b.pk})
    users_a["admin"].refresh_from_db()
    assert users_a["admin"].active_company_id != company_b.pk


@pytest.mark.django_db
def test_switching_company_changes_the_scope(users_a, company_b, records, client_for):
    from xietong.core.models import Membership, Role

    admin = users_a["admin"]
    membership = Membership.unscoped.create(company=company_b, user=admin)
    membership.roles.set(Role.objects.filter(code="admin", company=None))
    client = client_for(admin)
    assert b"CANARY-a-rate" in client.get(reverse("core:rate_list") + "?export=csv").content
    client.post(reverse("web:switch_company"), {"company": company_b.pk})
    content = client.get(reverse("core:rate_list") + "?export=csv").content
    assert b"CANARY-b-rate" in content and b"CANARY-a-rate" not in content
