"""The workflow screens as real role users: inbox, task page, definitions, instances, monitor."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from xietong.core.services import user_create
from xietong.workflow import services, shipped
from xietong.workflow.models import ProcessDefinition, ProcessInstance, Task
from xietong.workflow.tests.conftest import read

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _registered():  # type: ignore[no-untyped-def]
    """What WorkflowConfig.ready() does once the navigation lines are added there."""
    from xietong.workflow import navigation

    navigation.register()


@pytest.fixture
def quotation(company_a, users_a):  # type: ignore[no-untyped-def]
    return shipped.deploy_shipped(
        company=company_a, actor=users_a["admin"], key="quotation_approval"
    )


def _start(company, user, discount=12):  # type: ignore[no-untyped-def]
    """A quotation needing the sales manager's approval; returns its open task (queued)."""
    instance = services.process_start(
        company=company,
        actor=user,
        key="quotation_approval",
        record=user,
        data={"customer_group": "retail", "discount_percent": discount, "amount": Decimal(9000)},
    )
    task = Task.unscoped.get(instance=instance, status=Task.Status.OPEN)
    if task.assignee_id:  # a model that dispatches automatically: put it in the queue
        Task.unscoped.filter(pk=task.pk).update(assignee=None, on_behalf_of=None)
        task.refresh_from_db()
    return task


def _json_script(html: str, element_id: str):  # type: ignore[no-untyped-def]
    match = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S
    )
    assert match, element_id
    return json.loads(match.group(1))


def _rows(response) -> list[int]:  # type: ignore[no-untyped-def]
    return [int(pk) for pk in re.findall(r'data-task="(\d+)"', response.content.decode())]


def test_inbox_tabs_show_each_users_tasks(quotation, company_a, users_a, client_for) -> None:
    rep, manager = users_a["sales_rep"], users_a["sales_manager"]
    claimed, queued, late = _start(company_a, rep), _start(company_a, rep), _start(company_a, rep)
    services.task_claim(task=claimed, actor=manager)
    Task.unscoped.filter(pk=late.pk).update(due_at=timezone.now() - dt.timedelta(hours=1))

    client = client_for(manager)
    url = reverse("workflow:inbox")
    assert _rows(client.get(url)) == [claimed.pk]
    assert set(_rows(client.get(url, {"tab": "queue"}))) == {queued.pk, late.pk}
    overdue = client.get(url, {"tab": "overdue"})
    assert _rows(overdue) == [late.pk]
    assert "text-danger" in overdue.content.decode()
    page = client.get(url, {"tab": "queue"}).content.decode()
    assert reverse("workflow:task_claim", args=[queued.pk]) in page
    assert reverse("workflow:task_release", args=[claimed.pk]) in client.get(url).content.decode()

    for tab in ("mine", "queue", "overdue"):  # nothing of the manager's role for the rep
        assert _rows(client_for(rep).get(url, {"tab": tab})) == []
    assert client_for(users_a["portal_customer"]).get(url).status_code == 403

    # The home page's "my tasks" lists the claimed task.
    home = client.get(reverse("web:home")).content.decode()
    assert reverse("workflow:task_detail", args=[claimed.pk]) in home


def test_claim_and_release_from_the_inbox(quotation, company_a, users_a, client_for) -> None:
    manager = users_a["sales_manager"]
    task = _start(company_a, users_a["sales_rep"])
    client = client_for(manager)
    response = client.post(reverse("workflow:task_claim", args=[task.pk]))
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.assignee == manager
    client.post(reverse("workflow:task_release", args=[task.pk]))
    task.refresh_from_db()
    assert task.assignee is None
    # A second release is refused by the service: a message, nothing changes.
    response = client.post(reverse("workflow:task_release", args=[task.pk]), follow=True)
    assert "assignee" in response.content.decode()


def test_task_page_approve_with_comment(quotation, company_a, users_a, client_for) -> None:
    manager = users_a["sales_manager"]
    task = _start(company_a, users_a["sales_rep"])
    client = client_for(manager)
    url = reverse("workflow:task_detail", args=[task.pk])
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="approved"' in html and 'value="rejected"' in html
    assert "discount_percent" in html  # the key process data
    response = client.post(url, {"outcome": "approved", "comment": "Fine for this customer"})
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.status == Task.Status.DONE
    assert (task.outcome, task.comment, task.completed_by) == (
        "approved",
        "Fine for this customer",
        manager,
    )
    instance = ProcessInstance.unscoped.get(pk=task.instance_id)
    assert instance.data["outcome"] == "approved"
    # The done task stays readable for whoever completed it, with its history.
    history = client.get(url).content.decode()
    assert "Fine for this customer" in history and 'id="task-form"' not in history


def test_task_page_reject_and_invalid_outcome(quotation, company_a, users_a, client_for) -> None:
    manager = users_a["sales_manager"]
    task = _start(company_a, users_a["sales_rep"])
    url = reverse("workflow:task_detail", args=[task.pk])
    client = client_for(manager)
    bad = client.post(url, {"outcome": "maybe", "comment": "x"})
    assert bad.status_code == 400
    task.refresh_from_db()
    assert task.status == Task.Status.OPEN
    assert client.post(url, {"outcome": "rejected", "comment": "Too much"}).status_code == 302
    task.refresh_from_db()
    assert (task.status, task.outcome) == (Task.Status.DONE, "rejected")
    assert ProcessInstance.unscoped.get(pk=task.instance_id).data["outcome"] == "rejected"


def test_bpmn_form_fields_are_asked_and_stored(company_a, users_a, deploy, client_for) -> None:
    deploy("parallel.bpmn", "parallel")
    instance = services.process_start(company=company_a, actor=users_a["admin"], key="parallel")
    task = instance.tasks.get(bpmn_id="credit_check")
    client = client_for(users_a["accountant"])
    url = reverse("workflow:task_detail", args=[task.pk])
    assert 'name="field_credit_ok"' in client.get(url).content.decode()
    assert client.post(url, {"outcome": "done", "field_credit_ok": "on"}).status_code == 302
    stock = instance.tasks.get(bpmn_id="stock_check")
    services.task_complete(task=stock, actor=users_a["warehouse_clerk"], outcome="done")
    assert ProcessInstance.unscoped.get(pk=instance.pk).data["credit_ok"] is True


def test_other_role_and_other_company_cannot_open_a_task(
    quotation, company_a, company_b, users_a, users_b, client_for
) -> None:
    task = _start(company_a, users_a["sales_rep"])
    url = reverse("workflow:task_detail", args=[task.pk])
    assert client_for(users_a["warehouse_clerk"]).get(url).status_code == 404
    response = client_for(users_a["sales_rep"]).post(url, {"outcome": "approved"})
    assert response.status_code == 404
    assert client_for(users_b["sales_manager"]).get(url).status_code == 404
    assert (
        client_for(users_b["sales_manager"]).post(url, {"outcome": "approved"}).status_code == 404
    )
    task.refresh_from_db()
    assert task.status == Task.Status.OPEN
    # A dispatcher of company A sees it (to reassign), company B's does not.
    assert client_for(users_a["executive"]).get(url).status_code == 200
    instance_url = reverse("workflow:instance_detail", args=[task.instance_id])
    assert client_for(users_b["admin"]).get(instance_url).status_code == 404


def test_delegate_and_reassign(quotation, company_a, users_a, client_for) -> None:
    manager = users_a["sales_manager"]
    deputy = user_create(
        company=company_a,
        username="a_deputy",
        password="x",
        roles=["sales_manager"],
        validate=False,
    )
    task = _start(company_a, users_a["sales_rep"])
    services.task_claim(task=task, actor=manager)
    client = client_for(manager)
    page = client.get(reverse("workflow:task_detail", args=[task.pk])).content.decode()
    assert 'id="delegate-form"' in page
    response = client.post(
        reverse("workflow:task_delegate", args=[task.pk]),
        {"delegate-to": deputy.pk, "delegate-reason": "on leave"},
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.assignee, task.on_behalf_of) == (deputy, manager)
    # Reassigning needs workflow.dispatch: the deputy has it via the sales_manager role, a rep
    # does not even reach the view.
    rep_post = client_for(users_a["sales_rep"]).post(
        reverse("workflow:task_reassign", args=[task.pk]), {"reassign-to": ""}
    )
    assert rep_post.status_code == 403
    executive = client_for(users_a["executive"])
    response = executive.post(
        reverse("workflow:task_reassign", args=[task.pk]),
        {"reassign-to": "", "reassign-reason": ""},
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.assignee is None
    bad = executive.post(
        reverse("workflow:task_reassign", args=[task.pk]), {"reassign-to": users_a["buyer"].pk}
    )
    assert bad.status_code == 400  # not a holder of the task's role


def test_upload_broken_model_shows_problems_and_saves_nothing(
    quotation, users_a, client_for
) -> None:
    client = client_for(users_a["admin"])
    broken = read("approval.bpmn").replace("<bpmn:userTask", "<bpmn:scriptTask", 1)
    broken = broken.replace("</bpmn:userTask>", "</bpmn:scriptTask>", 1)
    before = ProcessDefinition.unscoped.count()
    response = client.post(
        reverse("workflow:definition_upload"),
        {
            "key": "approval",
            "name": "Approval",
            "process_id": "approval",
            "bpmn_file": SimpleUploadedFile("approval.bpmn", broken.encode()),
        },
    )
    assert response.status_code == 400
    assert 'id="model-problems"' in response.content.decode()
    malformed = client.post(
        reverse("workflow:definition_upload"),
        {
            "key": "approval",
            "name": "Approval",
            "process_id": "approval",
            "bpmn_file": SimpleUploadedFile("x.bpmn", b"<bpmn:definitions"),
        },
    )
    assert malformed.status_code == 400 and "Malformed XML" in malformed.content.decode()
    assert ProcessDefinition.unscoped.count() == before
    # Only workflow.manage may deploy.
    sales = client_for(users_a["sales_manager"])
    assert sales.get(reverse("workflow:definition_upload")).status_code == 403


def test_upload_valid_model_creates_next_version(quotation, users_a, client_for) -> None:
    from importlib.resources import files

    folder = files("xietong.workflow.processes")
    client = client_for(users_a["admin"])
    form = client.get(reverse("workflow:definition_upload"), {"from": quotation.pk})
    assert 'value="quotation_approval"' in form.content.decode()
    response = client.post(
        reverse("workflow:definition_upload"),
        {
            "key": "quotation_approval",
            "name": "Quotation approval, revised",
            "process_id": "quotation_approval",
            "bpmn_file": SimpleUploadedFile(
                "q.bpmn", (folder / "quotation_approval.bpmn").read_bytes()
            ),
            "dmn_files": [
                SimpleUploadedFile("d.dmn", (folder / "quotation_discount.dmn").read_bytes())
            ],
        },
    )
    assert response.status_code == 302
    new = ProcessDefinition.unscoped.get(key="quotation_approval", active=True)
    assert new.version == quotation.version + 1 and len(new.dmn_xml) == 1
    assert response["Location"] == reverse("workflow:definition_detail", args=[new.pk])


def test_modeler_deploys_the_posted_xml(quotation, users_a, client_for) -> None:
    client = client_for(users_a["admin"])
    url = reverse("workflow:definition_modeler", args=[quotation.pk])
    page = client.get(url).content.decode()
    assert 'name="bpmn_xml"' in page and "modeler.js" in page
    xml = quotation.bpmn_xml.replace("Quotation submitted", "Quotation sent")
    response = client.post(url, {"name": "Edited", "bpmn_xml": xml})
    assert response.status_code == 302
    new = ProcessDefinition.unscoped.get(key="quotation_approval", active=True)
    assert new.version == quotation.version + 1 and "Quotation sent" in new.bpmn_xml
    broken = client.post(url, {"name": "Edited", "bpmn_xml": "<nope"})
    assert broken.status_code == 400
    assert client_for(users_a["sales_manager"]).get(url).status_code == 403


def test_definition_and_instance_pages_embed_the_diagram(
    quotation, company_a, users_a, client_for
) -> None:
    client = client_for(users_a["admin"])
    listing = client.get(reverse("workflow:definition_list")).content.decode()
    assert reverse("workflow:definition_detail", args=[quotation.pk]) in listing
    page = client.get(reverse("workflow:definition_detail", args=[quotation.pk])).content.decode()
    xml = _json_script(page, "definition-xml")
    assert 'id="manager_review"' in xml and "BPMNDiagram" in xml  # laid out for bpmn-js
    assert "bpmn-navigated-viewer.min.js" in page and "workflow/diagram.js" in page

    task = _start(company_a, users_a["sales_rep"])
    instances = client.get(reverse("workflow:instance_list"), {"status": "running"})
    assert (
        reverse("workflow:instance_detail", args=[task.instance_id]) in instances.content.decode()
    )
    page = client.get(reverse("workflow:instance_detail", args=[task.instance_id])).content.decode()
    highlight = _json_script(page, "instance-highlight")
    assert highlight["current"] == ["manager_review"]
    assert {"start", "decide_level", "level"} <= set(highlight["completed"])
    assert "manager_review" in _json_script(page, "instance-xml")


def test_monitor_for_dispatchers_only(quotation, company_a, users_a, client_for) -> None:
    manager = users_a["sales_manager"]
    done, waiting = _start(company_a, users_a["sales_rep"]), _start(company_a, users_a["sales_rep"])
    services.task_complete(task=done, actor=manager, outcome="approved")
    services.task_claim(task=waiting, actor=manager)
    Task.unscoped.filter(pk=waiting.pk).update(due_at=timezone.now() - dt.timedelta(days=1))

    response = client_for(manager).get(reverse("workflow:monitor"))
    assert response.status_code == 200
    html = response.content.decode()
    users = _json_script(html, "chart-users")
    index = users["xAxis"]["data"].index(manager.username)
    assert users["series"][0]["data"][index] == 1  # open
    assert users["series"][1]["data"][index] == 1  # overdue
    throughput = _json_script(html, "chart-throughput")
    assert throughput["series"][0]["data"][-1] == 1  # completed today
    steps = _json_script(html, "chart-steps")
    assert any("manager_review" in label or "Approve" in label for label in steps["yAxis"]["data"])
    assert 'id="monitor-roles"' in html
    assert client_for(users_a["sales_rep"]).get(reverse("workflow:monitor")).status_code == 403
