"""The shared kernel's REST endpoints, mounted at `/api/v1` by `xietong.api`.

Conventions every app's router follows (this one is the example):

- the permission an operation needs is declared right under its route, with `@requires(code)`
  or `@login_only` (xietong.core.permissions); the API publishes it as `x-permission` and the
  test matrix checks every predefined role against it;
- a record of another company is simply not found: handlers query the scoped `objects`
  manager (never the model class, whose default manager is unscoped);
- lists are `@paginate`d: `limit`/`offset` in, `{"items": [...], "count": N}` out;
- creating POSTs are `@idempotent` (xietong.core.idempotency) and answer 201;
- writes go through services; their `ValidationError`s become 422 problems with field errors;
- decimals travel as strings (`DecimalString`).
"""

import datetime as dt
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from functools import wraps
from typing import Annotated, Any, Literal

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import paginate
from pydantic import AwareDatetime, BeforeValidator, PlainSerializer, WithJsonSchema

from xietong.core import services
from xietong.core.idempotency import idempotent
from xietong.core.models import (
    ApiToken,
    Company,
    Currency,
    ExchangeRate,
    Job,
    Role,
    Sequence,
    UnitOfMeasure,
    User,
)
from xietong.core.permissions import has_perm, login_only, requires
from xietong.core.selectors import membership_for, memberships_for_user

router = Router(tags=["core"])


def _no_floats(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError(_('Send decimal numbers as strings, for example "7.1234".'))
    return value


DecimalString = Annotated[
    Decimal,
    BeforeValidator(_no_floats),
    PlainSerializer(lambda value: format(value, "f"), return_type=str),
    WithJsonSchema({"type": "string", "format": "decimal", "examples": ["7.1234"]}),
]
"""A Decimal that is read from and written as a JSON string (never a float)."""


class ServiceRefused(HttpError):
    """A service's refusal that names no field: 422 with its reason in `detail` and its `code`
    (the ValidationError's code, else `default_code`)."""

    def __init__(self, exc: ValidationError, default_code: str = "refused") -> None:
        super().__init__(422, " ".join(exc.messages))
        self.code = getattr(exc, "code", None) or default_code


class ServiceForbidden(HttpError):
    """A service's PermissionDenied (approving one's own request …): 403 with its reason."""

    def __init__(self, exc: PermissionDenied) -> None:
        super().__init__(403, str(exc) or _("You do not have permission to do this."))
        self.code = "permission_denied"


def positions_from_zero(exc: ValidationError, lists: Iterable[str]) -> ValidationError:
    """The services number list items from 1 (`lines.1.quantity`); a JSON client counts them
    from 0 like every other error of the API: the same error with the keys of `lists`
    renumbered."""
    key = re.compile(rf"^({'|'.join(map(re.escape, lists))})\.(\d+)(?=\.|$)")
    renamed = {
        key.sub(lambda m: f"{m.group(1)}.{int(m.group(2)) - 1}", name): errors
        for name, errors in exc.error_dict.items()
    }
    return type(exc)(renamed)


def refusals_of(
    *kinds: type[ValidationError],
    own: type[ValidationError],
    lists: Iterable[str] = ("lines",),
    forbidden: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A view decorator answering the services' refusals (`kinds`, `own` among them): with
    field errors as validation problems (for `own`, list positions from 0), without as
    `ServiceRefused`; with `forbidden`, a PermissionDenied as `ServiceForbidden` (its reason
    shown)."""
    lists = tuple(lists)
    denied: tuple[type[Exception], ...] = (PermissionDenied,) if forbidden else ()

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            try:
                return view(request, *args, **kwargs)
            except kinds as exc:
                if not hasattr(exc, "error_dict"):
                    raise ServiceRefused(exc) from exc
                if isinstance(exc, own):
                    raise positions_from_zero(exc, lists) from exc
                raise
            except denied as exc:
                raise ServiceForbidden(exc) from exc  # type: ignore[arg-type]

        return wrapped

    return decorate


# --- schemas ----------------------------------------------------------------------------------


class UserOut(Schema):
    id: int
    username: str
    first_name: str
    last_name: str
    email: str
    language: str


class CompanyOut(Schema):
    id: int
    name: str
    legal_name: str
    base_currency: str
    country: str
    timezone: str

    @staticmethod
    def resolve_base_currency(obj: Company) -> str:
        return obj.base_currency_id


class MyCompanyOut(CompanyOut):
    active: bool

    @staticmethod
    def resolve_active(obj: Company, context: dict[str, Any]) -> bool:
        return obj.pk == getattr(context["request"].company, "pk", None)


class RoleOut(Schema):
    code: str
    name: str

    @staticmethod
    def resolve_name(obj: Role) -> str:
        return str(obj)


class MeOut(Schema):
    user: UserOut
    company: CompanyOut | None
    roles: list[RoleOut]
    permissions: list[str]
    authenticated_by: Literal["token", "session"]


class ExchangeRateOut(Schema):
    id: int
    currency: str
    date: dt.date
    rate: DecimalString
    source: str

    @staticmethod
    def resolve_currency(obj: ExchangeRate) -> str:
        return obj.currency_id


class ExchangeRateIn(Schema):
    currency: str
    date: dt.date
    rate: DecimalString
    source: str = ""


class ExchangeRatePatch(Schema):
    currency: str | None = None
    date: dt.date | None = None
    rate: DecimalString | None = None
    source: str | None = None


class ExchangeRateFilters(Schema):
    currency: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None


class CurrencyOut(Schema):
    code: str
    name: str
    symbol: str
    decimals: int


class UnitOut(Schema):
    code: str
    name: str
    category: str
    factor: DecimalString
    rounding: DecimalString
    active: bool

    @staticmethod
    def resolve_category(obj: UnitOfMeasure) -> str:
        return obj.category.code


class SequenceOut(Schema):
    id: int
    code: str
    name: str
    pattern: str
    gap_free: bool


class JobOut(Schema):
    id: int
    name: str
    kind: str
    status: str
    done: int
    total: int
    percent: int
    message: str
    result: dict[str, Any]
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreatedOut(TokenOut):
    key: str


class TokenIn(Schema):
    name: str
    expires_at: AwareDatetime | None = None


# --- who am I ---------------------------------------------------------------------------------


@router.get("/me", response=MeOut, tags=["account"])
@login_only
def me(request: HttpRequest) -> dict[str, Any]:
    """The caller, the company the request works in, and their roles and permissions there."""
    company = request.company  # type: ignore[attr-defined]
    membership = getattr(request, "membership", None)  # loaded by the authentication
    owner = (membership.user_id, membership.company_id) if membership is not None else None
    if not company:
        membership = None
    elif owner != (request.user.pk, company.pk):
        membership = membership_for(user=request.user, company=company)
    return {
        "user": request.user,
        "company": company,
        "roles": list(membership.roles.all()) if membership else [],
        "permissions": sorted(request.permissions),  # type: ignore[attr-defined]
        "authenticated_by": "token" if isinstance(request.auth, ApiToken) else "session",  # type: ignore[attr-defined]
    }


@router.get("/companies", response=list[MyCompanyOut], tags=["account"])
@login_only
@paginate
def company_list(request: HttpRequest) -> list[Company]:
    """The companies the caller works for; `active` marks the one this request works in."""
    return [membership.company for membership in memberships_for_user(user=request.user)]


# --- exchange rates ---------------------------------------------------------------------------


def _rate_or_404(rate_id: int) -> ExchangeRate:
    return get_object_or_404(ExchangeRate.objects.select_related("company"), pk=rate_id)


@router.get("/exchange-rates", response=list[ExchangeRateOut], tags=["exchange rates"])
@requires("core.exchangerate.view")
@paginate
def exchange_rate_list(request: HttpRequest, filters: Query[ExchangeRateFilters]) -> Any:
    """The company's rates, newest first; filter by `currency` and a `date_from`–`date_to`
    range (inclusive)."""
    rates = ExchangeRate.objects.order_by("-date", "currency_id", "pk")
    if filters.currency:
        rates = rates.filter(currency_id=filters.currency.upper())
    if filters.date_from:
        rates = rates.filter(date__gte=filters.date_from)
    if filters.date_to:
        rates = rates.filter(date__lte=filters.date_to)
    return rates


@router.get("/exchange-rates/{rate_id}", response=ExchangeRateOut, tags=["exchange rates"])
@requires("core.exchangerate.view")
def exchange_rate_get(request: HttpRequest, rate_id: int) -> ExchangeRate:
    """One rate."""
    return _rate_or_404(rate_id)


@router.post("/exchange-rates", response={201: ExchangeRateOut}, tags=["exchange rates"])
@requires("core.exchangerate.change")
@idempotent
def exchange_rate_create(request: HttpRequest, payload: ExchangeRateIn) -> Status:
    """Record a rate: on `date`, 1 `currency` = `rate` units of the company's base currency."""
    rate = services.exchange_rate_create(
        company=request.company,  # type: ignore[attr-defined]
        actor=request.user,
        currency=payload.currency,
        date=payload.date,
        rate=payload.rate,
        source=payload.source,
    )
    return Status(201, rate)


@router.patch("/exchange-rates/{rate_id}", response=ExchangeRateOut, tags=["exchange rates"])
@requires("core.exchangerate.change")
def exchange_rate_update(
    request: HttpRequest, rate_id: int, payload: ExchangeRatePatch
) -> ExchangeRate:
    """Change some of a rate's fields."""
    rate = _rate_or_404(rate_id)
    fields = payload.model_dump(exclude_unset=True)
    if "currency" in fields:
        fields["currency_id"] = fields.pop("currency")
    return services.exchange_rate_update(exchange_rate=rate, actor=request.user, **fields)


@router.delete("/exchange-rates/{rate_id}", response={204: None}, tags=["exchange rates"])
@requires("core.exchangerate.change")
def exchange_rate_delete(request: HttpRequest, rate_id: int) -> Status:
    """Delete a rate."""
    services.exchange_rate_delete(exchange_rate=_rate_or_404(rate_id), actor=request.user)
    return Status(204, None)


# --- reference data ---------------------------------------------------------------------------


@router.get("/currencies", response=list[CurrencyOut], tags=["reference data"])
@login_only
@paginate
def currency_list(request: HttpRequest) -> Any:
    """The active currencies."""
    return Currency.objects.filter(active=True).order_by("code")


@router.get("/units", response=list[UnitOut], tags=["reference data"])
@requires("core.uom.view")
@paginate
def unit_list(request: HttpRequest) -> Any:
    """Units of measure, by category."""
    return UnitOfMeasure.objects.select_related("category").order_by(
        "category__code", "factor", "code"
    )


@router.get("/sequences", response=list[SequenceOut], tags=["reference data"])
@requires("core.sequence.view")
@paginate
def sequence_list(request: HttpRequest) -> Any:
    """The company's document numbering series."""
    return Sequence.objects.order_by("code")


# --- background jobs --------------------------------------------------------------------------


@router.get("/jobs/{job_id}", response=JobOut, tags=["jobs"])
@login_only
def job_get(request: HttpRequest, job_id: int) -> Job:
    """A background job's progress. Everyone sees their own jobs; `core.job.view` shows every
    job of the company."""
    job = get_object_or_404(Job.objects, pk=job_id)
    if job.user_id != request.user.pk and not has_perm(request, "core.job.view"):
        raise Http404
    return job


# --- API tokens -------------------------------------------------------------------------------


def _own_tokens(user: User) -> Any:
    return ApiToken.objects.filter(user=user)


@router.get("/tokens", response=list[TokenOut], tags=["tokens"])
@login_only
@paginate
def token_list(request: HttpRequest) -> Any:
    """The caller's API tokens in this company, revoked ones included."""
    return _own_tokens(request.user).order_by("-created_at", "-pk")


@router.post("/tokens", response={201: TokenCreatedOut}, tags=["tokens"])
@login_only
def token_create(request: HttpRequest, payload: TokenIn) -> Status:
    """Issue a token for the caller in this company. The answer's `key` is shown only this once
    and never stored, which is also why this POST takes no Idempotency-Key. Tokens are created
    from a signed-in session, not by other tokens."""
    if isinstance(request.auth, ApiToken):  # type: ignore[attr-defined]
        raise HttpError(403, _("Sign in to create API tokens; a token cannot create another."))
    token, raw = services.api_token_create(
        user=request.user,  # type: ignore[arg-type]
        company=request.company,  # type: ignore[attr-defined]
        name=payload.name,
        expires_at=payload.expires_at,
    )
    return Status(201, {**TokenOut.model_validate(token).model_dump(), "key": raw})


@router.delete("/tokens/{token_id}", response={204: None}, tags=["tokens"])
@login_only
def token_revoke(request: HttpRequest, token_id: int) -> Status:
    """Revoke one of the caller's tokens (at once, for good)."""
    token = get_object_or_404(_own_tokens(request.user), pk=token_id)
    services.api_token_revoke(token=token, actor=request.user)  # type: ignore[arg-type]
    return Status(204, None)
