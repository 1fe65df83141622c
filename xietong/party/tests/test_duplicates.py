"""Duplicate detection: normalised name, tax ID, phone and e-mail; create refuses duplicates
unless told otherwise."""

from __future__ import annotations

import pytest

from xietong.party import services
from xietong.party.selectors import party_duplicates
from xietong.party.tests.conftest import make_party, valid_uscc

pytestmark = pytest.mark.django_db


def test_candidates_and_their_reasons(company_a, company_b):
    tax = valid_uscc()
    existing = make_party(
        company_a,
        "上海骑行者贸易有限公司",
        country="CN",
        tax_id=tax,
        phone="021-5555 1234",
        email="Sales@QiXing.example",
    )
    services.contact_create(party=existing, actor=None, name="王伟", email="wang@qixing.example")
    other = make_party(company_a, "Other Trading", phone="+86 21 5555 1234")
    make_party(company_b, "上海骑行者贸易", country="CN", tax_id=tax)  # another company's

    found = party_duplicates(
        company_a,
        name="上海 骑行者贸易 (集团)",
        tax_id=tax.lower(),
        phone="+86 21 5555-1234",
        email="sales@qixing.example",
    )
    assert [(c.party, c.reasons) for c in found] == [
        (existing, ["name", "tax_id", "phone", "email"]),
        (other, ["phone"]),
    ]
    assert [c.party for c in party_duplicates(company_a, email="WANG@qixing.example")] == [existing]
    assert party_duplicates(company_a, name="上海骑行者贸易", exclude=existing) == []
    assert party_duplicates(company_a, phone="1234", tax_id="12") == []  # too short to mean much


def test_create_refuses_duplicates_unless_allowed(company_a, admin_a):
    existing = make_party(company_a, "Velo Sport GmbH", country="DE", tax_id="DE136695976")
    with pytest.raises(services.DuplicateParties) as excinfo:
        services.party_create(company=company_a, actor=admin_a, name="VELO-SPORT", is_customer=True)
    assert [c.party for c in excinfo.value.candidates] == [existing]
    message = excinfo.value.message_dict["allow_duplicate"][0]
    assert "Velo Sport GmbH" in message and existing.code in message and "same name" in message
    with pytest.raises(services.DuplicateParties):
        services.party_create(
            company=company_a,
            actor=admin_a,
            name="Radhaus",
            is_supplier=True,
            country="DE",
            tax_id="136695976",
        )
    created = services.party_create(
        company=company_a, actor=admin_a, name="VELO-SPORT", is_customer=True, allow_duplicate=True
    )
    assert created.pk != existing.pk


def test_merged_parties_are_not_candidates(company_a):
    survivor = make_party(company_a, "Alpha")
    duplicate = make_party(company_a, "Alpha Ltd.")
    services.party_merge(survivor=survivor, duplicate=duplicate, actor=None)
    assert [c.party for c in party_duplicates(company_a, name="alpha")] == [survivor]
