"""Who the audit trail names as the author of a change.

Requests (django-auditlog's middleware) and background jobs (`core.jobs`) set the actor for
everything they do; `audited` makes every write service name its `actor` keyword as well, so a
service called from a command, a test or another app's job is attributed too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextvars import ContextVar
from functools import wraps
from typing import Any, TypeVar

from auditlog.context import auditlog_value, set_actor
from django.db import models

F = TypeVar("F", bound=Callable[..., Any])

# The actor and the django-auditlog context an `audited` service opened and is still running in.
_opened: ContextVar[tuple[Any, dict[str, Any]] | None] = ContextVar("xietong_audited", default=None)


def audited(service: F) -> F:
    """Decorate a write service so its audit entries name its `actor` keyword argument.

    django-auditlog keeps one context per block and a nested block would leave the outer one
    (a request's) disabled, so the outer context is put back afterwards. A service called by
    another `audited` service for the same actor runs in the caller's context (opening one
    connects and disconnects a signal receiver, which empties Django's receiver caches).
    """

    @wraps(service)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        actor = kwargs.get("actor")
        if actor is None:
            return service(*args, **kwargs)
        previous = auditlog_value.get(None)
        opened = _opened.get()
        if opened is not None and opened[0] is actor and opened[1] is previous:
            return service(*args, **kwargs)
        extra = {k: previous.get(k) for k in ("remote_addr", "remote_port")} if previous else {}
        try:
            with set_actor(actor, **extra):
                token = _opened.set((actor, auditlog_value.get()))
                try:
                    return service(*args, **kwargs)
                finally:
                    _opened.reset(token)
        finally:
            if previous is not None:
                auditlog_value.set(previous)

    return wrapper  # type: ignore[return-value]


_FIELDS: dict[type[models.Model], list[models.Field] | None] = {}


def _tracked_fields(model: type[models.Model]) -> list[models.Field] | None:
    """The concrete fields django-auditlog records for `model` (its include/exclude lists),
    looked up once; None when auditlog's own diff is needed (masked fields, text changes)."""
    from auditlog.diff import track_field
    from auditlog.registry import auditlog
    from django.conf import settings as django_settings

    if model not in _FIELDS:
        options = auditlog.get_model_fields(model)
        if not django_settings.AUDITLOG_STORE_JSON_CHANGES or options["mask_fields"]:
            _FIELDS[model] = None
        else:
            fields = [f for f in model._meta.concrete_fields if track_field(f)]
            if options["include_fields"]:
                fields = [f for f in fields if f.name in options["include_fields"]]
            _FIELDS[model] = [f for f in fields if f.name not in options["exclude_fields"]]
    return _FIELDS[model]


def _changes(before: models.Model | None, after: models.Model) -> dict[str, Any] | None:
    """django-auditlog's `model_instance_diff(before, after)` with the model's tracked fields
    looked up once and the values of unchanged fields not converted (equal values, 1.50 and
    1.5 too, are no change)."""
    from auditlog.diff import get_field_value, is_primitive, model_instance_diff
    from django.conf import settings as django_settings
    from django.utils.encoding import smart_str

    fields = _tracked_fields(type(after))
    if fields is None:  # the general case: auditlog's own diff
        return model_instance_diff(
            before, after, use_json_for_changes=django_settings.AUDITLOG_STORE_JSON_CHANGES
        )
    changes: dict[str, Any] = {}
    for field in fields:
        if before is not None and getattr(before, field.attname) == getattr(after, field.attname):
            continue
        old = None if before is None else get_field_value(before, field, True)
        new = get_field_value(after, field, True)
        if old != new:
            changes[field.name] = (
                old if is_primitive(old) else smart_str(old),
                new if is_primitive(new) else smart_str(new),
            )
    return changes or None


def audit_write(
    batches: Iterable[tuple[Any, Iterable[tuple[models.Model | None, models.Model]]]],
) -> int:
    """Insert the audit entries django-auditlog would have written had each (before, after)
    pair of `batches` ((actor, pairs) each; before None for a new row) been saved with
    `save()`: the same changes, representation, serialized data, company and additional data,
    the batch's actor (else the one of the audit context) and the context's remote address,
    through the same `pre_save` hook of the audit context; unchanged rows get none. One insert
    per 1,000 entries; nothing while auditlog is disabled. Returns how many were written."""
    from auditlog.cid import get_cid
    from auditlog.context import auditlog_disabled
    from django.contrib.auth import get_user_model
    from django.contrib.contenttypes.models import ContentType
    from django.db.models.signals import pre_save
    from django.utils.encoding import smart_str

    from xietong.core.models import AuditEntry

    if auditlog_disabled.get():
        return 0
    user_model = get_user_model()
    manager = AuditEntry.objects
    cid = get_cid()
    rows = []
    for actor, pairs in batches:
        for before, after in pairs:
            changes = _changes(before, after)
            if not changes:
                continue
            pk = manager._get_pk_value(after)
            extra = getattr(after, "get_additional_data", None)
            row = AuditEntry(
                content_type=ContentType.objects.get_for_model(after),
                object_pk=pk,
                object_id=pk if isinstance(pk, int) else None,
                object_repr=smart_str(after),
                serialized_data=manager._get_serialized_data_or_none(after),
                action=AuditEntry.Action.CREATE if before is None else AuditEntry.Action.UPDATE,
                changes=changes,
                additional_data=extra() if callable(extra) else None,
                cid=cid,
                company_id=getattr(after, "company_id", None),
            )
            if isinstance(actor, user_model):
                row.actor = actor
                row.actor_email = getattr(actor, "email", None)
            pre_save.send(sender=AuditEntry, instance=row, raw=False, using="default")
            rows.append(row)
    if rows:
        AuditEntry.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def audit_bulk(
    pairs: Iterable[tuple[models.Model | None, models.Model]],
    *,
    actor: Any = None,
) -> int:
    """Audit entries, naming `actor`, for rows written in bulk (`bulk_create`/`bulk_update`
    send no signals, so django-auditlog sees nothing). `pairs` are (row before, row after);
    before is None for a new row. The entries are those auditlog would write (see
    `audit_write`); unchanged rows get none. Returns how many entries were written.

    auditlog's own diff inspects the model's fields again for every row, which costs more
    than the insert for 100,000 rows; here the fields are looked up once per model."""
    return audit_write([(actor, pairs)])
