"""The quick quote in a real browser (Playwright on Debian's Chromium, headless): a sales rep
opens the editor, picks the customer, types a SKU and a quantity and sees the price, the amount,
the total and the promise date appear without reloading; adds a second line of a product that
has to be bought (a later promise); saves; lands on the quotation. A screenshot of the editor is
kept in $XIETONG_VAR_DIR/quote.png."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connections
from django.utils import timezone

from conftest import PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
]
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run"]  # fmt: skip
SCREENSHOTS = Path(os.environ.get("XIETONG_VAR_DIR", "/tmp/xt-sales-web"))


@pytest.fixture
def page(django_db_setup, live_server, monkeypatch):  # type: ignore[no-untyped-def]
    """A desktop-sized Chromium page; the live server is started before it."""
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        context = browser.new_context(locale="en-US", viewport={"width": 1440, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield page
        browser.close()
        assert errors == [], errors


@pytest.mark.django_db(transaction=True)
def test_rep_makes_a_quick_quote(page, live_server, company_a, users_a):
    try:
        _scenario(page, live_server, company_a, users_a)
    finally:
        connections.close_all()  # Playwright's thread opened its own connection


def _scenario(page, live_server, company_a, users_a):  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    from xietong.sales.models import Quotation
    from xietong.sales.tests.factories import customer, item, receive, shop

    s = shop(company_a)
    bike = item(company_a, "1000", sku="BIKE-RD", name="Road bike, carbon")
    receive(bike, 5, s.stock)
    item(company_a, "85.5", sku="HELM-01", name="Helmet", purchase_lead_days=12)
    buyer = customer(company_a, "Hangzhou Cycling Club")
    today = timezone.localdate()

    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", users_a["sales_rep"].username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/sales/")
    page.click("#new-quotation")
    page.wait_for_selector("#sales-form")

    page.select_option("#id_party", str(buyer.pk))
    page.fill("#id_lines-0-product", "BIKE-RD")
    page.fill("#id_lines-0-quantity", "2")
    page.press("#id_lines-0-quantity", "Tab")
    expect(page.locator("#sales-line-0-price")).to_contain_text("1,000.00")
    expect(page.locator("#sales-line-0-amount")).to_contain_text("2,260.00")
    expect(page.locator("#sales-line-0-promise")).to_contain_text(today.isoformat())
    expect(page.locator("#sales-line-0-promise")).to_contain_text("In stock")
    expect(page.locator("#editor-total")).to_have_text("2,260.00")

    page.click("#add-line")
    page.wait_for_selector("#id_lines-1-product")
    assert page.locator("#id_lines-0-product").input_value() == "BIKE-RD"  # kept
    page.fill("#id_lines-1-product", "HELM-01")
    page.fill("#id_lines-1-quantity", "4")
    page.fill("#id_lines-1-discount", "5")
    page.press("#id_lines-1-discount", "Tab")
    later = (today + dt.timedelta(days=12)).isoformat()
    expect(page.locator("#sales-line-1-promise")).to_contain_text(later)
    expect(page.locator("#sales-line-1-price")).to_contain_text("85.50")
    expect(page.locator("#editor-total")).to_have_text(
        "2,627.14"
    )  # 2260 + 4 × 85.5 less 5 % + 13 %

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "quote.png"), full_page=True)

    page.click("#save-document")
    page.wait_for_selector("#quotation-state")
    quotation = Quotation.unscoped.get(party=buyer)
    assert page.url.endswith(f"/sales/quotations/{quotation.pk}/")
    assert quotation.amount_total == Decimal("2627.14")
    assert [str(line.promise_date) for line in quotation.lines.order_by("sequence")] == [
        today.isoformat(), later,
    ]  # fmt: skip
    expect(page.locator("#document-lines")).to_contain_text("To be bought")
    page.screenshot(path=str(SCREENSHOTS / "quotation.png"), full_page=True)

    page.goto(f"{live_server.url}/sales/")
    expect(page.locator("#open-quotations")).to_contain_text(str(quotation))
    expect(page.locator("#figure-quoted")).to_contain_text("2,324.90")
    page.screenshot(path=str(SCREENSHOTS / "workspace.png"), full_page=True)
