"""Customer-service test data, all through the services: a 9–18 Monday-to-Friday calendar, SLA
policies, categories, service agents with skills, customers with contacts, tickets."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from typing import Any

from xietong.core.models import Company, Membership, User
from xietong.core.services import user_create
from xietong.core.tenancy import company_scope
from xietong.crm import service_setup, tickets
from xietong.crm.models import BusinessCalendar, ServiceCategory, SlaPolicy, Ticket
from xietong.party.models import Contact, Party
from xietong.party.services import contact_create, party_create

_numbers = itertools.count(1)


def local(company: Company, *args: int) -> dt.datetime:
    """An aware moment in the company's time zone: local(c, 2026, 3, 6, 17)."""
    return dt.datetime(*args, tzinfo=zoneinfo.ZoneInfo(company.timezone))  # type: ignore[misc]


def calendar(company: Company, **fields: Any) -> BusinessCalendar:
    fields.setdefault("name", f"Office hours {next(_numbers)}")
    with company_scope(company):
        return service_setup.calendar_create(company=company, actor=None, **fields)


def policies(company: Company, cal: BusinessCalendar | None = None, **fields: Any
             ) -> dict[str, SlaPolicy]:  # fmt: skip
    """One policy per priority on `cal` (first response, resolution in business hours):
    urgent 1/4, high 2/8, normal 4/16, low 8/40; at risk at 75 %."""
    cal = cal or calendar(company)
    targets = {"urgent": (1, 4), "high": (2, 8), "normal": (4, 16), "low": (8, 40)}
    with company_scope(company):
        return {
            priority: service_setup.sla_policy_create(
                company=company,
                actor=None,
                name=f"{priority} {next(_numbers)}",
                priority=priority,
                calendar=cal,
                first_response_hours=first,
                resolution_hours=resolution,
                **fields,
            )  # fmt: skip
            for priority, (first, resolution) in targets.items()
        }


def category(company: Company, name: str = "", skill: str = "") -> ServiceCategory:
    with company_scope(company):
        return service_setup.category_create(company=company, actor=None,
                                             name=name or f"Category {next(_numbers)}",
                                             skill=skill)  # fmt: skip


def agent(company: Company, skills: list[str] = (), name: str = "") -> User:  # type: ignore[assignment]
    n = next(_numbers)
    user = user_create(company=company, username=name or f"svc_agent_{n}", password=None,
                       roles=["service_agent"], validate=False, first_name=f"Agent {n}")  # fmt: skip
    Membership.unscoped.filter(company=company, user=user).update(skills=list(skills))
    return user


def customer(company: Company, name: str = "", email: str = "", **fields: Any
             ) -> tuple[Party, Contact]:  # fmt: skip
    """A customer with one contact writing from `email`."""
    n = next(_numbers)
    with company_scope(company):
        party = party_create(company=company, actor=None, name=name or f"Customer {n}",
                             is_customer=True, allow_duplicate=True, **fields)  # fmt: skip
        contact = contact_create(party=party, actor=None, name=f"Contact {n}",
                                 email=email or f"contact{n}@customer{n}.example")  # fmt: skip
    return party, contact


def ticket(company: Company, party: Party | None = None, *, assign: bool = False,
           **fields: Any) -> Ticket:  # fmt: skip
    if party is None and "requester_email" not in fields:
        party, _contact = customer(company)
    fields.setdefault("subject", f"Problem {next(_numbers)}")
    fields.setdefault("description", "Something does not work.")
    with company_scope(company):
        return tickets.ticket_create(company=company, actor=None, party=party, assign=assign,
                                     **fields)  # fmt: skip
