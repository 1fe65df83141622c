"""Who the audit trail names as the author of a change.

Requests (django-auditlog's middleware) and background jobs (`core.jobs`) set the actor for
everything they do; `audited` makes every write service name its `actor` keyword as well, so a
service called from a command, a test or another app's job is attributed too.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from auditlog.context import auditlog_value, set_actor

F = TypeVar("F", bound=Callable[..., Any])


def audited(service: F) -> F:
    """Decorate a write service so its audit entries name its `actor` keyword argument.

    django-auditlog keeps one context per block and a nested block would leave the outer one
    (a request's) disabled, so the outer context is put back afterwards.
    """

    @wraps(service)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        actor = kwargs.get("actor")
        if actor is None:
            return service(*args, **kwargs)
        previous = auditlog_value.get(None)
        extra = {k: previous.get(k) for k in ("remote_addr", "remote_port")} if previous else {}
        try:
            with set_actor(actor, **extra):
                return service(*args, **kwargs)
        finally:
            if previous is not None:
                auditlog_value.set(previous)

    return wrapper  # type: ignore[return-value]
