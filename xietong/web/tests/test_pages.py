"""Rendered pages: no external URLs, the list pattern, the record pattern, forms."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from xietong.core.models import ExchangeRate
from xietong.web.tests.test_permissions import _patterns, _post_only, _url

EXTERNAL = re.compile(
    rb"""(?:src|href|action|url\()\s*=?\s*["']?(https?:)?//(?!testserver)""", re.I
)
ANY_URL = re.compile(rb"https?://(?!testserver)[^\s\"'<>)]+", re.I)
# XML namespaces name things; a browser never fetches them.
# XML namespace names identify vocabularies; nothing is fetched from them. BPMN/DMN models
# shown in the diagram viewer carry theirs.
NAMESPACES = (
    b"http://www.w3.org/2000/svg",
    b"http://www.w3.org/1999/xlink",
    b"http://www.w3.org/2001/XMLSchema-instance",
    b"http://www.omg.org/spec/",
    b"https://www.omg.org/spec/",
    b"http://spiffworkflow.org/bpmn/schema/",
    b"https://xietong.example/",
)


@pytest.mark.django_db
def test_no_page_references_an_external_url(users_a, records, client_for, client):
    pages = [(client, reverse("web:login"))]
    admin_client = client_for(users_a["admin"])
    pages += [
        (admin_client, _url(name, pattern, records))
        for name, pattern in _patterns()
        if not _post_only(name) and pattern.callback.required_permission != "public"
    ]
    portal = client_for(users_a["portal_customer"])
    pages += [(portal, reverse("web:portal"))]
    checked = 0
    for page_client, url in pages:
        response = page_client.get(url)
        if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
            continue
        urls = [u for u in ANY_URL.findall(response.content) if not u.startswith(NAMESPACES)]
        assert urls == [], (url, urls)
        checked += 1
    assert checked >= 15


@pytest.mark.django_db
def test_list_search_filter_sort_and_pagination(users_a, company_a, client_for):
    import datetime as dt
    from decimal import Decimal

    ExchangeRate.unscoped.bulk_create(
        [
            ExchangeRate(
                company=company_a,
                currency_id=c,
                date=dt.date(2026, 1, 1) + dt.timedelta(days=i),
                rate=Decimal(i + 1),
            )
            for c in ("USD", "EUR")
            for i in range(30)
        ]
    )
    client = client_for(users_a["accountant"])
    url = reverse("core:rate_list")
    page = client.get(url, {"currency": "EUR", "sort": "-rate"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "30 records" in html and "Page 1 of 2" in html
    fragment = client.get(
        url, {"currency": "EUR", "sort": "rate", "page": "2"}, HTTP_HX_REQUEST="true"
    )
    assert b"<html" not in fragment.content and b"list-table" in fragment.content
    searched = client.get(url, {"q": "eur"}).content.decode()
    assert "30 records" in searched
    bad = client.get(url, {"sort": "company__name"})  # not a declared sort key
    assert bad.status_code == 200 and "Cannot sort by" in bad.content.decode()
    bad_date = client.get(url, {"date_from": "yesterday"})
    assert "is not a valid" in bad_date.content.decode()


@pytest.mark.django_db
def test_export_holds_exactly_the_filtered_rows_and_chosen_columns(users_a, company_a, client_for):
    import datetime as dt
    from decimal import Decimal

    ExchangeRate.unscoped.bulk_create(
        [
            ExchangeRate(
                company=company_a,
                currency_id=c,
                date=dt.date(2026, 2, 1) + dt.timedelta(days=i),
                rate=Decimal("1.5") + i,
            )
            for c in ("USD", "JPY")
            for i in range(40)
        ]
    )
    client = client_for(users_a["accountant"])
    url = reverse("core:rate_list")
    response = client.get(
        url, {"currency": "JPY", "date_from": "2026-02-11", "cols": "date,rate", "export": "csv"}
    )
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["Date", "Rate"]
    assert len(rows) == 1 + 30
    xlsx = client.get(url, {"currency": "USD", "cols": "date,currency,rate", "export": "xlsx"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    values = list(sheet.values)
    assert values[0][:2] == ("Date", "Currency") and len(values) == 41
    assert {row[1] for row in values[1:]} == {"USD"}


@pytest.mark.django_db
def test_form_shows_field_errors_and_changes_nothing(users_a, company_a, client_for):
    client = client_for(users_a["accountant"])
    response = client.post(
        reverse("core:rate_create"), {"currency": "CNY", "date": "2026-03-01", "rate": "-2"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-field-error="currency"' in html or 'data-field-error="rate"' in html
    assert ExchangeRate.unscoped.filter(company=company_a).count() == 0


@pytest.mark.django_db
def test_record_history_tab_shows_who_changed_what(users_a, company_a, client_for):
    client = client_for(users_a["accountant"])
    client.post(
        reverse("core:rate_create"), {"currency": "USD", "date": "2026-03-02", "rate": "7.1"}
    )
    rate = ExchangeRate.unscoped.get(company=company_a)
    client.post(
        reverse("core:rate_edit", args=[rate.pk]),
        {"currency": "USD", "date": "2026-03-02", "rate": "7.25", "source": "bank"},
    )
    html = client.get(reverse("core:rate_detail", args=[rate.pk])).content.decode()
    assert "history-table" in html
    assert (
        "7.1" in html
        and "7.25" in html
        and users_a["accountant"].username in html
        or str(users_a["accountant"]) in html
    )
    audit = (
        client_for(users_a["admin"])
        .get(reverse("core:audit_list") + "?export=csv")
        .content.decode("utf-8-sig")
    )
    assert "7.25" in audit


@pytest.mark.django_db
def test_dashboard_shows_figures_and_charts(users_a, records, client_for):
    html = client_for(users_a["admin"]).get(reverse("web:home")).content.decode()
    assert (
        'id="key-figures"' in html
        and 'data-chart="activity-data"' in html
        and 'id="activity-data"' in html
    )


@pytest.mark.django_db(transaction=True)
def test_import_previews_then_runs_as_a_job_with_progress(users_a, company_a, client_for):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    from xietong.core.models import Job

    client = client_for(users_a["accountant"])
    upload = SimpleUploadedFile(
        "rates.csv",
        b"date,currency,rate\n2026-04-01,USD,7.2\n2026-04-02,USD,7.21\n2026-04-01,EUR,7.9\n",
    )
    preview = client.post(reverse("core:import_exchange-rates"), {"file": upload}).content.decode()
    assert 'id="import-preview"' in preview and 'id="import-confirm"' in preview
    assert ExchangeRate.unscoped.filter(company=company_a).count() == 0  # nothing saved yet
    token = re.search(r'name="token" value="([^"]+)"', preview).group(1)
    response = client.post(
        reverse("core:import_exchange-rates_confirm"), {"token": token, "filename": "rates.csv"}
    )
    job = Job.unscoped.get(company=company_a)
    assert response.status_code == 302 and response["Location"] == reverse(
        "core:job_detail", args=[job.pk]
    )
    queued = client.get(
        reverse("core:job_detail", args=[job.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'hx-trigger="every 1s"' in queued and 'data-status="queued"' in queued
    call_command("worker", "--batch")
    done = client.get(
        reverse("core:job_detail", args=[job.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'data-status="done"' in done and "every 1s" not in done and "100%" in done
    assert ExchangeRate.unscoped.filter(company=company_a).count() == 3


@pytest.mark.django_db
def test_import_preview_lists_every_bad_row_and_saves_nothing(users_a, company_a, client_for):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = client_for(users_a["accountant"])
    upload = SimpleUploadedFile(
        "rates.csv",
        b"date,currency,rate\n2026-04-01,USD,7.2\n2026-13-02,USD,7.21\n2026-04-01,XXX,-1\n",
    )
    html = client.post(reverse("core:import_exchange-rates"), {"file": upload}).content.decode()
    assert 'id="import-problems"' in html and 'id="import-confirm"' not in html
    assert "Row 3, date" in html and "Row 4, currency" in html and "Row 4, rate" in html
    assert ExchangeRate.unscoped.filter(company=company_a).count() == 0


@pytest.mark.django_db
def test_import_refuses_an_unusable_file_with_a_field_error(users_a, client_for):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = client_for(users_a["accountant"])
    for name, content in (
        ("r.csv", b"when,what\n1,2\n"),
        ("r.xlsx", b"not a workbook"),
        ("r.csv", b"\xff\xfe\x00"),
    ):
        response = client.post(
            reverse("core:import_exchange-rates"), {"file": SimpleUploadedFile(name, content)}
        )
        assert (
            response.status_code == 400 and 'data-field-error="file"' in response.content.decode()
        )


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_changes_nothing(users_a, company_a, company_b, client_for, fmt):
    import datetime as dt
    from decimal import Decimal

    from django.core.files.uploadedfile import SimpleUploadedFile

    from xietong.core import imports
    from xietong.core.services import exchange_rate_create

    for i, (code, rate) in enumerate((("USD", "7.1234"), ("EUR", "7.9"), ("JPY", "0.0475123"))):
        exchange_rate_create(
            company=company_a,
            actor=None,
            currency=code,
            date=dt.date(2026, 5, 1 + i),
            rate=Decimal(rate),
            source="bank",
        )
    exchange_rate_create(
        company=company_b,
        actor=None,
        currency="USD",
        date=dt.date(2026, 5, 1),
        rate=Decimal("7.8"),
        source="CANARY-b",
    )
    client = client_for(users_a["accountant"])
    exported = client.get(reverse("core:export_exchange-rates", args=[fmt]))
    assert exported.status_code == 200 and b"CANARY-b" not in exported.content
    before = list(ExchangeRate.unscoped.filter(company=company_a).order_by("pk").values())
    spec = imports.spec_for("exchange-rates")
    table = imports.read_table(exported.content, f"rates.{fmt}", spec)
    report = imports.import_check(spec, company=company_a, table=table)
    assert report.ok and report.total == 3
    assert imports.import_apply(spec, company=company_a, actor=None, report=report) == {
        "created": 0,
        "updated": 0,
    }
    assert list(ExchangeRate.unscoped.filter(company=company_a).order_by("pk").values()) == before
    assert client.get(reverse("core:export_exchange-rates", args=["pdf"])).status_code == 404
    html = client.post(
        reverse("core:import_exchange-rates"),
        {"file": SimpleUploadedFile(f"r.{fmt}", exported.content)},
    ).content.decode()
    assert 'id="import-confirm"' in html


@pytest.mark.django_db
def test_settings_forms_save_or_show_field_errors(users_a, company_a, records, client_for):
    from xietong.core.models import Company, Membership, Sequence, UnitOfMeasure

    client = client_for(users_a["admin"])
    company = {
        "name": "Alpha Works",
        "legal_name": "Alpha Works Ltd.",
        "tax_id": "",
        "base_currency_id": "CNY",
        "country": "cn",
        "timezone": "Mars/Base",
        "fiscal_year_start_month": 4,
        "fiscal_year_start_day": 1,
    }
    response = client.post(reverse("core:company"), company)
    assert (
        response.status_code == 400 and 'data-field-error="timezone"' in response.content.decode()
    )
    assert (
        client.post(reverse("core:company"), {**company, "timezone": "Asia/Shanghai"}).status_code
        == 302
    )
    assert Company.objects.get(pk=company_a.pk).fiscal_year_start_month == 4

    sequence = records["a"]["sequence"]
    bad = client.post(
        reverse("core:sequence_edit", args=[sequence.pk]), {"name": "X", "pattern": "SO{year}"}
    )
    assert bad.status_code == 400 and 'data-field-error="pattern"' in bad.content.decode()
    client.post(
        reverse("core:sequence_edit", args=[sequence.pk]),
        {"name": "X", "pattern": "Q{yy}-{number:04d}", "gap_free": "on"},
    )
    assert Sequence.unscoped.get(pk=sequence.pk).gap_free

    unit = records["unit"]
    assert (
        client.post(
            reverse("core:unit_edit", args=[unit.pk]),
            {"name": "Kilo", "rounding": "0.01", "active": "on"},
        ).status_code
        == 302
    )
    assert UnitOfMeasure.objects.get(pk=unit.pk).name == "Kilo"

    invite = {"username": "newbie", "password": "a-long-enough-passphrase", "roles": ["buyer"]}
    assert client.post(reverse("core:user_invite"), invite).status_code == 302
    assert (
        client.post(reverse("core:user_invite"), invite).status_code == 400
    )  # same username again
    mine = Membership.unscoped.get(company=company_a, user=users_a["admin"])
    last_admin = client.post(reverse("core:user_roles", args=[mine.pk]), {"roles": ["buyer"]})
    assert last_admin.status_code == 400 and mine.roles.filter(code="admin").exists()


@pytest.mark.django_db
def test_request_audit_context_survives_a_service_call(users_a, company_a, client_for):
    """After a service names its actor, later writes of the same request are still attributed."""
    from xietong.core.models import AuditEntry

    client = client_for(users_a["admin"])
    before = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    invite = {"username": "second", "password": "a-long-enough-passphrase", "roles": ["buyer"]}
    assert client.post(reverse("core:user_invite"), invite).status_code == 302
    entries = AuditEntry.objects.filter(pk__gt=before)
    assert entries.count() >= 2  # the user and the membership (with its roles)
    assert set(entries.values_list("actor", flat=True)) == {users_a["admin"].pk}
    assert set(entries.values_list("remote_addr", flat=True)) == {"127.0.0.1"}
