"""The shell in a real browser: Playwright driving Debian's Chromium (headless).

Logs in, switches the language to 简体中文, sees translated navigation, opens a list, filters
it through HTMX, exports the filtered rows, and logs out.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import shutil
from decimal import Decimal

import pytest
from django.db import connections

from conftest import PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
]
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def page(django_db_setup, live_server, monkeypatch):  # type: ignore[no-untyped-def]
    """A Chromium page; the live server is started after (so stopped before) the test database."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        context = browser.new_context(accept_downloads=True, locale="en-US")
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield page
        browser.close()
        assert errors == [], errors


@pytest.mark.django_db(transaction=True)
def test_login_language_list_filter_export_logout(page, live_server, company_a, users_a):
    # Playwright runs the test body in its own context, where Django opens a second database
    # connection; close it, or PostgreSQL refuses to drop the test database at the end.
    try:
        _scenario(page, live_server, company_a, users_a)
    finally:
        connections.close_all()


def _scenario(page, live_server, company_a, users_a):  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    from xietong.core.models import ExchangeRate

    ExchangeRate.unscoped.bulk_create(
        [
            ExchangeRate(
                company=company_a,
                currency_id=code,
                date=dt.date(2026, 3, 1) + dt.timedelta(days=i),
                rate=Decimal(rate) + i,
            )
            for code, rate in (("USD", "7.1"), ("EUR", "7.7"), ("JPY", "0.047"))
            for i in range(12)
        ]
    )
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", users_a["accountant"].username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    nav = page.locator("#main-nav")
    assert "Finance" in nav.text_content()

    page.select_option("#language-select", "zh-hans")
    # the choice submits a form and the page reloads: wait for the new page, not for the old
    # one to be idle (on a slow machine the reload had not started yet)
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    page.wait_for_load_state("networkidle")
    nav_text = page.locator("#main-nav").text_content()
    assert "财务" in nav_text and "汇率" in nav_text, nav_text

    page.click("#main-nav >> text=汇率")
    page.wait_for_selector("#list-table")
    assert page.locator("#list-table tbody tr").count() == 25  # first page of 36
    page.select_option("#filter-currency", "EUR")
    expect(page.locator("#list-table tbody tr")).to_have_count(12)  # no eval: the CSP forbids it
    assert "currency=EUR" in page.url  # HTMX pushed the filtered URL
    cells = page.locator("#list-table tbody tr td:nth-child(2)").all_inner_texts()
    assert set(cells) == {"EUR"}

    page.click("#export-menu")
    with page.expect_download() as download_info:
        page.click("#export-csv")
    path = download_info.value.path()
    with open(path, encoding="utf-8-sig") as handle:
        rows = list(csv.reader(io.StringIO(handle.read())))
    assert len(rows) == 1 + 12 and {row[1] for row in rows[1:]} == {"EUR"}

    page.click("#user-menu")
    page.click("#logout")
    page.wait_for_url(f"{live_server.url}/login/")
    page.goto(f"{live_server.url}/finance/rates/")
    assert "/login/" in page.url
