"""The sales pipeline's services: leads and their qualification (with the duplicate check),
stage moves, won and lost, assignment by the dispatch strategies, activities, the timeline and
the weighted forecast."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from xietong.core.models import Membership
from xietong.crm import selectors, services
from xietong.crm.models import Activity, Lead, Opportunity
from xietong.crm.tests import factories
from xietong.party.models import Contact, Party, TimelineEntry

D = Decimal
pytestmark = pytest.mark.django_db


def _timeline(party: Party) -> list[str]:
    return list(TimelineEntry.unscoped.filter(party=party).order_by("pk")
                .values_list("kind", flat=True))  # fmt: skip


# --- leads --------------------------------------------------------------------------------------


def test_lead_needs_a_name_and_a_way_to_reach_it(in_a, sales):
    with pytest.raises(ValidationError) as caught:
        services.lead_create(company=in_a, actor=None, name="", source="fax")
    assert set(caught.value.message_dict) == {"name", "source", "email"}
    with pytest.raises(ValidationError) as caught:
        services.lead_create(company=in_a, actor=None, name="Li", email="not-an-address")
    assert set(caught.value.message_dict) == {"email"}
    assert not Lead.objects.exists()


def test_web_form_lead_reads_the_form_and_is_assigned(in_a, sales):
    lead = services.lead_create_from_web_form(
        company=in_a, actor=None, team=sales.east,
        payload={"your-name": "王芳", "company": "苏州骑行有限公司", "email": "wf@qx.example",
                 "message": "Need 200 e-bikes", "utm_campaign": "spring-fair", "city": "苏州"},
    )  # fmt: skip
    assert lead.source == Lead.Source.WEB_FORM
    assert (lead.name, lead.company_name, lead.campaign) == (
        "王芳",
        "苏州骑行有限公司",
        "spring-fair",
    )
    assert "Need 200 e-bikes" in lead.description and "city: 苏州" in lead.description
    assert lead.owner in (sales.rep, sales.rep2)


def test_qualify_without_duplicate_creates_party_contact_and_opportunity(in_a, sales):
    lead = services.lead_create(company=in_a, actor=sales.rep, name="Zhang Wei",
                                company_name="Velo Sport GmbH", email="zw@velo.example",
                                phone="+49 30 1234", team=sales.east, owner=sales.rep)  # fmt: skip
    opportunity = services.lead_qualify(lead=lead, actor=sales.rep, expected_revenue="25000",
                                        close_date=dt.date(2026, 3, 15))  # fmt: skip
    lead.refresh_from_db()
    assert lead.state == Lead.State.QUALIFIED and lead.party == opportunity.party
    party = opportunity.party
    assert (
        party.name == "Velo Sport GmbH" and party.is_customer and party.email == "zw@velo.example"
    )
    assert party.kind == Party.Kind.ORGANISATION
    contact = Contact.unscoped.get(party=party)
    assert (contact.name, contact.email) == ("Zhang Wei", "zw@velo.example")
    assert opportunity.contact == contact and opportunity.lead == lead
    assert opportunity.team == sales.east and opportunity.owner == sales.rep
    assert opportunity.stage.name == "New" and opportunity.probability == D(10)
    assert opportunity.expected_revenue == D(25000) and opportunity.currency_id == "CNY"
    assert _timeline(party) == ["party.created", "crm.opportunity", "crm.lead"]


def test_qualify_with_duplicate_returns_the_candidates_and_changes_nothing(in_a, sales):
    existing = factories.customer(in_a, "VELO-SPORT Co., Ltd.")
    by_mail = factories.customer(in_a, "Another name", email="buyer@velo.example")
    lead = services.lead_create(company=in_a, actor=None, name="Zhang Wei",
                                company_name="Velo Sport GmbH", email="buyer@velo.example",
                                team=sales.east)  # fmt: skip
    parties = Party.objects.count()
    with pytest.raises(services.LeadDuplicates) as caught:
        services.lead_qualify(lead=lead, actor=sales.rep)
    found = {c.party: c.reasons for c in caught.value.candidates}
    assert found == {existing: ["name"], by_mail: ["email"]}
    assert "party" in caught.value.message_dict
    lead.refresh_from_db()
    assert lead.state == Lead.State.NEW
    assert Party.objects.count() == parties and not Opportunity.objects.exists()
    # the user picks the existing party: it is reused, the lead's person becomes its contact
    opportunity = services.lead_qualify(lead=lead, actor=sales.rep, party=existing.pk)
    assert opportunity.party == existing and Party.objects.count() == parties
    assert opportunity.contact.party == existing and opportunity.contact.name == "Zhang Wei"
    assert opportunity.owner in (sales.rep, sales.rep2)  # by the team's strategy
    assert "crm.lead" in _timeline(existing)


def test_qualify_can_create_a_new_party_despite_duplicates(in_a, sales):
    factories.customer(in_a, "Velo Sport")
    lead = services.lead_create(company=in_a, actor=None, name="Li", company_name="Velo Sport",
                                team=sales.east)  # fmt: skip
    opportunity = services.lead_qualify(lead=lead, actor=None, create_party=True)
    assert Party.objects.filter(normalized_name="velosport").count() == 2
    assert opportunity.party.name == "Velo Sport"
    with pytest.raises(services.CrmError):
        services.lead_qualify(lead=lead, actor=None, create_party=True)


def test_qualify_reuses_a_contact_with_the_same_email(in_a, sales):
    party = factories.customer(in_a, "Alpine Bikes")
    from xietong.party.services import contact_create

    contact = contact_create(party=party, actor=None, name="Anna", email="anna@alpine.example")
    lead = services.lead_create(company=in_a, actor=None, name="Anna Meier",
                                company_name="Alpine", email="ANNA@alpine.example",
                                team=sales.west)  # fmt: skip
    opportunity = services.lead_qualify(lead=lead, actor=None, party=party)
    assert opportunity.contact == contact and Contact.unscoped.filter(party=party).count() == 1
    assert opportunity.owner == sales.other  # the only member of West


def test_qualify_without_team_is_refused(in_a, sales):
    lead = services.lead_create(company=in_a, actor=None, name="Li", email="li@x.example")
    with pytest.raises(ValidationError) as caught:
        services.lead_qualify(lead=lead, actor=None, create_party=True)
    assert set(caught.value.message_dict) == {"team"}


def test_disqualify(in_a, sales):
    lead = services.lead_create(company=in_a, actor=None, name="Spam", email="s@x.example")
    services.lead_disqualify(lead=lead, actor=None, reason="spam")
    assert lead.state == Lead.State.DISQUALIFIED
    with pytest.raises(services.CrmError):
        services.lead_disqualify(lead=lead, actor=None)


# --- stages, won, lost --------------------------------------------------------------------------


def test_stage_move_probability_follows_the_stage_unless_overridden(in_a, sales):
    deal = factories.opportunity(in_a, sales.east, owner=sales.rep, revenue="8000")
    assert (deal.stage.name, deal.probability, deal.probability_overridden) == ("New", 10, False)
    services.opportunity_move(opportunity=deal, actor=sales.rep,
                              stage=factories.stage(sales.east, "Proposal"))  # fmt: skip
    deal.refresh_from_db()
    assert (deal.stage.name, deal.probability) == ("Proposal", D(60))
    services.opportunity_move(opportunity=deal, actor=sales.rep, probability="45",
                              stage=factories.stage(sales.east, "Negotiation"))  # fmt: skip
    deal.refresh_from_db()
    assert (deal.stage.name, deal.probability, deal.probability_overridden) == (
        "Negotiation", D(45), True)  # fmt: skip
    services.opportunity_probability_set(opportunity=deal, actor=None, probability=None)
    assert deal.probability == D(80) and not deal.probability_overridden
    kinds = _timeline(deal.party)
    assert kinds.count("crm.opportunity") == 3  # opened, moved twice
    summaries = list(TimelineEntry.unscoped.filter(party=deal.party, kind="crm.opportunity")
                     .order_by("pk").values_list("summary", flat=True))  # fmt: skip
    assert summaries == [
        f"Opportunity {deal.name} opened in New (8000 CNY)",
        f"Opportunity {deal.name} moved from New to Proposal (60 %)",
        f"Opportunity {deal.name} moved from Proposal to Negotiation (45 %)",
    ]


def test_bad_moves_are_refused_and_change_nothing(in_a, sales):
    deal = factories.opportunity(in_a, sales.east)
    for stage, probability, field in (
        (factories.stage(sales.west, "Proposal"), None, "stage"),  # another team's stage
        (factories.stage(sales.east, "Lost"), None, "stage"),  # losing needs a reason
        (factories.stage(sales.east, "Proposal"), "101", "probability"),
        (factories.stage(sales.east, "Proposal"), 50.5, "probability"),
        (None, None, "stage"),
    ):
        with pytest.raises(ValidationError) as caught:
            services.opportunity_move(opportunity=deal, actor=None, stage=stage,
                                      probability=probability)  # fmt: skip
        assert field in caught.value.message_dict
    deal.refresh_from_db()
    assert (deal.stage.name, deal.probability) == ("New", D(10))


def test_moving_to_the_won_stage_wins(in_a, sales):
    deal = factories.opportunity(in_a, sales.east)
    services.opportunity_move(
        opportunity=deal, actor=None, stage=factories.stage(sales.east, "Won")
    )
    deal.refresh_from_db()
    assert (deal.state, deal.probability, deal.stage.name) == ("won", D(100), "Won")
    assert deal.closed_at is not None
    with pytest.raises(services.CrmError):
        services.opportunity_move(opportunity=deal, actor=None,
                                  stage=factories.stage(sales.east, "New"))  # fmt: skip


def test_lost_needs_a_reason(in_a, sales):
    deal = factories.opportunity(in_a, sales.east)
    for reason in (None, "", 999999, factories.lost_reason(in_a).pk + 1000):
        with pytest.raises(ValidationError) as caught:
            services.opportunity_lose(opportunity=deal, actor=None, reason=reason)
        assert "lost_reason" in caught.value.message_dict
    deal.refresh_from_db()
    assert deal.state == "open"
    reason = factories.lost_reason(in_a)
    services.opportunity_lose(opportunity=deal, actor=None, reason=reason, note="went to rival")
    deal.refresh_from_db()
    assert (deal.state, deal.probability, deal.stage.name, deal.lost_reason) == (
        "lost", D(0), "Lost", reason)  # fmt: skip
    with pytest.raises(services.CrmError):
        services.opportunity_win(opportunity=deal, actor=None)


def test_another_companys_rows_are_refused(in_a, sales, company_b):
    theirs = factories.customer(company_b, "Beta customer")
    with pytest.raises(ValidationError) as caught:
        services.opportunity_create(company=in_a, actor=None, party=theirs, name="x",
                                    team=sales.east)  # fmt: skip
    assert set(caught.value.message_dict) == {"party"}


# --- assignment ---------------------------------------------------------------------------------


def test_assignment_picks_the_least_loaded_by_open_revenue(in_a, sales):
    factories.opportunity(in_a, sales.east, owner=sales.rep, revenue="50000")
    for _i in range(3):  # more deals, but less revenue
        factories.opportunity(in_a, sales.east, owner=sales.rep2, revenue="1000")
    deal = factories.opportunity(in_a, sales.east, revenue="9000")
    assert deal.owner == sales.rep2
    assert "least loaded" in deal.assignment_reason
    # closed opportunities do not count: rep's big deal is lost, rep is now least loaded
    big = Opportunity.objects.get(owner=sales.rep)
    services.opportunity_lose(opportunity=big, actor=None, reason=factories.lost_reason(in_a))
    assert factories.opportunity(in_a, sales.east, revenue="1").owner == sales.rep


def test_assignment_skips_members_out_of_office(in_a, sales):
    Membership.unscoped.filter(company=in_a, user=sales.rep2).update(
        out_of_office_until=timezone.localdate() + dt.timedelta(days=3)
    )
    factories.opportunity(in_a, sales.east, owner=sales.rep, revenue="50000")
    assert factories.opportunity(in_a, sales.east).owner == sales.rep


def test_round_robin_rotates_through_the_members(in_a, sales):
    third = factories.staff(in_a)
    sales.east.members.add(third)
    sales.east.assignment = "round_robin"
    sales.east.save()
    owners = [factories.opportunity(in_a, sales.east).owner for _i in range(4)]
    ordered = sorted([sales.rep, sales.rep2, third], key=lambda u: u.pk)
    assert owners == [*ordered, ordered[0]]


def test_manual_strategy_assigns_nobody_and_lead_assign(in_a, sales):
    sales.west.assignment = "manual"
    sales.west.save()
    assert factories.opportunity(in_a, sales.west).owner is None
    lead = services.lead_create(company=in_a, actor=None, name="Li", email="li@x.example")
    with pytest.raises(services.CrmError):
        services.lead_assign(lead=lead, actor=None)
    reason = services.lead_assign(lead=lead, actor=None, team=sales.east)
    assert lead.owner in (sales.rep, sales.rep2) and "least loaded" in reason


# --- activities ---------------------------------------------------------------------------------


def test_activities_on_an_opportunity_are_on_the_timeline(in_a, sales):
    deal = factories.opportunity(in_a, sales.east, owner=sales.rep)
    call = services.activity_create(company=in_a, actor=sales.rep, opportunity=deal,
                                    kind="call", subject="Discuss volumes",
                                    due_date=dt.date(2026, 2, 3))  # fmt: skip
    assert call.owner == sales.rep and not call.done
    services.activity_done(activity=call, actor=sales.rep, note="They want 300")
    call.refresh_from_db()
    assert call.done and call.done_at and "They want 300" in call.note
    with pytest.raises(services.CrmError):
        services.activity_done(activity=call, actor=sales.rep)
    summaries = list(TimelineEntry.unscoped.filter(party=deal.party, kind="activity")
                     .order_by("pk").values_list("summary", flat=True))  # fmt: skip
    assert summaries == [
        f"Call planned for 2026-02-03: Discuss volumes ({deal.name})",
        f"Call done: Discuss volumes ({deal.name})",
    ]


def test_activity_needs_exactly_one_record_and_valid_values(in_a, sales):
    deal = factories.opportunity(in_a, sales.east)
    lead = services.lead_create(company=in_a, actor=None, name="Li", email="li@x.example")
    for kwargs, field in (
        ({}, "opportunity"),
        ({"lead": lead, "opportunity": deal}, "opportunity"),
        ({"lead": lead, "kind": "fax"}, "kind"),
        ({"lead": lead, "due_at": dt.datetime(2026, 1, 1, 9)}, "due_at"),
        ({"lead": lead, "subject": ""}, "subject"),
    ):
        kwargs.setdefault("subject", "Call back")
        with pytest.raises(ValidationError) as caught:
            services.activity_create(company=in_a, actor=None, **kwargs)
        assert field in caught.value.message_dict, kwargs
    assert not Activity.objects.exists()
    task = services.activity_create(company=in_a, actor=sales.rep, lead=lead, kind="task",
                                    subject="Send brochure", done=True)  # fmt: skip
    assert task.done and task.lead == lead


# --- visibility and the forecast ----------------------------------------------------------------


def test_a_rep_sees_only_their_teams_pipeline(in_a, sales):
    east = factories.opportunity(in_a, sales.east, owner=sales.rep2)
    west = factories.opportunity(in_a, sales.west, owner=sales.other)
    mine_elsewhere = factories.opportunity(in_a, sales.west, owner=sales.rep)
    seen = set(selectors.opportunities_visible(user=sales.rep, see_all=False))
    assert seen == {east, mine_elsewhere}
    assert set(selectors.opportunities_visible(user=sales.other, see_all=False)) == {
        west, mine_elsewhere}  # fmt: skip
    assert set(selectors.opportunities_visible(user=sales.manager, see_all=False)) == {east}
    assert set(selectors.opportunities_visible(user=sales.rep, see_all=True)) == {
        east, west, mine_elsewhere}  # fmt: skip
    unassigned = services.lead_create(company=in_a, actor=None, name="Li", email="li@x.example")
    theirs = services.lead_create(company=in_a, actor=None, name="Wu", email="wu@x.example",
                                  team=sales.west, owner=sales.other)  # fmt: skip
    assert set(selectors.leads_visible(user=sales.rep, see_all=False)) == {unassigned}
    assert set(selectors.leads_visible(user=sales.other, see_all=False)) == {unassigned, theirs}


def test_weighted_forecast_by_month_team_and_rep(in_a, sales):
    def deal(team, owner, revenue, stage, close, probability=None):  # type: ignore[no-untyped-def]
        return factories.opportunity(in_a, team, owner=owner, revenue=revenue, stage_name=stage,
                                     close_date=close, probability=probability)  # fmt: skip

    deal(sales.east, sales.rep, "10000", "New", dt.date(2026, 3, 2))  # 10 % → 1000
    deal(sales.east, sales.rep2, "20000", "Proposal", dt.date(2026, 3, 30))  # 60 % → 12000
    deal(sales.east, sales.rep, "5000", "Negotiation", dt.date(2026, 4, 1), "50")  # → 2500
    deal(sales.west, sales.other, "7777.77", "Qualified", dt.date(2026, 3, 15))  # 30 % → 2333.331
    deal(sales.east, sales.rep, "99999", "New", None)  # no close date: left out
    lost = deal(sales.east, sales.rep, "50000", "Proposal", dt.date(2026, 3, 5))
    services.opportunity_lose(opportunity=lost, actor=None, reason=factories.lost_reason(in_a))
    deal(sales.east, sales.rep, "1000", "New", dt.date(2026, 6, 1))  # outside the range

    rows = selectors.pipeline_forecast(user=sales.manager, see_all=True, by="team",
                                       start=dt.date(2026, 3, 1), end=dt.date(2026, 4, 30))  # fmt: skip
    got = [(r.month, r.label, r.count, r.expected, r.weighted) for r in rows]
    assert got == [
        (dt.date(2026, 3, 1), "East", 2, D("30000.00"), D("13000.00")),
        (dt.date(2026, 3, 1), "West", 1, D("7777.77"), D("2333.33")),
        (dt.date(2026, 4, 1), "East", 1, D("5000.00"), D("2500.00")),
    ]
    by_rep = selectors.pipeline_forecast(user=sales.manager, see_all=True, by="owner",
                                         start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31))  # fmt: skip
    assert {(r.key, r.weighted) for r in by_rep} == {
        (sales.rep.pk, D("1000.00")), (sales.rep2.pk, D("12000.00")),
        (sales.other.pk, D("2333.33")),
    }  # fmt: skip
    # a rep's forecast holds only what they may see
    mine = selectors.pipeline_forecast(user=sales.other, see_all=False, start=dt.date(2026, 3, 1),
                                       end=dt.date(2026, 4, 30))  # fmt: skip
    assert [(r.label, r.weighted) for r in mine] == [("West", D("2333.33"))]


def test_targets_and_attainment(in_a, sales):
    march = (dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    team_target = services.target_set(team=sales.east, actor=None, period_start=march[0],
                                      period_end=march[1], amount="100000")  # fmt: skip
    rep_target = services.target_set(team=sales.east, actor=None, user=sales.rep,
                                     period_start=march[0], period_end=march[1], amount="40000")  # fmt: skip
    # setting it again replaces it
    assert services.target_set(team=sales.east, actor=None, user=sales.rep, amount="50000",
                               period_start=march[0], period_end=march[1]).pk == rep_target.pk  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        services.target_set(team=sales.east, actor=None, user=sales.other, amount="-1",
                            period_start=march[1], period_end=march[0])  # fmt: skip
    assert set(caught.value.message_dict) == {"user", "amount", "period_end"}

    def win(owner, revenue, day):  # type: ignore[no-untyped-def]
        deal = factories.opportunity(in_a, sales.east, owner=owner, revenue=revenue)
        services.opportunity_win(opportunity=deal, actor=None)
        closed = timezone.make_aware(dt.datetime.combine(day, dt.time(12)))
        Opportunity.objects.filter(pk=deal.pk).update(closed_at=closed)

    win(sales.rep, "30000", dt.date(2026, 3, 10))
    win(sales.rep2, "25000", dt.date(2026, 3, 31))
    win(sales.rep, "99999", dt.date(2026, 4, 1))  # after the period
    factories.opportunity(in_a, sales.east, owner=sales.rep, revenue="77777")  # open
    rows = {(t.user_id): selectors.attainment(t)
            for t in selectors.targets_with_attainment(user=sales.manager, see_all=False)}  # fmt: skip
    assert rows == {None: (D("55000.00"), D("55.0")), sales.rep.pk: (D("30000.00"), D("60.0"))}
    assert list(selectors.targets_with_attainment(user=sales.other, see_all=False)) == []
    assert team_target.amount == D(100000)
