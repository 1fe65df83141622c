"""Customer service services: tickets and their thread, moved through their states with the SLA
clock (`xietong.crm.sla`), assigned through the workflow's dispatch strategies, turned into
knowledge-base articles, warranty-checked and returned (RMA); satisfaction surveys.

States: new → open → waiting (on the customer) → resolved → closed, and reopen (resolved or
closed → open). Waiting pauses the SLA clock, and so does the time between a resolution and a
reopen. Every write service takes keyword arguments, names its `actor` in the audit trail, runs
in one transaction, writes the customer's timeline (kind "crm.ticket") and raises
`ValidationError({field: [...]})` on bad input or `CrmError` (code "state") for a transition
the ticket's state does not allow; either way it has changed nothing.

`register()` (called from the CRM's `AppConfig.ready()`) declares the service permissions and
grants them, registers the models with the audit log, the timeline kind, the menu entries, the
party page's "Tickets" panel, the job kind "crm.tickets_fetch" and the periodic SLA check."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from decimal import Decimal
from email.utils import make_msgid
from typing import Any

from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.models import Company, Membership, User
from xietong.core.numbering import sequence_take
from xietong.crm.models import (
    KnowledgeArticle,
    SatisfactionSurvey,
    ServiceCategory,
    Ticket,
    TicketMessage,
    TicketPriority,
)
from xietong.crm.services import CrmError
from xietong.crm.sla import clock_compute, clock_pause_add, clock_start, clock_state
from xietong.inventory.models import Lot
from xietong.party.models import Contact, Party
from xietong.party.services import timeline_add
from xietong.product.models import Product
from xietong.sales import selectors as sales_selectors
from xietong.workflow.dispatch import Candidate, Decision, Need, Strategy, choose
from xietong.workflow.services import message_signal

Errors = dict[str, list[str]]
State = Ticket.State
Kind = TicketMessage.Kind
TIMELINE_KIND = "crm.ticket"
AGENT_ROLE = "service_agent"
ACTIVE = (State.NEW, State.OPEN, State.WAITING)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    State.NEW: (State.OPEN, State.WAITING, State.RESOLVED),
    State.OPEN: (State.WAITING, State.RESOLVED),
    State.WAITING: (State.OPEN, State.RESOLVED),
    State.RESOLVED: (State.CLOSED, State.OPEN),
    State.CLOSED: (State.OPEN,),
}
TICKET_FIELDS = ("subject", "description", "category", "priority", "contact", "sales_order",
                 "product", "lot")  # fmt: skip


# --- helpers ------------------------------------------------------------------------------------


def _add(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _raise(errors: Errors) -> None:
    if errors:
        raise ValidationError(errors)


def _text(value: Any, limit: int, field: str, errors: Errors, *, required: bool = False,
          multiline: bool = False) -> str:  # fmt: skip
    text = str(value or "").strip() if multiline else " ".join(str(value or "").split())
    if required and not text:
        _add(errors, field, _("This field is required."))
    elif len(text) > limit:
        _add(errors, field, _("Use at most %(n)s characters.") % {"n": limit})
    return text


def _row(model: Any, company_id: int, value: Any, field: str, errors: Errors) -> Any:
    """A row of `model` (instance or pk) of the company, else a field error."""
    if value in (None, ""):
        return None
    pk = value.pk if hasattr(value, "pk") else value
    try:
        found = model.unscoped.filter(company_id=company_id, pk=pk).first()
    except (ValueError, TypeError):
        found = None
    if found is None:
        _add(errors, field, _("Choose a valid value of your company."))
    return found


def _member(company_id: int, value: Any, field: str, errors: Errors) -> User | None:
    if value in (None, ""):
        return None
    pk = value.pk if isinstance(value, User) else value
    ok = Membership.unscoped.filter(company_id=company_id, user_id=pk, is_active=True).exists()
    user = User.objects.filter(pk=pk).first() if ok else None
    if user is None:
        _add(errors, field, _("Choose a user of your company."))
    return user


def ticket_url(ticket: Ticket) -> str:
    return reverse("crm:ticket_detail", args=[ticket.pk])


def timeline_write(ticket: Ticket, summary: str, *, actor: User | None) -> None:
    """One step of the ticket on its customer's timeline (nothing for an unknown sender)."""
    if ticket.party_id:
        timeline_add(party=ticket.party, kind=TIMELINE_KIND, summary=summary[:255], actor=actor,
                     source=ticket, url=ticket_url(ticket))  # fmt: skip


def _locked(ticket: Ticket) -> Ticket:
    return (
        Ticket.unscoped.select_for_update(of=("self",))
        .select_related("company", "party", "sla_policy__calendar", "escalation")
        .get(pk=ticket.pk)
    )


def _move(row: Ticket, target: str) -> None:
    if target not in TRANSITIONS.get(row.state, ()):
        raise CrmError(
            _("A ticket that is %(state)s cannot become %(target)s.")
            % {"state": row.get_state_display(), "target": State(target).label}
        )


def _refresh_sla(row: Ticket, now: dt.datetime) -> None:
    if row.is_active and row.state != State.WAITING:
        row.sla_state = clock_state(row, now)


def _copy(target: Ticket, row: Ticket) -> Ticket:
    for field in row._meta.concrete_fields:
        setattr(target, field.attname, getattr(row, field.attname))
    return target


# --- assignment ---------------------------------------------------------------------------------


def agent_candidates(company_id: int) -> list[Candidate]:
    """The company's active service agents as dispatch candidates: open effort = their active
    tickets (new, open, waiting), skills from their membership."""
    memberships = {
        m.user_id: m
        for m in Membership.unscoped.filter(company_id=company_id, is_active=True,
                                            user__is_active=True, roles__code=AGENT_ROLE)
        .distinct()
    }  # fmt: skip
    loads = dict(
        Ticket.unscoped.filter(company_id=company_id, assignee_id__in=memberships, state__in=ACTIVE)
        .values("assignee_id").annotate(n=Count("pk")).values_list("assignee_id", "n")
    )  # fmt: skip
    today = timezone.localdate()
    return [
        Candidate(
            user_id=user_id,
            open_effort=Decimal(loads.get(user_id, 0)),
            open_tasks=loads.get(user_id, 0),
            skills=frozenset(str(s) for s in (m.skills or [])),
            out_of_office=bool(m.out_of_office_until and m.out_of_office_until >= today),
            delegate_id=m.delegate_id,
        )
        for user_id, m in sorted(memberships.items())
    ]


def assignee_choose(ticket: Ticket) -> Decision:
    """The least-loaded service agent having the skill of the ticket's category (any agent when
    the category names no skill); user_id None when nobody fits."""
    skill = ticket.category.skill if ticket.category_id and ticket.category.skill else ""
    candidates = agent_candidates(ticket.company_id)
    if skill:
        return choose(Strategy.SKILL_MATCH, candidates, Need(skills=frozenset({skill})))
    return choose(Strategy.LEAST_LOADED, candidates)


@audited
def ticket_assign(*, ticket: Ticket, actor: User | None, assignee: Any = None) -> Ticket:
    """Give the ticket to `assignee` (a user of the company), or, when None, to the agent the
    dispatch chooses (see `assignee_choose`; nobody: it stays in the shared queue)."""
    errors: Errors = {}
    user = _member(ticket.company_id, assignee, "assignee", errors)
    _raise(errors)
    with transaction.atomic():
        row = _locked(ticket)
        if not row.is_active:
            raise CrmError(_("Only an unresolved ticket can be assigned."))
        if user is None:
            decision = assignee_choose(row)
            user = User.objects.filter(pk=decision.user_id).first() if decision.user_id else None
        row.assignee = user
        row.save(update_fields=["assignee", "updated_at"])
        if user is not None:
            timeline_write(row, _("Ticket %(number)s assigned to %(user)s")
                           % {"number": row.number, "user": user}, actor=actor)  # fmt: skip
    return _copy(ticket, row)


# --- creation -----------------------------------------------------------------------------------


def _links(company_id: int, data: dict[str, Any], errors: Errors, party: Party | None
           ) -> dict[str, Any]:  # fmt: skip
    out: dict[str, Any] = {}
    if "category" in data:
        out["category"] = _row(ServiceCategory, company_id, data["category"], "category", errors)
    if "priority" in data:
        if data["priority"] not in TicketPriority.values:
            _add(errors, "priority", _("Choose a valid priority."))
        out["priority"] = data["priority"]
    if "contact" in data:
        contact = _row(Contact, company_id, data["contact"], "contact", errors)
        if contact is not None and party is not None and contact.party_id != party.pk:
            _add(errors, "contact", _("Choose a contact of the customer."))
        out["contact"] = contact
    if "sales_order" in data:
        order = None
        if data["sales_order"] not in (None, ""):
            order = sales_selectors.company_order(company_id=company_id,
                                                  order_id=data["sales_order"])  # fmt: skip
            if order is None:
                _add(errors, "sales_order", _("Choose a valid value of your company."))
        if order is not None and party is not None and order.party_id != party.pk:
            _add(errors, "sales_order", _("Choose an order of the customer."))
        out["sales_order"] = order
    if "product" in data:
        out["product"] = _row(Product, company_id, data["product"], "product", errors)
    if "lot" in data:
        lot = _row(Lot, company_id, data["lot"], "lot", errors)
        product = out.get("product")
        if lot is not None and product is not None and lot.product_id != product.pk:
            _add(errors, "lot", _("Choose a lot or serial number of the product."))
        if lot is not None and product is None:
            out["product"] = lot.product
        out["lot"] = lot
    return out


@audited
def ticket_create(
    *,
    company: Company,
    actor: User | None,
    subject: str,
    description: str = "",
    party: Any = None,
    contact: Any = None,
    requester_name: str = "",
    requester_email: str = "",
    channel: str = Ticket.Channel.PHONE,
    category: Any = None,
    priority: str = TicketPriority.NORMAL,
    sales_order: Any = None,
    product: Any = None,
    lot: Any = None,
    language: str = "",
    assign: bool = True,
    message_id: str = "",
    attachments: Iterable[dict[str, Any]] = (),
    now: dt.datetime | None = None,
) -> Ticket:
    """A new ticket, numbered from the company's "crm.ticket" series (TCK-2026-00001), its
    description as the first message from the customer (with `message_id` and `attachments`
    when it came by e-mail), its SLA clock started from the policy of its priority and the
    customer's group, and — unless `assign` is false — given to the least-loaded agent with the
    category's skill. Raises ValidationError."""
    backdated = now is not None  # a ticket entered or imported after the fact
    now = now or timezone.now()
    errors: Errors = {}
    subject = _text(subject, 200, "subject", errors, required=True)
    description = _text(description, 20000, "description", errors, multiline=True)
    customer = _row(Party, company.pk, party, "party", errors)
    requester_name = _text(requester_name, 120, "requester_name", errors)
    requester_email = str(requester_email or "").strip()
    if requester_email:
        try:
            validate_email(requester_email)
        except ValidationError:
            _add(errors, "requester_email", _("Enter a valid e-mail address."))
    if channel not in Ticket.Channel.values:
        _add(errors, "channel", _("Choose a valid channel."))
    links = _links(company.pk, {"category": category, "priority": priority, "contact": contact,
                                "sales_order": sales_order, "product": product, "lot": lot},
                   errors, customer)  # fmt: skip
    if customer is None and not requester_email and links.get("contact") is None:
        _add(errors, "party", _("Name the customer, or the requester's e-mail address."))
    _raise(errors)
    person = links.get("contact")
    if person is not None and customer is None:
        customer = person.party
    language = language or (person.language if person else "") or (
        customer.language if customer else "") or "zh-hans"  # fmt: skip
    with transaction.atomic():
        number = sequence_take(company=company, code="crm.ticket", date=now.date(), count=1,
                               name=str(_("Service tickets")), pattern="TCK-{year}-{number:05d}")[0]  # fmt: skip
        ticket = Ticket(
            company=company, number=number, subject=subject, description=description,
            party=customer, requester_name=requester_name or (person.name if person else ""),
            requester_email=requester_email or (person.email if person else ""),
            channel=channel, language=language, **links,
        )  # fmt: skip
        clock_start(ticket, now)
        ticket.save()
        if backdated:  # `created_at` is auto_now_add: the ticket was opened at `now`
            Ticket.unscoped.filter(pk=ticket.pk).update(created_at=now)
            ticket.created_at = now
        if description:
            TicketMessage.unscoped.create(
                company=company, ticket=ticket, kind=Kind.INBOUND, body=description,
                from_email=ticket.requester_email, message_id=message_id[:255],
                attachments=list(attachments),
                author=actor if channel in (Ticket.Channel.PHONE, Ticket.Channel.WEB) else None,
            )  # fmt: skip
        timeline_write(ticket, _("Ticket %(number)s opened (%(channel)s): %(subject)s")
                       % {"number": number, "channel": ticket.get_channel_display(),
                          "subject": subject}, actor=actor)  # fmt: skip
        if assign:
            ticket_assign(ticket=ticket, actor=actor)
    return ticket


@audited
def ticket_update(*, ticket: Ticket, actor: User | None, now: dt.datetime | None = None,
                  **fields: Any) -> Ticket:  # fmt: skip
    """Change the ticket's subject, description, category, priority, contact or links (order,
    product, lot). A new priority re-times the SLA clock from its start with the policy of the
    new priority. Raises ValidationError."""
    now = now or timezone.now()
    errors: Errors = {}
    unknown = set(fields) - set(TICKET_FIELDS)
    for name in sorted(unknown):
        _add(errors, name, _("This field cannot be changed."))
    changes: dict[str, Any] = {}
    if "subject" in fields:
        changes["subject"] = _text(fields["subject"], 200, "subject", errors, required=True)
    if "description" in fields:
        changes["description"] = _text(fields["description"], 20000, "description", errors,
                                       multiline=True)  # fmt: skip
    changes.update(_links(ticket.company_id, {k: v for k, v in fields.items()
                                              if k not in ("subject", "description")},
                          errors, ticket.party))  # fmt: skip
    _raise(errors)
    with transaction.atomic():
        row = _locked(ticket)
        if not row.is_active:
            raise CrmError(_("A resolved or closed ticket cannot be changed; reopen it first."))
        old_priority = row.priority
        for name, value in changes.items():
            setattr(row, name, value)
        if row.priority != old_priority and row.sla_started_at is not None:
            started, paused, state = row.sla_started_at, row.sla_paused_seconds, row.sla_state
            clock_start(row, started)
            row.sla_paused_seconds = paused
            clock_compute(row)
            if state == Ticket.Sla.BREACHED:
                row.sla_state = state
            _refresh_sla(row, now)
        row.save()
        if row.priority != old_priority:
            timeline_write(row, _("Ticket %(number)s priority: %(priority)s")
                           % {"number": row.number, "priority": row.get_priority_display()},
                           actor=actor)  # fmt: skip
    return _copy(ticket, row)


# --- the thread and the states ------------------------------------------------------------------


def _message(row: Ticket, *, kind: str, body: str, actor: User | None, from_email: str = "",
             message_id: str = "", attachments: Iterable[dict[str, Any]] = ()) -> TicketMessage:  # fmt: skip
    return TicketMessage.unscoped.create(company_id=row.company_id, ticket=row, kind=kind,
                                         body=body, author=actor, from_email=from_email,
                                         message_id=message_id[:255],
                                         attachments=list(attachments))  # fmt: skip


def _mail_customer(row: Ticket, message: TicketMessage) -> None:
    """E-mail an agent's reply to the requester after commit, with the ticket's number in the
    subject and threading headers, so the customer's answer comes back to the ticket; the
    reply keeps the Message-ID it was sent with."""
    if not row.requester_email:
        return
    message.message_id = make_msgid(domain="tickets.xietong")[1:-1]
    message.save(update_fields=["message_id"])
    earlier = list(
        row.messages.exclude(message_id="").exclude(pk=message.pk).order_by("-pk")
        .values_list("message_id", flat=True)[:10]
    )  # fmt: skip
    headers = {"Message-ID": f"<{message.message_id}>"}
    if earlier:
        headers["In-Reply-To"] = f"<{earlier[0]}>"
        headers["References"] = " ".join(f"<{m}>" for m in reversed(earlier))
    email = EmailMessage(subject=f"[{row.number}] {row.subject}", body=message.body,
                         to=[row.requester_email], headers=headers)  # fmt: skip
    transaction.on_commit(lambda: email.send(fail_silently=True))


def _first_response(row: Ticket, now: dt.datetime) -> None:
    if row.first_response_at is None:
        row.first_response_at = now
        if row.first_response_due is not None:
            row.first_response_met = now <= row.first_response_due
        clock_compute(row)


def _reopen(row: Ticket, now: dt.datetime) -> None:
    clock_pause_add(row, row.resolved_at, now)
    row.state = State.OPEN
    row.resolved_at = row.closed_at = None
    row.resolution_met = None
    row.reopened += 1
    _refresh_sla(row, now)


def _resume(row: Ticket, now: dt.datetime) -> None:
    clock_pause_add(row, row.waiting_since, now)
    row.waiting_since = None
    row.state = State.OPEN
    _refresh_sla(row, now)


@audited
def ticket_reply(*, ticket: Ticket, actor: User | None, body: str, wait: bool = False,
                 now: dt.datetime | None = None) -> TicketMessage:  # fmt: skip
    """An agent's reply to the customer: the first one stops the first-response clock (in time
    or not). A new ticket becomes open; with `wait` the ticket then waits on the customer (the
    SLA clock pauses). Refused on a resolved or closed ticket. Raises ValidationError."""
    now = now or timezone.now()
    errors: Errors = {}
    body = _text(body, 20000, "body", errors, required=True, multiline=True)
    _raise(errors)
    with transaction.atomic():
        row = _locked(ticket)
        if not row.is_active:
            raise CrmError(_("Reopen the ticket before replying."))
        message = _message(row, kind=Kind.REPLY, body=body, actor=actor)
        _mail_customer(row, message)
        _first_response(row, now)
        if row.state == State.WAITING:
            _resume(row, now)
        if row.state == State.NEW:
            row.state = State.OPEN
        if wait:
            row.state = State.WAITING
            row.waiting_since = now
        else:
            _refresh_sla(row, now)
        row.save()
        timeline_write(row, _("Ticket %(number)s: reply sent to the customer")
                       % {"number": row.number}, actor=actor)  # fmt: skip
    _copy(ticket, row)
    return message


@audited
def ticket_note(*, ticket: Ticket, actor: User | None, body: str) -> TicketMessage:
    """An internal note on the ticket (not sent, no state change). Raises ValidationError."""
    errors: Errors = {}
    body = _text(body, 20000, "body", errors, required=True, multiline=True)
    _raise(errors)
    with transaction.atomic():
        row = _locked(ticket)
        return _message(row, kind=Kind.NOTE, body=body, actor=actor)


@audited
def ticket_customer_message(*, ticket: Ticket, actor: User | None, body: str,
                            from_email: str = "", message_id: str = "",
                            attachments: Iterable[dict[str, Any]] = (),
                            now: dt.datetime | None = None) -> TicketMessage:  # fmt: skip
    """A message from the customer on the ticket (an e-mail reply, a call noted by an agent):
    a ticket waiting on the customer resumes (its SLA clock runs again), a resolved or closed one
    is reopened. Raises ValidationError."""
    now = now or timezone.now()
    errors: Errors = {}
    body = _text(body, 20000, "body", errors, required=True, multiline=True)
    _raise(errors)
    with transaction.atomic():
        row = _locked(ticket)
        message = _message(row, kind=Kind.INBOUND, body=body, actor=actor, from_email=from_email,
                           message_id=message_id, attachments=attachments)  # fmt: skip
        summary = _("Ticket %(number)s: the customer wrote")
        if row.state == State.WAITING:
            _resume(row, now)
            summary = _("Ticket %(number)s: the customer answered, work resumes")
        elif row.state in (State.RESOLVED, State.CLOSED):
            _reopen(row, now)
            summary = _("Ticket %(number)s reopened by the customer's message")
        row.save()
        timeline_write(row, summary % {"number": row.number}, actor=actor)
    _copy(ticket, row)
    return message


@audited
def ticket_open(*, ticket: Ticket, actor: User | None, now: dt.datetime | None = None) -> Ticket:
    """Start working on a new ticket, or resume one waiting on the customer (new/waiting →
    open). Refused otherwise."""
    now = now or timezone.now()
    with transaction.atomic():
        row = _locked(ticket)
        if row.state not in (State.NEW, State.WAITING):
            raise CrmError(_("Only a new ticket or one waiting on the customer can be opened."))
        if row.state == State.WAITING:
            _resume(row, now)
        row.state = State.OPEN
        _refresh_sla(row, now)
        row.save()
        timeline_write(row, _("Ticket %(number)s is being worked on") % {"number": row.number},
                       actor=actor)  # fmt: skip
    return _copy(ticket, row)


@audited
def ticket_wait(*, ticket: Ticket, actor: User | None, now: dt.datetime | None = None) -> Ticket:
    """The ticket waits on the customer (new/open → waiting): its SLA clock pauses."""
    now = now or timezone.now()
    with transaction.atomic():
        row = _locked(ticket)
        _move(row, State.WAITING)
        row.state = State.WAITING
        row.waiting_since = now
        row.save()
        timeline_write(row, _("Ticket %(number)s waits on the customer") % {"number": row.number},
                       actor=actor)  # fmt: skip
    return _copy(ticket, row)


@audited
def ticket_resolve(*, ticket: Ticket, actor: User | None, resolution: str,
                   now: dt.datetime | None = None) -> Ticket:  # fmt: skip
    """Resolve the ticket: `resolution` (required) is added as a reply to the customer, the
    resolution is in time or not, the satisfaction survey is created (its token link), and the
    message "ticket.resolved" goes to the running escalation process. Raises
    ValidationError, CrmError from a resolved or closed ticket."""
    now = now or timezone.now()
    errors: Errors = {}
    resolution = _text(resolution, 20000, "resolution", errors, required=True, multiline=True)
    _raise(errors)
    with transaction.atomic():
        row = _locked(ticket)
        _move(row, State.RESOLVED)
        if row.state == State.WAITING:
            clock_pause_add(row, row.waiting_since, now)
            row.waiting_since = None
        _mail_customer(row, _message(row, kind=Kind.REPLY, body=resolution, actor=actor))
        _first_response(row, now)
        _refresh_sla(row, now)
        row.state = State.RESOLVED
        row.resolved_at = now
        if row.resolution_due is not None:
            row.resolution_met = now <= row.resolution_due
        row.save()
        SatisfactionSurvey.unscoped.update_or_create(
            ticket=row, defaults={"company_id": row.company_id, "score": None, "comment": "",
                                  "answered_at": None, "token": secrets.token_urlsafe(24)},
        )  # fmt: skip
        timeline_write(row, _("Ticket %(number)s resolved") % {"number": row.number},
                       actor=actor)  # fmt: skip
        if row.escalation_id is not None:
            message_signal(company=row.company, record=row, name="ticket.resolved",
                           payload={"ticket": row.number, "resolved_by": getattr(actor, "pk", None)},
                           now=now)  # fmt: skip
    return _copy(ticket, row)


@audited
def ticket_close(*, ticket: Ticket, actor: User | None, now: dt.datetime | None = None) -> Ticket:
    """Close a resolved ticket (resolved → closed)."""
    now = now or timezone.now()
    with transaction.atomic():
        row = _locked(ticket)
        _move(row, State.CLOSED)
        row.state = State.CLOSED
        row.closed_at = now
        row.save()
        timeline_write(row, _("Ticket %(number)s closed") % {"number": row.number}, actor=actor)
    return _copy(ticket, row)


@audited
def ticket_reopen(*, ticket: Ticket, actor: User | None, reason: str,
                  now: dt.datetime | None = None) -> Ticket:  # fmt: skip
    """Reopen a resolved or closed ticket (→ open), with the reason as a note; the time it was
    resolved does not count against its SLA. Raises ValidationError, CrmError."""
    now = now or timezone.now()
    errors: Errors = {}
    reason = _text(reason, 2000, "reason", errors, required=True, multiline=True)
    _raise(errors)
    with transaction.atomic():
        row = _locked(ticket)
        _move(row, State.OPEN)
        if row.state not in (State.RESOLVED, State.CLOSED):
            raise CrmError(_("Only a resolved or closed ticket can be reopened."))
        _reopen(row, now)
        row.save()
        _message(row, kind=Kind.NOTE, body=reason, actor=actor)
        timeline_write(row, _("Ticket %(number)s reopened: %(reason)s")
                       % {"number": row.number, "reason": reason}, actor=actor)  # fmt: skip
    return _copy(ticket, row)


# --- satisfaction surveys -----------------------------------------------------------------------


def survey_by_token(token: str) -> SatisfactionSurvey | None:
    """The survey of a public link (any company: the token is the key), or None."""
    token = str(token or "")
    if not 16 <= len(token) <= 64:
        return None
    return SatisfactionSurvey.unscoped.select_related("ticket", "company").filter(
        token=token).first()  # fmt: skip


def survey_answer(*, token: str, score: Any, comment: str = "",
                  now: dt.datetime | None = None) -> SatisfactionSurvey:  # fmt: skip
    """Record the customer's answer (score 1–5, optional comment) once. Raises
    SatisfactionSurvey.DoesNotExist for an unknown token, ValidationError for a bad score and
    CrmError (code "answered") when it was answered already."""
    now = now or timezone.now()
    errors: Errors = {}
    try:
        value = int(str(score))
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= 5:
        _add(errors, "score", _("Choose a score from 1 to 5."))
    comment = _text(comment, 2000, "comment", errors, multiline=True)
    _raise(errors)
    with transaction.atomic():
        found = survey_by_token(token)
        if found is None:
            raise SatisfactionSurvey.DoesNotExist
        row = SatisfactionSurvey.unscoped.select_for_update().select_related("ticket").get(
            pk=found.pk)  # fmt: skip
        if row.answered_at is not None:
            raise CrmError(_("This survey has been answered already. Thank you!"), code="answered")
        row.score, row.comment, row.answered_at = value, comment, now
        row.save(update_fields=["score", "comment", "answered_at"])
        timeline_write(row.ticket, _("Ticket %(number)s: satisfaction %(score)s/5")
                       % {"number": row.ticket.number, "score": value}, actor=None)  # fmt: skip
    return row


# --- knowledge base from a ticket ---------------------------------------------------------------


@audited
def article_from_ticket(*, ticket: Ticket, actor: User | None) -> KnowledgeArticle:
    """A draft article prefilled from a resolved (or closed) ticket: its subject as the title,
    the customer's question and the replies as the body, its category and language. Raises
    CrmError for an unresolved ticket."""
    if ticket.state not in (State.RESOLVED, State.CLOSED):
        raise CrmError(_("Only a resolved ticket can become an article."))
    replies = [m.body for m in ticket.messages.filter(kind=Kind.REPLY).order_by("created_at", "pk")]
    question = ticket.description or _("(no description)")
    body = "\n\n".join([_("Question:"), question, _("Answer:"), *replies])
    with transaction.atomic():
        article = KnowledgeArticle.unscoped.create(
            company_id=ticket.company_id, title=ticket.subject, body=body,
            language=ticket.language, category_id=ticket.category_id, source_ticket=ticket,
            author=actor, state=KnowledgeArticle.State.DRAFT,
        )  # fmt: skip
        timeline_write(ticket, _("Ticket %(number)s written up as a knowledge-base article")
                       % {"number": ticket.number}, actor=actor)  # fmt: skip
    return article


# --- registration -------------------------------------------------------------------------------


def register() -> None:
    """Called from the CRM's `AppConfig.ready()`: permissions, roles, audit, menu, hooks."""
    from auditlog.registry import auditlog
    from django.utils.translation import gettext_lazy

    from xietong.core import jobs, menu, permissions, roles
    from xietong.crm import models, service_reports
    from xietong.crm.inbound import fetch_job
    from xietong.crm.sla import sla_check
    from xietong.party.panels import Panel, panel_register
    from xietong.party.services import timeline_kind_register

    permissions.declare(
        ("crm.service.view", gettext_lazy("See service tickets, the knowledge base and reports")),
        ("crm.service.work", gettext_lazy("Work service tickets: reply, resolve, write articles")),
        (
            "crm.service.manage",
            gettext_lazy("Manage SLA policies, calendars, categories and warranty rules"),
        ),  # fmt: skip
    )
    for role in ("service_agent", "service_manager", "sales_manager", "executive"):
        roles.grant(role, "crm.service.view")
    for role in ("service_agent", "service_manager", "sales_manager"):
        roles.grant(role, "crm.service.work")
    for role in ("service_manager", "sales_manager", "executive"):
        roles.grant(role, "crm.service.manage")
    for model in (models.BusinessCalendar, models.ServiceCategory, models.SlaPolicy,
                  models.Ticket, models.KnowledgeArticle, models.WarrantyRule):  # fmt: skip
        if not auditlog.contains(model):
            fields = [
                f.name for f in model._meta.concrete_fields if f.name not in {"id", "company"}
            ]
            auditlog.register(model, include_fields=fields)
    timeline_kind_register(TIMELINE_KIND, gettext_lazy("Service ticket"), "life-preserver")
    for label, url_name, permission, order in (
        (gettext_lazy("Tickets"), "crm:ticket_list", "crm.service.view", 60),
        (gettext_lazy("Knowledge base"), "crm:article_list", "crm.service.view", 70),
        (gettext_lazy("Service reports"), "crm:service_report", "crm.service.view", 75),
    ):
        menu.add("crm", label, url_name, permission, order)
    menu.add("settings", gettext_lazy("Service settings"), "crm:service_settings",
             "crm.service.manage", 85)  # fmt: skip
    panel_register(Panel(key="crm_tickets", label=gettext_lazy("Tickets"),
                         template="crm/service/_party_panel.html", permission="crm.service.view",
                         data=service_reports.tickets_panel, order=40))  # fmt: skip
    jobs.register("crm.tickets_fetch", fetch_job)
    jobs.register_periodic("crm.sla_check", sla_check)
