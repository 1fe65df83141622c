"""The demo's workflow step: the shipped processes deployed, and instances in every state."""

from __future__ import annotations

import pytest
from django.utils import timezone

from xietong.demo import core, party
from xietong.demo import workflow as demo_workflow
from xietong.demo.context import DemoContext
from xietong.workflow import selectors, shipped
from xietong.workflow.models import ProcessDefinition, ProcessInstance, Task

pytestmark = pytest.mark.django_db


def test_workflow_step_fills_the_inbox() -> None:
    ctx = DemoContext(seed=1, size="small")
    core.run(ctx)
    party.run(ctx)
    demo_workflow.run(ctx)
    main = ctx.companies["main"]

    keys = set(ProcessDefinition.unscoped.filter(company=main).values_list("key", flat=True))
    assert keys == {process.key for process in shipped.SHIPPED}
    instances = ProcessInstance.unscoped.filter(company=main)
    counts = {key: instances.filter(definition__key=key).count() for key in sorted(keys)}
    assert counts == {
        "credit_override": 1,
        "leave_request": 2,
        "purchase_order_approval": 4,
        "quotation_approval": 6,
        "ticket_escalation": 2,
        "supplier_invoice_mismatch": 0,  # the purchase step starts its own
    }
    assert not instances.filter(status=ProcessInstance.Status.FAILED).exists()
    outcomes = [i.data["outcome"] for i in instances.filter(status="completed")]
    assert sorted(outcomes) == sorted(
        ["approved", "approved", "approved", "rejected", "approved", "approved", "resolved"]
    )
    tasks = Task.unscoped.filter(company=main)
    assert tasks.filter(status=Task.Status.DONE).exists()
    assert tasks.filter(status=Task.Status.OPEN, due_at__lt=timezone.now()).exists()
    for role in ("sales_manager", "executive", "buyer", "accountant", "hr_officer"):
        assert selectors.open_tasks_for(ctx.users[role], main).exists(), role
    assert ctx.log[-1].startswith(f"{len(shipped.SHIPPED)} processes, 15 instances")
