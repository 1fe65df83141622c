"""What the instance diagram highlights: the BPMN elements already done and those waiting now,
read from the instance's stored SpiffWorkflow state (nothing is run)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from SpiffWorkflow.util.task import TaskState

from xietong.workflow import engine, registry
from xietong.workflow.models import ProcessInstance

CURRENT = TaskState.READY | TaskState.WAITING | TaskState.STARTED


def load(instance: ProcessInstance) -> Any:
    """The instance's SpiffWorkflow workflow (None without a readable state)."""
    if not instance.state:
        return None
    call = registry.ServiceCall(
        company_id=instance.company_id,
        instance_id=instance.pk,
        content_type_id=instance.content_type_id,
        object_id=instance.object_id,
        data={},
    )
    try:
        return engine.workflow_load(instance.state, call=call)
    except Exception:  # noqa: BLE001 (a display aid must not break the page)
        return None


def highlight(workflow: Any) -> dict[str, list[str]]:
    """{"completed": [BPMN ids], "current": [BPMN ids]} of the top-level process.

    Elements of the engine's own (start/end joins) have no BPMN id and are left out.
    """
    completed: list[str] = []
    current: list[str] = []
    for task in workflow.get_tasks() if workflow is not None else []:
        bpmn_id = getattr(task.task_spec, "bpmn_id", None)
        if not bpmn_id:
            continue
        if task.state == TaskState.COMPLETED and bpmn_id not in completed:
            completed.append(bpmn_id)
        elif task.state & CURRENT and bpmn_id not in current:
            current.append(bpmn_id)
    return {"completed": completed, "current": current}


def process_data(workflow: Any, spiff_id: Any = None) -> dict[str, Any]:
    """The key process data to show (scalars only, internal keys left out): that of the human
    task `spiff_id` if given, else of the task that waits now (or the workflow's at its end)."""
    data: dict[str, Any] = {}
    if workflow is not None:
        task = workflow.get_task_from_id(spiff_id) if spiff_id else None
        if task is None:
            waiting = [t for t in workflow.get_tasks() if t.state & CURRENT]
            task = waiting[0] if waiting else None
        data = task.data if task is not None else workflow.data
    return {
        key: value
        for key, value in sorted(data.items())
        if not key.startswith("_")
        and key != "data_objects"
        and not key.endswith("_outcome")
        and isinstance(value, str | int | float | bool | Decimal | type(None))
    }


# --- layout for models without diagram interchange ----------------------------------------------
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
_FLOW_NODES = {
    "startEvent": (36, 36),
    "endEvent": (36, 36),
    "intermediateCatchEvent": (36, 36),
    "intermediateThrowEvent": (36, 36),
    "boundaryEvent": (36, 36),
    "exclusiveGateway": (50, 50),
    "parallelGateway": (50, 50),
    "inclusiveGateway": (50, 50),
    "eventBasedGateway": (50, 50),
    "complexGateway": (50, 50),
}
_TASK = (100, 80)
_COLUMN, _ROW, _MARGIN = 160, 120, 60


def with_layout(bpmn_xml: str) -> str:
    """The model as is when it carries a diagram (BPMNDI); otherwise with a simple left-to-right
    layered layout added for its main process, so bpmn-js can draw it. Unparseable XML is
    returned unchanged (the viewer reports it)."""
    from lxml import etree

    try:
        root = etree.fromstring(bpmn_xml.encode())
    except etree.XMLSyntaxError:
        return bpmn_xml
    if root.find(f"{{{BPMNDI}}}BPMNDiagram") is not None:
        return bpmn_xml
    process = root.find(f"{{{BPMN}}}process")
    if process is None:
        return bpmn_xml
    nodes: dict[str, tuple[int, int]] = {}
    attached: dict[str, str] = {}  # boundary event -> the activity it sits on
    flows: list[tuple[str, str, str]] = []
    for child in process:
        if not isinstance(child.tag, str) or not child.get("id"):
            continue
        tag = etree.QName(child).localname
        if tag == "sequenceFlow":
            flows.append((child.get("id"), child.get("sourceRef"), child.get("targetRef")))
        elif tag == "boundaryEvent":
            attached[child.get("id")] = child.get("attachedToRef", "")
        elif tag.endswith(("Task", "task")) or tag in {"subProcess", "callActivity"}:
            nodes[child.get("id")] = _TASK
        elif tag in _FLOW_NODES:
            nodes[child.get("id")] = _FLOW_NODES[tag]
    outgoing: dict[str, list[str]] = {n: [] for n in nodes}
    incoming: dict[str, int] = dict.fromkeys(nodes, 0)
    for _id, source, target in flows:
        source = attached.get(source, source)  # a boundary event leaves from its activity
        if source in nodes and target in nodes:
            outgoing[source].append(target)
            incoming[target] += 1
    # Columns: breadth-first from the nodes nobody flows into (back edges of loops ignored).
    column: dict[str, int] = {}
    frontier = [n for n in nodes if incoming[n] == 0] or list(nodes)[:1]
    for node in frontier:
        column[node] = 0
    while frontier:
        following = []
        for node in frontier:
            for target in outgoing[node]:
                if target not in column:
                    column[target] = column[node] + 1
                    following.append(target)
        frontier = following
    for node in nodes:
        column.setdefault(node, max(column.values(), default=-1) + 1)
    rows: dict[int, int] = {}
    bounds: dict[str, tuple[int, int, int, int]] = {}
    for node in nodes:  # document order within a column
        col = column[node]
        row = rows.get(col, 0)
        rows[col] = row + 1
        width, height = nodes[node]
        x = _MARGIN + col * _COLUMN + (_TASK[0] - width) // 2
        y = _MARGIN + row * _ROW + (_TASK[1] - height) // 2
        bounds[node] = (x, y, width, height)
    on_activity: dict[str, int] = {}
    for event, activity in attached.items():  # along the bottom edge, right to left
        if activity not in bounds:
            continue
        ax, ay, aw, ah = bounds[activity]
        index = on_activity.get(activity, 0)
        on_activity[activity] = index + 1
        bounds[event] = (ax + aw - 28 - index * 40, ay + ah - 18, 36, 36)

    diagram = etree.SubElement(
        root,
        f"{{{BPMNDI}}}BPMNDiagram",
        id="xietong_layout",
        nsmap={"bpmndi": BPMNDI, "dc": DC, "di": DI},
    )
    plane = etree.SubElement(
        diagram, f"{{{BPMNDI}}}BPMNPlane", id="xietong_layout_plane", bpmnElement=process.get("id")
    )
    for node, (x, y, width, height) in bounds.items():
        shape = etree.SubElement(plane, f"{{{BPMNDI}}}BPMNShape", id=f"{node}_di", bpmnElement=node)
        etree.SubElement(
            shape, f"{{{DC}}}Bounds", x=str(x), y=str(y), width=str(width), height=str(height)
        )
    for flow_id, source, target in flows:
        if source not in bounds or target not in bounds or not flow_id:
            continue
        sx, sy, sw, sh = bounds[source]
        tx, ty, tw, th = bounds[target]
        start, end = (sx + sw, sy + sh // 2), (tx, ty + th // 2)
        if tx <= sx:  # a loop back: leave from the bottom, enter from the bottom
            start, end = (sx + sw // 2, sy + sh), (tx + tw // 2, ty + th)
            low = max(sy + sh, ty + th) + 30
            points = [start, (start[0], low), (end[0], low), end]
        elif start[1] == end[1]:
            points = [start, end]
        else:
            middle = (start[0] + end[0]) // 2
            points = [start, (middle, start[1]), (middle, end[1]), end]
        edge = etree.SubElement(
            plane, f"{{{BPMNDI}}}BPMNEdge", id=f"{flow_id}_di", bpmnElement=flow_id
        )
        for x, y in points:
            etree.SubElement(edge, f"{{{DI}}}waypoint", x=str(x), y=str(y))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode()
