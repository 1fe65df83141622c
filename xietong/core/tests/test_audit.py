"""The audit trail names who changed what, also around nested service calls."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from auditlog.context import set_actor

from xietong.core import services
from xietong.core.models import AuditEntry, ExchangeRate


@pytest.mark.django_db
def test_outer_actor_context_survives_an_audited_service(company_a, users_a):
    outer, inner = users_a["admin"], users_a["accountant"]
    with set_actor(outer, remote_addr="10.1.2.3"):
        first = services.exchange_rate_create(
            company=company_a,
            actor=inner,
            currency="USD",
            date=dt.date(2026, 7, 1),
            rate=Decimal("7"),
        )
        second = ExchangeRate.unscoped.create(
            company=company_a, currency_id="EUR", date=dt.date(2026, 7, 1), rate=Decimal("8")
        )
    first_entry = AuditEntry.objects.get_for_object(first).get()
    second_entry = AuditEntry.objects.get_for_object(second).get()
    assert first_entry.actor == inner and first_entry.remote_addr == "10.1.2.3"
    assert second_entry.actor == outer  # the request's context is back after the service


@pytest.mark.django_db
def test_audit_entry_records_before_and_after(company_a, users_a):
    rate = services.exchange_rate_create(
        company=company_a,
        actor=users_a["accountant"],
        currency="USD",
        date=dt.date(2026, 7, 2),
        rate=Decimal("7.1"),
    )
    services.exchange_rate_update(exchange_rate=rate, actor=users_a["admin"], rate=Decimal("7.3"))
    update = AuditEntry.objects.get_for_object(rate).filter(action=AuditEntry.Action.UPDATE).get()
    assert update.actor == users_a["admin"] and update.company_id == company_a.pk
    old, new = update.changes_dict["rate"]
    assert Decimal(old) == Decimal("7.1") and Decimal(new) == Decimal("7.3")


@pytest.mark.django_db
def test_history_shows_entries_that_name_reverse_relations(company_a, users_a):
    """auditlog lists reverse relations in create entries; the History tab must not break."""
    from xietong.core.models import Company
    from xietong.core.ui.records import history_for

    entry = AuditEntry.objects.create(
        content_type_id=AuditEntry.objects.model._meta.apps.get_model("contenttypes", "ContentType")
        .objects.get_for_model(Company)
        .pk,
        object_pk=str(company_a.pk),
        object_id=company_a.pk,
        object_repr=str(company_a),
        action=AuditEntry.Action.CREATE,
        changes={"roles": ["None", "[]"], "name": ["None", "Alpha Works"]},
    )
    history = history_for(company_a)
    assert sorted(c["field"] for c in history[0]["changes"]) == ["name", "roles"]
    assert entry.pk == history[0]["entry"].pk


@pytest.mark.django_db
def test_nested_services_of_one_actor_run_in_its_context(company_a, users_a):
    """A service called by another for the same actor opens no second auditlog context (no
    signal receiver connected); one for another actor does; both are named correctly."""
    from auditlog.context import auditlog_value
    from django.db.models.signals import pre_save

    from xietong.core.audit import audited

    first, second = users_a["accountant"], users_a["admin"]
    seen: dict[str, int] = {}

    @audited
    def create(*, actor, currency):  # type: ignore[no-untyped-def]
        seen[currency] = len(pre_save.receivers)
        return ExchangeRate.unscoped.create(
            company=company_a, currency_id=currency, date=dt.date(2026, 7, 3), rate=Decimal("7")
        )

    @audited
    def outer(*, actor):  # type: ignore[no-untyped-def]
        context = auditlog_value.get()
        seen["outer"] = len(pre_save.receivers)
        same = create(actor=actor, currency="USD")
        other = create(actor=second, currency="EUR")
        assert auditlog_value.get() is context
        again = create(actor=actor, currency="JPY")
        return same, other, again

    same, other, again = outer(actor=first)
    later = create(actor=first, currency="GBP")  # the ended context is not reused

    assert seen["USD"] == seen["JPY"] == seen["outer"]
    assert seen["EUR"] == seen["outer"] + 1
    actors = {
        rate.currency_id: AuditEntry.objects.get_for_object(rate).get().actor
        for rate in (same, other, again, later)
    }
    assert actors == {"USD": first, "EUR": second, "JPY": first, "GBP": first}
