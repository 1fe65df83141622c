"""Company scoping: the default manager of company-owned rows cannot be used without a scope and
never returns another company's rows."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest

from xietong.core.models import ApiToken, ExchangeRate, Job, Membership, Sequence
from xietong.core.services import exchange_rate_create
from xietong.core.tenancy import ScopeError, company_scope, current_company, enter_company_scope

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 1, 2)


@pytest.fixture
def rates(company_a, company_b) -> dict[str, list[ExchangeRate]]:
    """Two rates in company A, three in company B."""

    def add(company, currency: str, day: int) -> ExchangeRate:  # type: ignore[no-untyped-def]
        return exchange_rate_create(
            company=company,
            actor=None,
            currency=currency,
            date=dt.date(2026, 1, day),
            rate=Decimal("1.5"),
        )

    return {
        "a": [add(company_a, "USD", 1), add(company_a, "EUR", 1)],
        "b": [add(company_b, "USD", 1), add(company_b, "USD", 2), add(company_b, "CNY", 1)],
    }


@pytest.mark.parametrize("model", [ExchangeRate, Membership, Sequence, ApiToken, Job])
def test_default_manager_outside_a_scope_raises(model, rates) -> None:
    with pytest.raises(ScopeError):
        model.objects.all()
    with pytest.raises(ScopeError):
        model.objects.count()
    with pytest.raises(ScopeError):
        current_company()


def test_scope_of_a_shows_only_a(company_a, company_b, rates) -> None:
    with company_scope(company_a):
        assert set(ExchangeRate.objects.all()) == set(rates["a"])
        assert ExchangeRate.objects.count() == 2
        # Not even by asking for B's rows explicitly.
        assert not ExchangeRate.objects.filter(company=company_b).exists()
        assert not ExchangeRate.objects.filter(pk=rates["b"][0].pk).exists()
        with pytest.raises(ExchangeRate.DoesNotExist):
            ExchangeRate.objects.get(pk=rates["b"][0].pk)
        assert not ExchangeRate.objects.for_company(company_b).exists()
        assert ExchangeRate.objects.for_company(company_a).count() == 2
        assert Sequence.objects.filter(company=company_b).count() == 0
        assert Sequence.objects.count() == Sequence.unscoped.filter(company=company_a).count()


def test_scope_of_b_shows_only_b(company_a, company_b, rates) -> None:
    with company_scope(company_b):
        assert set(ExchangeRate.objects.all()) == set(rates["b"])
        assert set(ExchangeRate.objects.values_list("company_id", flat=True)) == {company_b.pk}


def test_scope_filters_updates_and_deletes_too(company_a, company_b, rates) -> None:
    with company_scope(company_a):
        assert ExchangeRate.objects.update(source="scoped") == 2
        deleted, _ = ExchangeRate.objects.filter(currency_id="USD").delete()
    assert deleted == 1
    assert not ExchangeRate.unscoped.filter(company=company_b, source="scoped").exists()
    assert ExchangeRate.unscoped.filter(company=company_b).count() == 3


def test_scope_of_none_returns_nothing(rates) -> None:
    with company_scope(None):
        assert current_company() is None
        assert list(ExchangeRate.objects.all()) == []
        assert ExchangeRate.objects.count() == 0
        assert not ExchangeRate.objects.filter(pk=rates["a"][0].pk).exists()
        assert ExchangeRate.objects.update(source="nobody") == 0
    assert not ExchangeRate.unscoped.filter(source="nobody").exists()


def test_unscoped_sees_every_company(company_a, company_b, rates) -> None:
    assert ExchangeRate.unscoped.count() == 5
    with company_scope(company_a):
        assert ExchangeRate.unscoped.count() == 5
    with company_scope(None):
        assert ExchangeRate.unscoped.count() == 5


def test_django_machinery_uses_the_unscoped_manager() -> None:
    assert ExchangeRate._default_manager is ExchangeRate.unscoped
    assert ExchangeRate._base_manager is ExchangeRate.unscoped


def test_scopes_nest_and_are_restored_after_errors(company_a, company_b, rates) -> None:
    with company_scope(company_a):
        with company_scope(company_b):
            assert current_company() == company_b
        assert current_company() == company_a
        with pytest.raises(RuntimeError), company_scope(company_b):
            raise RuntimeError
        assert current_company() == company_a
        assert ExchangeRate.objects.count() == 2
    with pytest.raises(ScopeError):
        current_company()


def test_enter_company_scope_switches_until_the_block_ends(company_a, company_b) -> None:
    with pytest.raises(ScopeError):
        enter_company_scope(company_a)
    with company_scope(None):
        enter_company_scope(company_b)
        assert current_company() == company_b
    with pytest.raises(ScopeError):
        current_company()


def test_a_scope_does_not_leak_into_other_threads(company_a, rates) -> None:
    outcome: list[BaseException | object] = []

    def look() -> None:
        try:
            outcome.append(current_company())
        except ScopeError as exc:
            outcome.append(exc)

    with company_scope(company_a):
        thread = threading.Thread(target=look)
        thread.start()
        thread.join(timeout=30)
    assert len(outcome) == 1
    assert isinstance(outcome[0], ScopeError)


def test_querysets_built_in_a_scope_keep_their_filter(company_a, company_b, rates) -> None:
    with company_scope(company_a):
        queryset = ExchangeRate.objects.all()
    with company_scope(company_b):
        assert set(queryset) == set(rates["a"])
