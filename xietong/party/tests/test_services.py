"""Party services: validation (tax IDs, links to other companies, credit terms apart),
numbering, contacts, addresses, bank accounts, customer groups, payment terms."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from stdnum.cn import uscc

from xietong.core.models import AuditEntry
from xietong.core.tenancy import company_scope
from xietong.core.ui.records import history_for
from xietong.party import services
from xietong.party.models import Address, Contact, Party, PaymentTerm, Region, Tag, TimelineEntry
from xietong.party.tests.conftest import make_party, valid_uscc

pytestmark = pytest.mark.django_db


def errors_of(excinfo: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return excinfo.value.message_dict


# --- parties ------------------------------------------------------------------------------------


def test_create_normalises_numbers_and_writes_the_timeline(company_a, admin_a):
    code = valid_uscc(4711)
    party = services.party_create(
        company=company_a,
        actor=admin_a,
        name="  上海骑行者贸易有限公司 ",
        is_customer=True,
        country="cn",
        tax_id=f"{code[:6]} {code[6:12]}-{code[12:].lower()}",
        phone="+86 (21) 5555-1234",
        tags=["VIP", "华东", "vip"],
    )
    party.refresh_from_db()
    assert party.name == "上海骑行者贸易有限公司"
    assert party.normalized_name == "上海骑行者贸易"
    assert party.normalized_phone == "2155551234"
    assert party.tax_id == code  # compact form
    assert party.currency_id == "CNY"  # the company's
    assert party.code.startswith("P") and party.code.endswith("00001")
    assert sorted(t.name for t in party.tags.all()) == ["VIP", "华东"]
    entry = TimelineEntry.unscoped.get(party=party)
    assert (entry.kind, entry.actor) == ("party.created", admin_a)
    assert AuditEntry.objects.get_for_object(party).filter(actor=admin_a).exists()


def test_codes_are_numbered_and_unique(company_a):
    first, second = make_party(company_a), make_party(company_a)
    assert first.code != second.code
    with pytest.raises(ValidationError) as excinfo:
        make_party(company_a, code=first.code)
    assert "code" in errors_of(excinfo)
    own = make_party(company_a, code="KH-001")
    assert own.code == "KH-001"


@pytest.mark.parametrize(
    "country,tax_id,stored",
    [
        ("CN", "91110000600037341L", "91110000600037341L"),
        ("DE", "DE 136 695 976", "DE136695976"),
        ("DE", "136695976", "DE136695976"),
        ("NL", "NL004495445B01", "NL004495445B01"),
        ("US", "04-2103594", "042103594"),
        ("HK", "12345678-000", "12345678000"),  # no validator: accepted as given (compact)
        ("JP", "T1234567890123", "T1234567890123"),
        (None, "anything-1", "ANYTHING1"),
    ],
)
def test_valid_tax_ids_are_stored_compact(company_a, country, tax_id, stored):
    party = make_party(company_a, country=country, tax_id=tax_id)
    assert Party.unscoped.get(pk=party.pk).tax_id == stored


@pytest.mark.parametrize(
    "fields,scheme",
    [
        ({"country": "CN", "tax_id": "91110000600037341X"}, "统一社会信用代码"),
        ({"country": "CN", "tax_id": "9111000060003734"}, "统一社会信用代码"),
        ({"country": "DE", "tax_id": "DE136695977"}, "EU VAT number"),
        ({"country": "FR", "tax_id": "FR40303265046"}, "EU VAT number"),
        ({"country": "US", "tax_id": "00-1234567"}, "EIN"),
        ({"country": "HK", "tax_scheme": "cn.uscc", "tax_id": "123"}, "统一社会信用代码"),
    ],
)
def test_invalid_tax_ids_are_field_errors_naming_the_scheme(company_a, fields, scheme):
    with pytest.raises(ValidationError) as excinfo:
        make_party(company_a, **fields)
    messages = errors_of(excinfo)["tax_id"]
    assert any(scheme in m for m in messages), messages
    assert not Party.unscoped.filter(company=company_a).exists()


def test_unknown_scheme_is_a_field_error(company_a):
    with pytest.raises(ValidationError) as excinfo:
        make_party(company_a, tax_scheme="xx.magic", tax_id="123")
    assert "tax_scheme" in errors_of(excinfo)


def test_a_party_has_a_role_and_valid_fields(company_a):
    with pytest.raises(ValidationError) as excinfo:
        services.party_create(
            company=company_a,
            actor=None,
            name="",
            email="not-an-address",
            website="no url",
            language="fr",
            currency="XYZ",
            country="ZZ",
            bogus=1,
        )
    errors = errors_of(excinfo)
    assert {
        "name",
        "is_customer",
        "email",
        "website",
        "language",
        "currency",
        "country",
        "bogus",
    } <= set(errors)


def test_links_to_another_companys_rows_are_refused(company_a, company_b, users_b):
    group_b = services.customer_group_create(
        company=company_b, actor=None, code="dist", name="B distributors", max_discount_percent=5
    )
    with pytest.raises(ValidationError) as excinfo:
        make_party(company_a, customer_group=group_b.pk, salesperson=users_b["sales_rep"])
    errors = errors_of(excinfo)
    assert set(errors) == {"customer_group", "salesperson"}
    party = make_party(company_a)
    with pytest.raises(ValidationError) as excinfo:
        services.party_update(party=party, actor=None, customer_group=group_b)
    assert "customer_group" in errors_of(excinfo)
    term_b = services.payment_term_create(
        company=company_b, actor=None, name="Net 30", lines=[{"percent": 100, "days": 30}]
    )
    with pytest.raises(ValidationError) as excinfo:
        services.party_set_credit_terms(
            party=party, actor=None, credit_limit=Decimal(1), payment_term=term_b
        )
    assert "payment_term" in errors_of(excinfo)


def test_update_refuses_credit_terms_and_changes_nothing_on_error(company_a, admin_a):
    party = make_party(company_a, "Alpha Bikes", email="a@example.com")
    for fields in ({"credit_limit": Decimal(1000)}, {"payment_term": None}):
        with pytest.raises(ValidationError) as excinfo:
            services.party_update(party=party, actor=admin_a, **fields)
        assert set(errors_of(excinfo)) == set(fields)
    with pytest.raises(ValidationError):
        services.party_update(party=party, actor=admin_a, name="Beta Bikes", email="broken")
    assert party.name == "Alpha Bikes"  # the instance too
    assert Party.unscoped.get(pk=party.pk).name == "Alpha Bikes"
    services.party_update(party=party, actor=admin_a, name="Beta Bikes Co., Ltd.", tags=["OEM"])
    party.refresh_from_db()
    assert (party.name, party.normalized_name) == ("Beta Bikes Co., Ltd.", "betabikes")
    assert [t.name for t in party.tags.all()] == ["OEM"]


def test_credit_terms_have_their_own_service_and_timeline_entry(company_a, users_a):
    party = make_party(company_a)
    term = services.payment_term_create(
        company=company_a, actor=None, name="Net 30", lines=[{"percent": 100, "days": 30}]
    )
    accountant = users_a["accountant"]
    services.party_set_credit_terms(
        party=party, actor=accountant, credit_limit="200000", payment_term=term.pk
    )
    party.refresh_from_db()
    assert (party.credit_limit, party.payment_term) == (Decimal("200000.00"), term)
    entry = TimelineEntry.unscoped.get(party=party, kind="party.credit")
    assert "200,000.00 CNY" in entry.summary and "Net 30" in entry.summary
    assert entry.actor == accountant
    for bad in ("-1", "1.234", "abc", 1.5):
        with pytest.raises(ValidationError) as excinfo:
            services.party_set_credit_terms(
                party=party, actor=accountant, credit_limit=bad, payment_term=None
            )
        assert "credit_limit" in errors_of(excinfo)
    services.payment_term_archive(term=term, actor=None)
    other = make_party(company_a)
    with pytest.raises(ValidationError) as excinfo:
        services.party_set_credit_terms(
            party=other, actor=accountant, credit_limit=None, payment_term=term
        )
    assert "payment_term" in errors_of(excinfo)  # archived terms are not offered


def test_archive_and_restore(company_a):
    party = make_party(company_a)
    services.party_archive(party=party, actor=None)
    assert not Party.unscoped.get(pk=party.pk).active
    services.party_restore(party=party, actor=None)
    assert Party.unscoped.get(pk=party.pk).active
    assert TimelineEntry.unscoped.filter(party=party, kind="party.archived").count() == 2


# --- contacts, addresses, bank accounts ---------------------------------------------------------


def test_contacts_have_one_primary(company_a):
    party = make_party(company_a)
    first = services.contact_create(party=party, actor=None, name="王伟", role="采购经理")
    second = services.contact_create(party=party, actor=None, name="李娜")
    assert first.is_primary and not second.is_primary
    services.contact_update(contact=second, actor=None, is_primary=True)
    assert list(
        Contact.unscoped.filter(party=party, is_primary=True).values_list("name", flat=True)
    ) == ["李娜"]
    with pytest.raises(ValidationError) as excinfo:
        services.contact_update(contact=second, actor=None, name="", email="nope")
    assert set(errors_of(excinfo)) == {"name", "email"}
    services.contact_archive(contact=second, actor=None)
    assert not Contact.unscoped.filter(party=party, is_primary=True).exists()


def test_addresses_have_one_default_per_kind_and_regions_in_their_country(company_a):
    party = make_party(company_a)
    guangdong = Region.objects.get(code="CN-GD")
    billing = services.address_create(
        party=party, actor=None, street="科技园路 1 号", city="深圳", country="CN", region=guangdong
    )
    shipping = services.address_create(
        party=party, actor=None, kind="shipping", street="仓库路 8 号", city="东莞", country="CN"
    )
    assert billing.is_default and shipping.is_default  # first of each kind
    second = services.address_create(
        party=party, actor=None, street="新地址", city="广州", country="CN", is_default=True
    )
    defaults = Address.unscoped.filter(party=party, is_default=True)
    assert sorted(defaults.values_list("pk", flat=True)) == sorted([second.pk, shipping.pk])
    bavaria = Region.objects.get(code="DE-BY")
    with pytest.raises(ValidationError) as excinfo:
        services.address_update(address=billing, actor=None, region=bavaria.pk)
    assert "region" in errors_of(excinfo)
    with pytest.raises(ValidationError) as excinfo:
        services.address_create(party=party, actor=None, street="", city="", country=None)
    assert {"street", "city", "country"} <= set(errors_of(excinfo))


def test_bank_accounts_check_ibans_only(company_a):
    party = make_party(company_a)
    iban = services.bank_account_create(
        party=party,
        actor=None,
        bank_name="Deutsche Bank",
        account_number="de89 3704 0044 0532 0130 00",
    )
    assert iban.account_number == "DE89370400440532013000"
    china = services.bank_account_create(
        party=party,
        actor=None,
        bank_name="招商银行",
        account_number="6225 8801 2345 6789",
        swift="cmbc cn bs",
    )
    assert china.account_number == "6225 8801 2345 6789" and china.swift == "CMBCCNBS"
    with pytest.raises(ValidationError) as excinfo:
        services.bank_account_create(
            party=party,
            actor=None,
            bank_name="X",
            account_number="DE89370400440532013001",
            swift="ABC",
        )
    assert set(errors_of(excinfo)) == {"account_number", "swift"}


# --- customer groups, tags, payment terms -------------------------------------------------------


def test_customer_groups(company_a):
    group = services.customer_group_create(
        company=company_a,
        actor=None,
        code="dist",
        name="经销商 Distributors",
        max_discount_percent="12.5",
    )
    assert group.max_discount_percent == Decimal("12.5")
    with pytest.raises(ValidationError) as excinfo:
        services.customer_group_create(
            company=company_a, actor=None, code="dist", name="Again", max_discount_percent=150
        )
    assert set(errors_of(excinfo)) == {"code", "max_discount_percent"}
    party = make_party(company_a, customer_group=group)
    services.customer_group_archive(group=group, actor=None)
    group.refresh_from_db()
    assert not group.active
    services.party_update(party=party, actor=None, customer_group=group)  # customers keep it


def test_tags_are_per_company(company_a, company_b):
    make_party(company_a, tags=["VIP"])
    make_party(company_b, tags=["VIP"])
    assert Tag.unscoped.filter(name="VIP").count() == 2


def test_payment_term_percents_must_add_up_to_100(company_a):
    term = services.payment_term_create(
        company=company_a,
        actor=None,
        name="30/70",
        lines=[{"percent": "30", "days": 0}, {"percent": "70", "days": 60}],
    )
    assert [line.percent for line in term.lines.all()] == [Decimal(30), Decimal(70)]
    with pytest.raises(ValidationError) as excinfo:
        services.payment_term_create(
            company=company_a,
            actor=None,
            name="broken",
            lines=[{"percent": "30", "days": 0}, {"percent": "60", "days": 60}],
        )
    assert "90" in errors_of(excinfo)["lines"][0]
    for lines in (
        [],
        [{"percent": "0", "days": 0}, {"percent": "100", "days": 1}],
        [{"percent": "100", "days": 10, "discount_percent": 2, "discount_days": 30}],
        [{"percent": "100", "days": -1}],
    ):
        with pytest.raises(ValidationError) as excinfo:
            services.payment_term_create(company=company_a, actor=None, name="x", lines=lines)
        assert "lines" in errors_of(excinfo)
    with pytest.raises(ValidationError) as excinfo:
        services.payment_term_update(term=term, actor=None, lines=[{"percent": 50}])
    assert [line.percent for line in term.lines.all()] == [Decimal(30), Decimal(70)]
    services.payment_term_update(term=term, actor=None, lines=[{"percent": 100, "days": 45}])
    assert AuditEntry.objects.get_for_object(term).filter(changes__icontains="45").exists()
    assert "45" in str(history_for(term))
    with pytest.raises(ValidationError) as excinfo:
        services.payment_term_create(
            company=company_a, actor=None, name="30/70", lines=[{"percent": 100}]
        )
    assert "name" in errors_of(excinfo)


def test_services_refuse_writes_to_merged_parties(company_a):
    survivor, duplicate = make_party(company_a, "A"), make_party(company_a, "B")
    services.party_merge(survivor=survivor, duplicate=duplicate, actor=None)
    duplicate.refresh_from_db()
    with pytest.raises(ValidationError):
        services.party_update(party=duplicate, actor=None, name="C")
    with pytest.raises(ValidationError):
        services.contact_create(party=duplicate, actor=None, name="Z")
    with pytest.raises(ValidationError):
        services.party_restore(party=duplicate, actor=None)


def test_uscc_fixture_is_valid():
    assert uscc.is_valid(valid_uscc(1)) and uscc.is_valid(valid_uscc(2, region="440300"))
    with company_scope(None):
        assert PaymentTerm.objects.count() == 0
