"""The web shell: sign-in (with optional TOTP), home dashboard, switchers, own account."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import update_session_auth_hash
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from xietong.core import services
from xietong.core.models import ApiToken, Company, User
from xietong.core.permissions import has_perm, login_only, public, requires
from xietong.core.selectors import is_portal_user
from xietong.core.ui.records import apply_errors
from xietong.web import dashboard, two_factor
from xietong.web.forms import LoginForm, OtpForm, PasswordForm, TokenForm

PENDING_USER = "xietong-otp-user"


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _complete_login(
    request: HttpRequest, user: User, device: TOTPDevice | None = None
) -> HttpResponse:
    auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    if device is not None:
        otp_login(request, device)
    request.session["django_language"] = user.language
    response = redirect(_safe_next(request, reverse("web:home")))
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, user.language, samesite="Lax")
    return response


@public
def login(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("web:home")
    form = LoginForm(request, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.get_user()
        device = two_factor.totp_confirmed_device(user=user)
        if device is not None:
            request.session[PENDING_USER] = user.pk
            request.session["xietong-otp-next"] = _safe_next(request, reverse("web:home"))
            return redirect("web:login_otp")
        return _complete_login(request, user)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "web/login.html",
        {"form": form, "next": request.GET.get("next", "")},
        status=status,
    )


@public
def login_otp(request: HttpRequest) -> HttpResponse:
    user_id = request.session.get(PENDING_USER)
    if not user_id:
        return redirect("web:login")
    user = get_object_or_404(User, pk=user_id, is_active=True)
    form = OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = two_factor.totp_verify(user=user, token=form.cleaned_data["token"])
        if device is not None:
            next_url = request.session.pop("xietong-otp-next", reverse("web:home"))
            request.session.pop(PENDING_USER, None)
            response = _complete_login(request, user, device)
            response["Location"] = next_url
            return response
        form.add_error(
            "token", _("The code is not valid. Check your device's clock and try again.")
        )
    return render(request, "web/login_otp.html", {"form": form}, status=400 if form.errors else 200)


@require_POST
@public
def logout(request: HttpRequest) -> HttpResponse:
    auth_logout(request)
    messages.info(request, _("You have been logged out."))
    return redirect("web:login")


@public
def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@login_only
def home(request: HttpRequest) -> HttpResponse:
    if request.company is None:
        return render(request, "web/no_company.html", status=403)
    if is_portal_user(user=request.user, company=request.company):
        return redirect("web:portal")
    if not has_perm(request, "core.dashboard"):
        return render(request, "web/no_company.html", status=403)
    return render(request, "web/home.html", dashboard.context(request))


@requires("portal.access")
def portal(request: HttpRequest) -> HttpResponse:
    return render(request, "web/portal.html", {})


@require_POST
@login_only
def switch_company(request: HttpRequest) -> HttpResponse:
    try:
        company = Company.objects.get(pk=int(request.POST.get("company", "0")))
        services.user_switch_company(user=request.user, company=company)
    except (ValueError, Company.DoesNotExist, PermissionError):
        messages.error(request, _("You do not work for this company."))
        return redirect("web:home")
    messages.success(request, _("Now working in %(company)s.") % {"company": company.name})
    # The page the user was on may be a record of the previous company: go home instead.
    return redirect("web:home")


@login_only
def account(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "web/account.html",
        {"confirmed": two_factor.totp_confirmed_device(user=request.user) is not None},
    )


@login_only
def password_change(request: HttpRequest) -> HttpResponse:
    form = PasswordForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        update_session_auth_hash(request, user)
        messages.success(request, _("Your password has been changed."))
        return redirect("web:account")
    return render(
        request,
        "core/form.html",
        {
            "form": form,
            "title": _("Change password"),
            "cancel_url": reverse("web:account"),
        },
        status=400 if form.errors else 200,
    )


@requires("core.dashboard")
def otp_setup(request: HttpRequest) -> HttpResponse:
    """Enrol a TOTP device: show the QR code of an unconfirmed device; confirm with one code."""
    import segno

    if two_factor.totp_confirmed_device(user=request.user) is not None:
        messages.info(request, _("Two-factor authentication is already on."))
        return redirect("web:account")
    device = two_factor.totp_enrolment(user=request.user)
    form = OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if two_factor.totp_confirm(device=device, token=form.cleaned_data["token"]):
            otp_login(request, device)
            messages.success(request, _("Two-factor authentication is on."))
            return redirect("web:account")
        form.add_error(
            "token", _("The code is not valid. Check your device's clock and try again.")
        )
    qr = segno.make(device.config_url, error="m").svg_data_uri(scale=5)
    return render(
        request,
        "web/otp_setup.html",
        {"form": form, "qr": qr, "secret": device.config_url.split("secret=")[1].split("&")[0]},
        status=400 if form.errors else 200,
    )


@require_POST
@login_only
def otp_disable(request: HttpRequest) -> HttpResponse:
    two_factor.totp_disable(user=request.user)
    messages.success(request, _("Two-factor authentication is off."))
    return redirect("web:account")


@requires("core.dashboard")
def tokens(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    raw = None
    if request.method == "POST" and form.is_valid():
        expires = form.cleaned_data["expires_at"]
        try:
            _token, raw = services.api_token_create(
                user=request.user,
                company=request.company,
                name=form.cleaned_data["name"],
                expires_at=expires,
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            form = TokenForm()
    rows = ApiToken.objects.filter(user=request.user).order_by("-created_at")
    return render(
        request,
        "web/tokens.html",
        {"form": form, "raw": raw, "rows": rows},
        status=400 if form.errors else 200,
    )


@require_POST
@requires("core.dashboard")
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken.objects.filter(user=request.user), pk=pk)
    services.api_token_revoke(token=token, actor=request.user)
    messages.success(request, _("Token revoked."))
    return redirect("web:tokens")


@require_POST
@public
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's language switch, remembered on the user's profile when signed in."""
    from django.views.i18n import set_language as django_set_language

    language = request.POST.get("language", "")
    if request.user.is_authenticated:
        try:
            services.user_set_language(user=request.user, language=language)
        except ValidationError:
            messages.error(request, _("Unknown language."))
    return django_set_language(request)
