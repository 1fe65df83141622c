"""Sample requests of the workflow API operations for the role × operation matrix
(xietong/api/tests/test_permissions.py), and the helpers the workflow API tests share: each
sample makes what its request needs in the caller's company (a running quotation approval with
one task, given to the caller or put in the queue of the caller's role) and returns the
request's path parameters, body and query."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from xietong.core.models import Company, Membership, User
from xietong.core.services import user_create
from xietong.party.services import party_create
from xietong.workflow import selectors, services, shipped
from xietong.workflow.models import ProcessInstance, Task

_n = itertools.count(1)

PROCESS = "quotation_approval"
# A retail quotation at 12 % discount needs the sales manager's approval only: one user task.
ONE_APPROVAL = {"customer_group": "retail", "discount_percent": 12, "amount": 9000}


def deployed(company: Company) -> None:
    """Deploy the shipped quotation approval in `company` unless a version is active, with its
    tasks left in the role queue (manual claim) so the tests can claim, release and delegate."""
    if selectors.definition_active(company=company, key=PROCESS) is None:
        process = shipped.BY_KEY[PROCESS]
        services.definition_deploy(
            company=company,
            actor=None,
            key=PROCESS,
            name=str(process.name),
            bpmn_xml=process.bpmn_xml().replace(
                'name="dispatch" value="least_loaded"', 'name="dispatch" value="manual"'
            ),
            dmn_xmls=process.dmn_xmls(),
            process_id=process.process_id,
        )


def started(company: Company, actor: User | None = None, **data: Any) -> ProcessInstance:
    """A running quotation approval waiting for the sales manager."""
    deployed(company)
    return services.process_start(
        company=company, actor=actor, key=PROCESS, data={**ONE_APPROVAL, **data}
    )


def role_of(user: User, company: Company) -> str:
    """The code of (the first of) the user's roles in `company`."""
    membership = Membership.unscoped.get(user=user, company=company)
    return membership.roles.order_by("code").values_list("code", flat=True)[0]


def open_task(company: Company, *, assignee: User | None = None, role: str | None = None) -> Task:
    """The open task of a new instance, assigned to `assignee` (None: in the queue) and for
    `role` (None: the sales manager's, as modelled)."""
    instance = started(company)
    task = Task.unscoped.get(instance=instance, status=Task.Status.OPEN)
    fields: dict[str, Any] = {"assignee": assignee}
    if role is not None:
        fields["role"] = role
    Task.unscoped.filter(pk=task.pk).update(**fields)
    task.refresh_from_db()
    return task


def colleague(company: Company, role: str) -> User:
    """A new active user of `company` holding `role`."""
    return user_create(
        company=company,
        username=f"wf_colleague_{next(_n)}",
        password=None,
        roles=[role],
        validate=False,
    )


def _sample(
    path_params: dict[str, Any],
    body: dict[str, Any] | None = None,
    query: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {"path_params": path_params, "body": body, "query": query}


def _own(body: dict[str, Any] | None = None) -> Callable[[User, Company], dict[str, Any]]:
    """A request on a task assigned to the caller (for the caller's role)."""

    def make(user: User, company: Company) -> dict[str, Any]:
        task = open_task(company, assignee=user, role=role_of(user, company))
        return _sample({"task_id": task.pk}, body)

    return make


def _claim(user: User, company: Company) -> dict[str, Any]:
    task = open_task(company, role=role_of(user, company))
    return _sample({"task_id": task.pk})


def _delegate(user: User, company: Company) -> dict[str, Any]:
    role = role_of(user, company)
    task = open_task(company, assignee=user, role=role)
    return _sample({"task_id": task.pk}, {"to": colleague(company, role).pk, "reason": "matrix"})


def _reassign(user: User, company: Company) -> dict[str, Any]:
    task = open_task(company, role="sales_manager")
    to = colleague(company, "sales_manager")
    return _sample({"task_id": task.pk}, {"to": to.pk, "reason": "matrix"})


def _instance(user: User, company: Company) -> dict[str, Any]:
    return _sample({"instance_id": started(company).pk})


def _start(user: User, company: Company) -> dict[str, Any]:
    deployed(company)
    return _sample({}, {"process": PROCESS, "data": ONE_APPROVAL})


def _message(user: User, company: Company) -> dict[str, Any]:
    party = party_create(
        company=company,
        actor=None,
        name=f"WF Matrix {next(_n)}",
        is_customer=True,
        allow_duplicate=True,
    )
    return _sample(
        {},
        {
            "name": "payment_received",
            "record_type": "party.party",
            "record_id": party.pk,
            "payload": {"amount": str(Decimal("10.00"))},
        },
    )


# Path parameters of the workflow operations (the anonymous probe fills them with 1).
PATH_PARAMETERS = ("task_id", "instance_id")

# (method, path) -> (user, company) -> keyword arguments of the API matrix's `Sample`.
WORKFLOW_SAMPLES: dict[tuple[str, str], Callable[[User, Company], dict[str, Any]]] = {
    ("GET", "/workflow/tasks"): lambda u, c: _sample({}, query={"box": "mine"}),
    ("GET", "/workflow/tasks/{task_id}"): _own(),
    ("POST", "/workflow/tasks/{task_id}/claim"): _claim,
    ("POST", "/workflow/tasks/{task_id}/release"): _own(),
    ("POST", "/workflow/tasks/{task_id}/complete"): _own({"outcome": "approved"}),
    ("POST", "/workflow/tasks/{task_id}/delegate"): _delegate,
    ("POST", "/workflow/tasks/{task_id}/reassign"): _reassign,
    ("GET", "/workflow/instances"): lambda u, c: _sample({}),
    ("GET", "/workflow/instances/{instance_id}"): _instance,
    ("POST", "/workflow/instances"): _start,
    ("POST", "/workflow/messages"): _message,
    ("GET", "/workflow/definitions"): lambda u, c: _sample({}),
}
