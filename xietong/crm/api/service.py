"""REST endpoints of customer service (mounted at `/api/v1`), following `xietong.core.api`: a
permission under every route, scoped querysets (another company's ticket is not found),
`@paginate`d lists, `@idempotent` creating POSTs answering 201, writes through the services.

Tickets (list with filters, create, detail with the thread and suggested articles, messages,
state transitions, assignment, warranty check, RMA, article from the ticket), inbound e-mail
(one RFC 822 message, idempotent by its Message-ID), the knowledge base (list in a language,
create, detail, translate, publish), SLA policies, and the SLA and CSAT reports. A transition the
ticket's state does not allow answers 422 with its reason in `detail` and code "state"."""

import base64
import binascii
import datetime as dt
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import get_language
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import AwareDatetime, ConfigDict

from xietong.core.api import DecimalString, refusals_of
from xietong.core.idempotency import idempotent
from xietong.core.permissions import requires
from xietong.crm import inbound, knowledge, service_reports, service_setup, tickets, warranty
from xietong.crm.models import KnowledgeArticle, SlaPolicy, Ticket
from xietong.crm.services import CrmError

router = Router(tags=["crm service"])

TicketState = Literal["new", "open", "waiting", "resolved", "closed"]
Priority = Literal["urgent", "high", "normal", "low"]
SlaState = Literal["none", "ok", "at_risk", "breached"]
refusals = refusals_of(ValidationError, own=CrmError)


# --- schemas ------------------------------------------------------------------------------------


class MessageOut(Schema):
    id: int
    kind: str
    author: int | None = Field(None, alias="author_id")
    from_email: str
    body: str
    message_id: str
    attachments: list[dict[str, Any]]
    created_at: AwareDatetime


class ArticleOut(Schema):
    id: int
    title: str
    body: str
    language: str
    state: str
    translation_of: int | None = Field(None, alias="translation_of_id")
    category: int | None = Field(None, alias="category_id")
    source_ticket: int | None = Field(None, alias="source_ticket_id")


class SuggestionOut(Schema):
    id: int
    title: str
    language: str
    score: float


class TicketOut(Schema):
    id: int
    number: str
    subject: str
    description: str
    party: int | None = Field(None, alias="party_id")
    contact: int | None = Field(None, alias="contact_id")
    requester_email: str
    channel: str
    category: int | None = Field(None, alias="category_id")
    priority: str
    state: str
    assignee: int | None = Field(None, alias="assignee_id")
    sales_order: int | None = Field(None, alias="sales_order_id")
    product: int | None = Field(None, alias="product_id")
    lot: int | None = Field(None, alias="lot_id")
    rma: int | None = Field(None, alias="rma_id")
    sla_state: str
    first_response_due: AwareDatetime | None
    resolution_due: AwareDatetime | None
    first_response_met: bool | None
    resolution_met: bool | None
    escalation: int | None = Field(None, alias="escalation_id")
    created_at: AwareDatetime
    resolved_at: AwareDatetime | None


class TicketDetailOut(TicketOut):
    messages: list[MessageOut]
    suggestions: list[SuggestionOut]

    @staticmethod
    def resolve_messages(obj: Ticket) -> list[Any]:
        return list(obj.messages.all())

    @staticmethod
    def resolve_suggestions(obj: Ticket) -> list[dict[str, Any]]:
        return [{"id": a.pk, "title": a.title, "language": a.language, "score": round(score, 4)}
                for a, score in knowledge.suggestions(obj, language=get_language())]  # fmt: skip


class TicketIn(Schema):
    model_config = ConfigDict(extra="forbid")

    subject: str
    description: str = ""
    party: int | None = None
    contact: int | None = None
    requester_name: str = ""
    requester_email: str = ""
    channel: Literal["web", "email", "phone", "portal"] = "phone"
    category: int | None = None
    priority: Priority = "normal"
    sales_order: int | None = None
    product: int | None = None
    lot: int | None = None
    assign: bool = True


class TicketFilters(Schema):
    state: TicketState | None = None
    priority: Priority | None = None
    sla_state: SlaState | None = None
    party: int | None = None
    assignee: int | None = None
    q: str | None = None


class MessageIn(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["reply", "note", "customer"] = "reply"
    body: str
    wait: bool = Field(False, description="reply: then wait on the customer")


class TransitionIn(Schema):
    model_config = ConfigDict(extra="forbid")

    action: Literal["open", "wait", "resolve", "close", "reopen"]
    resolution: str = Field("", description="resolve: sent to the customer")
    reason: str = Field("", description="reopen: why")


class AssignIn(Schema):
    model_config = ConfigDict(extra="forbid")

    assignee: int | None = Field(None, description="user id; none: the dispatch chooses")


class WarrantyOut(Schema):
    covered: bool | None
    months: int
    delivered_on: dt.date | None
    until: dt.date | None
    order_line: int | None
    reason: str


class RmaIn(Schema):
    model_config = ConfigDict(extra="forbid")

    quantity: DecimalString = "1"  # type: ignore[assignment]
    reason: str = ""
    disposition: Literal["restock", "scrap"] = "restock"


class MailIn(Schema):
    model_config = ConfigDict(extra="forbid")

    raw_base64: str = Field(..., description="the RFC 822 message, base64-encoded")


class MailOut(Schema):
    ticket: int
    created: bool
    duplicate: bool


class ArticleIn(Schema):
    model_config = ConfigDict(extra="forbid")

    title: str
    body: str
    language: str = "zh-hans"
    category: int | None = None
    publish: bool = False


class TranslationIn(Schema):
    model_config = ConfigDict(extra="forbid")

    language: str
    title: str
    body: str


class PublishIn(Schema):
    model_config = ConfigDict(extra="forbid")

    publish: bool = True


class ArticleFilters(Schema):
    q: str | None = None
    language: str | None = None
    state: Literal["draft", "published", "archived"] | None = "published"


class PolicyOut(Schema):
    id: int
    name: str
    priority: str
    customer_group: int | None = Field(None, alias="customer_group_id")
    calendar: int = Field(..., alias="calendar_id")
    first_response_hours: DecimalString
    resolution_hours: DecimalString
    at_risk_percent: int
    active: bool


class PolicyIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str
    priority: Priority
    calendar: int
    first_response_hours: DecimalString
    resolution_hours: DecimalString
    customer_group: int | None = None
    at_risk_percent: int = 75


class ReportFilters(Schema):
    start: dt.date
    end: dt.date
    by: Literal["month", "agent", "priority"] = "month"


class SlaRowOut(Schema):
    key: str
    label: str
    tickets: int
    first_response_percent: DecimalString | None
    resolution_percent: DecimalString | None


class CsatRowOut(Schema):
    key: str
    label: str
    answered: int
    average: DecimalString | None
    satisfied_percent: DecimalString | None


class SlaReportOut(Schema):
    rows: list[SlaRowOut]
    total: SlaRowOut


class CsatReportOut(Schema):
    rows: list[CsatRowOut]
    total: CsatRowOut


# --- tickets ------------------------------------------------------------------------------------


def _ticket(ticket_id: int) -> Ticket:
    return get_object_or_404(Ticket.objects.all(), pk=ticket_id)


@router.get("/crm/service/tickets", response=list[TicketOut])
@requires("crm.service.view")
@paginate
def ticket_list(request: HttpRequest, filters: Query[TicketFilters]) -> Any:
    """The company's tickets, newest first."""
    rows = Ticket.objects.order_by("-created_at", "-pk")
    for name in ("state", "priority", "sla_state"):
        if getattr(filters, name):
            rows = rows.filter(**{name: getattr(filters, name)})
    if filters.party is not None:
        rows = rows.filter(party_id=filters.party)
    if filters.assignee is not None:
        rows = rows.filter(assignee_id=filters.assignee)
    if filters.q:
        rows = rows.filter(Q(number__icontains=filters.q) | Q(subject__icontains=filters.q))
    return rows


@router.post("/crm/service/tickets", response={201: TicketOut})
@requires("crm.service.work")
@idempotent
@refusals
def ticket_create(request: HttpRequest, payload: TicketIn) -> Status:
    """Open a ticket (phone, web form …): numbered, SLA clock started, assigned unless
    `assign` is false."""
    ticket = tickets.ticket_create(company=request.company, actor=request.user,  # type: ignore[attr-defined]
                                   **payload.model_dump())  # fmt: skip
    return Status(201, ticket)


@router.get("/crm/service/tickets/{ticket_id}", response=TicketDetailOut)
@requires("crm.service.view")
def ticket_detail(request: HttpRequest, ticket_id: int) -> Any:
    """A ticket with its thread and the knowledge-base articles most like it."""
    return _ticket(ticket_id)


@router.post("/crm/service/tickets/{ticket_id}/messages", response={201: MessageOut})
@requires("crm.service.work")
@idempotent
@refusals
def ticket_message(request: HttpRequest, ticket_id: int, payload: MessageIn) -> Status:
    """A reply to the customer, an internal note, or the customer's message taken down."""
    ticket, user = _ticket(ticket_id), request.user
    if payload.kind == "note":
        message = tickets.ticket_note(ticket=ticket, actor=user, body=payload.body)  # type: ignore[arg-type]
    elif payload.kind == "customer":
        message = tickets.ticket_customer_message(ticket=ticket, actor=user, body=payload.body)  # type: ignore[arg-type]
    else:
        message = tickets.ticket_reply(ticket=ticket, actor=user, body=payload.body,  # type: ignore[arg-type]
                                       wait=payload.wait)  # fmt: skip
    return Status(201, message)


@router.post("/crm/service/tickets/{ticket_id}/transition", response=TicketOut)
@requires("crm.service.work")
@refusals
def ticket_transition(request: HttpRequest, ticket_id: int, payload: TransitionIn) -> Any:
    """open, wait (on the customer), resolve (with the resolution), close, reopen (with why)."""
    ticket, user = _ticket(ticket_id), request.user
    if payload.action == "open":
        return tickets.ticket_open(ticket=ticket, actor=user)  # type: ignore[arg-type]
    if payload.action == "wait":
        return tickets.ticket_wait(ticket=ticket, actor=user)  # type: ignore[arg-type]
    if payload.action == "resolve":
        return tickets.ticket_resolve(ticket=ticket, actor=user, resolution=payload.resolution)  # type: ignore[arg-type]
    if payload.action == "close":
        return tickets.ticket_close(ticket=ticket, actor=user)  # type: ignore[arg-type]
    return tickets.ticket_reopen(ticket=ticket, actor=user, reason=payload.reason)  # type: ignore[arg-type]


@router.post("/crm/service/tickets/{ticket_id}/assign", response=TicketOut)
@requires("crm.service.work")
@refusals
def ticket_assign(request: HttpRequest, ticket_id: int, payload: AssignIn) -> Any:
    return tickets.ticket_assign(ticket=_ticket(ticket_id), actor=request.user,  # type: ignore[arg-type]
                                 assignee=payload.assignee)  # fmt: skip


@router.get("/crm/service/tickets/{ticket_id}/warranty", response=WarrantyOut)
@requires("crm.service.view")
def ticket_warranty(request: HttpRequest, ticket_id: int) -> Any:
    """Is the ticket's lot or serial number under warranty today? (`covered` null: nothing
    to check.)"""
    status = warranty.warranty_check(_ticket(ticket_id))
    return {**status.__dict__, "order_line": status.order_line.pk if status.order_line else None}


@router.post("/crm/service/tickets/{ticket_id}/rma", response={201: TicketOut})
@requires("crm.service.work")
@idempotent
@refusals
def ticket_rma(request: HttpRequest, ticket_id: int, payload: RmaIn) -> Status:
    """Authorise the return of the ticket's delivered goods (sales returns)."""
    ticket = warranty.ticket_rma_create(ticket=_ticket(ticket_id), actor=request.user,  # type: ignore[arg-type]
                                        quantity=payload.quantity, reason=payload.reason,
                                        disposition=payload.disposition)  # fmt: skip
    return Status(201, ticket)


@router.post("/crm/service/tickets/{ticket_id}/article", response={201: ArticleOut})
@requires("crm.service.work")
@idempotent
@refusals
def ticket_article(request: HttpRequest, ticket_id: int) -> Status:
    """A draft knowledge-base article prefilled from the resolved ticket."""
    article = tickets.article_from_ticket(ticket=_ticket(ticket_id), actor=request.user)  # type: ignore[arg-type]
    return Status(201, article)


@router.post("/crm/service/inbound-mail", response={201: MailOut, 200: MailOut})
@requires("crm.service.manage")
@idempotent
@refusals
def inbound_mail(request: HttpRequest, payload: MailIn) -> Status:
    """One inbound e-mail: a new ticket (201), or a message of the ticket it replies to, or —
    a Message-ID seen already — nothing (200)."""
    try:
        raw = base64.b64decode(payload.raw_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationError({"raw_base64": ["Send the message base64-encoded."]}) from exc
    try:
        result = inbound.mail_ingest(company=request.company, raw=raw, actor=request.user)  # type: ignore[attr-defined]
    except ValueError as exc:
        raise ValidationError({"raw_base64": [str(exc)]}) from exc
    body = {"ticket": result.ticket.pk, "created": result.created, "duplicate": result.duplicate}
    return Status(201 if result.created else 200, body)


# --- knowledge base -----------------------------------------------------------------------------


@router.get("/crm/service/articles", response=list[ArticleOut])
@requires("crm.service.view")
@paginate
def article_list(request: HttpRequest, filters: Query[ArticleFilters]) -> Any:
    """Articles, one per group in `language` (default: the request's); with `q`, ranked by
    similarity."""
    rows = KnowledgeArticle.objects.order_by("title", "pk")
    if filters.state:
        rows = rows.filter(state=filters.state)
    shown = knowledge.in_language(rows[:1000], filters.language or get_language())
    if filters.q:
        shown = [a for a, _s in knowledge.rank(filters.q, ((a, a.title, a.body) for a in shown),
                                               limit=100)]  # fmt: skip
    return shown


@router.post("/crm/service/articles", response={201: ArticleOut})
@requires("crm.service.work")
@idempotent
@refusals
def article_create(request: HttpRequest, payload: ArticleIn) -> Status:
    article = knowledge.article_create(company=request.company, actor=request.user,  # type: ignore[attr-defined]
                                       **payload.model_dump())  # fmt: skip
    return Status(201, article)


def _article(article_id: int) -> KnowledgeArticle:
    return get_object_or_404(KnowledgeArticle.objects.all(), pk=article_id)


@router.get("/crm/service/articles/{article_id}", response=ArticleOut)
@requires("crm.service.view")
def article_detail(request: HttpRequest, article_id: int) -> Any:
    return _article(article_id)


@router.post("/crm/service/articles/{article_id}/translations", response={201: ArticleOut})
@requires("crm.service.work")
@idempotent
@refusals
def article_translate(request: HttpRequest, article_id: int, payload: TranslationIn) -> Status:
    article = knowledge.article_translate(article=_article(article_id), actor=request.user,  # type: ignore[arg-type]
                                          **payload.model_dump())  # fmt: skip
    return Status(201, article)


@router.post("/crm/service/articles/{article_id}/publish", response=ArticleOut)
@requires("crm.service.work")
@refusals
def article_publish(request: HttpRequest, article_id: int, payload: PublishIn) -> Any:
    """Publish (or, with `publish: false`, archive) the article with its translations."""
    return knowledge.article_publish(article=_article(article_id), actor=request.user,  # type: ignore[arg-type]
                                     publish=payload.publish)  # fmt: skip


# --- settings and reports -----------------------------------------------------------------------


@router.get("/crm/service/sla-policies", response=list[PolicyOut])
@requires("crm.service.view")
@paginate
def policy_list(request: HttpRequest) -> Any:
    return SlaPolicy.objects.order_by("priority", "name")


@router.post("/crm/service/sla-policies", response={201: PolicyOut})
@requires("crm.service.manage")
@idempotent
@refusals
def policy_create(request: HttpRequest, payload: PolicyIn) -> Status:
    policy = service_setup.sla_policy_create(company=request.company, actor=request.user,  # type: ignore[attr-defined]
                                             **payload.model_dump())  # fmt: skip
    return Status(201, policy)


def _rows(rows: list[Any], total: Any, *, csat: bool) -> dict[str, Any]:
    def one(row: Any) -> dict[str, Any]:
        if csat:
            return {"key": row.key, "label": row.label, "answered": row.answered,
                    "average": row.average, "satisfied_percent": row.satisfied_percent}  # fmt: skip
        return {"key": row.key, "label": row.label, "tickets": row.tickets,
                "first_response_percent": row.first_response_percent,
                "resolution_percent": row.resolution_percent}  # fmt: skip

    return {"rows": [one(r) for r in rows], "total": one(total)}


@router.get("/crm/service/reports/sla", response=SlaReportOut)
@requires("crm.service.view")
def report_sla(request: HttpRequest, filters: Query[ReportFilters]) -> Any:
    """SLA attainment of the tickets resolved in the period, by month, agent or priority."""
    rows, total = service_reports.sla_attainment(company=request.company, start=filters.start,  # type: ignore[attr-defined]
                                                 end=filters.end, by=filters.by)  # fmt: skip
    return _rows(rows, total, csat=False)


@router.get("/crm/service/reports/csat", response=CsatReportOut)
@requires("crm.service.view")
def report_csat(request: HttpRequest, filters: Query[ReportFilters]) -> Any:
    """Satisfaction of the surveys answered in the period, by month, agent or priority."""
    rows, total = service_reports.csat(company=request.company, start=filters.start,  # type: ignore[attr-defined]
                                       end=filters.end, by=filters.by)  # fmt: skip
    return _rows(rows, total, csat=True)
