"""E-mail reminders of CRM activities: the worker's periodic sweep (`core.jobs.register_periodic`)
e-mails each owner, once per activity, the calls, meetings, e-mails and tasks that are overdue or
due within `AHEAD` — one message per owner and company listing them, in the owner's language
(`User.language`), with a link to each. An activity is reminded once (`Activity.reminded_at`);
one that is done, or has no owner or no due date, is not. An owner without an e-mail address is
marked reminded all the same (the home page's work items show the activities anyway). The links
start with `settings.SITE_URL` (env `XIETONG_SITE_URL`); without it they are paths only."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from xietong.crm.mailing import site_url
from xietong.crm.models import Activity

logger = logging.getLogger(__name__)
AHEAD = dt.timedelta(days=1)


def _due_soon(now: dt.datetime) -> Q:
    horizon = now + AHEAD
    return Q(due_at__isnull=False, due_at__lte=horizon) | Q(
        due_at__isnull=True, due_date__isnull=False, due_date__lte=timezone.localdate(horizon)
    )


def _link(activity: Activity) -> str:
    if activity.opportunity_id:
        path = reverse("crm:opportunity_detail", args=[activity.opportunity_id])
    else:
        path = reverse("crm:lead_detail", args=[activity.lead_id])
    return f"{site_url(fallback='')}{path}"  # without SITE_URL: the path alone


def _message(owner: Any, company: Any, rows: list[Activity], now: dt.datetime) -> EmailMessage:
    today = timezone.localdate(now)
    with translation.override(owner.language or settings.LANGUAGE_CODE):
        items = [
            {
                "kind": row.get_kind_display(),
                "subject": row.subject,
                "about": str(row.opportunity or row.lead or ""),
                "due": row.due_at or row.due_date,
                "overdue": (row.due_date or today) < today
                or (row.due_at is not None and row.due_at < now),
                "url": _link(row),
            }
            for row in rows
        ]
        context = {"owner": owner, "company": company, "items": items,
                   "overdue": sum(1 for i in items if i["overdue"])}  # fmt: skip
        subject = " ".join(render_to_string("crm/email/reminder_subject.txt", context).split())
        body = render_to_string("crm/email/reminder_body.txt", context)
    return EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL,
                        to=[owner.email])  # fmt: skip


def activity_reminders_send(*, now: dt.datetime | None = None, limit: int = 1000) -> int:
    """E-mail each owner the open activities overdue or due within `AHEAD` of `now` not yet
    reminded (at most `limit` per sweep, the most urgent first); returns the number of e-mails
    sent. Each owner's activities are locked (rows another worker holds are skipped on
    PostgreSQL), e-mailed and marked `reminded_at` in one transaction per owner and company:
    when the mail server refuses, they stay unreminded for the next sweep."""
    now = now or timezone.now()
    pending = list(
        Activity.unscoped.filter(done=False, reminded_at__isnull=True, owner__isnull=False)
        .filter(_due_soon(now))
        .order_by("due_date", "pk")
        .values_list("pk", "owner_id", "company_id")[:limit]
    )
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for pk, owner_id, company_id in pending:
        groups[(owner_id, company_id)].append(pk)
    skip = {"skip_locked": True} if connection.features.has_select_for_update_skip_locked else {}
    sent = 0
    for ids in groups.values():
        try:
            with transaction.atomic():
                rows = list(
                    Activity.unscoped.select_for_update(of=("self",), **skip)
                    .filter(pk__in=ids, done=False, reminded_at__isnull=True)
                    .select_related("owner", "company", "opportunity", "lead")
                    .order_by("due_date", "due_at", "pk")
                )
                if not rows:
                    continue
                owner = rows[0].owner
                if owner.email and owner.is_active:
                    _message(owner, rows[0].company, rows, now).send()
                    sent += 1
                Activity.unscoped.filter(pk__in=[r.pk for r in rows]).update(reminded_at=now)
        except Exception:  # one owner's mail failing does not stop the others
            logger.exception("activity reminders for activities %s failed", ids)
    return sent


def activity_reminders_periodic() -> None:
    """The worker's periodic call (registered by `xietong.crm.customer.register`)."""
    activity_reminders_send()
