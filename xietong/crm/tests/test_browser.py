"""The pipeline board in a real browser (Playwright on Debian's Chromium, headless): a sales rep
drags a card from "New" to "Proposal"; the move is saved (its probability on the card follows
the stage) without a reload; dragging it into the "Lost" column is refused (losing needs a
reason), the card goes back and the reason shows; the "move to" select moves a card without
dragging."""

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
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run"]  # fmt: skip


@pytest.fixture
def page(django_db_setup, live_server, monkeypatch):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        context = browser.new_context(locale="en-US", viewport={"width": 1600, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield page
        browser.close()
        assert errors == [], errors


def _drag(page, source: str, target: str) -> None:  # type: ignore[no-untyped-def]
    """Drag with the mouse in small steps, pausing at each: Sortable's fallback mode checks
    where the pointer is every 50 ms, so it must linger over the target before the drop. The
    previous move's requests (and the column headers' refresh) finish first: on a busy machine
    a drag started meanwhile lands on the columns being replaced."""
    page.wait_for_load_state("networkidle")
    start = page.locator(f"{source} .crm-grip").bounding_box()  # not on its link or select
    end = page.locator(target).bounding_box()
    x0, y0 = start["x"] + 20, start["y"] + 5
    x1, y1 = end["x"] + 40, end["y"] + 20
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.wait_for_timeout(100)
    for step in range(1, 11):
        page.mouse.move(x0 + (x1 - x0) * step / 10, y0 + (y1 - y0) * step / 10)
        page.wait_for_timeout(100)
    page.wait_for_timeout(300)
    page.mouse.up()


@pytest.mark.django_db(transaction=True)
def test_rep_drags_a_card_to_another_stage(page, live_server, company_a, users_a):
    try:
        _scenario(page, live_server, company_a, users_a)
    finally:
        connections.close_all()  # Playwright's thread opened its own connection


def _scenario(page, live_server, company_a, users_a):  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    from xietong.crm.models import Opportunity
    from xietong.crm.tests import factories

    rep = users_a["sales_rep"]
    team = factories.team(company_a, "Board", members=[rep])
    first = factories.opportunity(company_a, team, owner=rep, name="Drag me")
    second = factories.opportunity(company_a, team, owner=rep, name="Select me")
    proposal = factories.stage(team, "Proposal")
    lost = factories.stage(team, "Lost")

    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", rep.username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/crm/?team={team.pk}")
    card = f"#card-{first.pk}"
    expect(page.locator(card)).to_be_visible()

    _drag(page, card, f'.crm-cards[data-stage="{proposal.pk}"]')
    expect(page.locator(f'.crm-cards[data-stage="{proposal.pk}"] {card}')).to_be_visible()
    expect(page.locator(f"{card} .probability")).to_have_text("60 %")
    expect(page.locator(f"#move-{first.pk}")).to_have_value(str(proposal.pk))
    assert Opportunity.unscoped.get(pk=first.pk).stage_id == proposal.pk

    # into the lost column: refused (losing needs a reason), the card goes back, the reason shows
    _drag(page, card, f'.crm-cards[data-stage="{lost.pk}"]')
    expect(page.locator("#board-error")).to_contain_text("Mark the opportunity as lost")
    expect(page.locator(f'.crm-cards[data-stage="{proposal.pk}"] {card}')).to_be_visible()
    assert Opportunity.unscoped.get(pk=first.pk).stage_id == proposal.pk

    # without dragging: the card's "move to" select
    page.select_option(f"#move-{second.pk}", str(proposal.pk))
    page.locator(f"#card-{second.pk} form.crm-move button").click()
    page.wait_for_load_state()
    expect(
        page.locator(f'.crm-cards[data-stage="{proposal.pk}"] #card-{second.pk}')
    ).to_be_visible()
    assert Opportunity.unscoped.get(pk=second.pk).stage_id == proposal.pk
