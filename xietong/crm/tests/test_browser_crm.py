"""Marketing, service and the pipeline board's "N more…" in a real browser (Playwright on
Debian's Chromium, headless), as their users work:

- a marketer writes a segment with a rule and sees how many customers it holds now, makes a
  campaign on it with a coupon promotion and opens its results;
- a service agent opens a ticket from the list, sees the knowledge-base suggestions, replies and
  resolves it; a customer files a ticket through the public support form;
- a sales rep loads a column's next cards in place and drags a loaded card to another stage.

The marketer works in 简体中文 (their profile's language), the others in English (the browser's).
With `XIETONG_SCREENSHOTS=<dir>` each screen is also saved there as a PNG."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from conftest import PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
    pytest.mark.django_db(transaction=True),
]
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run"]  # fmt: skip
SHOTS = os.environ.get("XIETONG_SCREENSHOTS", "")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One browser for the module (a context per test keeps the tests apart)."""
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright runs an event loop here
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(chromium, live_server) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """A function opening a page in a new browser context of the given locale; each context's
    script errors fail the test."""
    contexts, errors = [], []

    def make(locale: str = "en-US") -> Any:
        context = chromium.new_context(locale=locale, viewport={"width": 1400, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    try:
        yield make
    finally:
        for context in contexts:
            context.close()
        connections.close_all()  # the live server's thread opened its own connection
    assert errors == [], errors


def _login(page, live_server, user) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"board-{name}.png"), full_page=True)


# --- marketing ----------------------------------------------------------------------------------


def test_marketer_segment_campaign_promotion_results(open_page, live_server, company_a, users_a):
    from playwright.sync_api import expect

    from xietong.crm.models import Campaign, Segment
    from xietong.crm.tests import marketing_factories as mk

    for name, country in (("华东车行", "CN"), ("杭州骑行俱乐部", "CN"), ("Velo Paris", "FR")):
        mk.customer(company_a, name, email=f"{country.lower()}{len(name)}@example.cn",
                    country=country)  # fmt: skip
    marketer = users_a["marketer"]
    marketer.language = "zh-hans"  # the profile's language wins over the browser's
    marketer.save()
    page = open_page("en-US")
    _login(page, live_server, marketer)

    page.goto(f"{live_server.url}/crm/marketing/segments/new/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    page.fill("#id_name", "中国客户")
    page.select_option("#id_kind", "rules")
    page.select_option("#id_match", "all")
    page.fill("#id_rules", '[{"field": "country", "op": "in", "value": ["CN"]}]')
    _shot(page, "segment-form-zh")
    page.click("#record-form button[type=submit]")
    segment = Segment.unscoped.get(company=company_a, name="中国客户")
    page.wait_for_url(f"**/crm/marketing/segments/{segment.pk}/")
    rows = page.locator("#segment-preview tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#segment-preview")).to_contain_text("杭州骑行俱乐部")
    expect(page.locator("#segment-preview")).not_to_contain_text("Velo Paris")
    expect(page.locator("h2").filter(has_text=re.compile(r"(^|\D)2(\D|$)"))).to_have_count(1)
    _shot(page, "segment-detail-zh")

    page.goto(f"{live_server.url}/crm/marketing/campaigns/new/")
    page.fill("#id_name", "春季促销")
    page.select_option("#id_segment", label="中国客户")
    page.fill("#id_budget", "5000")
    today = timezone.localdate()
    page.fill("#id_start_date", today.isoformat())
    page.fill("#id_end_date", (today + dt.timedelta(days=30)).isoformat())
    page.click("#record-form button[type=submit]")
    campaign = Campaign.unscoped.get(company=company_a, name="春季促销")
    page.wait_for_url(f"**/crm/marketing/campaigns/{campaign.pk}/")
    assert campaign.segment_id == segment.pk

    page.locator("details", has=page.locator("#promotion-form")).locator("summary").click()
    form = page.locator("#promotion-form")
    form.locator("[name=name]").fill("九折")
    form.locator("[name=kind]").select_option("lines")
    form.locator("[name=discount_type]").select_option("percent")
    form.locator("[name=value]").fill("10")
    form.locator("[name=coupons]").fill("CHUN10")
    form.locator("button[type=submit]").click()
    expect(page.locator("#promotions")).to_contain_text("CHUN10")
    expect(page.locator("#promotions")).to_contain_text("九折")
    _shot(page, "campaign-detail-zh")
    assert campaign.promotions.get().coupons.get().code == "CHUN10"

    page.click("#action-results")
    page.wait_for_url(f"**/crm/marketing/campaigns/{campaign.pk}/results/")
    expect(page.locator("#kpi-roi")).to_be_visible()
    _shot(page, "campaign-results-zh")


# --- service ------------------------------------------------------------------------------------


def test_agent_works_a_ticket_and_a_customer_uses_the_support_form(open_page, live_server,
                                                                    company_a, users_a):  # fmt: skip
    from django.core.cache import cache
    from playwright.sync_api import expect

    from xietong.crm import knowledge
    from xietong.crm.models import Ticket
    from xietong.crm.tests import service_factories as f

    cache.clear()  # the support form's throttle
    f.policies(company_a)
    party, contact = f.customer(company_a, "Suzhou Bikes", email="buyer@suzhou-bikes.example")
    ticket = f.ticket(company_a, party, subject="Brake squeaks", priority="high", contact=contact)
    f.ticket(company_a, party, subject="Invoice copy wanted", priority="low")
    knowledge.article_create(company=company_a, actor=None, language="en", publish=True,
                             title="Squeaking brakes", body="Clean the brake rotor and pads.")  # fmt: skip
    page = open_page("en-US")
    _login(page, live_server, users_a["service_agent"])

    page.goto(f"{live_server.url}/crm/service/tickets/")
    _shot(page, "ticket-list-en")
    page.locator("tr", has_text="Brake squeaks").get_by_role("link", name=ticket.number).click()
    page.wait_for_url(f"**/crm/service/tickets/{ticket.pk}/")
    expect(page.locator("#suggestions")).to_contain_text("Squeaking brakes")
    page.fill("#reply-form textarea[name=body]", "Please clean the rotor; we send new pads.")
    page.click("#action-reply")
    expect(page.locator("#thread")).to_contain_text("we send new pads")
    assert ticket.messages.filter(kind="reply", body__contains="new pads").exists()
    page.fill("#resolve-form textarea[name=resolution]", "New pads sent.")
    page.click("#action-resolve")
    expect(page.locator("#action-close")).to_be_visible()
    _shot(page, "ticket-resolved-en")
    assert Ticket.unscoped.get(pk=ticket.pk).state == "resolved"

    public = open_page("zh-CN")  # a customer, not logged in, in Chinese
    public.goto(f"{live_server.url}/crm/service/support/{company_a.pk}/")
    expect(public.locator("html")).to_have_attribute("lang", "zh-hans")
    form = public.locator("#support-form")
    form.locator("[name=name]").fill("李雷")
    form.locator("[name=email]").fill("not-an-address")
    form.locator("[name=subject]").fill("车铃生锈")
    form.locator("[name=description]").fill("雨后车铃生锈了。")
    form.locator("button").click()
    expect(public.locator('[data-field-error="email"]')).to_be_visible()  # nothing filed
    assert not Ticket.unscoped.filter(subject="车铃生锈").exists()
    public.locator("#support-form [name=email]").fill("BUYER@suzhou-bikes.example")
    public.locator("#support-form button").click()
    filed = Ticket.unscoped.get(company=company_a, subject="车铃生锈")
    expect(public.locator("#support-done")).to_contain_text(filed.number)
    _shot(public, "support-done-zh")
    assert (filed.channel, filed.party_id, filed.contact_id) == ("web", party.pk, contact.pk)
    cache.clear()


# --- the pipeline board -------------------------------------------------------------------------


def _drag(page, source: str, target: str) -> None:  # type: ignore[no-untyped-def]
    """Drag with the mouse in small steps, lingering over the target (Sortable's fallback mode
    checks where the pointer is every 50 ms)."""
    start = page.locator(f"{source} .crm-grip").bounding_box()
    end = page.locator(target).bounding_box()
    x0, y0 = start["x"] + 20, start["y"] + 5
    x1, y1 = end["x"] + 40, end["y"] + 20
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.wait_for_timeout(100)
    for step in range(1, 11):
        page.mouse.move(x0 + (x1 - x0) * step / 10, y0 + (y1 - y0) * step / 10)
        page.wait_for_timeout(50)
    page.wait_for_timeout(300)
    page.mouse.up()


def test_rep_loads_more_cards_in_place_and_drags_a_loaded_one(open_page, live_server, company_a,
                                                              users_a, monkeypatch):  # fmt: skip
    from playwright.sync_api import expect

    from xietong.crm import selectors
    from xietong.crm.models import Opportunity
    from xietong.crm.tests import factories

    monkeypatch.setattr(selectors, "CARDS_PER_COLUMN", 2)  # the live server runs in this process
    rep = users_a["sales_rep"]
    team = factories.team(company_a, "Board", members=[rep])
    deals = [
        factories.opportunity(
            company_a,
            team,
            owner=rep,
            name=f"Deal {n}",
            revenue="100",
            close_date=dt.date(2026, 9, 1 + n),
        )  # fmt: skip
        for n in range(5)
    ]
    new, proposal = deals[0].stage, factories.stage(team, "Proposal")
    early = [  # "Proposal" shows two of them and "1 more…"
        factories.opportunity(
            company_a,
            team,
            owner=rep,
            name=f"Early {n}",
            revenue="100",
            stage_name="Proposal",
            close_date=dt.date(2026, 8, 1 + n),
        )  # fmt: skip
        for n in range(3)
    ]
    page = open_page("en-US")
    _login(page, live_server, rep)
    page.goto(f"{live_server.url}/crm/?team={team.pk}")
    column = page.locator(f"#cards-{new.pk} .crm-card")
    header = page.locator(f'section[data-stage="{new.pk}"] header')
    before = header.inner_text()
    assert "5 opportunities" in before and "500" in before
    expect(column).to_have_count(2)
    more = page.locator(f"#more-{new.pk} a")
    expect(more).to_have_text("3 more…")
    more.click()
    expect(column).to_have_count(4)
    expect(more).to_have_text("1 more…")
    _shot(page, "kanban-more-en")
    more.click()
    expect(column).to_have_count(5)
    expect(more).to_have_count(0)  # the column is exhausted
    assert page.url == f"{live_server.url}/crm/?team={team.pk}"  # in place
    assert [int(i) for i in column.evaluate_all("cs => cs.map(c => c.dataset.id)")] == [
        d.pk for d in deals
    ]
    assert header.inner_text() == before  # the header counted the whole column already

    last = f"#card-{deals[4].pk}"  # loaded by the second "more"
    _drag(page, last, f"#cards-{proposal.pk}")
    expect(page.locator(f"#cards-{proposal.pk} {last}")).to_be_visible()
    expect(page.locator(f"{last} .probability")).to_have_text("60 %")
    assert Opportunity.unscoped.get(pk=deals[4].pk).stage_id == proposal.pk
    # the headers follow the move: one opportunity and its sums fewer in "New", one in "Proposal"
    expect(header).to_contain_text("4 opportunities · 400")
    proposal_header = page.locator(f'section[data-stage="{proposal.pk}"] header')
    expect(proposal_header).to_contain_text("4 opportunities · 400 · weighted 240")
    _shot(page, "kanban-dragged-en")

    # "Proposal"'s next page holds its last card and the one dragged in (after its cursor): the
    # dragged card stays where it was dropped, once
    page.locator(f"#more-{proposal.pk} a").click()
    expect(page.locator(f"#cards-{proposal.pk} #card-{early[2].pk}")).to_be_visible()
    expect(page.locator(f"#more-{proposal.pk} a")).to_have_count(0)
    ids = page.locator(f"#cards-{proposal.pk} .crm-card").evaluate_all(
        "cs => cs.map(c => Number(c.dataset.id))"
    )
    assert sorted(ids) == sorted([*(e.pk for e in early), deals[4].pk])
    assert page.locator(f"#card-{deals[4].pk}").count() == 1
