"""Screens of the sales pipeline in the shell's navigation (xietong.core.menu), area "crm"."""

import datetime as dt
from typing import Any

from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from xietong.core import inbox, menu
from xietong.core.permissions import has_perm
from xietong.crm.models import Activity

CRM = (
    (_("Pipeline"), "crm:pipeline", "crm.view", 20),
    (_("Leads"), "crm:lead_list", "crm.view", 30),
    (_("Import leads"), "crm:lead_import", "crm.sell", 35),
    (_("Opportunities"), "crm:opportunity_list", "crm.view", 40),
    (_("Pipeline forecast"), "crm:forecast", "crm.view", 50),
)

SETTINGS = (
    (_("Sales teams"), "crm:team_list", "crm.manage", 80),
    (_("Sales territories and mailboxes"), "crm:territory_list", "crm.manage", 81),
)


def activity_work_items(request: Any) -> list[inbox.WorkItem]:
    """The home page's "my tasks": the user's open activities (calls, meetings, e-mails,
    tasks) in the active company, the most urgent first — the reminder of what is due."""
    if getattr(request, "company", None) is None or not has_perm(request, "crm.view"):
        return []
    rows = (
        Activity.objects.filter(owner=request.user, done=False)
        .order_by(F("due_at").asc(nulls_last=True), F("due_date").asc(nulls_last=True), "pk")
        .only("pk", "kind", "subject", "due_at", "due_date", "lead_id", "opportunity_id")[:10]
    )
    items = []
    for row in rows:
        due = row.due_at
        if due is None and row.due_date is not None:  # due by the end of that day
            due = timezone.make_aware(dt.datetime.combine(row.due_date, dt.time(23, 59)))
        url = (reverse("crm:opportunity_detail", args=[row.opportunity_id]) if row.opportunity_id
               else reverse("crm:lead_detail", args=[row.lead_id]))  # fmt: skip
        items.append(inbox.WorkItem(title=f"{row.get_kind_display()}: {row.subject}", url=url,
                                    kind=str(_("Activity")), due=due))  # fmt: skip
    return items


def register() -> None:
    """Add this module's screens to the menu (each with the permission it needs), and its
    open activities to the home page's work items."""
    for area, items in (("crm", CRM), ("settings", SETTINGS)):
        for label, url_name, permission, order in items:
            menu.add(area, label, url_name, permission, order)
    inbox.register(activity_work_items)
