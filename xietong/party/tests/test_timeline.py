"""The customer timeline: the public `timeline_add` door and the filtered selector."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from xietong.core.models import ExchangeRate
from xietong.core.services import exchange_rate_create
from xietong.party import services
from xietong.party.selectors import timeline_for, timeline_kind_choices
from xietong.party.tests.conftest import make_party

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def test_entries_filtered_by_kind_and_dates(company_a, users_a):
    party = make_party(company_a)  # writes party.created now
    rep = users_a["sales_rep"]
    for day, kind in ((1, "order"), (5, "invoice"), (9, "order")):
        services.timeline_add(
            party=party,
            kind=kind,
            summary=f"{kind} of day {day}",
            occurred_at=dt.datetime(2026, 3, day, 9, tzinfo=UTC),
            url=f"/sales/{day}/",
            actor=rep,
        )
    entries = timeline_for(party=party, kinds=["order"])
    assert [e.summary for e in entries] == ["order of day 9", "order of day 1"]
    ranged = timeline_for(party=party, date_from=dt.date(2026, 3, 2), date_to=dt.date(2026, 3, 9))
    assert [e.summary for e in ranged] == ["order of day 9", "invoice of day 5"]
    assert timeline_for(party=party).first().kind == "party.created"  # newest first
    labels = dict(timeline_kind_choices(party=party))
    assert labels["order"] == "Order" and labels["party.created"] == "Party created"


def test_bad_entries_are_refused(company_a, company_b):
    party = make_party(company_a)
    rate_b = exchange_rate_create(
        company=company_b, actor=None, currency="USD", date=dt.date(2026, 1, 2), rate=7
    )
    with pytest.raises(ValidationError) as excinfo:
        services.timeline_add(
            party=party,
            kind="x" * 31,
            summary=" ",
            occurred_at=dt.datetime(2026, 1, 1),  # noqa: DTZ001  (naive on purpose)
            url="https://evil.example/",
            source=rate_b,
        )
    assert set(excinfo.value.message_dict) == {"kind", "summary", "occurred_at", "url", "source"}
    assert timeline_for(party=party).count() == 1  # only "party created"
    rate_a = exchange_rate_create(
        company=company_a, actor=None, currency="USD", date=dt.date(2026, 1, 2), rate=7
    )
    entry = services.timeline_add(
        party=party, kind="ticket", summary="x" * 300, source=rate_a, url="/x/"
    )
    assert len(entry.summary) == 255 and entry.summary.endswith("…")
    assert isinstance(entry.source, ExchangeRate)
    assert entry.occurred_at <= timezone.now()


def test_entries_for_a_merged_party_land_on_the_survivor(company_a):
    survivor, duplicate = make_party(company_a), make_party(company_a)
    services.party_merge(survivor=survivor, duplicate=duplicate, actor=None)
    duplicate.refresh_from_db()
    entry = services.timeline_add(party=duplicate, kind="order", summary="late order")
    assert entry.party_id == survivor.pk
