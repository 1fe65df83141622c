"""Import and export of parties and contacts: the round trip changes nothing, a file is saved
whole or not at all, every bad cell is named, duplicates are caught, companies stay apart, and
the web flow runs as a job for those allowed to import."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from xietong.core import imports
from xietong.core.models import AuditEntry, Company, User
from xietong.party import services
from xietong.party.models import Contact, Party, Tag, TimelineEntry
from xietong.party.tests.conftest import make_party, valid_uscc

pytestmark = pytest.mark.django_db

PARTY_HEADER = ",".join(c.name for c in imports.spec_for("parties").columns)


def run(
    key: str, company: Company, data: bytes, *, filename: str = "f.csv", actor: User | None = None
) -> tuple[imports.Report, dict[str, int] | None]:
    """Read, check and (when every row is good) save a file, as the import job does."""
    spec = imports.spec_for(key)
    report = imports.import_check(
        spec, company=company, table=imports.read_table(data, filename, spec)
    )
    if not report.ok:
        return report, None
    return report, imports.import_apply(spec, company=company, actor=actor, report=report)


def check(key: str, company: Company, data: bytes) -> imports.Report:
    spec = imports.spec_for(key)
    return imports.import_check(
        spec, company=company, table=imports.read_table(data, "f.csv", spec)
    )


def csv_of(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def problems(report: imports.Report) -> dict[tuple[int, str], str]:
    return {(p.line, p.column): p.message for p in report.problems}


def export(key: str, company: Company, fmt: str = "csv") -> bytes:
    return imports.export_table(imports.spec_for(key), company=company, fmt=fmt)[0]


def snapshot(company: Company) -> dict[str, Any]:
    parties = Party.unscoped.filter(company=company)
    return {
        "parties": list(parties.order_by("pk").values()),
        "tags": sorted(
            Party.tags.through.objects.filter(party__company=company).values_list(
                "party_id", "tag_id"
            )
        ),
        "contacts": list(Contact.unscoped.filter(company=company).order_by("pk").values()),
        "audit": AuditEntry.objects.filter(company=company).count(),
        "timeline": TimelineEntry.unscoped.filter(company=company).count(),
        "tag_names": sorted(Tag.unscoped.filter(company=company).values_list("name", flat=True)),
    }


@pytest.fixture
def world(company_a: Company, company_b: Company, users_a: dict[str, User]) -> dict[str, Any]:
    """Company A's parties with every kind of field, contacts, a merged duplicate and an
    archived carrier; company B holds a party with the same code as A's first customer."""
    term = services.payment_term_create(
        company=company_a, actor=None, name="Net 30", lines=[{"percent": 100, "days": 30}]
    )
    old_term = services.payment_term_create(
        company=company_a, actor=None, name="Old terms", lines=[{"percent": 100, "days": 10}]
    )
    group = services.customer_group_create(
        company=company_a, actor=None, code="dist", name="Distributors", max_discount_percent=8
    )
    price_list = Party._meta.get_field("price_list").related_model._base_manager.create(
        company=company_a, name="Wholesale", currency_id="CNY"
    )
    customer = make_party(
        company_a,
        "上海骑行者贸易有限公司",
        country="CN",
        tax_id=valid_uscc(),
        phone="+86 21 5555 1234",
        email="info@qixingzhe.example",
        website="https://qixingzhe.example",
        tags=["VIP", "华东"],
        salesperson=users_a["sales_rep"],
        customer_group=group,
        price_list=price_list,
        notes="Line one\nline two, with a comma and “quotes”",
    )
    services.party_set_credit_terms(
        party=customer, actor=None, credit_limit="50000.00", payment_term=old_term
    )
    services.payment_term_archive(term=old_term, actor=None)
    supplier = make_party(
        company_a,
        "Velo Parts GmbH",
        kind=Party.Kind.ORGANISATION,
        is_customer=False,
        is_supplier=True,
        country="DE",
        tax_id="DE 136 695 976",
        currency="EUR",
        language="en",
        supplier_lead_days=14,
    )
    duplicate = make_party(
        company_a, "Velo Parts", is_customer=False, is_supplier=True, phone="+49 30 1234567"
    )
    services.party_merge(survivor=supplier, duplicate=duplicate, actor=None)
    carrier = make_party(
        company_a, "Fast Freight", kind=Party.Kind.PERSON, is_customer=False, is_carrier=True
    )
    services.party_archive(party=carrier, actor=None)
    contacts = {
        "wang": services.contact_create(
            party=customer, actor=None, name="王伟", email="wang@qixingzhe.example", is_primary=True
        ),
        "li": services.contact_create(
            party=customer, actor=None, name="Li Na", role="Buyer", mobile="13800138000"
        ),
        "hans": services.contact_create(
            party=supplier, actor=None, name="Hans", language="en", preferred_channel="phone"
        ),
    }
    services.contact_archive(contact=contacts["li"], actor=None)
    other = make_party(company_b, "CANARY-b Velo Sport", code=customer.code, tags=["CANARY-b"])
    return {
        "customer": customer,
        "supplier": supplier,
        "carrier": carrier,
        "duplicate": duplicate,
        "term": term,
        "old_term": old_term,
        "group": group,
        "price_list": price_list,
        "contacts": contacts,
        "other": other,
    }


# --- the round trip ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_changes_nothing(world, company_a, company_b, admin_a, fmt):
    first = export("parties", company_a)
    first_contacts = export("contacts", company_a)
    before, before_b = snapshot(company_a), snapshot(company_b)
    for key in ("parties", "contacts"):
        report, counts = run(
            key, company_a, export(key, company_a, fmt), filename=f"f.{fmt}", actor=admin_a
        )
        assert report.problems == [] and counts == {"created": 0, "updated": 0}, key
    assert report.total == 3
    assert snapshot(company_a) == before and snapshot(company_b) == before_b
    assert export("parties", company_a) == first
    assert export("contacts", company_a) == first_contacts


def test_export_writes_what_the_import_reads(world, company_a):
    text = export("parties", company_a).decode("utf-8-sig")
    customer, supplier = world["customer"], world["supplier"]
    assert text.splitlines()[0] == PARTY_HEADER
    assert world["duplicate"].code not in text and "CANARY" not in text  # merged; company B
    assert text.index(customer.code) < text.index(supplier.code)  # ordered by code
    assert (
        f"{customer.code},上海骑行者贸易有限公司,organisation,,1,0,0,,{customer.tax_id},"
        "info@qixingzhe.example,+86 21 5555 1234,https://qixingzhe.example,zh-hans,CN,CNY,"
        "Old terms,Wholesale,50000,dist,a_sales_rep,,VIP; 华东,"
        '"Line one\nline two, with a comma and “quotes”",1,\r\n'
    ) in text
    assert f"{supplier.code},Velo Parts GmbH,organisation,,0,1,0,,DE136695976," in text
    assert ",en,DE,EUR,,,,,,14,,,1," in text
    assert ",Fast Freight,person,,0,0,1," in text and text.endswith(",0,\r\n")
    contacts = export("contacts", company_a).decode("utf-8-sig").splitlines()
    assert contacts[1:] == [
        f"{customer.code},Li Na,Buyer,,,13800138000,,email,zh-hans,0,0,0",
        f"{customer.code},王伟,,wang@qixingzhe.example,,,,email,zh-hans,1,0,1",
        f"{supplier.code},Hans,,,,,,phone,en,1,0,1",
    ]


# --- creating and updating --------------------------------------------------------------------


def test_rows_create_and_update_parties_with_audit_and_timeline(world, company_a, users_a):
    manager = users_a["sales_manager"]
    customer = world["customer"]
    report, counts = run(
        "parties",
        company_a,
        csv_of(
            "code,name,phone,is_customer,is_supplier,tags,credit_limit,payment_term",
            f"{customer.code},上海骑行者贸易有限公司,021 6666 7777,1,,VIP; New tag,60000,net 30",
            ",Neue Räder AG,,0,1,,,",
            "KH-9,Bright Bikes,,1,,vip,,",
        ),
        actor=manager,
    )
    assert report.problems == [] and counts == {"created": 2, "updated": 1}
    customer.refresh_from_db()
    assert (customer.phone, customer.normalized_phone) == ("021 6666 7777", "2166667777")
    assert customer.email == "info@qixingzhe.example"  # not a column of the file: kept
    assert (customer.credit_limit, customer.payment_term) == (Decimal("60000"), world["term"])
    assert sorted(t.name for t in customer.tags.all()) == ["New tag", "VIP"]
    entries = AuditEntry.objects.get_for_object(customer).filter(actor=manager)
    changes = [e.changes for e in entries]
    assert any("phone" in c and "credit_limit" in c and "payment_term" in c for c in changes)
    assert {"type": "m2m", "operation": "delete", "objects": ["华东"]} in [
        c.get("tags") for c in changes
    ]
    numbered = Party.unscoped.get(company=company_a, name="Neue Räder AG")
    bright = Party.unscoped.get(company=company_a, code="KH-9")
    assert re.fullmatch(r"P\d{4}-\d{5}", numbered.code) and numbered.currency_id == "CNY"
    assert (numbered.is_supplier, numbered.is_customer, numbered.active) == (True, False, True)
    assert [t.name for t in bright.tags.all()] == ["VIP"]  # the existing tag, whatever its case
    for party in (numbered, bright):
        entry = TimelineEntry.unscoped.get(party=party)
        assert (entry.kind, entry.actor) == ("party.created", manager)
        assert AuditEntry.objects.get_for_object(party).filter(
            actor=manager, action=AuditEntry.Action.CREATE
        )
    assert world["other"].name == Party.unscoped.get(pk=world["other"].pk).name


def test_numbering_continues_the_sequence_and_skips_codes_in_use(company_a):
    year = timezone.localdate().year
    report, counts = run(
        "parties",
        company_a,
        csv_of(
            "code,name,is_customer", f"P{year}-00002,Given,1", ",First,1", ",Second,1", ",Third,1"
        ),
    )
    assert counts == {"created": 4, "updated": 0}
    codes = dict(Party.unscoped.filter(company=company_a).values_list("name", "code"))
    assert codes == {
        "Given": f"P{year}-00002",
        "First": f"P{year}-00001",
        "Second": f"P{year}-00003",
        "Third": f"P{year}-00004",
    }
    assert make_party(company_a).code == f"P{year}-00005"  # the form continues after them


def test_empty_cells_clear_optional_fields_and_keep_required_ones(world, company_a):
    customer = world["customer"]
    run(
        "parties",
        company_a,
        csv_of(
            "code,name,kind,currency,language,is_customer,email,country,tax_id,tags,"
            "salesperson,credit_limit,customer_group",
            f"{customer.code},{customer.name},,,,,,,,,,,",
        ),
    )
    customer.refresh_from_db()
    assert (customer.kind, customer.currency_id, customer.language, customer.is_customer) == (
        "organisation",
        "CNY",
        "zh-hans",
        True,
    )
    assert (customer.email, customer.country_id, customer.tax_id) == ("", None, "")
    assert (customer.salesperson, customer.credit_limit, customer.customer_group) == (
        None,
        None,
        None,
    )
    assert list(customer.tags.all()) == []


def test_queries_do_not_grow_with_the_rows(company_a, django_assert_max_num_queries):
    rows = [f"IMP-{n:03d},Company number {n},1,{n}@example.com" for n in range(150)]
    data = csv_of("code,name,is_customer,email", *rows)
    spec = imports.spec_for("parties")
    table = imports.read_table(data, "f.csv", spec)
    with django_assert_max_num_queries(15):
        report = imports.import_check(spec, company=company_a, table=table)
    assert report.ok
    with django_assert_max_num_queries(40):
        counts = imports.import_apply(spec, company=company_a, actor=None, report=report)
    assert counts == {"created": 150, "updated": 0}
    assert TimelineEntry.unscoped.filter(company=company_a, kind="party.created").count() == 150
    assert AuditEntry.objects.filter(company=company_a, action=AuditEntry.Action.CREATE).count()


# --- bad files ----------------------------------------------------------------------------------


def test_one_bad_row_saves_nothing_and_every_bad_cell_is_named(world, company_a, users_b):
    before = snapshot(company_a)
    merged = world["duplicate"].code
    uscc = valid_uscc()
    bad_uscc = uscc[:-1] + ("1" if uscc[-1] == "0" else "0")
    report = check(
        "parties",
        company_a,
        csv_of(
            "code,name,kind,is_customer,is_supplier,country,currency,payment_term,price_list,"
            "customer_group,salesperson,credit_limit,tax_scheme,tax_id,email,website,"
            "supplier_lead_days,tags,language",
            "NEW-1,Good One,,1,,,,,,,,,,,,,,,",  # 2
            "NEW-2,Bad Kind,robot,1,,,,,,,,,,,,,,,",  # 3
            "NEW-3,Bad Flag,,maybe,,,,,,,,,,,,,,,",  # 4
            "NEW-4,Bad Country,,1,,XX,,,,,,,,,,,,,",  # 5
            "NEW-5,Bad Currency,,1,,,ABC,,,,,,,,,,,,",  # 6
            "NEW-6,Old Terms,,1,,,,Old terms,,,,,,,,,,,",  # 7
            "NEW-7,Bad List,,1,,,,,Retail,,,,,,,,,,",  # 8
            "NEW-8,Bad Group,,1,,,,,,vip,,,,,,,,,",  # 9
            "NEW-9,Bad Person,,1,,,,,,,b_sales_rep,,,,,,,,",  # 10
            "NEW-10,Bad Limit,,1,,,,,,,,-5,,,,,,,",  # 11
            "NEW-11,Cents,,1,,,,,,,,1.234,,,,,,,",  # 12
            f"NEW-12,Bad Uscc,,1,,CN,,,,,,,,{bad_uscc},,,,,",  # 13
            "NEW-13,Bad Scheme,,1,,,,,,,,,xx.nope,123456,,,,,",  # 14
            "NEW-14,Bad Mail,,1,,,,,,,,,,,not-an-email,,,,",  # 15
            "NEW-15,Bad Site,,1,,,,,,,,,,,,not a url,,,",  # 16
            "NEW-16,No Role,,0,0,,,,,,,,,,,,,,",  # 17
            "NEW-17,,,1,,,,,,,,,,,,,,,",  # 18
            "NEW-18,Bad Days,,0,1,,,,,,,,,,,,soon,,",  # 19
            f"{merged},Merged,,1,,,,,,,,,,,,,,,",  # 20
            f"NEW-19,Long Tag,,1,,,,,,,,,,,,,,{'x' * 41},",  # 21
            "NEW-20,Bad Language,,1,,,,,,,,,,,,,,,fr",  # 22
            "NEW-1,Good One Again,,1,,,,,,,,,,,,,,,",  # 23
        ),
    )
    found = problems(report)
    assert set(found) == {
        (3, "kind"),
        (4, "is_customer"),
        (5, "country"),
        (6, "currency"),
        (7, "payment_term"),
        (8, "price_list"),
        (9, "customer_group"),
        (10, "salesperson"),
        (11, "credit_limit"),
        (12, "credit_limit"),
        (13, "tax_id"),
        (14, "tax_scheme"),
        (15, "email"),
        (16, "website"),
        (17, "is_customer"),
        (18, "name"),
        (19, "supplier_lead_days"),
        (20, "code"),
        (21, "tags"),
        (22, "language"),
        (23, ""),
    }
    assert "robot" in found[(3, "kind")]
    assert "XX" in found[(5, "country")] and "ABC" in found[(6, "currency")]
    assert "archived" in found[(7, "payment_term")] and "Retail" in found[(8, "price_list")]
    assert "vip" in found[(9, "customer_group")] and "b_sales_rep" in found[(10, "salesperson")]
    assert "2 decimal places" in found[(12, "credit_limit")]
    assert "check digit" in found[(13, "tax_id")] and "xx.nope" in found[(14, "tax_scheme")]
    assert "customer, a supplier or a carrier" in found[(17, "is_customer")]
    assert found[(18, "name")] == "a value is required"  # once, not again by the model check
    assert world["supplier"].code in found[(20, "code")]
    assert found[(23, "")] == "duplicate of row 2"
    assert str(report.problems[0]).startswith("Row 3, kind: ")
    with pytest.raises(ValueError):
        imports.import_apply(
            imports.spec_for("parties"), company=company_a, actor=None, report=report
        )
    assert snapshot(company_a) == before


def test_duplicates_of_existing_parties_and_of_earlier_rows(world, company_a):
    customer = world["customer"]
    report = check(
        "parties",
        company_a,
        csv_of(
            "code,name,is_customer,phone,email,country,tax_id,allow_duplicate",
            "NEW-1,上海 骑行者贸易 （集团）,1,,,,,",  # 2 same name
            "NEW-2,Other Name,1,021-5555-1234,,,,",  # 3 same phone
            "NEW-3,Another,1,,INFO@qixingzhe.example,,,",  # 4 same e-mail
            f"NEW-4,Tax Twin,1,,,CN,{customer.tax_id},",  # 5 same tax ID
            "NEW-5,Contact Mail,1,,wang@qixingzhe.example,,,",  # 6 a contact's e-mail
            ",Brand New Ltd,1,,,,,",  # 7
            ",Brand-New,1,,,,,",  # 8 like row 7
            ",上海骑行者贸易有限公司,1,,,,,1",  # 9 allowed
            f"{customer.code},{customer.name},1,,,,,",  # 10 an update
            ",CANARY-b Velo Sport,1,,,,,",  # 11 only company B has it
        ),
    )
    found = problems(report)
    assert set(found) == {(2, ""), (3, ""), (4, ""), (5, ""), (6, ""), (8, "")}
    for line, reason in ((2, "same name"), (3, "same phone"), (4, "same e-mail")):
        assert customer.code in found[(line, "")] and reason in found[(line, "")]
    assert "same tax ID" in found[(5, "")] and "same e-mail" in found[(6, "")]
    assert "Brand New Ltd" in found[(8, "")] and "allow_duplicate" in found[(8, "")]
    allowed = check(
        "parties",
        company_a,
        csv_of("name,is_customer,allow_duplicate", "Brand New Ltd,1,", "Brand-New,1,1"),
    )
    assert allowed.ok


def test_import_into_one_company_never_touches_another(world, company_a, company_b):
    other = world["other"]
    before_b = snapshot(company_b)
    report, counts = run(
        "parties",
        company_b,
        csv_of("code,name,is_customer,tags", f"{other.code},CANARY-b renamed,1,CANARY-b"),
    )
    assert counts == {"created": 0, "updated": 1}
    report, counts = run(
        "parties", company_a, csv_of("code,name,is_customer", "KH-1,CANARY-b Velo Sport,1")
    )
    assert counts == {"created": 1, "updated": 0}
    assert snapshot(company_b)["parties"] != before_b["parties"]  # renamed by its own import
    assert Party.unscoped.get(pk=other.pk).name == "CANARY-b renamed"
    assert world["customer"].name == Party.unscoped.get(pk=world["customer"].pk).name
    assert Party.unscoped.get(company=company_a, code="KH-1").company_id == company_a.pk
    assert not Party.unscoped.filter(company=company_b, code="KH-1").exists()


# --- contacts -----------------------------------------------------------------------------------


def test_contacts_update_by_name_and_move_the_primary(world, company_a, admin_a):
    customer, supplier, contacts = world["customer"], world["supplier"], world["contacts"]
    report, counts = run(
        "contacts",
        company_a,
        csv_of(
            "party,name,role,is_primary,active",
            f"{customer.code},li na,Head of purchasing,1,1",
            f"{supplier.code},Greta,,1,",
            f"{supplier.code},Hans,Sales,,",
        ),
        actor=admin_a,
    )
    assert report.problems == [] and counts == {"created": 1, "updated": 2}
    li, wang, hans = (Contact.unscoped.get(pk=contacts[k].pk) for k in ("li", "wang", "hans"))
    assert (li.name, li.role, li.is_primary, li.active) == (
        "li na",
        "Head of purchasing",
        True,
        True,
    )
    assert not wang.is_primary and not hans.is_primary and hans.role == "Sales"
    greta = Contact.unscoped.get(party=supplier, name="Greta")
    assert greta.is_primary and greta.company_id == company_a.pk
    demotion = AuditEntry.objects.get_for_object(wang).filter(actor=admin_a).get()
    assert "is_primary" in demotion.changes


def test_contact_rows_with_problems(world, company_a, company_b):
    customer, merged = world["customer"], world["duplicate"].code
    other_only = make_party(company_b, "CANARY-b only", code="B-ONLY")
    before = snapshot(company_a)
    report = check(
        "contacts",
        company_a,
        csv_of(
            "party,name,email,preferred_channel,is_primary",
            f"{customer.code},Anna,,,1",  # 2
            f"{customer.code},Bert,,,1",  # 3 a second primary
            "NOPE,Carl,,,",  # 4
            f"{merged},Dora,,,",  # 5
            f"{other_only.code},Emil,,,",  # 6 company B's party
            f"{customer.code},,,,",  # 7
            f"{customer.code},Fritz,fritz@,fax,",  # 8
            f"{customer.code},anna,,,",  # 9 same as row 2
        ),
    )
    found = problems(report)
    assert set(found) == {
        (3, "is_primary"),
        (4, "party"),
        (5, "party"),
        (6, "party"),
        (7, "name"),
        (8, "email"),
        (8, "preferred_channel"),
        (9, ""),
    }
    assert "Anna" in found[(3, "is_primary")] and world["supplier"].code in found[(5, "party")]
    assert "B-ONLY" in found[(6, "party")] and "fax" in found[(8, "preferred_channel")]
    assert snapshot(company_a) == before


# --- the web flow -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_sales_manager_uploads_previews_and_imports_as_a_job(company_a, users_a, client_for):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    from xietong.core.models import Job

    manager = users_a["sales_manager"]
    client = client_for(manager)
    customers = client.get(reverse("party:customer_list")).content.decode()
    assert f'href="{reverse("core:import_parties")}"' in customers
    upload = SimpleUploadedFile(
        "parties.csv", csv_of("name,is_customer,tags", "Bright Bikes,1,VIP", "Neue Räder AG,1,")
    )
    preview = client.post(reverse("core:import_parties"), {"file": upload}).content.decode()
    assert 'id="import-preview"' in preview and 'id="import-confirm"' in preview
    assert not Party.unscoped.filter(company=company_a).exists()
    token = re.search(r'name="token" value="([^"]+)"', preview).group(1)
    response = client.post(
        reverse("core:import_parties_confirm"), {"token": token, "filename": "parties.csv"}
    )
    job = Job.unscoped.get(company=company_a)
    assert response["Location"] == reverse("core:job_detail", args=[job.pk])
    call_command("worker", "--batch")
    job.refresh_from_db()
    assert job.status == Job.Status.DONE, job.result
    created = Party.unscoped.filter(company=company_a)
    assert sorted(created.values_list("name", flat=True)) == ["Bright Bikes", "Neue Räder AG"]
    assert TimelineEntry.unscoped.filter(party__in=created, actor=manager).count() == 2
    bad = SimpleUploadedFile("parties.csv", csv_of("name,is_customer", "Bad Flag,maybe"))
    html = client.post(reverse("core:import_parties"), {"file": bad}).content.decode()
    assert 'id="import-problems"' in html and "Row 2, is_customer" in html
    exported = client.get(reverse("core:export_parties", args=["xlsx"]))
    assert exported.status_code == 200 and exported.content.startswith(b"PK")


def test_sales_rep_may_not_import_or_export(users_a, client_for):
    client = client_for(users_a["sales_rep"])
    for url in (
        reverse("core:import_parties"),
        reverse("core:import_contacts"),
        reverse("core:export_parties", args=["csv"]),
    ):
        assert client.get(url).status_code == 403, url
    customers = client.get(reverse("party:customer_list")).content.decode()
    assert reverse("core:import_parties") not in customers
