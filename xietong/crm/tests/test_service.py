"""Customer service through the services: the ticket lifecycle and its refusals, SLA clocks on a
business-hours calendar (hand-computed), escalation, assignment, knowledge base, warranty and
RMA, satisfaction surveys, the reports, and company isolation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from xietong.crm import knowledge, service_reports, service_setup, sla, tickets, warranty
from xietong.crm.models import (
    KnowledgeArticle,
    SatisfactionSurvey,
    Ticket,
    TicketMessage,
)
from xietong.crm.services import CrmError
from xietong.crm.tests import service_factories as f
from xietong.party.models import TimelineEntry
from xietong.workflow.models import ProcessInstance

pytestmark = pytest.mark.django_db


@pytest.fixture
def svc(company_a):  # type: ignore[no-untyped-def]
    cal = f.calendar(company_a)
    return {"calendar": cal, "policies": f.policies(company_a, cal)}


def _friday(company, hour=17):  # type: ignore[no-untyped-def]
    return f.local(company, 2026, 3, 6, hour)  # a Friday


# --- lifecycle -----------------------------------------------------------------------------------


def test_ticket_lifecycle_and_timeline(company_a, users_a, svc):
    agent = users_a["service_agent"]
    party, contact = f.customer(company_a)
    ticket = f.ticket(company_a, party, contact=contact, subject="Brake squeaks")
    assert ticket.number.startswith("TCK-") and ticket.state == "new"
    assert ticket.requester_email == contact.email
    second = f.ticket(company_a, party)
    assert int(second.number.rsplit("-", 1)[1]) == int(ticket.number.rsplit("-", 1)[1]) + 1
    tickets.ticket_reply(ticket=ticket, actor=agent, body="Please send a photo.", wait=True)
    assert ticket.state == "waiting" and ticket.first_response_at is not None
    tickets.ticket_customer_message(ticket=ticket, actor=None, body="Photo attached")
    assert ticket.state == "open"
    tickets.ticket_note(ticket=ticket, actor=agent, body="Pads worn out")
    tickets.ticket_resolve(ticket=ticket, actor=agent, resolution="Replace the brake pads.")
    assert ticket.state == "resolved" and ticket.resolved_at is not None
    assert SatisfactionSurvey.unscoped.filter(ticket=ticket).exists()
    tickets.ticket_close(ticket=ticket, actor=agent)
    assert ticket.state == "closed"
    tickets.ticket_reopen(ticket=ticket, actor=agent, reason="Squeaks again")
    assert ticket.state == "open" and ticket.reopened == 1 and ticket.resolved_at is None
    kinds = list(ticket.messages.values_list("kind", flat=True))
    assert kinds == ["inbound", "reply", "inbound", "note", "reply", "note"]
    entries = TimelineEntry.unscoped.filter(party=party, kind="crm.ticket")
    assert entries.count() >= 7
    assert entries.filter(summary__contains="resolved").exists()


def test_bad_transitions_are_refused_and_change_nothing(company_a, users_a, svc):
    agent = users_a["service_agent"]
    ticket = f.ticket(company_a)
    with pytest.raises(CrmError):
        tickets.ticket_close(ticket=ticket, actor=agent)  # new → closed
    with pytest.raises(CrmError):
        tickets.ticket_reopen(ticket=ticket, actor=agent, reason="x")  # not resolved
    with pytest.raises(ValidationError) as error:
        tickets.ticket_resolve(ticket=ticket, actor=agent, resolution="  ")
    assert "resolution" in error.value.message_dict
    tickets.ticket_resolve(ticket=ticket, actor=agent, resolution="Done")
    with pytest.raises(CrmError):
        tickets.ticket_resolve(ticket=ticket, actor=agent, resolution="Again")
    with pytest.raises(CrmError):
        tickets.ticket_reply(ticket=ticket, actor=agent, body="More")
    with pytest.raises(CrmError):
        tickets.ticket_wait(ticket=ticket, actor=agent)
    with pytest.raises(CrmError):
        tickets.ticket_open(ticket=ticket, actor=agent)
    with pytest.raises(CrmError):
        tickets.ticket_update(ticket=ticket, actor=agent, priority="high")
    row = Ticket.unscoped.get(pk=ticket.pk)
    assert row.state == "resolved" and row.messages.count() == 2


def test_create_refuses_bad_input(company_a, company_b, svc):
    other_party, _contact = f.customer(company_b)
    with pytest.raises(ValidationError) as error:
        tickets.ticket_create(company=company_a, actor=None, subject="", party=other_party,
                              priority="whenever", channel="fax")  # fmt: skip
    assert set(error.value.message_dict) == {"subject", "party", "priority", "channel"}
    with pytest.raises(ValidationError) as error:
        tickets.ticket_create(company=company_a, actor=None, subject="Hello")
    assert "party" in error.value.message_dict
    assert not Ticket.unscoped.filter(company=company_a).exists()


# --- SLA ------------------------------------------------------------------------------------------


def test_business_hours_arithmetic(company_a, svc):
    hours = sla.hours_of(svc["calendar"], company_a)
    friday = _friday(company_a)
    assert sla.business_add(hours, friday, 4 * 3600) == f.local(company_a, 2026, 3, 9, 12)
    # starting at night, the clock starts at 9:00 the next working day
    assert sla.business_add(hours, f.local(company_a, 2026, 3, 7, 23), 3600) == f.local(
        company_a, 2026, 3, 9, 10)  # fmt: skip
    assert sla.business_seconds(hours, friday, f.local(company_a, 2026, 3, 9, 12)) == 4 * 3600
    assert sla.business_seconds(hours, friday, friday) == 0
    holiday = f.calendar(company_a, holidays=["2026-03-09"])
    hours = sla.hours_of(holiday, company_a)
    assert sla.business_add(hours, friday, 4 * 3600) == f.local(company_a, 2026, 3, 10, 12)


def test_sla_due_times_are_business_hours(company_a, svc):
    ticket = f.ticket(company_a, priority="normal", now=_friday(company_a))  # 4 h / 16 h
    assert ticket.sla_policy == svc["policies"]["normal"]
    assert ticket.first_response_due == f.local(company_a, 2026, 3, 9, 12)  # Monday 12:00
    # 16 h: Friday 1 h, Monday 9 h, Tuesday 6 h → Tuesday 15:00
    assert ticket.resolution_due == f.local(company_a, 2026, 3, 10, 15)
    # at risk after 75 % of the first response: 3 h → Monday 11:00
    assert ticket.sla_risk_at == f.local(company_a, 2026, 3, 9, 11)
    assert ticket.sla_state == "ok"


def test_waiting_pauses_the_clock(company_a, users_a, svc):
    agent = users_a["service_agent"]
    ticket = f.ticket(company_a, priority="normal", now=_friday(company_a))
    monday_10 = f.local(company_a, 2026, 3, 9, 10)
    tickets.ticket_reply(ticket=ticket, actor=agent, body="Which model?", wait=True, now=monday_10)
    assert ticket.first_response_met is True
    # after the first response only the resolution counts: 12 h (75 % of 16) → Tuesday 11:00
    assert ticket.sla_risk_at == f.local(company_a, 2026, 3, 10, 11)
    tuesday_10 = f.local(company_a, 2026, 3, 10, 10)
    tickets.ticket_customer_message(ticket=ticket, actor=None, body="E-City 3", now=tuesday_10)
    ticket.refresh_from_db()
    assert ticket.state == "open" and ticket.waiting_since is None
    assert ticket.sla_paused_seconds == 9 * 3600  # Monday 10–18, Tuesday 9–10
    # resolution Tuesday 15:00 + 9 h: Tuesday 3 h, Wednesday 6 h → Wednesday 15:00
    assert ticket.resolution_due == f.local(company_a, 2026, 3, 11, 15)
    assert ticket.sla_risk_at == f.local(company_a, 2026, 3, 11, 11)
    # a waiting ticket is not checked: the clock does not run
    tickets.ticket_wait(ticket=ticket, actor=agent, now=tuesday_10)
    assert sla.sla_check(now=f.local(company_a, 2026, 3, 20, 12), company=company_a) == {
        "at_risk": 0, "breached": 0}  # fmt: skip


def test_customer_tier_policy_wins(company_a, svc):
    from xietong.party.services import customer_group_create

    vip = customer_group_create(company=company_a, actor=None, code="vip", name="VIP")
    gold = service_setup.sla_policy_create(
        company=company_a, actor=None, name="VIP normal", priority="normal",
        calendar=svc["calendar"], first_response_hours=1, resolution_hours=4, customer_group=vip,
    )  # fmt: skip
    party, _contact = f.customer(company_a, customer_group=vip)
    assert f.ticket(company_a, party, priority="normal").sla_policy == gold
    assert f.ticket(company_a, priority="normal").sla_policy == svc["policies"]["normal"]
    with pytest.raises(ValidationError) as error:
        service_setup.sla_policy_create(company=company_a, actor=None, name="Dup", priority="normal",
                                        calendar=svc["calendar"], first_response_hours=2,
                                        resolution_hours=1)  # fmt: skip
    assert set(error.value.message_dict) == {"resolution_hours"}


def test_at_risk_starts_escalation_and_resolution_sends_the_message(company_a, users_a, svc):
    agent = users_a["service_agent"]
    ticket = f.ticket(company_a, priority="normal", now=_friday(company_a))
    assert sla.sla_check(now=f.local(company_a, 2026, 3, 9, 10, 59), company=company_a) == {
        "at_risk": 0, "breached": 0}  # fmt: skip
    counts = sla.sla_check(now=f.local(company_a, 2026, 3, 9, 11, 30), company=company_a)
    assert counts == {"at_risk": 1, "breached": 0}
    ticket.refresh_from_db()
    assert ticket.sla_state == "at_risk"
    instance = ProcessInstance.unscoped.get(pk=ticket.escalation_id)
    assert instance.definition.key == "ticket_escalation" and instance.status == "running"
    assert instance.object_id == ticket.pk
    # a second check does nothing more
    assert sla.sla_check(now=f.local(company_a, 2026, 3, 9, 11, 40), company=company_a) == {
        "at_risk": 0, "breached": 0}  # fmt: skip
    tickets.ticket_resolve(ticket=ticket, actor=agent, resolution="Fixed",
                           now=f.local(company_a, 2026, 3, 9, 11, 45))  # fmt: skip
    instance.refresh_from_db()
    assert instance.status == "completed"
    assert instance.data["outcome"] == "resolved"
    assert ticket.first_response_met is True and ticket.resolution_met is True


def test_breach_is_marked_and_sticks(company_a, users_a, svc):
    ticket = f.ticket(company_a, priority="urgent", now=_friday(company_a))  # 1 h / 4 h
    counts = sla.sla_check(now=f.local(company_a, 2026, 3, 9, 9, 30), company=company_a)
    assert counts == {"at_risk": 0, "breached": 1}  # first response was due Friday 18:00
    ticket.refresh_from_db()
    assert ticket.sla_state == "breached" and ticket.escalation_id is not None
    tickets.ticket_reply(ticket=ticket, actor=users_a["service_agent"], body="Sorry",
                         now=f.local(company_a, 2026, 3, 9, 9, 40))  # fmt: skip
    assert ticket.first_response_met is False and ticket.sla_state == "breached"


# --- assignment ------------------------------------------------------------------------------------


def test_least_loaded_agent_with_the_skill(company_a, users_a, svc):
    repair = f.category(company_a, "Repairs", skill="repair")
    busy = f.agent(company_a, ["repair", "ebike"])
    idle = f.agent(company_a, ["repair"])
    f.agent(company_a, [])  # no skill: never gets a repair ticket
    for _n in range(2):
        tickets.ticket_assign(
            ticket=f.ticket(company_a, category=repair), actor=None, assignee=busy
        )
    tickets.ticket_assign(ticket=f.ticket(company_a), actor=None, assignee=idle)
    ticket = f.ticket(company_a, category=repair, assign=True)
    assert ticket.assignee == idle  # 1 open ticket against 2
    for row in Ticket.unscoped.filter(assignee=busy):
        tickets.ticket_resolve(ticket=row, actor=None, resolution="ok")
    assert f.ticket(company_a, category=repair, assign=True).assignee == busy  # now 0 against 2
    # a skill nobody has: the shared queue
    rare = f.category(company_a, "Frames", skill="welding")
    assert f.ticket(company_a, category=rare, assign=True).assignee is None


def test_no_skill_goes_to_the_least_loaded_agent(company_a, users_a, svc):
    loaded = users_a["service_agent"]
    tickets.ticket_assign(ticket=f.ticket(company_a), actor=None, assignee=loaded)
    fresh = f.agent(company_a)
    assert f.ticket(company_a, assign=True).assignee == fresh


# --- knowledge base ---------------------------------------------------------------------------------


def _articles(company):  # type: ignore[no-untyped-def]
    make = knowledge.article_create
    battery = make(company=company, actor=None, language="en", publish=True,
                   title="E-bike battery does not charge",
                   body="If the battery does not charge, check the charger LED and the fuse.")  # fmt: skip
    brakes = make(company=company, actor=None, language="en", publish=True,
                  title="Adjusting disc brakes", body="Squeaking brakes: clean the rotor.")  # fmt: skip
    invoice = make(company=company, actor=None, language="en", publish=True,
                   title="Asking for an invoice copy", body="Download invoices in the portal.")  # fmt: skip
    make(
        company=company,
        actor=None,
        language="en",
        title="Battery draft",
        body="battery battery charge charge",
    )  # a draft is never suggested
    zh = knowledge.article_translate(article=battery, actor=None, language="zh-hans",
                                     title="电助力车电池无法充电",
                                     body="电池充不进电时，请检查充电器指示灯和保险丝。")  # fmt: skip
    return battery, brakes, invoice, zh


def test_tfidf_ranks_the_right_article_first(company_a, svc):
    battery, brakes, invoice, zh = _articles(company_a)
    ticket = f.ticket(company_a, subject="Battery won't charge overnight",
                      description="My e-bike battery does not charge any more.")  # fmt: skip
    found = knowledge.suggestions(ticket, language="en")
    assert [a for a, _score in found][0] == battery
    assert brakes not in [a for a, _s in found[:1]]
    assert all(a.state == "published" for a, _s in found)
    # in Chinese, the same group is shown in the reader's language
    ticket_zh = f.ticket(company_a, subject="电池充不进电", description="新买的车电池充不进电")
    found = knowledge.suggestions(ticket_zh, language="zh-hans")
    assert found[0][0] == zh
    assert knowledge.suggestions(ticket, language="zh-hans")[0][0] == zh
    assert knowledge.terms("电池充电") == ["电池", "池充", "充电"]
    assert knowledge.rank("nothing shared", [(1, "alpha", "beta")]) == []


def test_translations_and_language_choice(company_a, svc):
    battery, _brakes, _invoice, zh = _articles(company_a)
    with pytest.raises(ValidationError):
        knowledge.article_translate(article=zh, actor=None, language="en", title="x", body="y")
    assert knowledge.in_language([battery, zh], "zh-hans") == [zh]
    assert knowledge.in_language([battery, zh], "zh-hant") == [battery]  # the original


def test_resolved_ticket_becomes_a_draft_article(company_a, users_a, svc):
    agent = users_a["service_agent"]
    repair = f.category(company_a, "Repairs", skill="repair")
    ticket = f.ticket(company_a, subject="Chain slips", description="The chain slips in gear 7",
                      category=repair)  # fmt: skip
    with pytest.raises(CrmError):
        tickets.article_from_ticket(ticket=ticket, actor=agent)
    tickets.ticket_resolve(ticket=ticket, actor=agent, resolution="Adjust the derailleur cable.")
    article = tickets.article_from_ticket(ticket=ticket, actor=agent)
    assert article.state == "draft" and article.title == "Chain slips"
    assert "gear 7" in article.body and "derailleur" in article.body
    assert article.category == repair and article.source_ticket == ticket
    knowledge.article_publish(article=article, actor=agent)
    assert KnowledgeArticle.unscoped.get(pk=article.pk).state == "published"


# --- warranty and RMA ------------------------------------------------------------------------------


@pytest.fixture
def delivered(company_a):  # type: ignore[no-untyped-def]
    """A serial-tracked e-bike (category "E-bikes") delivered to a customer today."""
    from django.utils import timezone

    from xietong.inventory import pickings
    from xietong.inventory.models import Lot, Move
    from xietong.product.services import category_create
    from xietong.sales import documents
    from xietong.sales.tests.factories import D, item, shop

    s = shop(company_a)
    ebikes = category_create(company=company_a, actor=None, name="E-bikes")
    bike = item(company_a, "3000", tracking="serial", category=ebikes)
    picking = pickings.receipt_create(
        company=company_a, warehouse=s.warehouse, scheduled_date=timezone.localdate(),
        lines=[{"product": bike, "quantity": D(2), "unit_cost": D(2000)}],
    )[0]  # fmt: skip
    move = Move.unscoped.get(picking=picking)
    pickings.picking_done(picking=picking, lots={move.pk: ["SN-A1", "SN-A2"]})
    party, contact = f.customer(company_a)
    order = documents.order_create(company=company_a, actor=None, party=party,
                                   lines=[{"product": bike, "quantity": D(1)}])  # fmt: skip
    order = documents.order_confirm(order=order, actor=None)
    for out in documents.order_pickings(order):
        if out.state == "ready":
            pickings.picking_done(picking=out)
    line = order.lines.get()
    sent = Move.unscoped.get(source_id=line.pk, to_location__usage="customer").lot
    kept = Lot.unscoped.exclude(pk=sent.pk).get(product=bike)
    return {"party": party, "contact": contact, "bike": bike, "lot": sent, "kept": kept,
            "order": order, "category": ebikes}  # fmt: skip


def test_warranty_in_and_out(company_a, delivered):
    from django.utils import timezone

    today = timezone.localdate()
    ticket = f.ticket(company_a, delivered["party"], lot=delivered["lot"])
    assert ticket.product == delivered["bike"]
    status = warranty.warranty_check(ticket, on=today)
    assert status.covered is True and status.months == 12 and status.delivered_on == today
    assert status.until == warranty.add_months(today, 12)
    assert warranty.warranty_check(ticket, on=warranty.add_months(today, 13)).covered is False
    service_setup.warranty_rule_set(company=company_a, actor=None, months=24,
                                    product_category=delivered["category"])  # fmt: skip
    assert warranty.warranty_check(ticket, on=warranty.add_months(today, 13)).covered is True
    service_setup.warranty_rule_set(company=company_a, actor=None, months=6)  # the default
    assert warranty.warranty_check(ticket, on=today).months == 24  # the category's rule wins
    # a lot never delivered to this customer: nothing to check
    other = f.ticket(company_a, delivered["party"], lot=delivered["kept"])
    assert warranty.warranty_check(other).covered is None
    stranger, _contact = f.customer(company_a)
    assert warranty.warranty_check(f.ticket(company_a, stranger, lot=delivered["lot"])
                                   ).covered is None  # fmt: skip
    assert warranty.add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)


def test_rma_from_ticket(company_a, users_a, delivered):
    ticket = f.ticket(company_a, delivered["party"], lot=delivered["lot"], subject="Motor dead")
    warranty.ticket_rma_create(ticket=ticket, actor=users_a["sales_manager"], reason="Motor dead")
    ticket.refresh_from_db()
    rma = ticket.rma
    assert rma.state == "authorised" and rma.order == delivered["order"]
    line = rma.lines.get()
    assert line.lot == delivered["lot"] and line.quantity == Decimal(1)
    assert ticket.sales_order == delivered["order"]
    with pytest.raises(CrmError):
        warranty.ticket_rma_create(ticket=ticket, actor=None)
    with pytest.raises(CrmError):
        warranty.ticket_rma_create(ticket=f.ticket(company_a, delivered["party"]), actor=None)


# --- surveys and reports ----------------------------------------------------------------------------


def test_survey_token_answered_once(company_a, users_a, svc):
    ticket = f.ticket(company_a)
    tickets.ticket_resolve(ticket=ticket, actor=None, resolution="ok")
    survey = SatisfactionSurvey.unscoped.get(ticket=ticket)
    assert len(survey.token) >= 32
    with pytest.raises(SatisfactionSurvey.DoesNotExist):
        tickets.survey_answer(token=survey.token[:-2] + "xx", score=5)
    with pytest.raises(ValidationError):
        tickets.survey_answer(token=survey.token, score=6)
    tickets.survey_answer(token=survey.token, score=4, comment="Quick help")
    with pytest.raises(CrmError):
        tickets.survey_answer(token=survey.token, score=1)
    survey.refresh_from_db()
    assert survey.score == 4 and survey.comment == "Quick help"


def test_reports_by_agent_and_priority(company_a, users_a, svc):
    ann, bob = f.agent(company_a, name="ann"), f.agent(company_a, name="bob")
    friday = _friday(company_a, 9)

    def done(agent, priority, first_hour, resolve_day, score=None):  # type: ignore[no-untyped-def]
        ticket = f.ticket(company_a, priority=priority, now=friday)
        tickets.ticket_assign(ticket=ticket, actor=None, assignee=agent)
        tickets.ticket_reply(ticket=ticket, actor=agent, body="Looking",
                             now=f.local(company_a, 2026, 3, 6, first_hour))  # fmt: skip
        tickets.ticket_resolve(ticket=ticket, actor=agent, resolution="ok",
                               now=f.local(company_a, 2026, 3, resolve_day, 12))  # fmt: skip
        if score:
            tickets.survey_answer(token=ticket.survey.token, score=score,
                                  now=f.local(company_a, 2026, 3, 20, 12))  # fmt: skip

    # normal: 4 h / 16 h from Friday 9:00 → first response by 13:00, resolution by Monday 16:00
    done(ann, "normal", 10, 9, score=5)  # both met
    done(ann, "normal", 15, 9, score=3)  # first response late, resolution met (Monday 12:00)
    done(bob, "normal", 10, 10, score=4)  # resolution late (Tuesday)
    # high: 2 h / 8 h → first response by 11:00, resolution by Friday 17:00
    done(bob, "high", 10, 9)  # resolution late
    rows, total = service_reports.sla_attainment(company=company_a, start=dt.date(2026, 3, 1),
                                                 end=dt.date(2026, 3, 31), by="agent")  # fmt: skip
    by = {r.label: r for r in rows}
    assert total.tickets == 4 and total.first_response_met == 3
    assert total.resolution_met == 2 and total.resolution_percent == Decimal("50.0")
    assert by[str(ann)].first_response_percent == Decimal("50.0")
    assert by[str(ann)].resolution_percent == Decimal("100.0")
    assert by[str(bob)].resolution_percent == Decimal("0.0")
    rows, total = service_reports.sla_attainment(company=company_a, start=dt.date(2026, 3, 1),
                                                 end=dt.date(2026, 3, 31), by="priority")  # fmt: skip
    assert [r.key for r in rows] == ["high", "normal"]
    assert rows[1].first_response_percent == Decimal("66.7")
    rows, total = service_reports.csat(company=company_a, start=dt.date(2026, 3, 1),
                                       end=dt.date(2026, 3, 31), by="agent")  # fmt: skip
    assert total.answered == 3 and total.average == Decimal("4.00")
    assert total.satisfied_percent == Decimal("66.7")
    assert {r.label: r.average for r in rows} == {str(ann): Decimal("4.00"),
                                                  str(bob): Decimal("4.00")}  # fmt: skip
    rows, total = service_reports.csat(company=company_a, start=dt.date(2026, 4, 1),
                                       end=dt.date(2026, 4, 30))  # fmt: skip
    assert rows == [] and total.average is None


# --- isolation ----------------------------------------------------------------------------------------


def test_other_company_rows_are_unreachable(company_a, company_b, users_a, svc):
    theirs = f.ticket(company_b)
    their_category = f.category(company_b, "Theirs")
    with pytest.raises(ValidationError) as error:
        f.ticket(company_a, category=their_category)
    assert "category" in error.value.message_dict
    with pytest.raises(ValidationError):
        tickets.ticket_assign(ticket=f.ticket(company_a), actor=None,
                              assignee=f.agent(company_b))  # fmt: skip
    mine = f.ticket(company_a)
    assert mine.sla_policy is not None and theirs.sla_policy is None  # B has no policies
    assert sla.sla_check(now=f.local(company_a, 2030, 1, 7, 12), company=company_b) == {
        "at_risk": 0, "breached": 0}  # fmt: skip
    assert TicketMessage.unscoped.filter(ticket=theirs).count() == 1
