"""The workflow API as real role users signed in by token: the inbox boxes, claiming,
releasing, completing, delegating and reassigning tasks, instances (start, list, detail),
messages and definitions; visibility (404), permissions (403) and refusals (422, nothing
changed); idempotent starts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from xietong.core.models import Company, User
from xietong.core.roles import role_permissions
from xietong.party.tests.conftest import make_party, token_client
from xietong.workflow import services
from xietong.workflow.models import ProcessInstance, Task
from xietong.workflow.tests.api_samples import (
    ONE_APPROVAL,
    colleague,
    deployed,
    open_task,
    started,
)

pytestmark = pytest.mark.django_db

API = "/api/v1/workflow"


def post(client: Client, path: str, body: dict[str, Any] | None = None, **headers: str) -> Any:
    return client.post(
        API + path, json.dumps(body or {}), content_type="application/json", headers=headers
    )


def errors(response: Any) -> dict[str | None, str]:
    assert response["Content-Type"] == "application/problem+json", response.content
    return {e["field"]: e["message"] for e in response.json()["errors"]}


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["items"]]


@pytest.fixture
def manager(users_a: dict[str, User]) -> User:
    return users_a["sales_manager"]


@pytest.fixture
def as_manager(manager: User) -> Client:
    """Company A's sales manager (workflow.task, workflow.dispatch), by token."""
    return token_client(manager)


@pytest.fixture
def as_admin(admin_a: User) -> Client:
    return token_client(admin_a)


@pytest.fixture
def queued(company_a: Company, users_a: dict[str, User]) -> Task:
    """A quotation approval started by the sales rep, waiting in the sales managers' queue."""
    instance = started(company_a, users_a["sales_rep"])
    return Task.unscoped.get(instance=instance, status=Task.Status.OPEN)


def test_inbox_claim_complete(
    as_manager: Client, as_admin: Client, manager: User, queued: Task
) -> None:
    assert ids(as_manager.get(f"{API}/tasks")) == []
    assert ids(as_manager.get(f"{API}/tasks", {"box": "queue"})) == [queued.pk]
    row = as_manager.get(f"{API}/tasks/{queued.pk}").json()
    assert row["role"] == "sales_manager" and row["assignee"] is None
    assert row["process"] == "quotation_approval" and row["outcomes"] == ["approved", "rejected"]
    assert row["effort"] == "1.00" and row["due_at"] and row["overdue"] is False

    claimed = post(as_manager, f"/tasks/{queued.pk}/claim")
    assert claimed.status_code == 200, claimed.content
    assert claimed.json()["assignee"] == manager.pk
    listed = as_manager.get(f"{API}/tasks", {"box": "mine", "limit": 25})
    assert ids(listed) == [queued.pk] and listed.json()["count"] == 1
    assert ids(as_manager.get(f"{API}/tasks", {"box": "queue"})) == []

    bad = post(as_manager, f"/tasks/{queued.pk}/complete", {"outcome": "maybe"})
    assert bad.status_code == 422
    assert "maybe" in errors(bad)["outcome"]
    assert Task.unscoped.get(pk=queued.pk).status == Task.Status.OPEN
    unknown_field = post(
        as_manager, f"/tasks/{queued.pk}/complete", {"outcome": "approved", "bogus": 1}
    )
    assert unknown_field.status_code == 422 and "bogus" in errors(unknown_field)

    done = post(
        as_manager, f"/tasks/{queued.pk}/complete", {"outcome": "approved", "comment": "ok"}
    )
    assert done.status_code == 200, done.content
    body = done.json()
    assert (body["status"], body["outcome"], body["completed_by"]) == (
        "done",
        "approved",
        manager.pk,
    )
    assert ids(as_manager.get(f"{API}/tasks")) == []
    assert ids(as_manager.get(f"{API}/tasks", {"status": "done"})) == [queued.pk]
    again = post(as_manager, f"/tasks/{queued.pk}/complete", {"outcome": "approved"})
    assert again.status_code == 422 and errors(again)[None]

    instance = as_admin.get(f"{API}/instances/{queued.instance_id}").json()
    assert instance["status"] == "completed" and instance["data"]["outcome"] == "approved"
    assert [t["id"] for t in instance["tasks"]] == [queued.pk]


def test_release_and_overdue(as_manager: Client, queued: Task) -> None:
    assert post(as_manager, f"/tasks/{queued.pk}/claim").status_code == 200
    released = post(as_manager, f"/tasks/{queued.pk}/release")
    assert released.status_code == 200 and released.json()["assignee"] is None
    assert ids(as_manager.get(f"{API}/tasks", {"box": "queue"})) == [queued.pk]
    refused = post(as_manager, f"/tasks/{queued.pk}/release")
    assert refused.status_code == 422 and errors(refused)[None]

    assert ids(as_manager.get(f"{API}/tasks", {"box": "overdue"})) == []
    Task.unscoped.filter(pk=queued.pk).update(due_at="2020-01-01T00:00:00Z")
    assert ids(as_manager.get(f"{API}/tasks", {"box": "overdue"})) == [queued.pk]
    assert as_manager.get(f"{API}/tasks/{queued.pk}").json()["overdue"] is True
    history = as_manager.get(f"{API}/tasks", {"box": "queue", "status": "done"})
    assert history.status_code == 422 and "status" in errors(history)


def test_delegate(
    as_manager: Client, company_a: Company, manager: User, users_a: dict[str, User]
) -> None:
    task = open_task(company_a, assignee=manager)
    rep = users_a["sales_rep"]
    no_role = post(as_manager, f"/tasks/{task.pk}/delegate", {"to": rep.pk})
    assert no_role.status_code == 422 and "sales_manager" in errors(no_role)[None]
    nobody = post(as_manager, f"/tasks/{task.pk}/delegate", {"to": 999_999})
    assert nobody.status_code == 422 and "to" in errors(nobody)
    assert Task.unscoped.get(pk=task.pk).assignee_id == manager.pk

    deputy = colleague(company_a, "sales_manager")
    delegated = post(
        as_manager, f"/tasks/{task.pk}/delegate", {"to": deputy.pk, "reason": "on leave"}
    )
    assert delegated.status_code == 200, delegated.content
    body = delegated.json()
    assert (body["assignee"], body["on_behalf_of"], body["delegated_by"]) == (
        deputy.pk,
        manager.pk,
        manager.pk,
    )
    assert "on leave" in body["dispatch_reason"]
    assert ids(token_client(deputy).get(f"{API}/tasks")) == [task.pk]
    done = post(token_client(deputy), f"/tasks/{task.pk}/complete", {"outcome": "rejected"})
    assert done.status_code == 200 and done.json()["status"] == "done"


def test_reassign_needs_dispatch(
    as_manager: Client, company_a: Company, users_a: dict[str, User]
) -> None:
    task = open_task(company_a, role="sales_rep")
    rep, other = users_a["sales_rep"], colleague(company_a, "sales_rep")
    as_rep = token_client(rep)
    refused = post(as_rep, f"/tasks/{task.pk}/reassign", {"to": other.pk})
    assert refused.status_code == 403 and refused.json()["permission"] == "workflow.dispatch"

    moved = post(as_manager, f"/tasks/{task.pk}/reassign", {"to": other.pk, "reason": "load"})
    assert moved.status_code == 200 and moved.json()["assignee"] == other.pk
    # The dispatcher sees every task but may not complete another's: reassign first.
    not_yours = post(as_manager, f"/tasks/{task.pk}/complete", {"outcome": "approved"})
    assert not_yours.status_code == 403
    assert not_yours.json()["detail"] == "This task is not yours to complete."
    assert "permission" not in not_yours.json()
    back = post(as_manager, f"/tasks/{task.pk}/reassign", {"to": None})
    assert back.status_code == 200 and back.json()["assignee"] is None
    assert ids(as_rep.get(f"{API}/tasks", {"box": "queue"})) == [task.pk]


def test_visibility_and_other_company(
    as_manager: Client,
    company_a: Company,
    company_b: Company,
    users_a: dict[str, User],
    users_b: dict[str, User],
    queued: Task,
) -> None:
    as_rep = token_client(users_a["sales_rep"])
    assert as_rep.get(f"{API}/tasks/{queued.pk}").status_code == 404
    assert post(as_rep, f"/tasks/{queued.pk}/claim").status_code == 404

    foreign = open_task(company_b, assignee=None)
    for response in (
        as_manager.get(f"{API}/tasks/{foreign.pk}"),
        post(as_manager, f"/tasks/{foreign.pk}/claim"),
        post(as_manager, f"/tasks/{foreign.pk}/complete", {"outcome": "approved"}),
        post(as_manager, f"/tasks/{foreign.pk}/reassign", {"to": users_a["sales_manager"].pk}),
    ):
        assert response.status_code == 404, response.content
        assert response["Content-Type"] == "application/problem+json"
    foreign.refresh_from_db()
    assert (foreign.status, foreign.assignee_id) == (Task.Status.OPEN, None)
    assert foreign.pk not in ids(as_manager.get(f"{API}/tasks", {"box": "queue"}))
    assert as_manager.get(f"{API}/tasks", {"box": "queue"}).json()["count"] == 1
    as_admin = token_client(users_a["admin"])
    assert as_admin.get(f"{API}/instances/{foreign.instance_id}").status_code == 404
    assert foreign.instance_id not in ids(as_admin.get(f"{API}/instances"))
    # A colleague of company B cannot be the target either.
    task = open_task(company_a, role="sales_manager")
    other = post(as_manager, f"/tasks/{task.pk}/reassign", {"to": users_b["sales_manager"].pk})
    assert other.status_code == 422 and "to" in errors(other)


def test_permissions(users_a: dict[str, User], queued: Task) -> None:
    portal = token_client(users_a["portal_customer"])
    response = portal.get(f"{API}/tasks")
    assert response.status_code == 403 and response.json()["permission"] == "workflow.task"
    # A sales rep works on tasks but does not watch or start processes.
    assert not {"workflow.view", "workflow.manage"} & set(role_permissions("sales_rep"))
    rep = token_client(users_a["sales_rep"])
    assert rep.get(f"{API}/tasks").status_code == 200
    for path in ("/instances", "/definitions", f"/instances/{queued.instance_id}"):
        response = rep.get(API + path)
        assert response.status_code == 403 and response.json()["permission"] == "workflow.view"
    start = post(rep, "/instances", {"process": "quotation_approval", "data": ONE_APPROVAL})
    assert start.status_code == 403 and start.json()["permission"] == "workflow.manage"
    assert ProcessInstance.unscoped.count() == 1


def test_start_is_idempotent(as_admin: Client, company_a: Company, company_b: Company) -> None:
    deployed(company_a)
    party = make_party(company_a)
    body = {
        "process": "quotation_approval",
        "record_type": "party.party",
        "record_id": party.pk,
        "data": ONE_APPROVAL,
    }
    first = post(as_admin, "/instances", body, **{"Idempotency-Key": "start-1"})
    assert first.status_code == 201, first.content
    created = first.json()
    assert (created["process"], created["status"], created["record_type"]) == (
        "quotation_approval",
        "running",
        "party.party",
    )
    assert [t["role"] for t in created["tasks"]] == ["sales_manager"]
    replay = post(as_admin, "/instances", body, **{"Idempotency-Key": "start-1"})
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json() == created
    assert ProcessInstance.unscoped.filter(company=company_a).count() == 1

    foreign = make_party(company_b)
    refusals = {
        "record_id": {**body, "record_id": foreign.pk},
        "record_type": {**body, "record_type": "core.user"},
        "process": {**body, "process": "no_such_process"},
    }
    for field, bad in refusals.items():
        response = post(as_admin, "/instances", bad)
        assert response.status_code == 422 and field in errors(response), response.content
    assert ProcessInstance.unscoped.filter(company=company_a).count() == 1

    listed = as_admin.get(
        f"{API}/instances",
        {"record_type": "party.party", "record_id": party.pk, "status": "running"},
    )
    assert ids(listed) == [created["id"]]
    assert ids(as_admin.get(f"{API}/instances", {"process": "other"})) == []
    assert ids(as_admin.get(f"{API}/instances", {"status": "completed"})) == []


def test_message_and_definitions(
    as_admin: Client, company_a: Company, admin_a: User, deploy: Any
) -> None:
    deploy("message.bpmn", "await_payment")
    deployed(company_a)
    party = make_party(company_a)
    instance = services.process_start(
        company=company_a, actor=admin_a, key="await_payment", record=party
    )
    message = {
        "name": "payment_received",
        "record_type": "party.party",
        "record_id": party.pk,
        "payload": {"amount": "120.00"},
    }
    delivered = post(as_admin, "/messages", message)
    assert delivered.status_code == 200 and delivered.json() == {"delivered": 1}
    detail = as_admin.get(f"{API}/instances/{instance.pk}").json()
    assert detail["status"] == "completed"
    assert detail["data"]["payment"] == {"amount": "120.00"}
    assert post(as_admin, "/messages", message).json() == {"delivered": 0}

    definitions = as_admin.get(f"{API}/definitions").json()
    assert [(d["key"], d["version"], d["active"]) for d in definitions["items"]] == [
        ("await_payment", 1, True),
        ("quotation_approval", 1, True),
    ]
    assert "bpmn_xml" not in definitions["items"][0]
    active = as_admin.get(f"{API}/definitions", {"key": "await_payment", "active": "false"})
    assert ids(active) == []


def test_session_auth(client_for: Any, manager: User, queued: Task) -> None:
    client = client_for(manager)
    assert ids(client.get(f"{API}/tasks", {"box": "queue"})) == [queued.pk]
    assert post(client, f"/tasks/{queued.pk}/claim").status_code == 200
