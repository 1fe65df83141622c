"""The workflow screens in a real browser (Playwright driving Debian's Chromium, headless): the
instance diagram is drawn by bpmn-js under the shell's CSP with progress markers, and a task is
approved from its page."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest
from django.db import connections

from conftest import PASSWORD
from xietong.web.tests.test_browser import CHROMIUM, LAUNCH_ARGS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
]


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
        page.on(
            "console",
            lambda m: (
                errors.append(m.text)
                if m.type == "error" and not m.location.get("url", "").endswith("favicon.ico")
                else None
            ),
        )
        yield page
        browser.close()
        assert errors == [], errors


@pytest.mark.django_db(transaction=True)
def test_diagram_and_approval_in_the_browser(page, live_server, company_a, users_a):
    try:
        _scenario(page, live_server, company_a, users_a)
    finally:
        connections.close_all()


def _scenario(page, live_server, company_a, users_a):  # type: ignore[no-untyped-def]
    from xietong.workflow import navigation, services, shipped
    from xietong.workflow.models import Task

    navigation.register()
    shipped.deploy_shipped(company=company_a, actor=users_a["admin"], key="quotation_approval")
    instance = services.process_start(
        company=company_a,
        actor=users_a["sales_rep"],
        key="quotation_approval",
        data={"customer_group": "retail", "discount_percent": 12, "amount": Decimal(9000)},
    )
    task = Task.unscoped.get(instance=instance, status=Task.Status.OPEN)

    def login(user):  # type: ignore[no-untyped-def]
        page.context.clear_cookies()
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("#login-form button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")

    login(users_a["admin"])
    page.goto(f"{live_server.url}/workflow/instances/{instance.pk}/")
    page.wait_for_selector("#diagram[data-drawn='1']")
    assert page.locator("#diagram .djs-element.wf-current").count() == 1
    assert page.locator("#diagram .djs-element.wf-completed").count() >= 3

    login(users_a["sales_manager"])
    page.goto(f"{live_server.url}/workflow/tasks/{task.pk}/")
    page.fill("#task-form textarea[name=comment]", "OK from the browser")
    page.click("#outcome-approved")
    page.wait_for_url(f"{live_server.url}/workflow/inbox/")
    task.refresh_from_db()
    assert (task.status, task.outcome, task.comment) == ("done", "approved", "OK from the browser")
