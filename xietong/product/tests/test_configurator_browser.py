"""The configurator in a real browser (Playwright on Debian's Chromium): a sales rep picks
options step by step; price, validity and the BOM changes update through HTMX on every click;
an invalid choice cannot be saved; a valid one becomes a configured item."""

from __future__ import annotations

import os
import shutil

import pytest
from django.db import connections

from conftest import PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
]
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def page(django_db_setup, live_server, monkeypatch):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        page = browser.new_context(locale="en-US").new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield page
        browser.close()
        assert errors == [], errors


@pytest.mark.django_db(transaction=True)
def test_sales_rep_configures_step_by_step(page, live_server, company_a, users_a):
    try:
        _scenario(page, live_server, company_a, users_a)
    finally:
        connections.close_all()  # Playwright's thread opened its own connection


def _scenario(page, live_server, company_a, users_a):  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    from xietong.product.models import ConfiguredItem
    from xietong.product.tests.bom_factories import sample_set

    bike = sample_set(company_a, "a")["configurable"]
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", users_a["sales_rep"].username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.click("#main-nav >> text=Product configurator")
    page.click(f"a[href='/products/configurator/{bike.pk}/']")
    expect(page.locator("#config-valid")).to_be_visible()
    expect(page.locator("#config-total")).to_have_text("2,999.00 CNY")

    page.click("label:has-text('child seat')")  # needs the rack: refused live
    expect(page.locator("#config-violations")).to_contain_text("requires")
    expect(page.locator("#save-configuration")).to_be_disabled()
    expect(page.locator("#config-total")).to_have_text("3,299.00 CNY")

    page.click("label:has-text('rack')")
    expect(page.locator("#config-valid")).to_be_visible()
    expect(page.locator("#config-total")).to_have_text("3,449.00 CNY")
    page.click("#save-configuration")
    page.wait_for_url(f"{live_server.url}/products/configured/**")
    expect(page.locator("#item-price")).to_have_text("3,449.00 CNY")
    item = ConfiguredItem.unscoped.order_by("-pk").first()
    assert item.created_by_id == users_a["sales_rep"].pk and item.price == 3449
