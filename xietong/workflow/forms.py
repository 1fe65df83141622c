"""Forms of the workflow screens: completing a task (its outcome, comment and the fields the BPMN
model asks for), delegating and reassigning it, and deploying a definition (upload or modeler)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from xietong.core.models import User
from xietong.core.ui.records import ShellForm
from xietong.workflow.models import Task

MAX_MODEL_BYTES = 5 * 1024 * 1024

OUTCOME_LABELS = {
    "approved": _("Approve"),
    "rejected": _("Reject"),
    "done": _("Done"),
}


def outcome_label(outcome: str) -> Any:
    return OUTCOME_LABELS.get(outcome, outcome.replace("_", " ").capitalize())


class TaskCompleteForm(ShellForm):
    """The outcome (the button pressed), a comment and one field per BPMN `field.*` property."""

    outcome = forms.ChoiceField(label=_("Outcome"), widget=forms.HiddenInput)
    comment = forms.CharField(
        label=_("Comment"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, task: Task, **kwargs: Any) -> None:
        self.task = task
        super().__init__(*args, **kwargs)
        self.fields["outcome"].choices = [(o, outcome_label(o)) for o in task.outcomes]
        self.data_fields: list[str] = []
        for spec in task.form or []:
            name, kind = spec["name"], spec.get("type", "text")
            label = spec.get("label") or name.replace("_", " ").capitalize()
            if kind == "number":
                field: forms.Field = forms.DecimalField(label=label, required=False)
            elif kind == "boolean":
                field = forms.BooleanField(label=label, required=False)
            elif kind == "date":
                field = forms.DateField(
                    label=label, required=False, widget=forms.DateInput(attrs={"type": "date"})
                )
            else:
                field = forms.CharField(label=label, required=False, max_length=2000)
            key = f"field_{name}"
            self.fields[key] = field
            self.data_fields.append(key)

    def field_data(self) -> dict[str, Any]:
        """The BPMN form data for `task_complete` (values left empty are not sent)."""
        out: dict[str, Any] = {}
        for key in self.data_fields:
            value = self.cleaned_data.get(key)
            if value in (None, ""):
                continue
            if hasattr(value, "isoformat"):
                value = value.isoformat()
            out[key.removeprefix("field_")] = value
        return out

    def data_bound_fields(self) -> list[forms.BoundField]:
        return [self[key] for key in self.data_fields]


class _UserChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return obj.get_full_name() or obj.username


class TaskHandOverForm(ShellForm):
    """Delegate (to a holder of the task's role) or reassign (to any member) a task."""

    to = _UserChoice(label=_("To"), queryset=User.objects.none())
    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)

    def __init__(self, *args: Any, users: Any, queue_choice: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to"].queryset = users
        if queue_choice:  # reassigning to nobody puts the task back in the role's queue
            self.fields["to"].required = False
            self.fields["to"].empty_label = _("— the shared queue —")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)] if data else []


def _read(upload: Any) -> str:
    if upload.size > MAX_MODEL_BYTES:
        raise forms.ValidationError(_("The file is larger than 5 MB."))
    try:
        return upload.read().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise forms.ValidationError(_("The file is not UTF-8 text.")) from exc


class DefinitionUploadForm(ShellForm):
    key = forms.SlugField(
        label=_("Key"),
        max_length=80,
        help_text=_("A new version is deployed when a definition with this key exists."),
    )
    name = forms.CharField(label=_("Name"), max_length=200)
    process_id = forms.CharField(
        label=_("BPMN process id"),
        max_length=200,
        help_text=_("The id of the process in the BPMN file to run."),
    )
    bpmn_file = forms.FileField(label=_("BPMN file"))
    dmn_files = MultipleFileField(label=_("DMN files"), required=False)

    def clean_bpmn_file(self) -> str:
        return _read(self.cleaned_data["bpmn_file"])

    def clean_dmn_files(self) -> list[str]:
        return [_read(upload) for upload in self.cleaned_data.get("dmn_files") or []]


class ModelerForm(ShellForm):
    name = forms.CharField(label=_("Name"), max_length=200)
    bpmn_xml = forms.CharField(
        label=_("BPMN XML"), widget=forms.Textarea(attrs={"hidden": True, "rows": 2})
    )

    def clean_bpmn_xml(self) -> str:
        xml = self.cleaned_data["bpmn_xml"]
        if len(xml.encode()) > MAX_MODEL_BYTES:
            raise forms.ValidationError(_("The model is larger than 5 MB."))
        return xml
