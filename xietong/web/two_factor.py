"""Optional TOTP second factor for staff (django-otp): enrol, verify, turn off.

Reads and writes of the user's devices live here so that the views only parse and render.
"""

from __future__ import annotations

from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from xietong.core.models import User


def totp_confirmed_device(*, user: User) -> TOTPDevice | None:
    """The user's confirmed device, or None when two-factor authentication is off."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def totp_verify(*, user: User, token: str) -> TOTPDevice | None:
    """The confirmed device that accepts `token` (django-otp throttles and refuses replays)."""
    for device in TOTPDevice.objects.filter(user=user, confirmed=True):
        if device.verify_token(token):
            return device
    return None


def totp_enrolment(*, user: User) -> TOTPDevice:
    """The unconfirmed device to show as a QR code, created on first use."""
    with transaction.atomic():
        device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    return device


def totp_confirm(*, device: TOTPDevice, token: str) -> bool:
    """Turn two-factor authentication on when `token` proves the user has the secret."""
    if not device.verify_token(token):
        return False
    TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True)
    device.confirmed = True
    return True


def totp_disable(*, user: User) -> None:
    TOTPDevice.objects.filter(user=user).delete()
