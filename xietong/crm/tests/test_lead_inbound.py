"""Leads from e-mail on RFC 822 samples (tests/mail/leads/): a mail to a sales mailbox becomes
a lead of its team (source e-mail, sender's name and address, company from the signature, body
as description, assigned by the team's strategy); a plus-tag or the mailbox names the campaign;
a repeated Message-ID (or, without one, the same bytes) creates nothing; mail to no sales
mailbox is refused. The folder feed, the `leads_fetch` command and IMAP through a fake client;
the mailbox settings and their screens."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from xietong.core.tenancy import company_scope
from xietong.crm import inbound, lead_inbound, territories
from xietong.crm.models import Campaign, Lead, LeadMailbox, LeadMessage
from xietong.crm.tests import factories
from xietong.crm.tests.test_service_inbound import FakeImap

pytestmark = pytest.mark.django_db
MAIL = Path(__file__).parent / "mail" / "leads"


def raw(name: str) -> bytes:
    return (MAIL / name).read_bytes()


@pytest.fixture
def boxes(company_a, sales):  # type: ignore[no-untyped-def]
    """sales@alpha.example → team East; fairs@alpha.example → team West, campaign "trade-fair";
    campaign "spring-fair" for plus-tags."""
    with company_scope(company_a):
        spring = Campaign.unscoped.create(company=company_a, name="Spring fair", code="spring-fair",
                                          currency_id="CNY")  # fmt: skip
        trade = Campaign.unscoped.create(company=company_a, name="Trade fairs", code="trade-fair",
                                         currency_id="CNY")  # fmt: skip
        territories.mailbox_create(company=company_a, actor=None, address="Sales@Alpha.example",
                                   team=sales.east)  # fmt: skip
        territories.mailbox_create(company=company_a, actor=None, address="fairs@alpha.example",
                                   team=sales.west, campaign=trade)  # fmt: skip
    return {"spring": spring, "trade": trade}


def _ingest(company, name):  # type: ignore[no-untyped-def]
    with company_scope(company):
        return lead_inbound.lead_mail_ingest(company=company, raw=raw(name))


def test_recipients_helper():
    assert inbound.message_recipients(raw("mailbox_campaign.eml")) == [
        "fairs@alpha.example", "info@alpha.example"]  # fmt: skip
    assert inbound.message_recipients(raw("plus_tag.eml")) == ["sales+spring-fair@alpha.example"]


def test_enquiry_becomes_an_assigned_lead(company_a, sales, boxes):
    factories.opportunity(company_a, sales.east, owner=sales.rep, revenue="5000")
    result = _ingest(company_a, "enquiry.eml")
    assert result.created and not result.duplicate
    lead = Lead.unscoped.get(pk=result.lead.pk)
    assert (lead.name, lead.email) == ("Chen Jing", "chen.jing@suzhou-cycles.example")
    assert lead.company_name == "苏州骑行车业有限公司"
    assert lead.source == Lead.Source.EMAIL and lead.team_id == sales.east.pk
    assert lead.owner_id == sales.rep2.pk  # least loaded of East
    assert "quotation for 50 E-City 3 bikes" in lead.description
    assert lead.campaign == "" and lead.marketing_campaign_id is None
    message = LeadMessage.unscoped.get(lead=lead)
    assert message.message_id == "lead-0001@suzhou-cycles.example"
    assert message.subject == "Quotation for 50 city bikes"


def test_repeated_message_creates_nothing(company_a, boxes):
    first = _ingest(company_a, "enquiry.eml")
    again = _ingest(company_a, "enquiry.eml")
    assert again.duplicate and not again.created and again.lead.pk == first.lead.pk
    no_id = _ingest(company_a, "no_message_id.eml")
    assert no_id.created and no_id.lead.name == "Zhou Min"
    assert _ingest(company_a, "no_message_id.eml").duplicate
    assert Lead.unscoped.filter(company=company_a, source=Lead.Source.EMAIL).count() == 2


def test_campaign_from_plus_tag_or_mailbox(company_a, sales, boxes):
    tagged = Lead.unscoped.get(pk=_ingest(company_a, "plus_tag.eml").lead.pk)
    assert tagged.marketing_campaign_id == boxes["spring"].pk
    assert tagged.name == "wangfang" and tagged.team_id == sales.east.pk
    assert "catalogue" in tagged.description and "<b>" not in tagged.description
    assert tagged.company_name == ""
    fair = Lead.unscoped.get(pk=_ingest(company_a, "mailbox_campaign.eml").lead.pk)
    assert fair.marketing_campaign_id == boxes["trade"].pk
    assert fair.team_id == sales.west.pk and fair.owner_id == sales.other.pk


def test_mail_to_no_sales_mailbox_is_refused(company_a, company_b, boxes):
    with pytest.raises(ValueError, match="sales mailbox"):
        _ingest(company_a, "not_sales.eml")
    with pytest.raises(ValueError, match="sales mailbox"):
        _ingest(company_b, "enquiry.eml")  # company B has no sales mailbox
    LeadMailbox.unscoped.filter(company=company_a).update(active=False)
    with pytest.raises(ValueError):
        _ingest(company_a, "enquiry.eml")
    assert not Lead.unscoped.exists()


def test_signature_company():
    assert lead_inbound.signature_company("Hi\n-- \nLi\nHangzhou Velo Co., Ltd.\n") == (
        "Hangzhou Velo Co., Ltd.")  # fmt: skip
    assert lead_inbound.signature_company("Hi\nthanks\nLi") == ""


def test_folder_feed_and_command(company_a, boxes, tmp_path):
    for name in ("enquiry.eml", "plus_tag.eml", "not_sales.eml"):
        shutil.copy(MAIL / name, tmp_path / name)
    shutil.copy(MAIL / "enquiry.eml", tmp_path / "enquiry-again.eml")
    with company_scope(company_a):
        counts = lead_inbound.folder_fetch(company=company_a, folder=tmp_path)
    assert counts == {"created": 2, "duplicate": 1, "failed": 1}
    assert sorted(p.name for p in (tmp_path / "done").iterdir()) == [
        "enquiry-again.eml", "enquiry.eml", "plus_tag.eml"]  # fmt: skip
    assert (tmp_path / "failed" / "not_sales.eml.error").read_text().startswith("The message")
    shutil.copy(MAIL / "mailbox_campaign.eml", tmp_path / "m.eml")
    call_command("leads_fetch", "--company", str(company_a.pk), "--folder", str(tmp_path))
    assert Lead.unscoped.filter(company=company_a, source="email").count() == 3
    with pytest.raises(CommandError):
        call_command("leads_fetch", "--company", str(company_a.pk))


def test_imap_fetch_with_a_fake_client(company_a, boxes, settings):
    client = FakeImap({b"1": raw("enquiry.eml"), b"2": raw("not_sales.eml"),
                       b"3": raw("enquiry.eml")})  # fmt: skip
    with company_scope(company_a):
        counts = lead_inbound.imap_fetch(company=company_a, client=client, mailbox="Sales")
    assert counts == {"created": 1, "duplicate": 1, "failed": 1}
    assert client.flags == {b"1": "(\\Seen)", b"2": "(\\Seen \\Flagged)", b"3": "(\\Seen)"}
    settings.XIETONG_LEADS_IMAP = {}
    with pytest.raises(ValueError):
        lead_inbound.imap_connect()


def test_mailbox_settings_are_checked(company_a, company_b, sales, boxes):
    team_b = factories.team(company_b, "B")
    with company_scope(company_a), pytest.raises(ValidationError) as bad:
        territories.mailbox_create(company=company_a, actor=None, address="sales@alpha.example",
                                   team=team_b, campaign=999999)  # fmt: skip
    assert set(bad.value.message_dict) == {"address", "team", "campaign"}
    with company_scope(company_a), pytest.raises(ValidationError) as tagged:
        territories.mailbox_create(company=company_a, actor=None, address="s+x@alpha.example",
                                   team=sales.east)  # fmt: skip
    assert "address" in tagged.value.message_dict
    assert LeadMailbox.unscoped.filter(company=company_a).count() == 2


def test_mailbox_screens(company_a, sales, boxes, users_a, client_for):
    manager = client_for(users_a["sales_manager"])
    page = manager.get(reverse("crm:territory_list")).content.decode()
    assert "sales@alpha.example" in page and "fairs@alpha.example" in page
    created = manager.post(reverse("crm:mailbox_create"), {
        "address": "leads@alpha.example", "team": sales.east.pk,
        "campaign": boxes["spring"].pk, "active": "on"})  # fmt: skip
    assert created.status_code == 302
    box = LeadMailbox.unscoped.get(company=company_a, address="leads@alpha.example")
    assert box.campaign_id == boxes["spring"].pk
    refused = manager.post(reverse("crm:mailbox_edit", args=[box.pk]), {
        "address": "sales@alpha.example", "team": sales.east.pk})  # fmt: skip
    assert refused.status_code == 200
    assert "already" in refused.content.decode()
    box.refresh_from_db()
    assert box.address == "leads@alpha.example"
    assert client_for(sales.rep).get(reverse("crm:mailbox_create")).status_code == 403
