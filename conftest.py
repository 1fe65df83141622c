"""Shared test fixtures: two companies (A and B) with one user per predefined role in each.

The tests of a module share one set, built once for the module (`module_world`): the set is
built inside a transaction that spans the module and is rolled back after its last test, every
test runs in a savepoint of it (as usual), and gets its own deep copy of the Python objects (as
Django's `setUpTestData` gives). A module holding a transactional test (which commits and
flushes), or one that sets `PER_TEST_WORLD = True`, builds the set afresh for each test instead.
Building the set takes a quarter of a second; shared, it is built about 120 times per run
instead of about 1,300."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from typing import Any

import pytest

from xietong.core.roles import DEFAULT_ROLES

PASSWORD = "correct-horse-battery-staple"


# The roles a role matrix still runs for in a second pass (`--second-database`): the
# administrator reaches every screen and operation, a rep and a portal customer see scoped rows.
SECOND_PASS_ROLES = {"admin", "sales_rep", "portal_customer"}
DB_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "live_server"}


def pytest_addoption(parser):  # type: ignore[no-untyped-def]
    parser.addoption(
        "--second-database", action="store_true",
        help="this run repeats the suite on a second database (CI's PostgreSQL pass): leave out "
             "what cannot differ between databases — tests that use no database, the browser "
             "tests, and the role matrices' cases of roles other than SECOND_PASS_ROLES (the "
             "permission decision is the same Python on every database)",
    )  # fmt: skip


def _same_on_every_database(item) -> bool:  # type: ignore[no-untyped-def]
    if item.get_closest_marker("browser"):
        return True
    uses_db = item.get_closest_marker("django_db") or DB_FIXTURES & set(item.fixturenames)
    if not uses_db:
        return True
    params = getattr(getattr(item, "callspec", None), "params", {})
    return bool(item.get_closest_marker("role_matrix")) and (
        params.get("role") not in SECOND_PASS_ROLES
    )


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    on_postgres = os.environ.get("DATABASE_URL", "").startswith("postgres")
    skip = pytest.mark.skip(reason="needs PostgreSQL (DATABASE_URL=postgres://…)")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip)
    if config.getoption("second_database"):
        left_out = [item for item in items if _same_on_every_database(item)]
        if left_out:
            config.hook.pytest_deselected(items=left_out)
            items[:] = [item for item in items if not _same_on_every_database(item)]


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """Every test starts and ends in the default language: a request activates its user's
    language for the rest of the thread (as Django's LocaleMiddleware does), which would
    otherwise leak into the next test of the same worker (stage names seeded in Chinese)."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True, scope="session")
def _fast_hashing() -> Iterator[None]:
    """A fast password hasher for the whole run (module-scoped fixtures create users too)."""
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(scope="module")
def shared_pdf_conversions() -> Iterator[None]:
    """For the role matrices, which request the same documents as each role: WeasyPrint converts
    each distinct HTML once per module, and a later request whose view renders byte-identical
    HTML gets the PDF of that conversion. Every request still runs its view in full (permission
    check, queries, template, `pdf_render`); only the repeated HTML → PDF conversion of the same
    input is shared (a conversion that fails is not kept, so it fails again). The content of the
    PDFs is tested by each document's own tests, which convert every time."""
    import weasyprint

    real = weasyprint.HTML
    converted: dict[Any, bytes] = {}

    class _SharedConversion:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._args, self._kwargs = args, kwargs

        def write_pdf(self, target: Any = None, **options: Any) -> Any:
            key = (self._args, tuple(sorted(self._kwargs.items())), tuple(sorted(options.items())))
            try:
                hash(key)
            except TypeError:
                key = None
            if target is not None or key is None:
                return real(*self._args, **self._kwargs).write_pdf(target, **options)
            if key not in converted:
                converted[key] = real(*self._args, **self._kwargs).write_pdf(**options)
            return converted[key]

    weasyprint.HTML = _SharedConversion
    try:
        yield
    finally:
        weasyprint.HTML = real


def _company_a():  # type: ignore[no-untyped-def]
    from xietong.core.services import company_create

    return company_create(
        name="Alpha Works", legal_name="Alpha Works Ltd.", base_currency="CNY", country="CN"
    )


def _company_b():  # type: ignore[no-untyped-def]
    from xietong.core.services import company_create

    return company_create(
        name="Beta Trading",
        legal_name="Beta Trading Co.",
        base_currency="HKD",
        country="HK",
        timezone_name="Asia/Hong_Kong",
    )


def _users(company, prefix):  # type: ignore[no-untyped-def]
    from xietong.core.services import user_create

    return {
        role: user_create(
            company=company,
            username=f"{prefix}_{role}",
            password=PASSWORD,
            roles=[role],
            validate=False,
        )
        for role in DEFAULT_ROLES
    }


# --- one set per module -------------------------------------------------------------------------


def _refuse_transactional_tests(request) -> None:  # type: ignore[no-untyped-def]
    """A transactional test (which commits and flushes) cannot run inside the module's open
    transaction: refuse the module rather than let it corrupt the shared rows."""
    for item in request.session.items:
        if getattr(item, "module", None) is request.module and _transactional(item):
            raise pytest.UsageError(
                f"{item.nodeid} is transactional: its module cannot use module_world"
            )


def _transactional(item) -> bool:  # type: ignore[no-untyped-def]
    marker = item.get_closest_marker("django_db")
    names = set(getattr(item, "fixturenames", ()))
    return bool(
        marker is not None and (marker.kwargs.get("transaction") or marker.args[:1] == (True,))
    ) or bool(names & {"transactional_db", "live_server", "django_db_reset_sequences"})


@pytest.fixture(scope="module")
def module_world(request, django_db_setup, django_db_blocker) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Companies A and B with one user per role each, built once for the module inside a
    transaction rolled back after the module. Module-scoped fixtures may add more shared rows
    to the returned dict (building them within `django_db_blocker.unblock()`); `company_a`,
    `users_a` … then give each test a deep copy."""
    from django.db import transaction

    _refuse_transactional_tests(request)
    atomic = transaction.atomic()
    atomic._from_testcase = True  # type: ignore[attr-defined]  # as TestCase's class atomics
    with django_db_blocker.unblock():
        atomic.__enter__()
        try:
            world: dict[str, Any] = {"company_a": _company_a(), "company_b": _company_b()}
            world["users_a"] = _users(world["company_a"], "a")
            world["users_b"] = _users(world["company_b"], "b")
        except BaseException:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            raise
    try:
        yield world
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


# The fixtures a test asks for when it needs the companies and users.
WORLD_FIXTURES = frozenset({"company_a", "company_b", "users_a", "users_b", "admin_a"})


def _shares_world(request) -> bool:  # type: ignore[no-untyped-def]
    """Whether the module's tests share one `module_world`: those that ask for it by name, and
    every other module whose tests use the companies or users, unless it holds a transactional
    test (which commits) or sets `PER_TEST_WORLD = True` (its tests need a world of their own,
    e.g. because they count companies)."""
    module = request.module
    decided = getattr(module, "_xietong_shares_world", None)
    if decided is None:
        items = [i for i in request.session.items if getattr(i, "module", None) is module]
        names = set().union(*(getattr(i, "fixturenames", ()) for i in items))
        decided = "module_world" in names or (
            bool(names & WORLD_FIXTURES)
            and not getattr(module, "PER_TEST_WORLD", False)
            and not any(_transactional(i) for i in items)
        )
        module._xietong_shares_world = decided
    return decided


@pytest.fixture(scope="module", autouse=True)
def _module_world_when_shared(request) -> None:  # type: ignore[no-untyped-def]
    """Build the module's shared world before its first test opens its transaction."""
    if _shares_world(request):
        request.getfixturevalue("module_world")


@pytest.fixture
def shared_copy(request, db) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
    """This test's deep copy of the module's shared rows, or None when the module builds its
    own per test."""
    if not _shares_world(request):
        return None
    return copy.deepcopy(request.getfixturevalue("module_world"))


# --- per test -----------------------------------------------------------------------------------


@pytest.fixture
def company_a(shared_copy):  # type: ignore[no-untyped-def]
    return shared_copy["company_a"] if shared_copy is not None else _company_a()


@pytest.fixture
def company_b(shared_copy):  # type: ignore[no-untyped-def]
    return shared_copy["company_b"] if shared_copy is not None else _company_b()


@pytest.fixture
def users_a(shared_copy, company_a):  # type: ignore[no-untyped-def]
    """One user per predefined role in company A, keyed by role code."""
    return shared_copy["users_a"] if shared_copy is not None else _users(company_a, "a")


@pytest.fixture
def users_b(shared_copy, company_b):  # type: ignore[no-untyped-def]
    return shared_copy["users_b"] if shared_copy is not None else _users(company_b, "b")


@pytest.fixture
def admin_a(users_a):  # type: ignore[no-untyped-def]
    return users_a["admin"]


@pytest.fixture
def client_for():  # type: ignore[no-untyped-def]
    """A function giving a test client signed in as the given user."""
    from django.test import Client

    def make(user):  # type: ignore[no-untyped-def]
        client = Client()
        client.force_login(user)
        return client

    return make
