"""The barcode scan screen in a real browser (Playwright on Debian's Chromium) on a handheld-sized
screen: the scan field has the focus; a scanner types a barcode and Enter; the line's progress
updates through HTMX and the focus comes back to the scan field, or moves to the lot field for a
lot-tracked product and to the quantity after the lot; a wrong code shows an error; when all is
scanned, Validate does the picking."""

from __future__ import annotations

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
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(os.environ.get("XIETONG_VAR_DIR", "/tmp/xt-pickings"))


@pytest.fixture
def page(django_db_setup, live_server, monkeypatch):  # type: ignore[no-untyped-def]
    """A Chromium page as wide as a handheld; the live server is started before it."""
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        context = browser.new_context(locale="en-US", viewport={"width": 400, "height": 820})
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield page
        browser.close()
        assert errors == [], errors


@pytest.mark.django_db(transaction=True)
def test_clerk_scans_a_receipt_on_a_handheld(page, live_server, company_a, users_a):
    try:
        _scenario(page, live_server, company_a, users_a)
    finally:
        connections.close_all()  # Playwright's thread opened its own connection


def _scenario(page, live_server, company_a, users_a):  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    from xietong.core.tenancy import company_scope
    from xietong.inventory.models import Lot, Move, Picking
    from xietong.inventory.pickings import picking_confirm, receipt_create
    from xietong.inventory.tests.flows_helpers import make_party, make_product, make_warehouse

    with company_scope(company_a):
        warehouse = make_warehouse(company_a)
        bolt = make_product(company_a, "BOLT", name="Hex bolt M8", barcode="4006381333931")
        resin = make_product(company_a, "RESIN", name="Epoxy resin", tracking="lot")
        [receipt] = receipt_create(
            company=company_a,
            warehouse=warehouse,
            party=make_party(company_a, "Shenzhen Parts", is_supplier=True),
            lines=[
                {"product": bolt, "quantity": Decimal(2)},
                {"product": resin, "quantity": Decimal(3)},
            ],
            scheduled_date=timezone.localdate(),
            origin="PO-2026-0042",
        )
        receipt = picking_confirm(picking=receipt)
        bolt_move, resin_move = Move.unscoped.filter(picking=receipt).order_by("pk")

    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", users_a["warehouse_clerk"].username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/inventory/pickings/{receipt.pk}/scan/")

    code = page.locator("#scan-code")
    expect(code).to_be_focused()
    bolt_progress = page.locator(f'[data-move="{bolt_move.pk}"] [data-progress]')
    resin_progress = page.locator(f'[data-move="{resin_move.pk}"] [data-progress]')
    message = page.locator("#scan-message")

    def scan(text: str) -> None:  # what a keyboard-wedge scanner does
        page.keyboard.type(text)
        page.keyboard.press("Enter")

    scan("4006381333931")
    expect(bolt_progress).to_contain_text("1 / 2")
    expect(message).to_have_attribute("data-status", "success")
    expect(page.locator("#scan-code")).to_be_focused()
    expect(page.locator("#scan-code")).to_have_value("")

    scan("RESIN")  # lot-tracked: the focus moves to the lot field
    expect(page.locator("#scan-lot")).to_be_focused()
    scan("LOT-B1")
    expect(resin_progress).to_contain_text("1 / 3")
    expect(page.locator("#scan-quantity")).to_be_focused()
    scan("3")  # after the quantity, back to the scan field
    expect(resin_progress).to_contain_text("3 / 3")
    expect(page.locator("#scan-code")).to_be_focused()

    scan("NO-SUCH-CODE")
    expect(message).to_have_attribute("data-status", "error")
    expect(message).to_contain_text("NO-SUCH-CODE")
    expect(page.locator("#scan-code")).to_be_focused()
    expect(bolt_progress).to_contain_text("1 / 2")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "scan.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, width  # nothing sticks out sideways on a handheld

    scan("4006381333931")
    expect(bolt_progress).to_contain_text("2 / 2")
    expect(page.locator("#scan-validate")).to_be_visible()
    page.click("#scan-validate")
    page.wait_for_url(f"{live_server.url}/inventory/pickings/{receipt.pk}/")
    expect(page.locator("#picking-state")).to_contain_text("Done")
    assert Picking.unscoped.get(pk=receipt.pk).state == Picking.State.DONE
    assert Lot.unscoped.filter(product=resin, name="LOT-B1").exists()
