"""The SpiffWorkflow adapter: parsing and validation, a restricted expression engine, the clock,
and (de)serialisation. Nothing here touches the database; `services` does.

Choices, and why:

* `SpiffBpmnParser` with its XSD validator: it understands the `spiffworkflow:` extensions we
  rely on (service task operators, properties on user tasks, `calledDecisionId` for DMN), and
  its DMN support comes from `BpmnDmnParser`.
* Expressions (gateway conditions, timer expressions, DMN entries, service parameters) are
  evaluated by `RestrictedEnvironment`: an expression only (no statements), an AST check that
  refuses any name or attribute starting with "_" (the door to `__import__`, `__class__`,
  `__globals__`), lambdas and walrus assignments, and a small set of safe builtins. Script
  tasks and pre-/post-scripts are refused at deploy time and cannot run either.
* Time: SpiffWorkflow's timers read `datetime.now(timezone.utc)` in its `timer` module. We
  replace that module's `datetime` with a subclass whose `now()` honours `clock(at)`, so the
  timer sweep (and tests) decide what "now" is without patching the whole process.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext as _
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.specs.ExclusiveChoice import ExclusiveChoice
from SpiffWorkflow.specs.MultiChoice import MultiChoice
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.specs.defaults import ScriptTask, ServiceTask
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition

from xietong.workflow import registry


class ModelError(Exception):
    """A process model that cannot be deployed; `problems` are messages for its author."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class UnsafeExpression(ValueError):
    """An expression uses something the restricted engine does not allow."""


# --- the clock --------------------------------------------------------------------------------
_now: ContextVar[dt.datetime | None] = ContextVar("xietong_workflow_now", default=None)


class _Clock(dt.datetime):
    """`datetime` whose `now()` is the time set by `clock()`, else the real time."""

    @classmethod
    def now(cls, tz: dt.tzinfo | None = None) -> _Clock:  # type: ignore[override]
        fixed = _now.get()
        if fixed is None:
            return super().now(tz)
        value = fixed.astimezone(tz) if tz is not None else fixed
        return cls.fromtimestamp(value.timestamp(), tz)


spiff_timer.datetime = _Clock  # type: ignore[misc]


@contextmanager
def clock(at: dt.datetime | None) -> Iterator[None]:
    """Let SpiffWorkflow's timers see `at` as the current time inside the block."""
    token = _now.set(at)
    try:
        yield
    finally:
        _now.reset(token)


# --- restricted expressions -------------------------------------------------------------------
SAFE_BUILTINS: dict[str, Any] = {
    "abs": abs,
    "all": all,
    "any": any,
    "bool": bool,
    "dict": dict,
    "float": float,
    "int": int,
    "len": len,
    "list": list,
    "max": max,
    "min": min,
    "round": round,
    "set": set,
    "sorted": sorted,
    "str": str,
    "sum": sum,
    "tuple": tuple,
    "Decimal": Decimal,
    "True": True,
    "False": False,
    "None": None,
}
_FORBIDDEN_NODES = (ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom)


def expression_check(expression: str) -> ast.Expression:
    """Parse `expression` as a single Python expression and refuse anything unsafe in it."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise UnsafeExpression(
            _("Not a valid expression: %(expression)s") % {"expression": expression}
        ) from exc
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Name):
            name = node.id
        elif isinstance(node, ast.Attribute):
            name = node.attr
        elif isinstance(node, ast.keyword):
            name = node.arg
        if name is not None and name.startswith("_"):
            raise UnsafeExpression(
                _("Names starting with an underscore are not allowed: %(name)s") % {"name": name}
            )
        if isinstance(node, _FORBIDDEN_NODES):
            raise UnsafeExpression(
                _("This construct is not allowed in expressions: %(expression)s")
                % {"expression": expression}
            )
    return tree


class RestrictedEnvironment(TaskDataEnvironment):
    """Evaluates expressions only, against the task data, with `SAFE_BUILTINS`; no scripts."""

    def __init__(self, call: registry.ServiceCall | None = None) -> None:
        super().__init__({})
        self.call = call

    def evaluate(
        self, expression: str, context: dict[str, Any], external_context: dict | None = None
    ) -> Any:
        tree = expression_check(expression)
        names: dict[str, Any] = {**(external_context or {}), **context}
        names["__builtins__"] = SAFE_BUILTINS
        return eval(compile(tree, "<expression>", "eval"), names)  # noqa: S307 (checked AST)

    def execute(self, script: str, context: dict, external_context: dict | None = None) -> bool:
        raise UnsafeExpression(_("Scripts are not allowed in process models."))

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> str:
        name = kwargs["operation_name"]
        function = registry.get(name)
        if function is None:
            raise ModelError([_("Unknown service %(name)s.") % {"name": name}])
        parameters = {key: value["value"] for key, value in kwargs["operation_params"].items()}
        call = self.call or registry.ServiceCall(
            company_id=0, instance_id=None, content_type_id=None, object_id=None, data={}
        )
        call = registry.ServiceCall(
            company_id=call.company_id,
            instance_id=call.instance_id,
            content_type_id=call.content_type_id,
            object_id=call.object_id,
            data=dict(context),
        )
        return json.dumps(function(call, **parameters), cls=DjangoJSONEncoder)


class RestrictedScriptEngine(PythonScriptEngine):
    def __init__(self, call: registry.ServiceCall | None = None) -> None:
        super().__init__(environment=RestrictedEnvironment(call))

    def call_service(self, task: Any, **kwargs: Any) -> str:
        # The base class's error path refers to an undefined name; keep errors meaningful.
        return self.environment.call_service(task.data, **kwargs)


# --- parsing and validation -------------------------------------------------------------------
@dataclass
class Parsed:
    spec: Any
    subprocess_specs: dict[str, Any] = field(default_factory=dict)


def _problem(exc: BaseException) -> str:
    if isinstance(exc, ValidationException):
        where = ", ".join(
            part
            for part in (
                _("line %(line)s") % {"line": exc.line_number} if exc.line_number else "",
                f"{exc.tag} {exc.id}".strip() if (exc.tag or exc.id) else "",
                exc.file_name,
            )
            if part
        )
        return f"{exc.args[0] if exc.args else exc} ({where})" if where else str(exc)
    if isinstance(exc, etree.XMLSyntaxError):
        return _("Malformed XML: %(error)s") % {"error": exc}
    return str(exc)


def parse(
    *,
    bpmn_xml: str,
    process_id: str,
    dmn_xmls: Iterable[str] = (),
    called: Iterable[tuple[str, Iterable[str]]] = (),
) -> Parsed:
    """Parse a model (plus the models of the processes it calls) and refuse unsafe ones.

    `called` gives (bpmn_xml, dmn_xmls) of other deployed processes a call activity may name.
    Raises `ModelError` with every problem found; nothing is executed.
    """
    parser = SpiffBpmnParser(validator=VALIDATOR)
    try:
        parser.add_bpmn_str(bpmn_xml.encode(), filename=process_id)
        for index, dmn in enumerate(dmn_xmls):
            parser.add_dmn_str(dmn.encode(), filename=f"dmn[{index}]")
        own = set(parser.get_process_ids())
        for other_bpmn, other_dmns in called:
            other = SpiffBpmnParser()
            other.add_bpmn_str(other_bpmn.encode())
            if own & set(other.get_process_ids()):
                continue  # the same process ids: our own copy wins
            parser.add_bpmn_str(other_bpmn.encode())
            for dmn in other_dmns:
                parser.add_dmn_str(dmn.encode())
        if process_id not in parser.get_process_ids():
            raise ModelError([_("The model has no process with id %(id)s.") % {"id": process_id}])
        spec = parser.get_spec(process_id)
        subprocess_specs = parser.get_subprocess_specs(process_id)
    except ModelError:
        raise
    except (SpiffWorkflowException, etree.XMLSyntaxError, ValueError, KeyError) as exc:
        raise ModelError([_problem(exc)]) from exc
    parsed = Parsed(spec=spec, subprocess_specs=subprocess_specs)
    problems = check(parsed)
    if problems:
        raise ModelError(problems)
    return parsed


def _all_task_specs(parsed: Parsed) -> Iterator[Any]:
    for process in [parsed.spec, *parsed.subprocess_specs.values()]:
        yield from process.task_specs.values()


def check(parsed: Parsed) -> list[str]:
    """The reasons the parsed model may not run here (empty when it may)."""
    problems: list[str] = []

    def expression(where: Any, text: str | None) -> None:
        if not text:
            return
        try:
            expression_check(text)
        except UnsafeExpression as exc:
            problems.append(f"{exc} ({getattr(where, 'bpmn_id', None) or where.name})")

    for spec in _all_task_specs(parsed):
        label = getattr(spec, "bpmn_id", None) or spec.name
        if isinstance(spec, ScriptTask) or getattr(spec, "script", None):
            problems.append(_("Script tasks are not allowed (%(task)s).") % {"task": label})
        if getattr(spec, "prescript", None) or getattr(spec, "postscript", None):
            problems.append(
                _("Pre- and post-scripts are not allowed (%(task)s).") % {"task": label}
            )
        if isinstance(spec, ServiceTask):
            if not registry.is_registered(spec.operation_name):
                problems.append(
                    _("Unknown service %(name)s (%(task)s).")
                    % {"name": spec.operation_name, "task": label}
                )
            for parameter in spec.operation_params.values():
                expression(spec, parameter.get("value"))
        if isinstance(spec, ExclusiveChoice | MultiChoice):
            for condition, _target in spec.cond_task_specs:
                args = getattr(condition, "args", None) or [condition]
                expression(spec, args[0] if isinstance(args[0], str) else None)
        definition = getattr(spec, "event_definition", None)
        if isinstance(definition, TimerEventDefinition):
            expression(spec, definition.expression)
        if isinstance(definition, MessageEventDefinition):
            expression(spec, definition.expression)
    return problems


# --- instances --------------------------------------------------------------------------------
_registry = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)
# Money and quantities stay Decimal inside the process data.
_registry.register(Decimal, lambda value: {"value": str(value)}, lambda dct: Decimal(dct["value"]))
_serializer = BpmnWorkflowSerializer(_registry)


def workflow_new(parsed: Parsed, *, call: registry.ServiceCall) -> BpmnWorkflow:
    return BpmnWorkflow(
        parsed.spec, parsed.subprocess_specs, script_engine=RestrictedScriptEngine(call)
    )


def workflow_dump(workflow: BpmnWorkflow) -> str:
    """The workflow as JSON text (specs included, so the version travels with it)."""
    return _serializer.serialize_json(workflow)


def workflow_load(state: str, *, call: registry.ServiceCall) -> BpmnWorkflow:
    workflow = _serializer.deserialize_json(state)
    workflow.script_engine = RestrictedScriptEngine(call)
    return workflow


def message_event(name: str) -> MessageEventDefinition:
    return MessageEventDefinition(name)


def next_timer(workflow: BpmnWorkflow) -> dt.datetime | None:
    """The earliest time a waiting timer of the workflow fires (None: no timer waits)."""
    times = []
    for event in workflow.waiting_events():
        if "Timer" not in event.event_type or event.value is None:
            continue
        value = event.value["next"] if isinstance(event.value, dict) else event.value
        times.append(TimerEventDefinition.get_datetime(value))
    return min(times) if times else None


def waiting_messages(workflow: BpmnWorkflow) -> set[str]:
    return {
        event.name for event in workflow.waiting_events() if event.event_type.startswith("Message")
    }
