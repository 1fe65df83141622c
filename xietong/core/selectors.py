"""Reads of the shared kernel used by views, the API and other apps."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from xietong.core.models import ApiToken, Company, ExchangeRate, Membership, Role, User
from xietong.core.money import Money


class RateNotFound(LookupError):
    pass


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    """The user's active memberships in every company (not scoped: it decides the scope)."""
    return (
        Membership.unscoped.filter(user=user, is_active=True)
        .select_related("company")
        .prefetch_related("roles")
        .order_by("company__name")
    )


def membership_for(*, user: User, company: Company) -> Membership | None:
    return (
        Membership.unscoped.filter(user=user, company=company, is_active=True)
        .prefetch_related("roles")
        .first()
    )


def api_token_by_hash(*, key_hash: str) -> ApiToken | None:
    """The API token with this key hash, in any state, with its user and company (not scoped:
    the token decides the scope). None when no token has that hash."""
    return ApiToken.unscoped.select_related("user", "company").filter(key_hash=key_hash).first()


def permissions_for(*, user: User, company: Company | None) -> frozenset[str]:
    """Union of the permission codes of the user's roles in `company` (empty without one)."""
    if company is None or not user.is_authenticated:
        return frozenset()
    return membership_permissions(membership=membership_for(user=user, company=company))


def membership_permissions(*, membership: Membership | None) -> frozenset[str]:
    """Union of the permission codes of `membership`'s roles (no query when its roles were
    prefetched, as `membership_for` and `memberships_for_user` do); empty for None."""
    if membership is None:
        return frozenset()
    return frozenset(code for role in membership.roles.all() for code in role.permissions)


def is_portal_user(*, user: User, company: Company | None) -> bool:
    perms = permissions_for(user=user, company=company)
    return "portal.access" in perms and "core.dashboard" not in perms


def rate_on(*, company: Company, currency: str, date: dt.date) -> Decimal:
    """Units of the company's base currency for 1 `currency` on `date` (latest rate on or before)."""
    if currency == company.base_currency_id:
        return Decimal(1)
    rate = (
        ExchangeRate.unscoped.filter(company=company, currency_id=currency, date__lte=date)
        .order_by("-date")
        .values_list("rate", flat=True)
        .first()
    )
    if rate is None:
        raise RateNotFound(
            _("No exchange rate for %(currency)s on or before %(date)s.")
            % {"currency": currency, "date": date.isoformat()}
        )
    return rate


def money_convert(*, company: Company, money: Money, to_currency: str, date: dt.date) -> Money:
    """`money` expressed in `to_currency` at the company's rates of `date`, unrounded."""
    if money.currency == to_currency:
        return money
    in_base = money.amount * rate_on(company=company, currency=money.currency, date=date)
    return Money(in_base / rate_on(company=company, currency=to_currency, date=date), to_currency)


def roles_for_company(*, company: Company | int | None) -> QuerySet[Role]:
    """The roles a company can hand out: the platform's system roles and its own."""
    condition = Q(company__isnull=True)
    if company is not None:
        condition |= Q(company=company)
    return Role.objects.filter(condition)
