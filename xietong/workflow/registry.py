"""The explicit registry of functions BPMN service tasks may call.

A service task names its function in SpiffWorkflow's `serviceTaskOperator` extension
(`<spiffworkflow:serviceTaskOperator id="sales.quotation_mark_approved">`). Only names registered
here (from an app's `AppConfig.ready()`) can be deployed or run: a process model never brings
its own code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ServiceCall:
    """What a service function learns about the instance that calls it."""

    company_id: int
    instance_id: int | None
    content_type_id: int | None
    object_id: int | None
    data: dict[str, Any]


ServiceFunction = Callable[..., Any]
_SERVICES: dict[str, ServiceFunction] = {}


def register(name: str, function: ServiceFunction) -> None:
    """Make `function(call: ServiceCall, **parameters)` callable from service tasks as `name`.

    Its return value must be JSON-serialisable: it is stored in the task data under the
    operator's `resultVariable`.
    """
    _SERVICES[name] = function


def unregister(name: str) -> None:
    _SERVICES.pop(name, None)


def get(name: str) -> ServiceFunction | None:
    return _SERVICES.get(name)


def is_registered(name: str) -> bool:
    return name in _SERVICES
