"""E-mail reminders of activities: each owner gets one e-mail listing their activities overdue or
due within a day, in their own language, once per activity (`reminded_at`); done, far-off and
ownerless activities are left out; the sweep is registered with the worker."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from xietong.core import jobs
from xietong.core.tenancy import company_scope
from xietong.crm import reminders, services
from xietong.crm.models import Activity
from xietong.crm.tests import factories

pytestmark = pytest.mark.django_db


def _activity(company, opportunity, owner, subject, due, **fields):  # type: ignore[no-untyped-def]
    with company_scope(company):
        return services.activity_create(company=company, actor=owner, opportunity=opportunity,
                                        subject=subject, due_date=due, owner=owner, **fields)  # fmt: skip


def test_reminders_once_per_activity_in_the_owners_language(company_a, company_b, users_b,
                                                            sales):  # fmt: skip
    now = timezone.now()
    today = timezone.localdate(now)
    sales.rep.email, sales.rep.language = "rep@example.com", "en"
    sales.rep.save()
    sales.rep2.email, sales.rep2.language = "rep2@example.com", "zh-hans"
    sales.rep2.save()
    deal = factories.opportunity(company_a, sales.east, owner=sales.rep, name="Velo 2026")
    overdue = _activity(company_a, deal, sales.rep, "Call back Mr Zhou",
                        today - dt.timedelta(days=2))  # fmt: skip
    soon = _activity(company_a, deal, sales.rep, "Factory visit", today + dt.timedelta(days=1),
                     kind="meeting")  # fmt: skip
    later = _activity(company_a, deal, sales.rep, "Quarterly review", today + dt.timedelta(days=9))
    done = _activity(company_a, deal, sales.rep, "Old call", today - dt.timedelta(days=5),
                     done=True)  # fmt: skip
    chinese = _activity(company_a, deal, sales.rep2, "Send samples", today, kind="meeting")
    b_team = factories.team(company_b, "B", members=[users_b["sales_rep"]])
    b_deal = factories.opportunity(company_b, b_team, owner=users_b["sales_rep"])
    b_owner = users_b["sales_rep"]
    b_owner.email = ""
    b_owner.save()
    b_activity = _activity(company_b, b_deal, b_owner, "No mailbox", today)

    assert reminders.activity_reminders_send(now=now) == 2
    by_to = {m.to[0]: m for m in mail.outbox}
    assert set(by_to) == {"rep@example.com", "rep2@example.com"}
    english = by_to["rep@example.com"]
    assert "2 activities due" in english.subject and company_a.name in english.subject
    assert "Call back Mr Zhou" in english.body and "Factory visit" in english.body
    assert "[overdue] Call: Call back Mr Zhou (Velo 2026)" in english.body
    assert "Quarterly review" not in english.body and "Old call" not in english.body
    assert f"/crm/opportunities/{deal.pk}/" in english.body
    assert "会议" in by_to["rep2@example.com"].body  # the meeting, in Simplified Chinese
    assert "Send samples" in by_to["rep2@example.com"].body

    reminded = set(Activity.unscoped.filter(reminded_at__isnull=False).values_list("pk", flat=True))
    assert reminded == {overdue.pk, soon.pk, chinese.pk, b_activity.pk}  # no mailbox: marked too
    assert later.pk not in reminded and done.pk not in reminded

    mail.outbox.clear()
    assert reminders.activity_reminders_send(now=now) == 0 and mail.outbox == []  # once
    # the far-off one when its day comes
    assert reminders.activity_reminders_send(now=now + dt.timedelta(days=8)) == 1
    assert "Quarterly review" in mail.outbox[0].body


def test_reminders_are_a_periodic_job():
    assert jobs._PERIODIC["crm.activity_reminders"] is reminders.activity_reminders_periodic
