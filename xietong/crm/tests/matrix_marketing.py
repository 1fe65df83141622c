"""What the shell's generated screen matrix needs from CRM marketing (merged by
xietong/crm/tests/matrix.py): records per company (`records`, keys `crm_…`, named
CANARY-<key>-…), the URL name → record key of every URL with a primary key, the POST-only views.

The public tracking URLs take a signed token, not a primary key: their "records" are tokens of
a recipient of a sent campaign e-mail (an object whose `pk` is the token), so that the matrix
requests them as the e-mail's reader would."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xietong.core.jobs import job_run
from xietong.core.models import Company
from xietong.core.tenancy import company_scope
from xietong.crm import campaigns, mailing, segments
from xietong.crm.models import Recipient
from xietong.party.services import contact_create, party_create

URL_RECORDS: dict[str, str] = {
    "crm:segment_detail": "crm_segment",
    "crm:segment_edit": "crm_segment",
    "crm:segment_member_add": "crm_segment",
    "crm:segment_member_remove": "crm_segment",
    "crm:campaign_detail": "crm_campaign",
    "crm:campaign_edit": "crm_campaign",
    "crm:campaign_state": "crm_campaign",
    "crm:promotion_create": "crm_campaign",
    "crm:template_save": "crm_campaign",
    "crm:campaign_send": "crm_campaign",
    "crm:campaign_results": "crm_campaign",
    "crm:marketing_open": "crm_mail_open",
    "crm:marketing_click": "crm_mail_click",
    "crm:marketing_unsubscribe": "crm_mail_unsubscribe",
}
POST_ONLY: set[str] = {
    "crm:segment_member_add",
    "crm:segment_member_remove",
    "crm:campaign_state",
    "crm:promotion_create",
    "crm:template_save",
    "crm:campaign_send",
}


@dataclass(frozen=True)
class Token:
    """A tracking token standing in for a record: `pk` is what the URL takes."""

    pk: str


def records(company: Company, key: str) -> dict[str, Any]:
    """A static segment with one customer, a running e-mail campaign to it whose e-mail was
    sent (one recipient with one link), and that recipient's open, click and unsubscribe
    tokens."""
    with company_scope(company):
        customer = party_create(company=company, actor=None, name=f"CANARY-{key}-reader",
                                is_customer=True, allow_duplicate=True)  # fmt: skip
        contact_create(party=customer, actor=None, name=f"CANARY-{key}-contact",
                       email=f"reader-{key}@example.com")  # fmt: skip
        segment = segments.segment_create(company=company, actor=None,
                                          name=f"CANARY-{key}-segment", kind="static")  # fmt: skip
        segments.segment_members_add(segment=segment, actor=None, parties=[customer])
        campaign = campaigns.campaign_create(
            company=company, actor=None, name=f"CANARY-{key}-campaign", segment=segment,
            start_date="2026-01-01", end_date="2026-12-31", budget="1000",
        )  # fmt: skip
        campaigns.template_save(campaign=campaign, actor=None, language="en",
                                subject="Hello", body="See https://xietong.example/offer")  # fmt: skip
        campaigns.campaign_transition(campaign=campaign, actor=None, state="running")
        job = mailing.email_campaign_send(campaign=campaign, actor=None)
    job_run(job_id=job.pk)
    recipient = Recipient.unscoped.get(campaign=campaign)
    return {
        "crm_segment": segment,
        "crm_campaign": campaign,
        "crm_mail_open": Token(mailing.token_make(recipient.pk, "open")),
        "crm_mail_click": Token(mailing.token_make(recipient.pk, "click", 0)),
        "crm_mail_unsubscribe": Token(mailing.token_make(recipient.pk, "unsubscribe")),
    }
