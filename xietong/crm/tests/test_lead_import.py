"""Lead import from CSV and XLSX: the preview names each bad row's line and column and the
duplicates (by e-mail, against leads, customers, contacts and earlier rows); the import is all
or nothing, source "import", each lead assigned by the team's strategy; duplicates are
reported, skipped or imported as chosen; too large files are refused whole."""

from __future__ import annotations

import io
import time

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from xietong.core.imports import ImportFileError
from xietong.core.tenancy import company_scope
from xietong.crm import lead_import, services
from xietong.crm.models import Campaign, Lead
from xietong.crm.tests import factories
from xietong.party.models import Region
from xietong.party.services import contact_create

pytestmark = pytest.mark.django_db

HEADER = "name,company_name,email,phone,country,region,campaign,description\n"


def _csv(*lines: str) -> bytes:
    return (HEADER + "\n".join(lines) + "\n").encode()


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def fair(company_a):  # type: ignore[no-untyped-def]
    with company_scope(company_a):
        return Campaign.unscoped.create(company=company_a, name="Spring fair 2026",
                                        code="spring-fair", currency_id="CNY")  # fmt: skip


def _leads(company):  # type: ignore[no-untyped-def]
    return Lead.unscoped.filter(company=company, source=Lead.Source.IMPORT)


def test_preview_names_line_and_column_of_each_problem(company_a, fair):
    data = _csv(
        "Li Wei,Suzhou Cycles,li@sz.example,0512-1,CN,CN-JS,spring-fair,Wants 20 bikes",
        ",No Name Co,,,,,,",  # line 3: name missing
        "Bad Mail,,not-an-email,,XX,,,",  # line 4: e-mail, country
        "Nowhere,,no@where.example,,CN,ZZ,nope,",  # line 5: region, campaign
        "Quiet,,,,,,,",  # line 6: no way to reach them
    )
    with company_scope(company_a):
        preview = lead_import.lead_import_check(company=company_a, data=data,
                                                filename="leads.csv")  # fmt: skip
    found = {(p.line, p.column) for p in preview.problems}
    assert found == {(3, "name"), (4, "email"), (4, "country"), (5, "region"),
                     (5, "campaign"), (6, "email")}  # fmt: skip
    assert [row.line for row in preview.rows] == [2]
    row = preview.rows[0].values
    assert row["country"] == "CN" and row["region"] == Region.objects.get(code="CN-JS").pk
    assert "Row 5, campaign" in str(next(p for p in preview.problems if p.column == "campaign"))
    with company_scope(company_a), pytest.raises(lead_import.LeadImportError) as refused:
        lead_import.lead_import(company=company_a, actor=None, data=data, filename="leads.csv")
    assert len(refused.value.problems) == 6
    assert not _leads(company_a).exists()  # all or nothing


def test_import_creates_assigned_leads_with_campaign_and_region(company_a, sales, fair):
    factories.opportunity(company_a, sales.east, owner=sales.rep, revenue="90000")
    data = _xlsx([
        ["Name", "company_name", "email", "phone", "country", "region", "campaign",
         "description", "notes"],
        ["Li Wei", "Suzhou Cycles", "LI@sz.example", 51288881234, "CN", "JS", "Spring fair 2026",
         "Wants 20 bikes", "ignored"],
        ["Zhou Min", "", "zhou@example.com", "", "cn", "", "", "", ""],
        ["Ma Lin", "Ma Trading", "", "", "", "CN-SH", "spring-fair", "", ""],
    ])  # fmt: skip
    with company_scope(company_a):
        preview = lead_import.lead_import_check(company=company_a, data=data,
                                                filename="leads.xlsx")  # fmt: skip
        assert preview.ignored_columns == ["notes"] and not preview.problems
        result = lead_import.lead_import(company=company_a, actor=sales.manager, data=data,
                                         filename="LEADS.XLSX", team=sales.east)  # fmt: skip
    assert len(result.leads) == 3 and not result.skipped
    li, zhou, ma = (Lead.unscoped.get(pk=lead.pk) for lead in result.leads)
    assert li.source == Lead.Source.IMPORT and li.email == "li@sz.example"
    assert li.phone == "51288881234"
    assert li.marketing_campaign_id == fair.pk and ma.marketing_campaign_id == fair.pk
    assert li.region.code == "CN-JS" and ma.country_id == "CN" and zhou.country_id == "CN"
    # least loaded: rep carries an open deal, so rep2 first; then the batch spreads out
    assert li.owner_id == sales.rep2.pk
    assert {li.team_id, zhou.team_id, ma.team_id} == {sales.east.pk}
    assert {zhou.owner_id, ma.owner_id} <= {sales.rep.pk, sales.rep2.pk}


def test_duplicates_are_reported_skipped_or_imported(company_a, sales):
    factories.customer(company_a, "Known Bikes", email="buyer@known.example")
    other = factories.customer(company_a, "Other Bikes")
    with company_scope(company_a):
        contact_create(party=other, actor=None, name="Ms Gao", email="gao@other.example")
        services.lead_create(company=company_a, actor=None, name="Old", email="old@example.com")
    data = _csv(
        "A,,buyer@known.example,,,,,",
        "B,,GAO@other.example,,,,,",
        "C,,old@example.com,,,,,",
        "D,,new@example.com,,,,,",
        "E,,new@example.com,,,,,",
    )
    with company_scope(company_a):
        preview = lead_import.lead_import_check(company=company_a, data=data, filename="d.csv")
        assert [r.line for r in preview.duplicates] == [2, 3, 4, 6]
        why = {r.line: r.duplicate for r in preview.duplicates}
        assert "Known Bikes" in why[2] and "Ms Gao" in why[3] and "Old" in why[4]
        assert "row 5" in why[6]
        with pytest.raises(lead_import.LeadImportError) as refused:
            lead_import.lead_import(company=company_a, actor=None, data=data, filename="d.csv",
                                    team=sales.east)  # fmt: skip
        assert [(p.line, p.column) for p in refused.value.problems] == [
            (2, "email"), (3, "email"), (4, "email"), (6, "email")]  # fmt: skip
        assert not _leads(company_a).exists()
        skipped = lead_import.lead_import(company=company_a, actor=None, data=data,
                                          filename="d.csv", team=sales.east,
                                          duplicates="skip")  # fmt: skip
        assert [lead.name for lead in skipped.leads] == ["D"]
        assert [row.line for row in skipped.skipped] == [2, 3, 4, 6]
        everything = lead_import.lead_import(company=company_a, actor=None, data=data,
                                             filename="d.csv", duplicates="import")  # fmt: skip
        assert len(everything.leads) == 5
        with pytest.raises(ValidationError):
            lead_import.lead_import(company=company_a, actor=None, data=data, filename="d.csv",
                                    duplicates="maybe")  # fmt: skip
    assert _leads(company_a).count() == 6


def test_bad_team_saves_nothing(company_a, company_b):
    team_b = factories.team(company_b, "B team")
    with company_scope(company_a), pytest.raises(ValidationError) as bad:
        lead_import.lead_import(company=company_a, actor=None, filename="x.csv", team=team_b.pk,
                                data=_csv("A,,a@example.com,,,,,", "B,,b@example.com,,,,,"))  # fmt: skip
    assert "team" in bad.value.message_dict
    assert not _leads(company_a).exists()


def test_file_limits(company_a, monkeypatch):
    with company_scope(company_a):
        with pytest.raises(ImportFileError, match="CSV or an XLSX"):
            lead_import.lead_import_check(company=company_a, data=b"x", filename="leads.pdf")
        with pytest.raises(ImportFileError, match="Missing column"):
            lead_import.lead_import_check(company=company_a, data=b"email\na@b.example\n",
                                          filename="leads.csv")  # fmt: skip
        with pytest.raises(ImportFileError, match="no rows"):
            lead_import.lead_import_check(company=company_a, data=HEADER.encode(),
                                          filename="leads.csv")  # fmt: skip
        with pytest.raises(ImportFileError, match="XLSX"):
            lead_import.lead_import_check(company=company_a, data=b"PK\x03\x04broken",
                                          filename="leads.xlsx")  # fmt: skip
        monkeypatch.setattr(lead_import, "MAX_ROWS", 3)
        with pytest.raises(ImportFileError, match="at most 3"):
            lead_import.lead_import_check(company=company_a, filename="leads.csv",
                                          data=_csv(*(f"P{i},,p{i}@x.example,,,,,"
                                                      for i in range(4))))  # fmt: skip
        monkeypatch.setattr(lead_import, "MAX_BYTES", 100)
        with pytest.raises(ImportFileError, match="larger than"):
            lead_import.lead_import_check(company=company_a, data=b"x" * 101, filename="a.csv")


def test_import_screen_preview_then_confirm(company_a, sales, client_for):
    client = client_for(sales.rep)
    assert client.get(reverse("crm:lead_import")).status_code == 200
    data = _csv("Li Wei,Suzhou Cycles,li@sz.example,,CN,CN-JS,,", "Bad,,bad-mail,,,,,")
    bad = client.post(reverse("crm:lead_import"), {
        "file": SimpleUploadedFile("leads.csv", data), "team": sales.east.pk,
        "duplicates": "report"})  # fmt: skip
    page = bad.content.decode()
    assert bad.status_code == 200 and "import-problems" in page and "import-confirm" not in page
    assert "bad-mail" in page
    good = client.post(reverse("crm:lead_import"), {
        "file": SimpleUploadedFile("leads.csv", data.splitlines()[0] + b"\n" +
                                   data.splitlines()[1] + b"\n"),
        "team": sales.east.pk, "duplicates": "report"})  # fmt: skip
    assert "import-confirm" in good.content.decode()
    assert not _leads(company_a).exists()  # the preview saved nothing
    confirm = good.context["confirm"]
    fields = {name: confirm.initial[name] for name in ("upload", "filename", "team", "duplicates")}
    done = client.post(reverse("crm:lead_import_confirm"), fields)
    assert done.status_code == 302
    lead = _leads(company_a).get()
    assert lead.name == "Li Wei" and lead.owner_id in {sales.rep.pk, sales.rep2.pk}
    # the same upload cannot be imported twice, nor someone else's
    assert client.post(reverse("crm:lead_import_confirm"), fields).status_code == 302
    assert _leads(company_a).count() == 1
    # a viewer may not import
    viewer = factories.staff(company_a, role="executive")
    assert client_for(viewer).get(reverse("crm:lead_import")).status_code == 403


def test_the_largest_file_imports_in_one_request(company_a, sales):
    rows = [f"Person {i},Company {i},p{i}@bulk.example,,CN,CN-ZJ,,note"
            for i in range(lead_import.MAX_ROWS)]  # fmt: skip
    started = time.perf_counter()
    with company_scope(company_a):
        result = lead_import.lead_import(company=company_a, actor=None, data=_csv(*rows),
                                         filename="bulk.csv", team=sales.east)  # fmt: skip
    elapsed = time.perf_counter() - started
    assert len(result.leads) == lead_import.MAX_ROWS
    owners = set(_leads(company_a).values_list("owner_id", flat=True))
    assert owners == {sales.rep.pk, sales.rep2.pk}
    print(f"imported {len(result.leads)} leads in {elapsed:.1f} s")  # noqa: T201
