"""E-mail campaigns: recipients from the campaign's segment, sending as a background job with
progress, merge fields in each contact's language, and tracking on our own server.

`email_campaign_send` picks one contact per party of the segment (the primary contact with an
e-mail, else the first with one), records a `Recipient` per address — `skipped` when the
contact wants no marketing, `control` (never sent to) when the party falls in the campaign's
control group (`holdout_percent`, a deterministic hash of campaign and party: `in_control`) —
and starts the job "crm.campaign_email" (`xietong.core.jobs`),
which sends the queued ones through Django's e-mail backend, reporting progress. A contact who
unsubscribed meanwhile is skipped at sending too.

Each e-mail is the campaign's template in the contact's language (else the party's, else the
campaign's default language, else any), with its merge fields filled. Its links go through
our click redirect, and its HTML part carries an open-tracking pixel; both and the
unsubscribe link carry a signed token (`django.core.signing`, a salt per use) naming the
recipient — and, for a click, the link's position among the links of that very e-mail, which
are stored on the recipient: the redirect can only lead to a link of the e-mail (no open
redirect). A bad or forged token is not found and changes nothing."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext as _

from xietong.core import jobs
from xietong.core.audit import audited
from xietong.core.models import Company, Job, User
from xietong.crm.campaigns import CampaignError
from xietong.crm.models import Campaign, EmailClick, EmailTemplate, Recipient
from xietong.crm.segments import segment_parties
from xietong.party.models import Contact
from xietong.party.services import timeline_add

JOB_KIND = "crm.campaign_email"
MERGE_FIELDS = {
    "contact_name": "the contact's name",
    "party_name": "the customer's name",
    "company_name": "our company's name",
    "campaign": "the campaign's name",
    "coupon": "the campaign's first coupon code",
    "unsubscribe_url": "the contact's unsubscribe link",
}
MERGE_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
URL_RE = re.compile(r"https?://[A-Za-z0-9\-._~:/?#@!$&*+,;=%]+")  # ASCII: stops at 。，
STATUS_RANK = {
    Recipient.Status.QUEUED: 0,
    Recipient.Status.SENT: 1,
    Recipient.Status.OPENED: 2,
    Recipient.Status.CLICKED: 3,
    Recipient.Status.UNSUBSCRIBED: 4,
}
SALTS = {"open": "crm.mail.open", "click": "crm.mail.click", "unsubscribe": "crm.mail.unsub"}
PROGRESS_EVERY = 20


# --- merge fields and tokens --------------------------------------------------------------------


def merge_fields_check(text: str) -> list[str]:
    """The merge fields `text` uses that do not exist, in order."""
    unknown: list[str] = []
    for name in MERGE_RE.findall(text or ""):
        if name not in MERGE_FIELDS and name not in unknown:
            unknown.append(name)
    return unknown


def merge(text: str, values: Mapping[str, str]) -> str:
    """`text` with each `{{ field }}` replaced by its value (plain substitution, no code)."""
    return MERGE_RE.sub(lambda m: values.get(m.group(1), ""), text)


def token_make(recipient_id: int, use: str, link: int | None = None) -> str:
    return signing.dumps([recipient_id, link], salt=SALTS[use], compress=False)


def token_read(token: str, use: str) -> tuple[int, int | None] | None:
    """The recipient id (and link position) of a token for `use`, or None when it is bad."""
    try:
        value = signing.loads(token, salt=SALTS[use])
    except signing.BadSignature:
        return None
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], int)):
        return None
    link = value[1]
    if link is not None and not isinstance(link, int):
        return None
    return value[0], link


LOCAL_SITE_URL = "http://localhost:8000"  # the development server


def site_url(*, fallback: str = LOCAL_SITE_URL) -> str:
    """The site's address for links sent without a request: `settings.SITE_URL` (env
    `XIETONG_SITE_URL`) without its trailing slash, or `fallback` when it is empty (the
    development server for the tracking links). Raises ImproperlyConfigured when it is not an
    absolute http(s) address, rather than sending e-mails with broken links."""
    base = str(getattr(settings, "SITE_URL", "") or "").strip()
    if not base:
        return fallback.rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ImproperlyConfigured(
            f"SITE_URL (env XIETONG_SITE_URL) must be an absolute http(s) address such as "
            f"https://xietong.example, not {base!r}."
        )
    return base.rstrip("/")


def _url(name: str, token: str) -> str:
    return site_url() + reverse(name, args=[token])


# --- recipients and sending ---------------------------------------------------------------------


def _contacts(campaign: Campaign) -> list[tuple[Any, Contact | None, str, str]]:
    """(party, contact, e-mail, language) per party of the segment with an address."""
    parties = list(segment_parties(campaign.segment))  # type: ignore[arg-type]
    contacts: dict[int, Contact] = {}
    for contact in (
        Contact.unscoped.filter(party__in=parties, active=True)
        .exclude(email="")
        .order_by("party_id", "-is_primary", "pk")
    ):
        contacts.setdefault(contact.party_id, contact)
    out = []
    for party in parties:
        contact = contacts.get(party.pk)
        if contact is not None:
            out.append((party, contact, contact.email.lower(), contact.language or party.language))
        elif party.email:
            out.append((party, None, party.email.lower(), party.language))
    return out


def in_control(campaign_id: int, party_id: int, holdout_percent: int) -> bool:
    """Whether the party is in the campaign's control group: a hash of the campaign and the
    party in 0–99 below `holdout_percent`, so the same parties are held out on every run (and
    different ones in each campaign)."""
    if holdout_percent <= 0:
        return False
    digest = hashlib.sha256(f"crm.holdout:{campaign_id}:{party_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100 < holdout_percent


@audited
def email_campaign_send(*, campaign: Campaign, actor: User | None) -> Job:
    """Queue the campaign's e-mail to every contact of its segment not yet sent to, and start
    the sending job (enqueued on commit). A scheduled campaign starts running. Raises
    CampaignError: not an e-mail campaign, no segment, no template, not scheduled or running,
    nobody to send to."""
    with transaction.atomic():
        row = (
            Campaign.unscoped.select_for_update(of=("self",))
            .select_related("segment")
            .get(pk=campaign.pk)
        )
        if row.channel != Campaign.Channel.EMAIL:
            raise CampaignError(_("Only an e-mail campaign sends e-mails."), "channel")
        if row.state not in (Campaign.State.SCHEDULED, Campaign.State.RUNNING):
            raise CampaignError(_("Schedule the campaign before sending its e-mail."))
        if row.segment is None:
            raise CampaignError(_("Choose the campaign's target segment first."), "segment")
        if not EmailTemplate.unscoped.filter(campaign=row).exists():
            raise CampaignError(_("Write the campaign's e-mail first."), "template")
        known = set(Recipient.unscoped.filter(campaign=row).values_list("email", flat=True))
        new = []
        for party, contact, email, language in _contacts(row):
            if email in known:
                continue
            known.add(email)
            if contact is not None and contact.opt_out:
                status = Recipient.Status.SKIPPED
            elif in_control(row.pk, party.pk, row.holdout_percent):
                status = Recipient.Status.CONTROL
            else:
                status = Recipient.Status.QUEUED
            new.append(Recipient(
                company_id=row.company_id, campaign=row, party=party, contact=contact,
                email=email, language=language, status=status,
            ))  # fmt: skip
        if not any(r.status == Recipient.Status.QUEUED for r in new):
            raise CampaignError(_("Nobody new to send to in the segment."), "empty")
        Recipient.unscoped.bulk_create(new)
        if row.state == Campaign.State.SCHEDULED:
            row.state = Campaign.State.RUNNING
            row.save(update_fields=["state", "updated_at"])
        job = jobs.job_start(
            company=row.company, actor=actor if getattr(actor, "pk", None) else None,
            kind=JOB_KIND, name=_("Send the e-mail of %(campaign)s") % {"campaign": row.name},
            campaign_id=row.pk,
        )  # fmt: skip
    campaign.state = row.state
    return job


def _templates(campaign: Campaign) -> dict[str, EmailTemplate]:
    return {t.language: t for t in EmailTemplate.unscoped.filter(campaign=campaign)}


def template_for(templates: Mapping[str, EmailTemplate], language: str,
                 fallback: str) -> EmailTemplate:  # fmt: skip
    """The template in `language`, else in `fallback` (the campaign's language), else any."""
    return templates.get(language) or templates.get(fallback) or templates[sorted(templates)[0]]


def message_build(recipient: Recipient, campaign: Campaign, template: EmailTemplate,
                  company: Company, coupon: str) -> tuple[EmailMultiAlternatives, list[str]]:  # fmt: skip
    """The e-mail of one recipient and the links of its body (in order)."""
    unsubscribe = _url("crm:marketing_unsubscribe", token_make(recipient.pk, "unsubscribe"))
    values = {
        "contact_name": recipient.contact.name if recipient.contact else recipient.party.name,
        "party_name": recipient.party.name,
        "company_name": company.name,
        "campaign": campaign.name,
        "coupon": coupon,
        "unsubscribe_url": "",
    }
    subject = merge(template.subject, values)
    body = merge(template.body, values)
    links: list[str] = []
    for url in URL_RE.findall(body):
        url = url.rstrip(".,;:!?")
        if url not in links:
            links.append(url)
    tracked = {url: _url("crm:marketing_click", token_make(recipient.pk, "click", n))
               for n, url in enumerate(links)}  # fmt: skip

    def swap(match: re.Match[str]) -> str:
        url = match.group(0)
        tail = url[len(url.rstrip(".,;:!?")) :]
        return tracked[url[: len(url) - len(tail)]] + tail

    text = URL_RE.sub(swap, body)
    footer = _("To receive no more of these e-mails, open %(url)s") % {"url": unsubscribe}
    html_parts = []
    for piece in re.split(r"(https?://\S+)", escape(URL_RE.sub(swap, body))):
        if piece.startswith(("http://", "https://")):
            html_parts.append(f'<a href="{piece}">{piece}</a>')
        else:
            html_parts.append(piece.replace("\n", "<br>\n"))
    pixel = _url("crm:marketing_open", token_make(recipient.pk, "open"))
    html = (
        "".join(html_parts)
        + f'<hr><p style="font-size:small"><a href="{escape(unsubscribe)}">'
        + escape(_("Unsubscribe"))
        + f'</a></p><img src="{escape(pixel)}" width="1" height="1" alt="">'
    )
    message = EmailMultiAlternatives(
        subject=subject,
        body=f"{text}\n\n-- \n{footer}\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient.email],
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },  # fmt: skip
    )
    message.attach_alternative(html, "text/html")
    return message, links


def send_job(context: jobs.JobContext, *, campaign_id: int) -> dict[str, Any]:
    """The job "crm.campaign_email": send the campaign's queued e-mails, with progress."""
    campaign = Campaign.unscoped.select_related("company").get(
        pk=campaign_id, company_id=context.company.pk
    )
    templates = _templates(campaign)
    if not templates:
        raise jobs.JobError(_("The campaign has no e-mail template."))
    coupon = (
        campaign.promotions.filter(active=True)
        .values_list("coupons__code", flat=True)
        .exclude(coupons__code=None)
        .order_by("pk", "coupons__code")
        .first()
    ) or ""
    queued = list(
        Recipient.unscoped.filter(campaign=campaign, status=Recipient.Status.QUEUED)
        .select_related("party", "contact")
        .order_by("pk")
    )
    total = len(queued)
    context.progress(0, total, _("Sending…"))
    counts = {"sent": 0, "bounced": 0, "skipped": 0}
    for n, recipient in enumerate(queued, start=1):
        if recipient.contact is not None and recipient.contact.opt_out:
            Recipient.unscoped.filter(pk=recipient.pk).update(status=Recipient.Status.SKIPPED)
            counts["skipped"] += 1
        else:
            template = template_for(templates, recipient.language, campaign.language)
            with translation.override(template.language):
                message, links = message_build(recipient, campaign, template, campaign.company,
                                               coupon)  # fmt: skip
            try:
                message.send()
            except Exception as exc:  # the mail server refused it: a bounce
                Recipient.unscoped.filter(pk=recipient.pk).update(
                    status=Recipient.Status.BOUNCED, error=str(exc)[:255], links=links
                )
                counts["bounced"] += 1
            else:
                Recipient.unscoped.filter(pk=recipient.pk).update(
                    status=Recipient.Status.SENT, sent_at=timezone.now(), links=links
                )
                counts["sent"] += 1
                timeline_add(party=recipient.party, kind="crm.campaign_email",
                             summary=_("Campaign e-mail: %(subject)s")
                             % {"subject": message.subject[:200]}, source=campaign,
                             url=reverse("crm:campaign_detail", args=[campaign.pk]))  # fmt: skip
        if n % PROGRESS_EVERY == 0 or n == total:
            context.progress(n, total, _("%(n)s of %(total)s e-mails done.")
                             % {"n": n, "total": total})  # fmt: skip
    return {
        "message": _("%(sent)s sent, %(bounced)s bounced, %(skipped)s skipped.") % counts,
        **counts,
    }


# --- tracking -----------------------------------------------------------------------------------


def _recipient(token: str, use: str) -> tuple[Recipient, int | None] | None:
    read = token_read(token, use)
    if read is None:
        return None
    recipient = (
        Recipient.unscoped.select_related("party", "contact", "campaign").filter(pk=read[0]).first()
    )
    if recipient is None:
        return None
    return recipient, read[1]


def _advance(recipient: Recipient, status: str, **stamps: Any) -> None:
    """Record `stamps` (only where still empty) and move the status forward, never back."""
    updates: dict[str, Any] = {}
    for name, value in stamps.items():
        if getattr(recipient, name) is None:
            updates[name] = value
    if STATUS_RANK.get(status, 0) > STATUS_RANK.get(recipient.status, -1):
        updates["status"] = status
    if updates:
        Recipient.unscoped.filter(pk=recipient.pk).update(**updates)
        for name, value in updates.items():
            setattr(recipient, name, value)


def track_open(*, token: str) -> Recipient | None:
    """Record that the e-mail was opened (the pixel was loaded); None for a bad token."""
    found = _recipient(token, "open")
    if found is None:
        return None
    recipient = found[0]
    if recipient.status in (Recipient.Status.QUEUED, Recipient.Status.SKIPPED,
                            Recipient.Status.CONTROL):  # fmt: skip
        return None
    with transaction.atomic():
        _advance(recipient, Recipient.Status.OPENED, opened_at=timezone.now())
    return recipient


def track_click(*, token: str) -> str | None:
    """Record a click and answer the link of the e-mail to go to; None for a bad token or a
    link that is not in the e-mail."""
    found = _recipient(token, "click")
    if found is None:
        return None
    recipient, n = found
    if n is None or not 0 <= n < len(recipient.links or []):
        return None
    url = str(recipient.links[n])
    if not URL_RE.fullmatch(url):
        return None
    now = timezone.now()
    with transaction.atomic():
        first = recipient.clicked_at is None
        _advance(recipient, Recipient.Status.CLICKED, opened_at=now, clicked_at=now)
        EmailClick.unscoped.create(company_id=recipient.company_id, recipient=recipient,
                                   url=url[:500], clicked_at=now)  # fmt: skip
        if first:
            timeline_add(party=recipient.party, kind="crm.campaign_click",
                         summary=_("Clicked the e-mail of %(campaign)s")
                         % {"campaign": recipient.campaign.name}, source=recipient.campaign,
                         occurred_at=now)  # fmt: skip
    return url


def unsubscribe_recipient(*, token: str) -> Recipient | None:
    """Read an unsubscribe token (None when bad) without changing anything."""
    found = _recipient(token, "unsubscribe")
    return found[0] if found else None


def unsubscribe(*, token: str) -> Recipient | None:
    """The contact of the token wants no more marketing: mark the contact (`opt_out`) and the
    recipient; later sendings skip them. None (and nothing changed) for a bad token."""
    recipient = unsubscribe_recipient(token=token)
    if recipient is None:
        return None
    with transaction.atomic():
        _advance(recipient, Recipient.Status.UNSUBSCRIBED, unsubscribed_at=timezone.now())
        if recipient.contact_id:
            Contact.unscoped.filter(pk=recipient.contact_id).update(opt_out=True)
        # the same address elsewhere in the company wants no marketing either
        Contact.unscoped.filter(company_id=recipient.company_id,
                                email__iexact=recipient.email).update(opt_out=True)  # fmt: skip
        Recipient.unscoped.filter(
            Q(company_id=recipient.company_id, email=recipient.email,
              status=Recipient.Status.QUEUED)
        ).update(status=Recipient.Status.SKIPPED)  # fmt: skip
    return recipient


def delivery_counts(campaign: Campaign) -> dict[str, int]:
    """How many recipients are in each status, and how many opened / clicked at all; `total`
    leaves out the control group (`control`: held out, never sent to)."""
    counts = dict.fromkeys(Recipient.Status.values, 0)
    rows = Recipient.unscoped.filter(campaign=campaign)
    for status, n in rows.values("status").annotate(n=Count("pk")).values_list("status", "n"):
        counts[status] = n
    counts["total"] = sum(n for status, n in counts.items() if status != Recipient.Status.CONTROL)
    counts["opened_any"] = rows.filter(opened_at__isnull=False).count()
    counts["clicked_any"] = rows.filter(clicked_at__isnull=False).count()
    return counts
