"""The record pattern: a detail page with an audit-history tab, and forms with field errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from xietong.core.models import AuditEntry


def get_or_404(queryset: Any, pk: int) -> Any:
    """The record of the request's company (the scoped queryset), else 404."""
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


def history_for(obj: models.Model, *, limit: int = 200) -> list[dict[str, Any]]:
    """Audit entries of `obj`, newest first, with field labels and before → after values."""
    entries = (
        AuditEntry.objects.get_for_object(obj)
        .select_related("actor")
        .order_by("-timestamp")[:limit]
    )
    meta = obj._meta
    history = []
    for entry in entries:
        changes = []
        for field, values in (entry.changes_dict or {}).items():
            try:
                # Reverse relations have no verbose name: show their field name.
                label = getattr(meta.get_field(field), "verbose_name", field)
            except FieldDoesNotExist:
                label = field
            if isinstance(
                values, dict
            ):  # many-to-many: {"type": "m2m", "operation": ..., "objects": [...]}
                old, new = (
                    values.get("operation", ""),
                    ", ".join(map(str, values.get("objects", []))),
                )
            else:
                old, new = (list(values) + ["", ""])[:2]
            changes.append({"field": label, "old": old, "new": new})
        history.append({"entry": entry, "changes": changes})
    return history


def apply_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Attach a service's ValidationError to the form, by field where the form has the field."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error)


def record_response(
    request: HttpRequest,
    *,
    obj: models.Model,
    title: str,
    fields: list[tuple[Any, Any]],
    actions: list[dict[str, Any]] | None = None,
    template: str = "core/record.html",
    extra: dict[str, Any] | None = None,
) -> HttpResponse:
    context = {
        "obj": obj,
        "title": title,
        "fields": fields,
        "actions": actions or [],
        "history": history_for(obj),
        **(extra or {}),
    }
    return render(request, template, context)


def form_response(
    request: HttpRequest,
    *,
    form: forms.BaseForm,
    title: str,
    cancel_url: str,
    submit_label: Any = None,
    status: int = 200,
    extra: dict[str, Any] | None = None,
) -> HttpResponse:
    context = {
        "form": form,
        "title": title,
        "cancel_url": cancel_url,
        "submit_label": submit_label,
        **(extra or {}),
    }
    return render(request, "core/form.html", context, status=status)


class ShellFormMixin:
    """Gives every widget the shell's Bootstrap classes (and marks invalid ones)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        for field in self.fields.values():  # type: ignore[attr-defined]
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                continue
            base = "form-select" if isinstance(widget, forms.Select) else "form-control"
            widget.attrs["class"] = f"{base} {widget.attrs.get('class', '')}".strip()

    def full_clean(self) -> None:
        super().full_clean()  # type: ignore[misc]
        for name in self.errors:  # type: ignore[attr-defined]
            if name in self.fields:  # type: ignore[attr-defined]
                widget = self.fields[name].widget  # type: ignore[attr-defined]
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()


class ShellForm(ShellFormMixin, forms.Form):
    pass


def edit_response(
    request: HttpRequest,
    *,
    form: forms.BaseForm,
    save: Callable[[dict[str, Any]], Any],
    success: str,
    done_url: Callable[[Any], str] | str,
    title: str,
    cancel_url: str,
    submit_label: Any = None,
) -> HttpResponse:
    """The create/edit round trip: on a valid POST call `save(cleaned_data)` (one service);
    its ValidationError goes back onto the form's fields, success redirects to `done_url`."""
    if request.method == "POST" and form.is_valid():
        try:
            result = save(form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, success)
            return redirect(done_url(result) if callable(done_url) else done_url)
    return form_response(
        request,
        form=form,
        title=title,
        cancel_url=cancel_url,
        submit_label=submit_label,
        status=400 if form.errors else 200,
    )
