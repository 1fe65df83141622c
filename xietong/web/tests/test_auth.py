"""Sign-in: password, throttling of failures, TOTP second factor, logout, language, password."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from conftest import PASSWORD


def _login(client, username, password=PASSWORD):  # type: ignore[no-untyped-def]
    return client.post(reverse("web:login"), {"username": username, "password": password})


@pytest.mark.django_db
def test_login_and_logout(client, users_a):
    response = _login(client, "a_sales_rep")
    assert response.status_code == 302 and response["Location"] == reverse("web:home")
    assert client.get(reverse("web:home")).status_code == 200
    old_session = client.cookies["sessionid"].value
    client.post(reverse("web:logout"))
    assert client.get(reverse("web:home")).status_code == 302
    client.cookies["sessionid"] = old_session  # replaying the old cookie does not work either
    assert client.get(reverse("web:home")).status_code == 302


@pytest.mark.django_db
def test_wrong_password_gives_an_error_and_no_session(client, users_a):
    response = _login(client, "a_sales_rep", "wrong-password-123")
    assert response.status_code == 400
    assert "sessionid" not in client.cookies or not client.cookies["sessionid"].value


@pytest.mark.django_db
def test_failed_logins_are_throttled(client, users_a, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "a_buyer", "not-the-password")
    locked = _login(client, "a_buyer")  # even the right password is refused now
    assert locked.status_code == 429
    assert "Too many failed log-in attempts" in locked.content.decode()
    assert client.get(reverse("web:home")).status_code == 302


@pytest.mark.django_db
def test_totp_second_factor(client, users_a, client_for):
    user = users_a["accountant"]
    setup = client_for(user)
    page = setup.get(reverse("web:otp_setup"))
    assert page.status_code == 200 and b"data:image/svg+xml" in page.content
    device = TOTPDevice.objects.get(user=user)
    assert (
        setup.post(
            reverse("web:otp_setup"), {"token": "000000" if totp(device.bin_key) != 0 else "111111"}
        ).status_code
        == 400
    )
    device.refresh_from_db()
    device.throttle_reset()  # django-otp slows down guessing after a failure
    token = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    assert setup.post(reverse("web:otp_setup"), {"token": token}).status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    # Password alone is no longer enough.
    response = _login(client, user.username)
    assert response["Location"] == reverse("web:login_otp")
    assert client.get(reverse("web:home")).status_code == 302
    assert client.post(reverse("web:login_otp"), {"token": "12345"}).status_code == 400
    device.refresh_from_db()
    device.last_t = -1  # allow the same time step again for the test
    device.save()
    response = client.post(reverse("web:login_otp"), {"token": token})
    assert response.status_code == 302
    assert client.get(reverse("web:home")).status_code == 200


@pytest.mark.django_db
def test_language_switch_is_remembered(client, users_a):
    _login(client, "a_sales_rep")
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    users_a["sales_rep"].refresh_from_db()
    assert users_a["sales_rep"].language == "zh-hans"
    html = client.get(reverse("web:home")).content.decode()
    assert '<html lang="zh-hans">' in html


@pytest.mark.django_db
def test_password_change_validates(client_for, users_a):
    client = client_for(users_a["sales_rep"])
    weak = client.post(
        reverse("web:password_change"),
        {"old_password": PASSWORD, "new_password1": "short", "new_password2": "short"},
    )
    assert weak.status_code == 400
    ok = client.post(
        reverse("web:password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a-much-longer-passphrase-42",
            "new_password2": "a-much-longer-passphrase-42",
        },
    )
    assert ok.status_code == 302
    users_a["sales_rep"].refresh_from_db()
    assert users_a["sales_rep"].check_password("a-much-longer-passphrase-42")


@pytest.mark.django_db
def test_open_redirect_is_refused(client, users_a):
    response = client.post(
        reverse("web:login") + "?next=https://evil.example/",
        {"username": "a_sales_rep", "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("web:home")
