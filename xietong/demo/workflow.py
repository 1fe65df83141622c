"""Demo step for workflow: the shipped processes deployed for the main company, and a handful of
instances in every state so that the inbox has open, done and overdue tasks.

- 6 quotation discount approvals on demo customers: two within the group's free discount
  (approved at once), one approved and one rejected by the sales manager, one waiting for the
  sales manager for four days (overdue) and one the sales manager passed on to the executive;
- 4 purchase order approvals on suppliers, one per band: auto-approved, approved by the buyer,
  finance approved with the buyer's approval still open, and a large order waiting for the
  executive and finance (overdue);
- 1 credit limit override waiting for the sales manager;
- 2 leave requests: a sales rep's waiting for the sales manager, a warehouse clerk's approved by
  the executive and waiting for HR's confirmation;
- 2 service ticket escalations: one resolved in time (the "ticket.resolved" message), one whose
  SLA timer fired, now with the sales manager.

Instances are started "in the past" (the services take `now`), so due dates fall before today
where a task should look overdue. No leave request is old enough for its escalation timer.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from xietong.core.models import Membership, User
from xietong.demo.context import DemoContext
from xietong.party.models import Party
from xietong.workflow import services, shipped
from xietong.workflow.models import ProcessInstance, Task


def _open(instance: ProcessInstance, role: str) -> Task:
    return Task.unscoped.get(instance=instance, status=Task.Status.OPEN, role=role)


def run(ctx: DemoContext) -> None:
    main = ctx.companies["main"]
    users: dict[str, User] = ctx.users
    now = timezone.now()

    def ago(**delta: float) -> dt.datetime:
        return now - dt.timedelta(**delta)

    def start(
        key: str, *, at: dt.datetime, actor: User, record: Any, **data: Any
    ) -> ProcessInstance:
        return services.process_start(
            company=main, actor=actor, key=key, record=record, data=data, now=at
        )

    def complete(instance, role, outcome, *, at, comment=""):  # type: ignore[no-untyped-def]
        services.task_complete(
            task=_open(instance, role), actor=users[role], outcome=outcome, comment=comment, now=at
        )

    shipped.deploy_all(company=main, actor=users["admin"])

    customers = list(
        Party.unscoped.filter(
            company=main, is_customer=True, active=True, customer_group__isnull=False
        )
        .select_related("customer_group")
        .order_by("code")[:200]
    )
    suppliers = list(
        Party.unscoped.filter(company=main, is_supplier=True, active=True).order_by("code")[:40]
    )
    picked = ctx.rng.sample(customers, 9)
    rep = users["sales_rep"]

    # Quotation discount approvals: (days ago, discount %, amount, then what happens).
    quotations = [
        (6, Decimal("3"), Decimal("18600"), None),
        (5, Decimal("2"), Decimal("7450"), None),
        (5, Decimal("14"), Decimal("42800"), ("sales_manager", "approved", "老客户，同意")),
        (3, Decimal("15"), Decimal("23900"), ("sales_manager", "rejected", "折扣过高，请重新报价")),
        (4, Decimal("13"), Decimal("31200"), "open"),
        (1, Decimal("25"), Decimal("128000"), ("sales_manager", "approved", "大单，请总经理审批")),
    ]
    for party, (days, discount, amount, then) in zip(picked, quotations, strict=False):
        instance = start(
            "quotation_approval",
            at=ago(days=days),
            actor=rep,
            record=party,
            customer=party.name,
            customer_group=party.customer_group.code,
            discount_percent=discount,
            amount=amount,
        )
        if isinstance(then, tuple):
            role, outcome, comment = then
            complete(instance, role, outcome, at=ago(days=days, hours=-5), comment=comment)

    # Purchase order approvals, one per band: (days ago, amount, then what happens).
    buyer = users["buyer"]
    purchases = [
        (7, Decimal("8560"), []),
        (3, Decimal("23400"), [("buyer", "approved", "")]),
        (1, Decimal("68200"), [("accountant", "approved", "预算内")]),
        (4, Decimal("186500"), []),
    ]
    for supplier, (days, amount, steps) in zip(
        ctx.rng.sample(suppliers, len(purchases)), purchases, strict=True
    ):
        instance = start(
            "purchase_order_approval",
            at=ago(days=days),
            actor=buyer,
            record=supplier,
            supplier=supplier.name,
            amount=amount,
        )
        for role, outcome, comment in steps:
            complete(instance, role, outcome, at=ago(days=days, hours=-4), comment=comment)

    # A sales order over the customer's credit limit.
    over = picked[6]
    start(
        "credit_override",
        at=ago(hours=6),
        actor=rep,
        record=over,
        customer=over.name,
        credit_limit=over.credit_limit or Decimal("100000"),
        open_balance=(over.credit_limit or Decimal("100000")) - Decimal("12000"),
        order_total=Decimal("36800"),
    )

    # Leave requests: the requester's manager is the sales manager for sales reps, else the
    # executive (as the core demo step sets up the memberships).
    def leave(requester: User, *, at: dt.datetime, days: int, first_day: dt.date):  # type: ignore[no-untyped-def]
        membership = Membership.unscoped.get(company=main, user=requester)
        by_sales_manager = membership.manager_id == users["sales_manager"].pk
        manager_role = "sales_manager" if by_sales_manager else "executive"
        return start(
            "leave_request",
            at=at,
            actor=requester,
            record=requester,
            requester=requester.username,
            manager_role=manager_role,
            leave_type="annual",
            days=days,
            start_date=first_day.isoformat(),
            end_date=(first_day + dt.timedelta(days=days - 1)).isoformat(),
        )

    today = timezone.localdate()
    leave(rep, at=ago(hours=20), days=3, first_day=today + dt.timedelta(days=14))
    clerk = leave(
        users["warehouse_clerk"], at=ago(hours=30), days=2, first_day=today + dt.timedelta(days=7)
    )
    complete(clerk, "executive", "approved", at=ago(hours=26))

    # Service tickets at SLA risk: one resolved in time, one escalated by its timer.
    resolved, escalated = picked[7], picked[8]
    agent = users["service_agent"]
    start(
        "ticket_escalation",
        at=ago(hours=3),
        actor=agent,
        record=resolved,
        customer=resolved.name,
        ticket="T-2041",
        priority="high",
    )
    services.message_signal(
        company=main,
        record=resolved,
        name="ticket.resolved",
        payload={"resolved_by": agent.username},
        now=ago(hours=1),
    )
    ticket = start(
        "ticket_escalation",
        at=ago(hours=5),
        actor=agent,
        record=escalated,
        customer=escalated.name,
        ticket="T-2037",
        priority="high",
    )
    services.timers_run(now=ago(minutes=50))  # the escalation timer fired 50 minutes ago
    _open(ticket, "sales_manager")  # raises if it did not

    instances = ProcessInstance.unscoped.filter(company=main)
    tasks = Task.unscoped.filter(company=main)
    ctx.log.append(
        f"{len(shipped.SHIPPED)} processes, {instances.count()} instances "
        f"({instances.filter(status=ProcessInstance.Status.RUNNING).count()} running), "
        f"{tasks.filter(status=Task.Status.OPEN).count()} open tasks "
        f"({tasks.filter(status=Task.Status.OPEN, due_at__lt=now).count()} overdue)"
    )
