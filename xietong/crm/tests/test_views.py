"""The sales-pipeline screens: they render, the kanban moves cards (by drag and drop's JSON
POST or the card's select), bad input is refused with a clear message and changes nothing, a
rep reaches only their team's records, and the lists query a fixed number of times."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from xietong.core.tenancy import company_scope
from xietong.crm import services
from xietong.crm.models import Activity, Lead, Opportunity, SalesTeam
from xietong.crm.tests import factories

pytestmark = pytest.mark.django_db


def _reload(deal: Opportunity) -> Opportunity:
    return Opportunity.unscoped.select_related("stage").get(pk=deal.pk)


def test_pages_render(company_a, sales, client_for):
    deal = factories.opportunity(company_a, sales.east, owner=sales.rep, name="Bikes for Hangzhou",
                                 close_date=dt.date(2026, 4, 2))  # fmt: skip
    with company_scope(company_a):
        lead = services.lead_create(company=company_a, actor=None, name="Sun Li",
                                    company_name="Hangzhou Velo", email="sun@hz.example",
                                    team=sales.east)  # fmt: skip
        services.activity_create(company=company_a, actor=None, opportunity=deal,
                                 subject="Demo ride", owner=sales.rep)  # fmt: skip
        today = timezone.localdate()
        services.target_set(team=sales.east, actor=None, period_start=today,
                            period_end=today + dt.timedelta(days=30), amount="123456")  # fmt: skip
    factories.customer(company_a, "Hangzhou Velo Co., Ltd.")
    client = client_for(sales.rep)
    pages = {
        reverse("crm:lead_list"): "Sun Li",
        reverse("crm:lead_detail", args=[lead.pk]): "Hangzhou Velo Co., Ltd.",  # a duplicate
        reverse("crm:lead_create"): "record-form",
        reverse("crm:opportunity_list"): "Bikes for Hangzhou",
        reverse("crm:opportunity_detail", args=[deal.pk]): "Demo ride",
        reverse("crm:pipeline"): "Bikes for Hangzhou",
        reverse("crm:forecast"): "2026-04",
        reverse("crm:forecast") + "?by=owner": str(sales.rep),
    }
    for url, text in pages.items():
        response = client.get(url)
        assert response.status_code == 200, url
        assert text in response.content.decode(), url
    assert "123,456.00" in client.get(reverse("crm:forecast")).content.decode()
    board = client.get(reverse("crm:pipeline")).content.decode()
    assert "vendor/Sortable.min.js" in board and "crm/pipeline.js" in board
    assert f'data-move-url="{reverse("crm:opportunity_move", args=[deal.pk])}"' in board


def test_kanban_move_by_drag_and_drop_and_by_select(company_a, sales, client_for):
    deal = factories.opportunity(company_a, sales.east, owner=sales.rep)
    client = client_for(sales.rep)
    url = reverse("crm:opportunity_move", args=[deal.pk])
    proposal = factories.stage(sales.east, "Proposal")
    response = client.post(url, {"stage": proposal.pk}, headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.json() == {"id": deal.pk, "stage": proposal.pk, "state": "open",
                               "probability": "60"}  # fmt: skip
    assert _reload(deal).stage == proposal
    negotiation = factories.stage(sales.east, "Negotiation")
    board = reverse("crm:pipeline") + f"?team={sales.east.pk}"
    response = client.post(url, {"stage": negotiation.pk, "next": board})
    assert response.status_code == 302 and response["Location"] == board
    assert _reload(deal).stage == negotiation and _reload(deal).probability == 80


def test_bad_moves_give_a_clear_error_and_change_nothing(company_a, sales, client_for):
    deal = factories.opportunity(company_a, sales.east, owner=sales.rep)
    client = client_for(sales.rep)
    url = reverse("crm:opportunity_move", args=[deal.pk])
    for data, message in (
        ({"stage": factories.stage(sales.west, "Proposal").pk}, "Choose a stage of the opportunity"),
        ({"stage": factories.stage(sales.east, "Lost").pk}, "Mark the opportunity as lost"),
        ({"stage": "x"}, "Choose a valid stage"),
        ({"stage": factories.stage(sales.east, "Proposal").pk, "probability": "150"},
         "from 0 to 100"),
    ):  # fmt: skip
        response = client.post(url, data, headers={"Accept": "application/json"})
        assert response.status_code == 422 and message in response.json()["detail"], data
        response = client.post(url, data, follow=True)
        assert message in response.content.decode(), data
    fresh = _reload(deal)
    assert (fresh.stage.name, fresh.probability) == ("New", 10)
    # lost without a reason
    response = client.post(reverse("crm:opportunity_lost", args=[deal.pk]), {}, follow=True)
    assert "Say why the opportunity was lost." in response.content.decode()
    assert _reload(deal).state == "open"


def test_qualify_screen_shows_duplicates_and_reuses_the_chosen_party(company_a, sales, client_for):
    existing = factories.customer(company_a, "Velo Sport GmbH")
    with company_scope(company_a):
        lead = services.lead_create(company=company_a, actor=None, name="Ma Lin",
                                    company_name="VELO SPORT", team=sales.east)  # fmt: skip
    client = client_for(sales.rep)
    url = reverse("crm:lead_qualify", args=[lead.pk])
    response = client.post(url, {"team": sales.east.pk})
    assert response.status_code == 422
    assert "Customers that look like this lead already exist" in response.content.decode()
    assert Lead.unscoped.get(pk=lead.pk).state == "new"
    response = client.post(url, {"party": existing.pk, "team": sales.east.pk,
                                 "expected_revenue": "5000"})  # fmt: skip
    deal = Opportunity.unscoped.get(lead=lead)
    assert response.status_code == 302
    assert response["Location"] == reverse("crm:opportunity_detail", args=[deal.pk])
    assert deal.party == existing and deal.expected_revenue == 5000


def test_activities_from_the_screens(company_a, sales, client_for):
    deal = factories.opportunity(company_a, sales.east, owner=sales.rep)
    client = client_for(sales.rep)
    response = client.post(reverse("crm:activity_create"), {
        "opportunity": deal.pk, "kind": "meeting", "subject": "Visit", "due_date": "2026-03-01"})  # fmt: skip
    assert response.status_code == 302
    activity = Activity.unscoped.get(opportunity=deal)
    assert (activity.kind, activity.owner) == ("meeting", sales.rep)
    response = client.post(reverse("crm:activity_create"), {"opportunity": deal.pk, "kind": "x",
                                                            "subject": ""}, follow=True)  # fmt: skip
    assert "This field is required." in response.content.decode()
    assert Activity.unscoped.filter(opportunity=deal).count() == 1
    client.post(reverse("crm:activity_done", args=[activity.pk]))
    assert Activity.unscoped.get(pk=activity.pk).done


def test_open_activities_are_on_the_home_page_most_urgent_first(company_a, sales, client_for):
    deal = factories.opportunity(company_a, sales.east, owner=sales.rep, name="Fleet deal")
    today = timezone.localdate()
    with company_scope(company_a):
        lead = services.lead_create(company=company_a, actor=None, name="Wu Fang",
                                    phone="+86 571 8888 0000", team=sales.east)  # fmt: skip
        for subject, when, target in (("Send the offer", 3, {"opportunity": deal}),
                                      ("Call back Wu", 1, {"lead": lead}),
                                      ("Already done", 0, {"opportunity": deal})):  # fmt: skip
            made = services.activity_create(company=company_a, actor=None, subject=subject,
                                            owner=sales.rep, kind="call",
                                            due_date=today + dt.timedelta(days=when), **target)  # fmt: skip
        services.activity_done(activity=made, actor=None)
    html = client_for(sales.rep).get("/").content.decode()
    assert "Call back Wu" in html and "Send the offer" in html and "Already done" not in html
    assert html.index("Call back Wu") < html.index("Send the offer")  # due first
    assert reverse("crm:lead_detail", args=[lead.pk]) in html
    assert reverse("crm:opportunity_detail", args=[deal.pk]) in html
    # someone else's activities are theirs
    assert "Send the offer" not in client_for(sales.other).get("/").content.decode()


def test_a_rep_reaches_only_their_teams_records(company_a, sales, client_for):
    west = factories.opportunity(company_a, sales.west, owner=sales.other, name="Western deal")
    client = client_for(sales.rep)
    assert client.get(reverse("crm:opportunity_detail", args=[west.pk])).status_code == 404
    assert client.post(reverse("crm:opportunity_move", args=[west.pk]),
                       {"stage": factories.stage(sales.west, "Proposal").pk}).status_code == 404  # fmt: skip
    assert "Western deal" not in client.get(reverse("crm:opportunity_list")).content.decode()
    board = client.get(reverse("crm:pipeline") + f"?team={sales.west.pk}").content.decode()
    assert "Western deal" not in board  # not one of the rep's teams: their own team is shown
    manager = client_for(sales.manager)
    assert manager.get(reverse("crm:opportunity_detail", args=[west.pk])).status_code == 200


def test_lists_and_board_query_a_fixed_number_of_times(company_a, sales, client_for):
    client = client_for(sales.manager)
    board = reverse("crm:pipeline") + f"?team={sales.east.pk}"
    urls = [reverse("crm:opportunity_list"), reverse("crm:lead_list"), board,
            reverse("crm:forecast")]  # fmt: skip

    def counts() -> list[int]:
        out = []
        for url in urls:
            with CaptureQueriesContext(connection) as captured:
                assert client.get(url).status_code == 200
            out.append(len(captured))
        return out

    factories.opportunity(company_a, sales.east, close_date=dt.date(2026, 1, 5))
    with company_scope(company_a):
        services.lead_create(company=company_a, actor=None, name="L", email="l@x.example")
    few = counts()
    for n in range(8):
        factories.opportunity(company_a, sales.east, owner=sales.rep,
                              close_date=dt.date(2026, 1 + n, 5))  # fmt: skip
        with company_scope(company_a):
            services.lead_create(company=company_a, actor=None, name=f"L{n}", email="l@x.example",
                                 team=sales.east, owner=sales.rep)  # fmt: skip
    assert counts() == few


def test_managers_set_up_teams_on_the_screen(company_a, sales, client_for):
    manager = client_for(sales.manager)
    page = manager.get(reverse("crm:team_list"))
    assert page.status_code == 200 and "East" in page.content.decode()
    manager.post(reverse("crm:team_create"), {"name": "South", "assignment": "round_robin"})
    south = SalesTeam.unscoped.get(company=company_a, name="South")
    assert south.assignment == "round_robin" and south.stages.count() == 6
    response = manager.post(reverse("crm:stage_create", args=[south.pk]),
                            {"name": "Demo", "probability": "250"}, follow=True)  # fmt: skip
    assert "from 0 to 100" in response.content.decode() and south.stages.count() == 6
    manager.post(
        reverse("crm:stage_create", args=[south.pk]), {"name": "Demo", "probability": "45"}
    )
    assert south.stages.filter(name="Demo", probability=45).exists()
    manager.post(reverse("crm:lost_reason_create"), {"name": "No budget"})
    assert "No budget" in manager.get(reverse("crm:team_list")).content.decode()
    assert client_for(sales.rep).get(reverse("crm:team_list")).status_code == 403


def test_managers_edit_team_members_leader_and_strategy_on_screen(company_a, users_b, sales,
                                                                 client_for):  # fmt: skip
    manager = client_for(sales.manager)
    edit = reverse("crm:team_edit", args=[sales.east.pk])
    assert edit in manager.get(reverse("crm:team_list")).content.decode()
    page = manager.get(edit)
    assert page.status_code == 200 and 'name="members"' in page.content.decode()
    response = manager.post(edit, {"name": "East China", "manager": sales.rep2.pk,
                                   "assignment": "round_robin",
                                   "members": [sales.rep.pk, sales.other.pk], "active": "on"})  # fmt: skip
    assert response.status_code == 302
    team = SalesTeam.unscoped.get(pk=sales.east.pk)
    assert (team.name, team.manager, team.assignment) == ("East China", sales.rep2,
                                                          "round_robin")  # fmt: skip
    assert set(team.members.all()) == {sales.rep, sales.other}
    # a clash of names is refused on the field and changes nothing
    response = manager.post(edit, {"name": "West", "assignment": "manual",
                                   "members": [sales.rep.pk], "active": "on"})  # fmt: skip
    assert response.status_code == 200 and "already has this name" in response.content.decode()
    team.refresh_from_db()
    assert team.assignment == "round_robin" and team.members.count() == 2
    # a rep cannot, nor can a manager of another company reach it
    rep = client_for(sales.rep)
    assert rep.get(edit).status_code == 403
    assert rep.post(edit, {"name": "Mine", "assignment": "manual"}).status_code == 403
    assert SalesTeam.unscoped.get(pk=team.pk).name == "East China"
    assert client_for(users_b["sales_manager"]).get(edit).status_code == 404


def test_kanban_shows_the_first_cards_per_column_with_the_rest_counted(company_a, sales, client_for,
                                                                      monkeypatch):  # fmt: skip
    from xietong.crm import selectors

    monkeypatch.setattr(selectors, "CARDS_PER_COLUMN", 3)
    client = client_for(sales.rep)
    board = reverse("crm:pipeline") + f"?team={sales.east.pk}"
    for n in range(5):
        factories.opportunity(company_a, sales.east, owner=sales.rep, revenue="100",
                              stage_name="Proposal", close_date=dt.date(2026, 1, 1 + n))  # fmt: skip
    with CaptureQueriesContext(connection) as few:
        page = client.get(board).content.decode()
    assert page.count('class="card card-body p-2 crm-card"') == 3
    assert "5 opportunities" in page and "2 more…" in page
    assert f"stage={factories.stage(sales.east, 'Proposal').pk}" in page
    with company_scope(company_a):
        columns = selectors.pipeline_board(team=sales.east, user=sales.rep, see_all=False)
    proposal = next(c for c in columns if c.stage.name == "Proposal")
    assert (proposal.count, len(proposal.cards), proposal.total, proposal.weighted) == (
        5, 3, 500, 300)  # fmt: skip
    assert [c.close_date.day for c in proposal.cards] == [1, 2, 3]
    for _n in range(10):
        factories.opportunity(company_a, sales.east, owner=sales.rep, stage_name="New")
    with CaptureQueriesContext(connection) as more:
        assert client.get(board).status_code == 200
    assert len(more) == len(few)
