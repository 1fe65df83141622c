"""The party screens: lists with filters and export, the party page and its tabs, forms with
field errors and the duplicate warning, merging, settings screens, company isolation."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from xietong.core.models import AuditEntry
from xietong.party import services
from xietong.party.models import Address, Contact, CustomerGroup, Party, PaymentTerm, Region
from xietong.party.tests.conftest import make_party, valid_uscc
from xietong.party.tests.matrix import POST_ONLY, URL_RECORDS, party_records

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(users_a, client_for):  # type: ignore[no-untyped-def]
    return client_for(users_a["admin"])


def _csv(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_customer_list_search_filters_and_export(company_a, company_b, users_a, admin):
    group = services.customer_group_create(
        company=company_a, actor=None, code="oem", name="OEM", max_discount_percent=12
    )
    rep = users_a["sales_rep"]
    make_party(
        company_a,
        "杭州飞轮车业有限公司",
        country="CN",
        customer_group=group,
        salesperson=rep,
        tags=["VIP"],
    )
    make_party(company_a, "Velo Sport GmbH", country="DE")
    make_party(company_a, "Only Supplier Ltd", is_customer=False, is_supplier=True)
    archived = make_party(company_a, "Old Customer")
    services.party_archive(party=archived, actor=None)
    make_party(company_b, "CANARY-b customer")
    url = reverse("party:customer_list")

    def names(query: str) -> list[str]:
        rows = _csv(admin.get(f"{url}?export=csv&cols=code,name&{query}"))
        return sorted(row[1] for row in rows[1:])

    assert names("") == ["Old Customer", "Velo Sport GmbH", "杭州飞轮车业有限公司"]
    assert names("q=飞轮") == ["杭州飞轮车业有限公司"]
    assert names(f"group={group.pk}") == ["杭州飞轮车业有限公司"]
    assert names(f"salesperson={rep.pk}") == ["杭州飞轮车业有限公司"]
    assert names("country=DE") == ["Velo Sport GmbH"]
    tag = Party.unscoped.get(name="杭州飞轮车业有限公司").tags.get()
    assert names(f"tag={tag.pk}") == ["杭州飞轮车业有限公司"]
    assert names("active=0") == ["Old Customer"]
    suppliers = _csv(admin.get(reverse("party:supplier_list") + "?export=csv&cols=code,name"))
    assert [row[1] for row in suppliers[1:]] == ["Only Supplier Ltd"]
    page = admin.get(url)
    html = page.content.decode()
    assert page.status_code == 200 and "CANARY-b" not in html
    assert reverse("party:party_create") + "?role=customer" in html
    xlsx = admin.get(url + "?export=xlsx")
    assert xlsx.status_code == 200 and b"CANARY-b" not in xlsx.content
    fragment = admin.get(url + "?q=Velo", headers={"HX-Request": "true"})
    assert (
        "Velo Sport GmbH" in fragment.content.decode() and "<html" not in fragment.content.decode()
    )


def test_list_queries_do_not_grow_with_rows(company_a, admin):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin.get(reverse("party:customer_list")).status_code == 200
        return len(queries)

    for i in range(3):
        make_party(company_a, f"Few {i}", tags=["a", "b"], country="CN")
    few = count()
    for i in range(20):
        make_party(company_a, f"Many {i}", tags=["a", "b"], country="CN")
    assert count() == few


def test_party_page_shows_tabs_terms_and_history(company_a, users_a, admin):
    records = party_records(company_a, "a")
    party = records["party"]
    term = services.payment_term_create(
        company=company_a, actor=None, name="2/10 net 30",
        lines=[{"percent": 100, "days": 30, "discount_percent": 2, "discount_days": 10}],
    )  # fmt: skip
    services.party_set_credit_terms(party=party, actor=users_a["accountant"], credit_limit="50000", payment_term=term)  # fmt: skip
    services.party_update(party=party, actor=users_a["sales_rep"], phone="021-1234 5678")
    html = admin.get(reverse("party:party_detail", args=[party.pk])).content.decode()
    for marker in ("CANARY-a-contact", "CANARY-a-street", "CANARY-a-bank", "CANARY-a-note",
                   "CANARY-a-tag", "2/10 net 30", "50,000.00 CNY", 'id="schedule-example"',
                   'id="history-table"', "021-1234 5678", "CANARY-a-group"):  # fmt: skip
        assert marker in html, marker
    assert "9,800.00 CNY" in html  # 2 % off 10,000 when paid within 10 days
    tab = admin.get(
        reverse("party:party_detail", args=[party.pk]) + "?tab=contacts"
    ).content.decode()
    assert 'class="tab-pane fade show active" id="tab-contacts"' in tab


def test_timeline_filters_through_htmx(company_a, admin):
    import datetime as dt

    party = make_party(company_a, "Timeline Co")
    services.timeline_add(
        party=party,
        kind="order",
        summary="Order one",
        occurred_at=dt.datetime(2026, 2, 1, tzinfo=dt.UTC),
    )
    services.timeline_add(party=party, kind="invoice", summary="Invoice one", occurred_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC))  # fmt: skip
    url = reverse("party:party_timeline", args=[party.pk])
    fragment = admin.get(url + "?kind=order", headers={"HX-Request": "true"}).content.decode()
    assert "Order one" in fragment and "Invoice one" not in fragment and "<html" not in fragment
    ranged = admin.get(
        url + "?date_from=2026-02-15&date_to=2026-03-31", headers={"HX-Request": "true"}
    )
    assert "Invoice one" in ranged.content.decode() and "Order one" not in ranged.content.decode()
    page = admin.get(url + "?kind=invoice")
    assert page.status_code == 200 and "<html" in page.content.decode()
    for i in range(35):
        services.timeline_add(party=party, kind="note", summary=f"Note {i}")
    first = admin.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'id="timeline-more"' in first and "page=2" in first
    second = admin.get(url + "?page=2", headers={"HX-Request": "true"}).content.decode()
    assert "Order one" in second and 'id="timeline-more"' not in second
    note = admin.post(reverse("party:timeline_note", args=[party.pk]), {"summary": "Called back"})
    assert note.status_code == 302 and note["Location"].endswith("?tab=timeline")
    assert party.timeline.filter(kind="note", summary="Called back").exists()


def test_create_form_errors_duplicates_and_create_anyway(company_a, users_a, client_for):
    rep = client_for(users_a["sales_rep"])
    url = reverse("party:party_create") + "?role=customer"
    form = rep.get(url).content.decode()
    assert 'hx-get="/parties/duplicates/"' in form
    data = {
        "name": "上海骑行者贸易有限公司",
        "kind": "organisation",
        "is_customer": "on",
        "country": "CN",
        "tax_id": "91110000600037341X",
        "language": "zh-hans",
        "currency": "CNY",
    }
    bad = rep.post(url, data)
    assert bad.status_code == 400
    assert 'data-field-error="tax_id"' in bad.content.decode()
    assert "统一社会信用代码" in bad.content.decode()
    data["tax_id"] = valid_uscc()
    assert rep.post(url, data).status_code == 302
    again = rep.post(url, {**data, "name": "上海 骑行者贸易", "tax_id": ""})
    html = again.content.decode()
    assert again.status_code == 400 and 'id="duplicate-confirm"' in html
    assert 'id="duplicate-candidates"' in html and "same name" in html
    anyway = rep.post(
        url, {**data, "name": "上海 骑行者贸易", "tax_id": "", "allow_duplicate": "on"}
    )
    assert anyway.status_code == 302
    assert Party.unscoped.filter(company=company_a, normalized_name="上海骑行者贸易").count() == 2
    live = rep.get(reverse("party:duplicate_check") + "?name=上海骑行者贸易股份有限公司")
    assert live.content.decode().count("<li>") == 2


def test_customer_form_saves_the_invoicing_policy(company_a, users_a, client_for):
    rep = client_for(users_a["sales_rep"])
    data = {
        "name": "Made To Order Ltd",
        "kind": "organisation",
        "is_customer": "on",
        "language": "en",
        "currency": "CNY",
        "invoice_policy": "order",
    }
    form = rep.get(reverse("party:party_create") + "?role=customer").content.decode()
    assert 'name="invoice_policy"' in form and "A product&#x27;s own policy comes first" in form
    created = rep.post(reverse("party:party_create") + "?role=customer", data)
    assert created.status_code == 302
    party = Party.unscoped.get(company=company_a, name="Made To Order Ltd")
    assert party.invoice_policy == "order"
    page = rep.get(reverse("party:party_detail", args=[party.pk])).content.decode()
    assert "Ordered quantities" in page
    edit = reverse("party:party_edit", args=[party.pk])
    assert 'value="order" selected' in rep.get(edit).content.decode()
    data["code"] = party.code
    bad = rep.post(edit, {**data, "name": "Renamed", "invoice_policy": "weekly"})
    assert bad.status_code == 400 and 'data-field-error="invoice_policy"' in bad.content.decode()
    party.refresh_from_db()
    assert (party.name, party.invoice_policy) == ("Made To Order Ltd", "order")
    assert rep.post(edit, {**data, "invoice_policy": ""}).status_code == 302
    party.refresh_from_db()
    assert party.invoice_policy == ""
    page = rep.get(reverse("party:party_detail", args=[party.pk])).content.decode()
    assert 'id="invoice-policy"><span class="text-secondary">the company' in page


def test_contact_address_bank_forms(company_a, users_a, client_for):
    rep = client_for(users_a["sales_rep"])
    party = make_party(company_a, "Forms Ltd")
    response = rep.post(
        reverse("party:contact_create", args=[party.pk]),
        {
            "name": "王伟",
            "email": "wang@forms.example",
            "preferred_channel": "wechat",
            "language": "zh-hans",
        },
    )
    assert response.status_code == 302 and response["Location"].endswith("?tab=contacts")
    contact = Contact.unscoped.get(party=party)
    assert contact.is_primary
    bad = rep.post(reverse("party:contact_edit", args=[contact.pk]), {"name": "", "email": "x", "preferred_channel": "email", "language": "en"})  # fmt: skip
    assert bad.status_code == 400
    guangdong = Region.objects.get(code="CN-GD")
    options = rep.get(reverse("party:region_options") + "?country=CN").content.decode()
    assert f'value="{guangdong.pk}"' in options
    response = rep.post(
        reverse("party:address_create", args=[party.pk]),
        {
            "kind": "billing",
            "street": "科技园路 1 号",
            "city": "深圳",
            "country": "CN",
            "region": guangdong.pk,
        },
    )
    assert response.status_code == 302
    address = Address.unscoped.get(party=party)
    assert (address.region, address.is_default) == (guangdong, True)
    bavaria = Region.objects.get(code="DE-BY")
    wrong = rep.post(
        reverse("party:address_edit", args=[address.pk]),
        {"kind": "billing", "street": "x", "city": "y", "country": "CN", "region": bavaria.pk},
    )
    assert wrong.status_code == 400  # a region outside the country is not even offered
    bank = rep.post(
        reverse("party:bank_account_create", args=[party.pk]),
        {"bank_name": "Deutsche Bank", "account_number": "DE89 3704 0044 0532 0130 01"},
    )
    assert bank.status_code == 400 and "IBAN" in bank.content.decode()
    archive = rep.post(reverse("party:contact_archive", args=[contact.pk]))
    assert archive.status_code == 302 and not Contact.unscoped.get(pk=contact.pk).active


def test_merge_screen(company_a, users_a, client_for):
    manager = client_for(users_a["sales_manager"])
    survivor = make_party(company_a, "Velo Sport GmbH", email="info@velo.example")
    duplicate = make_party(company_a, "VELO SPORT", phone="+49 30 1234567")
    services.contact_create(party=duplicate, actor=None, name="Bernd")
    url = reverse("party:party_merge", args=[survivor.pk])
    page = manager.get(url).content.decode()
    assert f"?duplicate={duplicate.pk}" in page and "same name" in page
    assert "Nothing matches." in manager.get(url + "?q=nobody").content.decode()
    compare = manager.get(url + f"?duplicate={duplicate.pk}").content.decode()
    assert (
        'id="merge-comparison"' in compare and "filled in" in compare and "Contacts: 1" in compare
    )
    refused = manager.post(url, {"duplicate": duplicate.pk})  # without the confirmation
    assert refused.status_code == 400 and Party.unscoped.get(pk=duplicate.pk).active
    done = manager.post(url, {"duplicate": duplicate.pk, "confirm": "on"})
    assert done.status_code == 302
    duplicate.refresh_from_db()
    assert duplicate.merged_into == survivor
    page = manager.get(reverse("party:party_detail", args=[duplicate.pk])).content.decode()
    assert (
        'id="merged-notice"' in page
        and reverse("party:party_edit", args=[duplicate.pk]) not in page
    )
    assert Contact.unscoped.get(name="Bernd").party == survivor


def test_settings_screens(company_a, users_a, client_for):
    accountant = client_for(users_a["accountant"])
    response = accountant.post(
        reverse("party:group_create"),
        {"code": "dist", "name": "经销商", "max_discount_percent": "8", "active": "on"},
    )
    assert response.status_code == 302
    group = CustomerGroup.unscoped.get(company=company_a, code="dist")
    assert "经销商" in accountant.get(reverse("party:group_list")).content.decode()
    detail = accountant.get(reverse("party:group_detail", args=[group.pk])).content.decode()
    assert 'id="history-table"' in detail
    url = reverse("party:term_create")
    form = {
        "name": "30/70", "active": "on",
        "lines-TOTAL_FORMS": "4", "lines-INITIAL_FORMS": "0",
        "lines-0-percent": "30", "lines-0-days": "0",
        "lines-1-percent": "60", "lines-1-days": "60",
    }  # fmt: skip
    bad = accountant.post(url, form)
    assert bad.status_code == 400 and "90" in bad.content.decode()
    assert not PaymentTerm.unscoped.filter(company=company_a).exists()
    good = accountant.post(url, {**form, "lines-1-percent": "70"})
    assert good.status_code == 302
    term = PaymentTerm.unscoped.get(company=company_a)
    detail = accountant.get(
        reverse("party:term_detail", args=[term.pk]) + "?amount=1000&date=2026-01-31"
    )
    html = detail.content.decode()
    assert "300.00 CNY" in html and "700.00 CNY" in html and "2026-04-01" in html
    edit = accountant.get(reverse("party:term_edit", args=[term.pk])).content.decode()
    assert 'value="70.000"' in edit or 'value="70"' in edit
    assert accountant.post(reverse("party:term_archive", args=[term.pk])).status_code == 302
    assert not PaymentTerm.unscoped.get(pk=term.pk).active
    assert AuditEntry.objects.get_for_object(term).exists()


def test_other_companys_records_are_not_found(company_a, company_b, admin):
    theirs = party_records(company_b, "b")
    for name, key in URL_RECORDS.items():
        url = reverse(name, args=[theirs[key].pk])
        response = admin.post(url, {"name": "x"}) if name in POST_ONLY else admin.get(url)
        assert response.status_code == 404, name
    mine = make_party(company_a, "Mine")
    merge = admin.post(
        reverse("party:party_merge", args=[mine.pk]),
        {"duplicate": theirs["party"].pk, "confirm": "on"},
    )
    assert merge.status_code == 400 and Party.unscoped.get(pk=theirs["party"].pk).active
    for name in (
        "party:customer_list",
        "party:supplier_list",
        "party:group_list",
        "party:term_list",
    ):
        for suffix in ("", "?export=csv"):
            assert b"CANARY-b" not in admin.get(reverse(name) + suffix).content
    live = admin.get(reverse("party:duplicate_check") + "?name=CANARY-b-party")
    assert b"CANARY-b" not in live.content
