"""Services and selectors of the shared kernel: field-level validation that changes nothing,
the last administrator, users, API tokens, exchange rates and conversions."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone

from xietong.core import events
from xietong.core.models import ApiToken, Company, ExchangeRate, Membership, Sequence, User
from xietong.core.money import Money
from xietong.core.roles import role_permissions
from xietong.core.selectors import (
    RateNotFound,
    api_token_by_hash,
    money_convert,
    permissions_for,
    rate_on,
)
from xietong.core.services import (
    STANDARD_SEQUENCES,
    api_token_create,
    api_token_hash,
    api_token_revoke,
    company_create,
    exchange_rate_create,
    exchange_rate_delete,
    exchange_rate_update,
    membership_set_roles,
    user_create,
)

pytestmark = pytest.mark.django_db

JAN = {day: dt.date(2026, 1, day) for day in range(1, 32)}
STRONG = "quiet-lantern-orbit-1987"


def field_errors(exc: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return set(exc.value.message_dict)


@pytest.fixture
def rate_events() -> Iterator[list[events.ExchangeRateChanged]]:
    seen: list[events.ExchangeRateChanged] = []
    events.subscribe(events.ExchangeRateChanged, seen.append)
    yield seen
    events.unsubscribe(events.ExchangeRateChanged, seen.append)


def add_rate(company, currency: str, date: dt.date, rate: str) -> ExchangeRate:  # type: ignore[no-untyped-def]
    return exchange_rate_create(
        company=company, actor=None, currency=currency, date=date, rate=Decimal(rate)
    )


# --- companies ---------------------------------------------------------------------------------


def test_company_create_adds_the_standard_sequences(company_a) -> None:
    codes = set(Sequence.unscoped.filter(company=company_a).values_list("code", flat=True))
    assert codes == {code for code, *_ in STANDARD_SEQUENCES}
    assert Sequence.unscoped.get(company=company_a, code="finance.invoice").gap_free


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"base_currency": "XXX"}, "base_currency"),
        ({"country": "China"}, "country"),
        ({"timezone_name": "Mars/Olympus"}, "timezone"),
        ({"fiscal_year_start_month": 13}, "fiscal_year_start_month"),
    ],
)
def test_company_create_reports_field_errors_and_creates_nothing(fields, bad: str) -> None:  # type: ignore[no-untyped-def]
    arguments = {"name": "X", "legal_name": "X Ltd.", "base_currency": "CNY", "country": "CN"}
    sequences = Sequence.unscoped.count()  # the module's shared companies have theirs
    with pytest.raises(ValidationError) as exc:
        company_create(**{**arguments, **fields})
    assert bad in field_errors(exc)
    assert Sequence.unscoped.count() == sequences
    assert not Company.objects.filter(name="X").exists()


# --- exchange rates ------------------------------------------------------------------------------


def test_exchange_rate_create_saves_and_publishes_after_commit(
    company_a, admin_a, rate_events, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        rate = exchange_rate_create(
            company=company_a,
            actor=admin_a,
            currency="USD",
            date=JAN[2],
            rate=Decimal("7.1234"),
            source="pboc",
        )
        assert rate_events == []
    stored = ExchangeRate.unscoped.get(pk=rate.pk)
    assert (stored.company, stored.currency_id, stored.date, stored.rate, stored.source) == (
        company_a,
        "USD",
        JAN[2],
        Decimal("7.1234"),
        "pboc",
    )
    assert [(e.company_id, e.currency, e.date) for e in rate_events] == [
        (company_a.pk, "USD", "2026-01-02")
    ]


@pytest.mark.parametrize(
    ("currency", "date", "rate", "expected"),
    [
        ("CNY", JAN[2], "1", {"currency"}),  # the company's own currency
        ("XXX", JAN[2], "1", {"currency"}),  # no such currency
        ("USD", JAN[1], "7.2", {"date"}),  # a USD rate for that day already exists
        ("USD", JAN[3], "0", {"rate"}),
        ("USD", JAN[3], "-7.1", {"rate"}),
        ("USD", JAN[3], "7.12345678901", {"rate"}),  # more decimals than stored
        ("USD", JAN[3], "12345678901", {"rate"}),  # more digits than stored
        ("CNY", JAN[3], "0", {"currency", "rate"}),  # every problem at once
        ("USD", JAN[1], "-1", {"date", "rate"}),
    ],
)
def test_exchange_rate_create_reports_field_errors_and_changes_nothing(
    company_a, rate_events, django_capture_on_commit_callbacks, currency, date, rate, expected
) -> None:  # type: ignore[no-untyped-def]
    add_rate(company_a, "USD", JAN[1], "7.0")
    before = list(ExchangeRate.unscoped.values_list("pk", "currency_id", "date", "rate"))
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError) as exc:
        exchange_rate_create(
            company=company_a, actor=None, currency=currency, date=date, rate=Decimal(rate)
        )
    assert field_errors(exc) == expected
    assert NON_FIELD_ERRORS not in exc.value.message_dict
    assert list(ExchangeRate.unscoped.values_list("pk", "currency_id", "date", "rate")) == before
    assert [e.date for e in rate_events] == []


def test_the_same_day_may_have_rates_in_other_currencies_and_companies(
    company_a, company_b
) -> None:
    add_rate(company_a, "USD", JAN[1], "7.0")
    add_rate(company_a, "EUR", JAN[1], "7.8")
    add_rate(company_b, "USD", JAN[1], "7.8")
    assert ExchangeRate.unscoped.count() == 3


def test_exchange_rate_update_saves_and_publishes(
    company_a, rate_events, django_capture_on_commit_callbacks
) -> None:
    rate = add_rate(company_a, "USD", JAN[1], "7.0")
    with django_capture_on_commit_callbacks(execute=True):
        exchange_rate_update(
            exchange_rate=rate, actor=None, rate=Decimal("7.05"), date=JAN[4], source="fix"
        )
    rate.refresh_from_db()
    assert (rate.date, rate.rate, rate.source) == (JAN[4], Decimal("7.05"), "fix")
    assert [e.date for e in rate_events] == ["2026-01-04"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"date": JAN[2]}, {"date"}),  # there is a USD rate on the 2nd already
        ({"currency_id": "CNY"}, {"currency"}),
        ({"rate": Decimal("0")}, {"rate"}),
        ({"rate": Decimal("-3")}, {"rate"}),
        ({"company_id": 999}, {"company_id"}),  # not changeable here
        ({"rate": Decimal("0"), "date": JAN[2]}, {"rate", "date"}),
    ],
)
def test_exchange_rate_update_reports_field_errors_and_changes_nothing(
    company_a, rate_events, django_capture_on_commit_callbacks, fields, expected
) -> None:  # type: ignore[no-untyped-def]
    rate = add_rate(company_a, "USD", JAN[1], "7.0")
    add_rate(company_a, "USD", JAN[2], "7.1")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError) as exc:
        exchange_rate_update(exchange_rate=rate, actor=None, **fields)
    assert field_errors(exc) == expected
    stored = ExchangeRate.unscoped.get(pk=rate.pk)
    assert (stored.company, stored.currency_id, stored.date, stored.rate) == (
        company_a,
        "USD",
        JAN[1],
        Decimal("7.0"),
    )
    assert rate_events == []


def test_exchange_rate_update_may_keep_its_own_date(company_a) -> None:
    rate = add_rate(company_a, "USD", JAN[1], "7.0")
    exchange_rate_update(exchange_rate=rate, actor=None, date=JAN[1], rate=Decimal("7.01"))
    assert ExchangeRate.unscoped.get(pk=rate.pk).rate == Decimal("7.01")


def test_exchange_rate_delete(company_a) -> None:
    keep = add_rate(company_a, "USD", JAN[1], "7.0")
    gone = add_rate(company_a, "USD", JAN[2], "7.1")
    exchange_rate_delete(exchange_rate=gone, actor=None)
    assert list(ExchangeRate.unscoped.values_list("pk", flat=True)) == [keep.pk]


# --- memberships and users -------------------------------------------------------------------------


def membership(user: User, company) -> Membership:  # type: ignore[no-untyped-def]
    return Membership.unscoped.get(user=user, company=company)


def role_codes(m: Membership) -> set[str]:
    return set(m.roles.values_list("code", flat=True))


def test_removing_the_last_administrator_is_refused(company_a, users_a, users_b) -> None:
    # Company B's administrator does not count for company A.
    admin = membership(users_a["admin"], company_a)
    with pytest.raises(ValidationError) as exc:
        membership_set_roles(membership=admin, roles=["sales_rep"], actor=users_a["admin"])
    assert field_errors(exc) == {"roles"}
    assert role_codes(membership(users_a["admin"], company_a)) == {"admin"}
    with pytest.raises(ValidationError):
        membership_set_roles(membership=admin, roles=[], actor=users_a["admin"])
    assert role_codes(membership(users_a["admin"], company_a)) == {"admin"}


def test_an_inactive_administrator_does_not_count(company_a, users_a) -> None:
    second = user_create(company=company_a, username="a_admin2", password=None, roles=["admin"])
    Membership.unscoped.filter(user=second).update(is_active=False)
    admin = membership(users_a["admin"], company_a)
    with pytest.raises(ValidationError):
        membership_set_roles(membership=admin, roles=["executive"], actor=users_a["admin"])
    assert role_codes(admin) == {"admin"}


def test_an_administrator_may_step_down_when_another_remains(company_a, users_a) -> None:
    user_create(company=company_a, username="a_admin2", password=None, roles=["admin"])
    admin = membership(users_a["admin"], company_a)
    membership_set_roles(
        membership=admin, roles=["executive", "accountant"], actor=users_a["admin"]
    )
    assert role_codes(membership(users_a["admin"], company_a)) == {"executive", "accountant"}


def test_roles_of_other_members_change_freely(company_a, users_a) -> None:
    clerk = membership(users_a["warehouse_clerk"], company_a)
    membership_set_roles(membership=clerk, roles=["buyer", "planner"], actor=users_a["admin"])
    assert role_codes(clerk) == {"buyer", "planner"}
    membership_set_roles(membership=clerk, roles=["admin"], actor=users_a["admin"])
    assert role_codes(clerk) == {"admin"}


def test_unknown_role_codes_are_refused(company_a, users_a) -> None:
    clerk = membership(users_a["warehouse_clerk"], company_a)
    with pytest.raises(ValidationError) as exc:
        membership_set_roles(membership=clerk, roles=["buyer", "wizard"], actor=users_a["admin"])
    assert field_errors(exc) == {"roles"}
    assert role_codes(clerk) == {"warehouse_clerk"}


def test_user_create_makes_a_member_with_roles(company_a) -> None:
    user = user_create(
        company=company_a,
        username="wang.wei",
        password=STRONG,
        roles=["sales_rep", "buyer"],
        first_name="伟",
        last_name="王",
    )
    user.refresh_from_db()
    assert user.check_password(STRONG)
    assert user.active_company == company_a
    assert role_codes(membership(user, company_a)) == {"sales_rep", "buyer"}
    assert str(user) == "王伟"


def test_user_without_a_password_cannot_sign_in_with_one(company_a) -> None:
    user = user_create(company=company_a, username="nopass", password=None, roles=["buyer"])
    assert not user.has_usable_password()


@pytest.mark.parametrize(
    ("username", "password", "roles", "expected"),
    [
        ("A_ADMIN", STRONG, ["buyer"], {"username"}),  # exists as a_admin (any case)
        ("new.user", STRONG, ["buyer", "wizard", "alchemist"], {"roles"}),
        ("new.user", "short", ["buyer"], {"password"}),
        ("new.user", "123456789012345", ["buyer"], {"password"}),  # numeric
        ("new.user", "password12345", ["buyer"], {"password"}),  # common
        ("new.user", "new.user.2026", ["buyer"], {"password"}),  # like the username
        ("a_buyer", "short", ["wizard"], {"username", "roles", "password"}),
    ],
)
def test_user_create_reports_field_errors_and_creates_nothing(
    company_a, users_a, username, password, roles, expected
) -> None:  # type: ignore[no-untyped-def]
    users_before = User.objects.count()
    memberships_before = Membership.unscoped.count()
    with pytest.raises(ValidationError) as exc:
        user_create(company=company_a, username=username, password=password, roles=roles)
    assert field_errors(exc) == expected
    assert User.objects.count() == users_before
    assert Membership.unscoped.count() == memberships_before


def test_unknown_roles_are_all_named(company_a) -> None:
    with pytest.raises(ValidationError) as exc:
        user_create(company=company_a, username="x", password=None, roles=["zeta", "alpha"])
    assert exc.value.message_dict["roles"] == ["Unknown role(s): alpha, zeta"]


def test_weak_password_is_accepted_when_validation_is_off(company_a) -> None:
    user = user_create(
        company=company_a, username="demo", password="demo", roles=["buyer"], validate=False
    )
    assert user.check_password("demo")


# --- API tokens ------------------------------------------------------------------------------------


def test_api_token_stores_only_the_hash_of_the_raw_key(company_a, users_a) -> None:
    user = users_a["sales_rep"]
    token, raw = api_token_create(user=user, company=company_a, name="  CI export  ")
    assert raw.startswith("xt_")
    assert len(raw) > 40
    stored = ApiToken.unscoped.get(pk=token.pk)
    assert stored.key_hash == hashlib.sha256(raw.encode()).hexdigest() == api_token_hash(raw)
    assert stored.prefix == raw[:10]
    assert stored.name == "CI export"
    assert (stored.user, stored.company) == (user, company_a)
    assert stored.revoked_at is None and stored.expires_at is None
    row = ApiToken.unscoped.filter(pk=token.pk).values().get()
    assert not any(raw in str(value) for value in row.values()), "the raw key was stored"
    assert api_token_by_hash(key_hash=api_token_hash(raw)) == stored
    assert api_token_by_hash(key_hash=api_token_hash(raw + "x")) is None


def test_api_tokens_are_unique(company_a, users_a) -> None:
    raws = {
        api_token_create(user=users_a["admin"], company=company_a, name=f"t{i}")[1]
        for i in range(5)
    }
    assert len(raws) == 5


@pytest.mark.parametrize(
    ("name", "company_key", "expires_in", "expected"),
    [
        ("   ", "a", None, {"name"}),
        ("CI", "b", None, {"company"}),  # the user does not work for company B
        ("CI", "a", dt.timedelta(seconds=-1), {"expires_at"}),
    ],
)
def test_api_token_create_reports_field_errors_and_creates_nothing(
    company_a, company_b, users_a, name, company_key, expires_in, expected
) -> None:  # type: ignore[no-untyped-def]
    company = {"a": company_a, "b": company_b}[company_key]
    expires_at = timezone.now() + expires_in if expires_in is not None else None
    with pytest.raises(ValidationError) as exc:
        api_token_create(user=users_a["admin"], company=company, name=name, expires_at=expires_at)
    assert field_errors(exc) == expected
    assert not ApiToken.unscoped.exists()


def test_api_token_revoke(company_a, users_a) -> None:
    token, _raw = api_token_create(user=users_a["admin"], company=company_a, name="CI")
    with pytest.raises(PermissionError):
        api_token_revoke(token=token, actor=users_a["accountant"])
    assert ApiToken.unscoped.get(pk=token.pk).revoked_at is None
    api_token_revoke(token=token, actor=users_a["admin"])
    revoked_at = ApiToken.unscoped.get(pk=token.pk).revoked_at
    assert revoked_at is not None
    api_token_revoke(token=token, actor=users_a["admin"])  # again: keeps the first time
    assert ApiToken.unscoped.get(pk=token.pk).revoked_at == revoked_at


# --- selectors: rates and conversion ----------------------------------------------------------------


@pytest.fixture
def rates_a(company_a, company_b) -> None:
    """Company A (CNY): USD 7.0 from Jan 1, 7.2 from Jan 5; EUR 7.8 from Jan 1. Company B has a
    USD rate from December that A must never use."""
    add_rate(company_a, "USD", JAN[1], "7.0")
    add_rate(company_a, "USD", JAN[5], "7.2")
    add_rate(company_a, "EUR", JAN[1], "7.8")
    add_rate(company_b, "USD", dt.date(2025, 12, 1), "7.75")


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (JAN[1], "7.0"),
        (JAN[4], "7.0"),
        (JAN[5], "7.2"),
        (JAN[31], "7.2"),
        (dt.date(2027, 1, 1), "7.2"),
    ],
)
def test_rate_on_takes_the_latest_rate_on_or_before_the_date(
    company_a, rates_a, day: dt.date, expected: str
) -> None:
    assert rate_on(company=company_a, currency="USD", date=day) == Decimal(expected)


def test_rate_on_raises_without_a_rate_on_or_before_the_date(company_a, rates_a) -> None:
    with pytest.raises(RateNotFound):
        rate_on(company=company_a, currency="USD", date=dt.date(2025, 12, 31))
    with pytest.raises(RateNotFound):
        rate_on(company=company_a, currency="JPY", date=JAN[31])


def test_rate_of_the_base_currency_is_one(company_a) -> None:
    assert rate_on(company=company_a, currency="CNY", date=JAN[1]) == Decimal(1)


def test_money_convert_between_foreign_and_base_currency(company_a, rates_a) -> None:
    assert money_convert(
        company=company_a, money=Money("100", "USD"), to_currency="CNY", date=JAN[2]
    ) == Money("700", "CNY")
    assert money_convert(
        company=company_a, money=Money("780", "CNY"), to_currency="EUR", date=JAN[2]
    ) == Money("100", "EUR")


def test_money_convert_crosses_through_the_base_currency(company_a, rates_a) -> None:
    converted = money_convert(
        company=company_a, money=Money("100", "USD"), to_currency="EUR", date=JAN[6]
    )
    assert converted.currency == "EUR"
    assert converted.amount == Decimal("100") * Decimal("7.2") / Decimal("7.8")
    assert converted.rounded() == Money("92.31", "EUR")
    back = money_convert(company=company_a, money=converted, to_currency="USD", date=JAN[6])
    assert back.rounded() == Money("100.00", "USD")


def test_money_convert_in_the_same_currency_is_the_identity(company_a) -> None:
    money = Money("12.345", "JPY")
    assert money_convert(company=company_a, money=money, to_currency="JPY", date=JAN[1]) is money


def test_money_convert_raises_without_a_rate(company_a, rates_a) -> None:
    with pytest.raises(RateNotFound):
        money_convert(company=company_a, money=Money("1", "USD"), to_currency="JPY", date=JAN[9])
    with pytest.raises(RateNotFound):
        money_convert(
            company=company_a,
            money=Money("1", "USD"),
            to_currency="CNY",
            date=dt.date(2025, 12, 15),
        )


# --- selectors: permissions ----------------------------------------------------------------------


def test_permissions_are_the_union_of_the_roles_in_that_company(company_a, users_a) -> None:
    clerk = users_a["warehouse_clerk"]
    assert permissions_for(user=clerk, company=company_a) == frozenset(
        role_permissions("warehouse_clerk")
    )
    membership_set_roles(
        membership=membership(clerk, company_a),
        roles=["warehouse_clerk", "accountant"],
        actor=users_a["admin"],
    )
    assert permissions_for(user=clerk, company=company_a) == frozenset(
        role_permissions("warehouse_clerk") + role_permissions("accountant")
    )


def test_no_permissions_elsewhere_or_without_a_membership(
    company_a, company_b, users_a, users_b
) -> None:
    admin = users_a["admin"]
    assert "core.company.change" in permissions_for(user=admin, company=company_a)
    assert permissions_for(user=admin, company=company_b) == frozenset()
    assert permissions_for(user=admin, company=None) == frozenset()
    assert permissions_for(user=AnonymousUser(), company=company_a) == frozenset()  # type: ignore[arg-type]
    Membership.unscoped.filter(user=admin, company=company_a).update(is_active=False)
    assert permissions_for(user=admin, company=company_a) == frozenset()


@pytest.mark.django_db
def test_a_service_called_outside_a_request_names_its_actor_in_the_audit_trail(company_a, users_a):
    import datetime as dt
    from decimal import Decimal

    from xietong.core import services
    from xietong.core.models import AuditEntry

    accountant = users_a["accountant"]
    rate = services.exchange_rate_create(
        company=company_a,
        actor=accountant,
        currency="USD",
        date=dt.date(2026, 6, 1),
        rate=Decimal("7.2"),
    )
    entry = AuditEntry.objects.get_for_object(rate).get()
    assert entry.actor == accountant and entry.company_id == company_a.pk


@pytest.mark.django_db
def test_old_idempotency_keys_are_pruned(company_a, users_a):
    from io import StringIO

    from django.core.management import call_command

    from xietong.core.models import IdempotencyKey

    old = IdempotencyKey.unscoped.create(
        company=company_a,
        user=users_a["admin"],
        key="old",
        method="POST",
        path="/x",
        request_hash="h",
    )
    IdempotencyKey.unscoped.filter(pk=old.pk).update(
        created_at=timezone.now() - dt.timedelta(days=8)
    )
    IdempotencyKey.unscoped.create(
        company=company_a,
        user=users_a["admin"],
        key="new",
        method="POST",
        path="/x",
        request_hash="h",
    )
    out = StringIO()
    call_command("prune_idempotency_keys", stdout=out)
    assert list(IdempotencyKey.unscoped.values_list("key", flat=True)) == ["new"]
    assert "deleted 1" in out.getvalue()
