"""What the shell's generated permission matrix (xietong/web/tests) needs of the workflow
screens: URL name → sample record kind, the POST-only views, and the sample records."""

from __future__ import annotations

from typing import Any

from xietong.core.models import Company
from xietong.workflow import services

URL_RECORDS = {
    "workflow:task_detail": "wf_task",
    "workflow:task_claim": "wf_task",
    "workflow:task_release": "wf_task",
    "workflow:task_delegate": "wf_task",
    "workflow:task_reassign": "wf_task",
    "workflow:definition_detail": "wf_definition",
    "workflow:definition_modeler": "wf_definition",
    "workflow:instance_detail": "wf_instance",
}
POST_ONLY = {
    "workflow:task_claim",
    "workflow:task_release",
    "workflow:task_delegate",
    "workflow:task_reassign",
}

# One user task with no role: every holder of workflow.task may open and do it, so each role's
# expected answer is decided by its permissions alone.
MATRIX_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="matrix_defs"
    targetNamespace="https://xietong.example/bpmn">
  <bpmn:process id="matrix_check" name="Matrix check" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="check" />
    <bpmn:userTask id="check" name="CANARY check" />
    <bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def workflow_records(company: Company, key: str) -> dict[str, Any]:
    definition = services.definition_deploy(
        company=company,
        actor=None,
        key="matrix_check",
        name=f"CANARY-{key}-process",
        bpmn_xml=MATRIX_BPMN,
        process_id="matrix_check",
    )
    instance = services.process_start(company=company, actor=None, key="matrix_check")
    return {
        "wf_definition": definition,
        "wf_instance": instance,
        "wf_task": instance.tasks.get(),
    }
