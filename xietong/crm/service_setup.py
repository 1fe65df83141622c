"""The settings of customer service, through services: business-hours calendars, service
categories (with the skill their tickets need), SLA policies and warranty rules. Each raises
ValidationError({field: [...]}) on bad input and then writes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.models import Company, User
from xietong.crm.models import (
    BusinessCalendar,
    ServiceCategory,
    SlaPolicy,
    TicketPriority,
    WarrantyRule,
)
from xietong.party.models import CustomerGroup
from xietong.product.models import Category

Errors = dict[str, list[str]]


def _add(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _name(value: Any, errors: Errors, limit: int = 80) -> str:
    text = " ".join(str(value or "").split())
    if not text:
        _add(errors, "name", _("This field is required."))
    elif len(text) > limit:
        _add(errors, "name", _("Use at most %(n)s characters.") % {"n": limit})
    return text


def _time(value: Any, field: str, errors: Errors) -> dt.time | None:
    if isinstance(value, dt.time):
        return value
    try:
        return dt.time.fromisoformat(str(value))
    except ValueError:
        _add(errors, field, _("Enter a time such as 09:00."))
        return None


@audited
def calendar_create(*, company: Company, actor: User | None, name: str,
                    weekdays: Any = (0, 1, 2, 3, 4), start: Any = "09:00", end: Any = "18:00",
                    holidays: Any = ()) -> BusinessCalendar:  # fmt: skip
    """A business-hours calendar: working weekdays (0 = Monday), daily hours, holidays."""
    errors: Errors = {}
    name = _name(name, errors)
    if name and BusinessCalendar.unscoped.filter(company=company, name=name).exists():
        _add(errors, "name", _("Another calendar already has this name."))
    try:
        days = sorted({int(d) for d in weekdays})
    except (TypeError, ValueError):
        days = []
    if not days or any(d < 0 or d > 6 for d in days):
        _add(errors, "weekdays", _("Choose at least one weekday (0 = Monday … 6 = Sunday)."))
    begin, finish = _time(start, "start", errors), _time(end, "end", errors)
    if begin and finish and finish <= begin:
        _add(errors, "end", _("Work must end after it starts."))
    off = []
    for day in holidays or ():
        try:
            off.append(dt.date.fromisoformat(str(day)).isoformat())
        except ValueError:
            _add(errors, "holidays", _("Enter dates as YYYY-MM-DD."))
    if errors:
        raise ValidationError(errors)
    return BusinessCalendar.unscoped.create(company=company, name=name, weekdays=days, start=begin,
                                            end=finish, holidays=sorted(set(off)))  # fmt: skip


@audited
def category_create(*, company: Company, actor: User | None, name: str, skill: str = ""
                    ) -> ServiceCategory:  # fmt: skip
    """A service category; `skill` is what an agent needs to get its tickets."""
    errors: Errors = {}
    name = _name(name, errors)
    if name and ServiceCategory.unscoped.filter(company=company, name=name).exists():
        _add(errors, "name", _("Another category already has this name."))
    skill = " ".join(str(skill or "").split())
    if len(skill) > 40:
        _add(errors, "skill", _("Use at most %(n)s characters.") % {"n": 40})
    if errors:
        raise ValidationError(errors)
    return ServiceCategory.unscoped.create(company=company, name=name, skill=skill)


def _hours(value: Any, field: str, errors: Errors) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        number = None
    if number is None or not number.is_finite() or number <= 0 or number > 99999:
        _add(errors, field, _("Enter a number of hours above zero."))
        return None
    return number.quantize(Decimal("0.01"))


@audited
def sla_policy_create(*, company: Company, actor: User | None, name: str, priority: str,
                      calendar: Any, first_response_hours: Any, resolution_hours: Any,
                      customer_group: Any = None, at_risk_percent: int = 75) -> SlaPolicy:  # fmt: skip
    """An SLA policy for a priority and (optionally) a customer group, on a calendar."""
    errors: Errors = {}
    name = _name(name, errors)
    if name and SlaPolicy.unscoped.filter(company=company, name=name).exists():
        _add(errors, "name", _("Another policy already has this name."))
    if priority not in TicketPriority.values:
        _add(errors, "priority", _("Choose a valid priority."))
    cal = BusinessCalendar.unscoped.filter(company=company, pk=getattr(calendar, "pk", calendar)
                                           ).first() if calendar else None  # fmt: skip
    if cal is None:
        _add(errors, "calendar", _("Choose a calendar of your company."))
    group = None
    if customer_group not in (None, ""):
        group = CustomerGroup.unscoped.filter(
            company=company, pk=getattr(customer_group, "pk", customer_group)).first()  # fmt: skip
        if group is None:
            _add(errors, "customer_group", _("Choose a customer group of your company."))
    first = _hours(first_response_hours, "first_response_hours", errors)
    resolution = _hours(resolution_hours, "resolution_hours", errors)
    if first and resolution and resolution < first:
        _add(errors, "resolution_hours", _("Resolution cannot come before the first response."))
    try:
        percent = int(at_risk_percent)
    except (TypeError, ValueError):
        percent = 0
    if not 1 <= percent <= 100:
        _add(errors, "at_risk_percent", _("Enter a percentage from 1 to 100."))
    if not errors and SlaPolicy.unscoped.filter(company=company, priority=priority,
                                                customer_group=group, active=True).exists():  # fmt: skip
        _add(errors, "priority", _("An active policy for this priority and tier exists already."))
    if errors:
        raise ValidationError(errors)
    return SlaPolicy.unscoped.create(
        company=company, name=name, priority=priority, calendar=cal, customer_group=group,
        first_response_hours=first, resolution_hours=resolution, at_risk_percent=percent,
    )  # fmt: skip


@audited
def warranty_rule_set(*, company: Company, actor: User | None, months: Any,
                      product_category: Any = None) -> WarrantyRule:  # fmt: skip
    """Set the warranty months of a product category (none: the company's default)."""
    errors: Errors = {}
    category = None
    if product_category not in (None, ""):
        category = Category.unscoped.filter(
            company=company, pk=getattr(product_category, "pk", product_category)).first()  # fmt: skip
        if category is None:
            _add(errors, "product_category", _("Choose a product category of your company."))
    try:
        value = int(months)
    except (TypeError, ValueError):
        value = -1
    if not 0 <= value <= 240:
        _add(errors, "months", _("Enter from 0 to 240 months."))
    if errors:
        raise ValidationError(errors)
    rule, _created = WarrantyRule.unscoped.update_or_create(
        company=company, product_category=category, defaults={"months": value}
    )
    return rule
