"""One base-URL setting, `SITE_URL` (env `XIETONG_SITE_URL`), for every link sent without a
request: campaign e-mails' tracking and unsubscribe links and activity reminders. Without it the
campaign links point to the development server and the reminders carry paths only; a value that
is not an absolute http(s) address is a clear configuration error, not broken links."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django.utils import timezone

from xietong.core.tenancy import company_scope
from xietong.crm import campaigns, mailing, reminders, services
from xietong.crm.models import Activity
from xietong.crm.tests import factories
from xietong.crm.tests import marketing_factories as mk


def _settings_site_url(tmp_path, value: str | None) -> str:  # type: ignore[no-untyped-def]
    """SITE_URL as xietong.settings reads it from a fresh process's environment."""
    env = {k: v for k, v in os.environ.items() if k != "XIETONG_SITE_URL"}
    env["XIETONG_VAR_DIR"] = str(tmp_path)
    if value is not None:
        env["XIETONG_SITE_URL"] = value
    code = "import xietong.settings as s; print(repr(s.SITE_URL))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, cwd=settings.BASE_DIR)  # fmt: skip  # noqa: S603
    return out.stdout.strip()


def test_the_setting_comes_from_the_environment(tmp_path):
    assert (
        _settings_site_url(tmp_path, " https://xietong.example/ ") == "'https://xietong.example/'"
    )
    assert _settings_site_url(tmp_path, None) == "''"


@pytest.mark.parametrize(("value", "expected"), [
    ("https://xietong.example/", "https://xietong.example"),
    ("http://10.0.0.5:8000", "http://10.0.0.5:8000"),
    ("https://xietong.example/erp/", "https://xietong.example/erp"),
])  # fmt: skip
def test_site_url_is_the_setting_without_its_trailing_slash(value, expected):
    with override_settings(SITE_URL=value):
        assert mailing.site_url() == expected
        assert mailing.site_url(fallback="") == expected


def test_without_the_setting_the_documented_fallbacks(monkeypatch):
    monkeypatch.setenv("XIETONG_SITE_URL", "https://ignored.example")  # the setting, not the env
    with override_settings(SITE_URL=""):
        assert mailing.site_url() == "http://localhost:8000"
        assert mailing.site_url(fallback="") == ""


@pytest.mark.parametrize("value", ["xietong.example", "ftp://xietong.example", "https://",
                                   "https://xietong.example/?a=1"])  # fmt: skip
def test_a_bad_value_is_a_clear_error(value):
    with override_settings(SITE_URL=value), pytest.raises(ImproperlyConfigured) as caught:
        mailing.site_url()
    assert "XIETONG_SITE_URL" in str(caught.value) and value in str(caught.value)


@pytest.mark.django_db
@pytest.mark.parametrize(("value", "prefix"), [("https://xietong.example/", "https://xietong.example"),
                                               ("", "http://localhost:8000")])  # fmt: skip
def test_campaign_e_mails_link_to_the_site(company_a, value, prefix):
    mk.customer(company_a, "Berlin Bikes", email="b@example.de", language="en")
    c = mk.campaign(company_a, segment=mk.segment(company_a, []), state="scheduled")
    with company_scope(company_a):
        campaigns.template_save(campaign=c, actor=None, language="en", subject="Spring",
                                body="See https://shop.example.cn/spring")  # fmt: skip
    with override_settings(SITE_URL=value):
        mk.send(c)
    (message,) = mail.outbox
    assert f"{prefix}/crm/marketing/t/c/" in message.body
    html = message.alternatives[0][0]
    assert f"{prefix}/crm/marketing/t/o/" in html and f"{prefix}/crm/marketing/unsubscribe/" in html


@pytest.mark.django_db
def test_reminders_link_to_the_site_or_give_the_path(company_a, sales, caplog):
    sales.rep.email = "rep@example.com"
    sales.rep.save()
    deal = factories.opportunity(company_a, sales.east, owner=sales.rep, name="Velo 2026")
    path = f"/crm/opportunities/{deal.pk}/"

    def remind(subject: str, sent: int = 1) -> str:
        with company_scope(company_a):
            services.activity_create(company=company_a, actor=sales.rep, opportunity=deal,
                                     subject=subject, owner=sales.rep,
                                     due_date=timezone.localdate() - dt.timedelta(days=1))  # fmt: skip
        mail.outbox.clear()
        assert reminders.activity_reminders_send() == sent
        return mail.outbox[0].body if sent else ""

    with override_settings(SITE_URL="https://xietong.example/"):
        assert f"https://xietong.example{path}" in remind("Call back")
    with override_settings(SITE_URL=""):
        body = remind("Call again")
        assert path in body and f"http://localhost:8000{path}" not in body
        assert "https://xietong.example" not in body
    with override_settings(SITE_URL="xietong.example"):  # logged, left for the next sweep
        remind("Not yet", sent=0)
    assert Activity.unscoped.get(subject="Not yet").reminded_at is None
    assert "must be an absolute http(s) address" in caplog.text
