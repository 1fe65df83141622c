"""The process models shipped with xietong, and the service that deploys them for a company.

Each is a BPMN file (plus the DMN tables it calls) under `xietong/workflow/processes/`; a
customer changes a process by deploying an edited copy of the file as a new version of its key,
without code. Every shipped process ends with `outcome` in its process data, so other apps read
the result from the `workflow.instance.ended` event (`InstanceEnded.data["outcome"]`):

* quotation_approval: approved/rejected (input: customer_group, discount_percent, amount)
* purchase_order_approval: approved/rejected (input: amount)
* credit_override: approved/rejected (input: order_total, credit_limit, open_balance)
* leave_request: approved/rejected (input: requester, days, manager_role, …)
* ticket_escalation: resolved/escalated (input: priority; message "ticket.resolved")
* supplier_invoice_mismatch: accepted/rejected (input: invoice, supplier, problems)
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from xietong.core.audit import audited
from xietong.core.models import Company, User
from xietong.workflow.models import ProcessDefinition
from xietong.workflow.services import definition_deploy

PACKAGE = "xietong.workflow.processes"


@dataclass(frozen=True)
class ShippedProcess:
    key: str
    name: str | Promise
    bpmn: str
    dmn: tuple[str, ...]
    process_id: str

    def bpmn_xml(self) -> str:
        return (files(PACKAGE) / self.bpmn).read_text(encoding="utf-8")

    def dmn_xmls(self) -> list[str]:
        return [(files(PACKAGE) / name).read_text(encoding="utf-8") for name in self.dmn]


SHIPPED: list[ShippedProcess] = [
    ShippedProcess(
        key="quotation_approval",
        name=_("Quotation discount approval"),
        bpmn="quotation_approval.bpmn",
        dmn=("quotation_discount.dmn",),
        process_id="quotation_approval",
    ),
    ShippedProcess(
        key="purchase_order_approval",
        name=_("Purchase order approval"),
        bpmn="purchase_order_approval.bpmn",
        dmn=("po_approval_bands.dmn",),
        process_id="purchase_order_approval",
    ),
    ShippedProcess(
        key="credit_override",
        name=_("Credit limit override"),
        bpmn="credit_override.bpmn",
        dmn=(),
        process_id="credit_override",
    ),
    ShippedProcess(
        key="leave_request",
        name=_("Leave request"),
        bpmn="leave_request.bpmn",
        dmn=(),
        process_id="leave_request",
    ),
    ShippedProcess(
        key="ticket_escalation",
        name=_("Service ticket escalation"),
        bpmn="ticket_escalation.bpmn",
        dmn=("ticket_sla.dmn", "ticket_escalation_step.dmn", "ticket_outcome.dmn"),
        process_id="ticket_escalation",
    ),
    ShippedProcess(
        key="supplier_invoice_mismatch",
        name=_("Supplier invoice mismatch"),
        bpmn="supplier_invoice_mismatch.bpmn",
        dmn=(),
        process_id="supplier_invoice_mismatch",
    ),
]
BY_KEY: dict[str, ShippedProcess] = {process.key: process for process in SHIPPED}


def _deploy(process: ShippedProcess, *, company: Company, actor: User | None) -> ProcessDefinition:
    return definition_deploy(
        company=company,
        actor=actor,
        key=process.key,
        name=str(process.name),
        bpmn_xml=process.bpmn_xml(),
        dmn_xmls=process.dmn_xmls(),
        process_id=process.process_id,
    )


@audited
def deploy_shipped(*, company: Company, actor: User | None, key: str) -> ProcessDefinition:
    """Deploy (as a new version of its key) one shipped process, e.g. to go back to the
    shipped model after an edited one."""
    return _deploy(BY_KEY[key], company=company, actor=actor)


@audited
def deploy_all(*, company: Company, actor: User | None) -> list[ProcessDefinition]:
    """Deploy every shipped process the company does not have yet (any version of its key).

    Idempotent: a key the company already has, shipped or edited, active or not, is left alone.
    Returns the definitions deployed now. Raises `ValidationError` if a shipped model is
    refused (a packaging bug); the ones deployed before it stay deployed.
    """
    existing = set(
        ProcessDefinition.unscoped.filter(
            company=company, key__in=[process.key for process in SHIPPED]
        ).values_list("key", flat=True)
    )
    deployed = []
    for process in SHIPPED:
        if process.key in existing:
            continue
        deployed.append(_deploy(process, company=company, actor=actor))
    return deployed
