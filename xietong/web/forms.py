from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.utils.translation import gettext_lazy as _

from xietong.core.ui.records import ShellForm, ShellFormMixin


class LoginForm(ShellFormMixin, AuthenticationForm):
    pass


class PasswordForm(ShellFormMixin, PasswordChangeForm):
    pass


class OtpForm(ShellForm):
    token = forms.RegexField(
        label=_("Code from your authenticator app"),
        regex=r"^\d{6}$",
        max_length=6,
        error_messages={"invalid": _("Enter the 6-digit code.")},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class TokenForm(ShellForm):
    name = forms.CharField(label=_("Token name"), max_length=80)
    expires_at = forms.DateTimeField(
        label=_("Expires (optional)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
