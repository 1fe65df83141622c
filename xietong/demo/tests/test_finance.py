"""The demo's finance step: six months of books that balance, with open items to work on."""

from __future__ import annotations

import pytest

from xietong.demo import catalogue, core, party, pricing
from xietong.demo import finance as demo_finance
from xietong.demo.context import DemoContext
from xietong.finance.chain import chain_verify
from xietong.finance.models import (
    BankStatement,
    Dunning,
    Entry,
    Invoice,
    Match,
    Period,
    StatementLine,
)
from xietong.finance.tests.invariants import assert_ledger_sound

pytestmark = pytest.mark.django_db


def test_finance_step_books_six_balanced_months() -> None:
    ctx = DemoContext(seed=1, size="small")
    for step in (
        core.run,
        party.run,
        catalogue.run,
        pricing.run,
        demo_finance.run,
        demo_finance.close_periods,
    ):
        step(ctx)
    main = ctx.companies["main"]
    invoices = Invoice.unscoped.filter(company=main, state=Invoice.State.POSTED)
    assert invoices.filter(kind=Invoice.Kind.CUSTOMER_INVOICE).count() == 60
    assert invoices.filter(kind=Invoice.Kind.SUPPLIER_INVOICE).count() == 30
    states = set(invoices.values_list("payment_state", flat=True))
    assert states == {"paid", "partial", "not_paid"}
    assert invoices.exclude(currency_id="CNY").exists()  # export customers in EUR/USD
    assert Match.unscoped.filter(company=main).count() > 50
    assert Period.unscoped.filter(company=main, state=Period.State.CLOSED).exists()
    assert Entry.unscoped.filter(company=main, source_type="finance.revaluation").exists()
    assert StatementLine.unscoped.filter(
        statement__in=BankStatement.unscoped.filter(company=main)
    ).exists()
    assert Dunning.unscoped.filter(company=main).exists()
    assert_ledger_sound([main])
    assert list(chain_verify(company=ctx.companies["partner"])) == []
