"""The shipped quotation discount approval, run as real role users."""

from __future__ import annotations

from decimal import Decimal

import pytest

from xietong.core import jobs
from xietong.core.roles import role_permissions
from xietong.workflow import services, shipped
from xietong.workflow.models import ProcessInstance, Task

pytestmark = pytest.mark.django_db


def _start(company, user, **data):  # type: ignore[no-untyped-def]
    return services.process_start(
        company=company, actor=user, key="quotation_approval", record=user, data=data
    )


def _open(instance):  # type: ignore[no-untyped-def]
    return list(Task.unscoped.filter(instance=instance, status=Task.Status.OPEN))


def _data(instance):  # type: ignore[no-untyped-def]
    return ProcessInstance.unscoped.get(pk=instance.pk).data


def test_quotation_approval_levels(company_a, users_a) -> None:
    shipped.deploy_shipped(company=company_a, actor=users_a["admin"], key="quotation_approval")
    rep, manager, executive = users_a["sales_rep"], users_a["sales_manager"], users_a["executive"]

    small = _start(
        company_a, rep, customer_group="retail", discount_percent=3, amount=Decimal(5000)
    )
    assert _open(small) == []
    assert _data(small)["outcome"] == "approved"

    key_account = _start(
        company_a, rep, customer_group="key_account", discount_percent=8, amount=9000
    )
    assert _data(key_account)["approval"] == "none"

    medium = _start(company_a, rep, customer_group="retail", discount_percent=12, amount=9000)
    (task,) = _open(medium)
    assert task.role == "sales_manager"
    services.task_complete(task=task, actor=manager, outcome="approved")
    assert _data(medium)["outcome"] == "approved"

    large = _start(company_a, rep, customer_group="retail", discount_percent=30, amount=9000)
    (task,) = _open(large)
    services.task_complete(task=task, actor=manager, outcome="approved")
    (task,) = _open(large)
    assert task.role == "executive"
    services.task_complete(task=task, actor=executive, outcome="rejected", comment="too much")
    assert _data(large)["outcome"] == "rejected"

    big_deal = _start(
        company_a, rep, customer_group="key_account", discount_percent=6, amount=2_000_000
    )
    (task,) = _open(big_deal)
    services.task_complete(task=task, actor=manager, outcome="rejected")
    assert _data(big_deal)["outcome"] == "rejected"
    assert _open(big_deal) == []


def test_permissions_and_worker_hook() -> None:
    assert "workflow.task" in role_permissions("sales_rep")
    assert "workflow.task" in role_permissions("warehouse_clerk")
    assert "workflow.task" not in role_permissions("portal_customer")
    assert "workflow.manage" not in role_permissions("sales_manager")
    assert {"workflow.view", "workflow.task", "workflow.manage"} <= set(role_permissions("admin"))
    assert jobs._PERIODIC["workflow.timers"] is services.timers_run
