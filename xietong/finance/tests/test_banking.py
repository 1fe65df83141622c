"""Bank statements: CSV import (English and Chinese headers, bad rows, duplicates), matching
suggestions and reconciliation of statement lines with payments."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.exceptions import ValidationError

from xietong.core.tenancy import company_scope
from xietong.finance.banking import (
    parse_amount,
    parse_date,
    statement_import,
    statement_line_reconcile,
    statement_line_undo,
    statement_suggestions,
)
from xietong.finance.models import BankStatement, Payment, StatementLine
from xietong.finance.tests.factories import D, books
from xietong.finance.tests.test_payments import fresh, make_invoice, make_party, pay
from xietong.party.services import bank_account_create

ENGLISH = b"""Date,Amount,Counterparty,Account Number,Reference
2026-03-10,"1,200.00",Acme Trading,6222 0000 1111 2222,Invoice SAL/2026/000001
2026/03/11,-350.50,Initech,,Office rent March
20260312,+80,Walk-in,,
"""

CHINESE = """中国工商银行 账户明细
账号: 1234567890,,,,,,
交易日期,收入金额(元),支出金额(元),余额,对方户名,对方账号,摘要,附言
2026-03-10,"1,200.00",,"11,200.00",上海骑行者贸易有限公司,6222000011112222,转账,SAL2026000001
2026-03-11,,350.50,"10,849.50",北京文具店,,支付,三月房租
合计,"1,200.00",350.50,,,,,
""".encode("gb18030")


@pytest.fixture
def b(company_a):  # type: ignore[no-untyped-def]
    return books(company_a)


def test_english_csv_is_imported(b, admin_a):  # type: ignore[no-untyped-def]
    statement = statement_import(
        company=b.company, actor=admin_a, journal=b.bank_journal, file=ENGLISH
    )
    lines = list(statement.lines.order_by("sequence"))
    assert [(ln.date, ln.amount, ln.counterparty, ln.reference) for ln in lines] == [
        (dt.date(2026, 3, 10), D("1200"), "Acme Trading", "Invoice SAL/2026/000001"),
        (dt.date(2026, 3, 11), D("-350.50"), "Initech", "Office rent March"),
        (dt.date(2026, 3, 12), D("80"), "Walk-in", ""),
    ]
    assert lines[0].account_number == "6222 0000 1111 2222"
    assert statement.name == "BNK 2026-03-10 – 2026-03-12"
    assert statement.date == dt.date(2026, 3, 12)
    assert (statement.balance_start, statement.balance_end) == (0, D("929.50"))
    assert statement.skipped == 0
    # the next statement opens with this one's closing balance
    later = statement_import(
        company=b.company,
        actor=None,
        journal=b.bank_journal,
        file=b"date,amount,reference\n2026-03-13,10.00,x\n",
        name="March (2)",
    )
    assert (later.name, later.balance_start, later.balance_end) == (
        "March (2)",
        D("929.50"),
        D("939.50"),
    )


def test_chinese_gb18030_csv_with_preamble_totals_and_in_out_columns(b):  # type: ignore[no-untyped-def]
    statement = statement_import(company=b.company, actor=None, journal=b.bank_journal,
                                 file=CHINESE)  # fmt: skip
    lines = list(statement.lines.order_by("sequence"))
    assert [(ln.amount, ln.counterparty, ln.account_number, ln.reference) for ln in lines] == [
        (D("1200"), "上海骑行者贸易有限公司", "6222000011112222", "转账 / SAL2026000001"),
        (D("-350.50"), "北京文具店", "", "支付 / 三月房租"),
    ]
    assert (statement.balance_start, statement.balance_end) == (D("10000"), D("10849.50"))


def test_direction_flag_and_column_mapping(b):  # type: ignore[no-untyped-def]
    data = "记账日期,交易金额,借贷标志,交易对方,用途\n2026年3月10日,100.00,贷,甲,货款\n2026.03.11,40,借,乙,运费\n"
    statement = statement_import(
        company=b.company, actor=None, journal=b.bank_journal, file=data.encode()
    )
    assert [ln.amount for ln in statement.lines.order_by("sequence")] == [D("100"), D("-40")]
    custom = b"when,how much,who\n2026-03-12,5.00,Z\n"
    statement = statement_import(
        company=b.company,
        actor=None,
        journal=b.bank_journal,
        file=custom,
        columns={"date": "when", "amount": "how much", "counterparty": "who"},
    )
    assert [(ln.amount, ln.counterparty) for ln in statement.lines.all()] == [(D("5"), "Z")]


def test_bad_rows_are_named_and_nothing_is_saved(b):  # type: ignore[no-untyped-def]
    data = (
        "交易日期,交易金额,对方户名,摘要\n"
        "2026-03-10,100.00,甲,ok\n"
        "2026-03-11,abc,乙,bad amount\n"
        "2026-13-01,5.00,丙,bad date\n"
        "2026-03-12,1.005,丁,too precise\n"
    ).encode()
    with pytest.raises(ValidationError) as info:
        statement_import(company=b.company, actor=None, journal=b.bank_journal, file=data)
    assert info.value.messages == [
        "Row 3, 交易金额: “abc” is not an amount",
        "Row 4, 交易日期: “2026-13-01” is not a date (YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD)",
        "Row 5, 交易金额: 1.005 has more decimals than CNY allows",
    ]
    assert BankStatement.unscoped.count() == StatementLine.unscoped.count() == 0
    with pytest.raises(ValidationError) as info:
        statement_import(company=b.company, actor=None, journal=b.bank_journal,
                         file=b"foo,bar\n1,2\n")  # fmt: skip
    assert "No header row" in info.value.messages[0]
    with pytest.raises(ValidationError) as info:
        statement_import(company=b.company, actor=None, journal=b.general, file=ENGLISH)
    assert "not a bank or cash journal" in info.value.messages[0]
    assert BankStatement.unscoped.count() == 0


def test_duplicate_import_is_refused_and_overlap_skipped(b):  # type: ignore[no-untyped-def]
    statement_import(company=b.company, actor=None, journal=b.bank_journal, file=ENGLISH)
    with pytest.raises(ValidationError) as info:
        statement_import(company=b.company, actor=None, journal=b.bank_journal, file=ENGLISH)
    assert "imported before" in info.value.messages[0]
    assert BankStatement.unscoped.count() == 1
    # another journal may hold the same rows
    statement_import(company=b.company, actor=None, journal=b.cash_journal, file=ENGLISH)
    overlap = ENGLISH + b"2026-03-13,80,Walk-in,,\n2026-03-12,80,Walk-in,,\n"
    statement = statement_import(
        company=b.company, actor=None, journal=b.bank_journal, file=overlap
    )
    assert statement.skipped == 3
    assert [(ln.date, ln.amount) for ln in statement.lines.order_by("sequence")] == [
        (dt.date(2026, 3, 13), D("80")),
        (dt.date(2026, 3, 12), D("80")),  # a second transfer of 80 on the 12th
    ]


def test_xlsx_is_imported(b):  # type: ignore[no-untyped-def]
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["交易日期", "交易金额", "对方户名", "摘要"])
    sheet.append([dt.date(2026, 3, 10), 1200.5, "甲公司", "货款"])
    sheet.append(["2026/03/11", "-20", "乙", "手续费"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    buffer.name = "statement.xlsx"
    statement = statement_import(company=b.company, actor=None, journal=b.bank_journal,
                                 file=buffer)  # fmt: skip
    assert [
        (ln.date, ln.amount, ln.counterparty) for ln in statement.lines.order_by("sequence")
    ] == [
        (dt.date(2026, 3, 10), D("1200.5"), "甲公司"),
        (dt.date(2026, 3, 11), D("-20"), "乙"),
    ]


def test_parsers() -> None:
    assert parse_date("2026-03-10 09:30:00") == dt.date(2026, 3, 10)
    assert parse_date("2026/3/9") == dt.date(2026, 3, 9)
    assert parse_date("20260310") == dt.date(2026, 3, 10)
    assert parse_amount("¥1,234.50") == D("1234.50")
    assert parse_amount("(12.00)") == D("-12.00")
    assert parse_amount("12.00-") == D("-12.00")
    assert parse_amount("RMB 3 000") == D("3000")
    assert parse_amount("") is None
    with pytest.raises(ValueError):
        parse_amount("1.2.3")


@pytest.fixture
def world(b, company_a):  # type: ignore[no-untyped-def]
    """Acme (bank account 6222…2222) with invoices of 1200, 800 and 400; Globex with one of
    1200; a posted payment of 500 from Globex not reconciled with the bank."""
    acme = make_party(company_a, "上海骑行者贸易有限公司")
    with company_scope(company_a):
        bank_account_create(party=acme, actor=None, bank_name="ICBC",
                            account_number="6222 0000 1111 2222")  # fmt: skip
    globex = make_party(company_a, "Globex")
    b.acme, b.globex = acme, globex
    b.globex_1200 = make_invoice(b, globex, "1200.00", date=dt.date(2026, 3, 1))
    b.acme_800 = make_invoice(b, acme, "800.00", date=dt.date(2026, 3, 2))
    b.acme_400 = make_invoice(b, acme, "400.00", date=dt.date(2026, 3, 3))
    b.acme_1200 = make_invoice(b, acme, "1200.00", date=dt.date(2026, 3, 4))
    b.payment = pay(b, globex, "500.00", date=dt.date(2026, 3, 9), reference="GX-77")
    return b


def _line(b, amount, *, counterparty="", account_number="", reference=""):  # type: ignore[no-untyped-def]
    b.day = getattr(b, "day", 9) + 1  # a new date each time: not a duplicate
    data = (
        "date,amount,counterparty,account number,reference\n"
        f"2026-03-{b.day},{amount},{counterparty},{account_number},{reference}\n"
    ).encode()
    statement = statement_import(company=b.company, actor=None, journal=b.bank_journal, file=data)
    return statement.lines.get()


def test_suggestions_rank_the_right_invoice_first(world, django_assert_max_num_queries):  # type: ignore[no-untyped-def]
    b = world
    number = b.acme_1200.number.replace("/", "")  # the bank drops the slashes
    line = _line(b, "1200.00", counterparty="Someone", reference=f"payment {number}")
    with django_assert_max_num_queries(8):
        found = statement_suggestions(line=line)
    assert (found[0].kind, found[0].invoices) == ("invoice_reference", [b.acme_1200])
    assert {s.invoices[0].pk for s in found if s.kind == "invoice_amount"} == {b.globex_1200.pk}

    # no reference: the party recognised by the account number; its invoice of that amount
    # before its two invoices adding up to it
    line = _line(b, "1200.00", account_number="6222-0000-1111-2222")
    found = statement_suggestions(line=line)
    assert (found[0].kind, found[0].invoices, found[0].party) == (
        "invoice_party", [b.acme_1200], b.acme,
    )  # fmt: skip
    assert ("invoices_sum", [b.acme_800, b.acme_400]) in [(s.kind, s.invoices) for s in found]

    # by name (normalised: without the legal form)
    line = _line(b, "1200.00", counterparty="上海骑行者贸易")
    assert statement_suggestions(line=line)[0].invoices == [b.acme_1200]

    # an existing payment of the same amount
    line = _line(b, "500.00", counterparty="Globex Ltd", reference="GX-77")
    found = statement_suggestions(line=line)
    assert (found[0].kind, found[0].payment) == ("payment", b.payment)

    # money out: the supplier's bill of that amount
    initech = make_party(b.company, "Initech", supplier=True)
    bill = make_invoice(b, initech, "350.50", kind="in_invoice", date=dt.date(2026, 3, 3))
    line = _line(b, "-350.50", counterparty="Initech", reference="Office rent March")
    found = statement_suggestions(line=line)
    assert (found[0].kind, found[0].invoices) == ("invoice_party", [bill])
    assert all(s.invoices[0].kind == "in_invoice" for s in found if s.invoices)

    # more open invoices do not cost more queries
    for day in range(5, 15):
        make_invoice(b, b.acme, "10.00", date=dt.date(2026, 3, day))
    line = _line(b, "1200.00", counterparty="Someone", reference=f"payment {number}")
    with django_assert_max_num_queries(8):
        assert statement_suggestions(line=line)[0].invoices == [b.acme_1200]


def test_reconcile_creates_the_payment_and_undo_cancels_it(world, admin_a):  # type: ignore[no-untyped-def]
    b = world
    line = _line(b, "1200.00", counterparty="上海骑行者贸易有限公司", reference="货款")
    suggestion = statement_suggestions(line=line)[0]
    line = statement_line_reconcile(line=line, actor=admin_a, invoices=suggestion.invoices)
    payment = line.payment
    assert (line.party, payment.party) == (b.acme, b.acme)
    assert (payment.state, payment.direction, payment.journal) == ("posted", "inbound",
                                                                   b.bank_journal)  # fmt: skip
    assert (payment.amount, payment.date, payment.reference) == (D("1200"), line.date, "货款")
    assert fresh(b.acme_1200).payment_state == "paid"
    with pytest.raises(ValidationError) as info:
        statement_line_reconcile(line=line, actor=admin_a, payment=b.payment)
    assert "reconciled already" in info.value.messages[0]

    statement_line_undo(line=line, actor=admin_a, cancel_payment=True)
    assert fresh(line).payment is None
    assert fresh(payment).state == Payment.State.CANCELLED
    assert fresh(b.acme_1200).payment_state == "not_paid"
    with pytest.raises(ValidationError):
        statement_line_undo(line=line, actor=admin_a)


def test_reconcile_links_an_existing_payment_or_refuses_it(world):  # type: ignore[no-untyped-def]
    b = world
    wrong = _line(b, "-500.00", counterparty="Globex")
    with pytest.raises(ValidationError) as info:
        statement_line_reconcile(line=wrong, actor=None, payment=b.payment)
    assert "the line is money out" in " ".join(info.value.messages)
    assert fresh(wrong).payment is None

    line = _line(b, "500.00", counterparty="Globex")
    line = statement_line_reconcile(line=line, actor=None, payment=b.payment,
                                    invoices=[b.globex_1200])  # fmt: skip
    assert (line.payment, line.party) == (b.payment, b.globex)
    assert fresh(b.globex_1200).amount_residual == D("700")
    # the payment is no longer suggested for another line
    other = _line(b, "500.00", counterparty="Globex", reference="again")
    assert all(s.kind != "payment" for s in statement_suggestions(line=other))
    # without a party, none can be guessed
    with pytest.raises(ValidationError) as info:
        statement_line_reconcile(line=other, actor=None)
    assert "Choose the party" in info.value.messages[0]
    created = statement_line_reconcile(line=other, actor=None, party=b.globex)
    assert created.payment.amount == D("500") and created.payment != b.payment
    assert fresh(b.globex_1200).amount_residual == D("700")  # nothing allocated: credit


def test_bank_charges_are_booked_to_an_account_and_undone(company_a):  # type: ignore[no-untyped-def]
    from xietong.finance.banking import statement_line_book, statement_line_undo
    from xietong.finance.models import Entry
    from xietong.finance.tests.invariants import assert_ledger_sound

    b = books(company_a)
    statement = statement_import(
        company=company_a,
        actor=None,
        journal=b.bank_journal,
        file=b"date,amount,counterparty,reference\n2026-03-31,-12.50,Bank,Charges March\n",
    )
    line = StatementLine.unscoped.get(statement=statement)
    with pytest.raises(ValidationError):  # customers are settled with a payment
        statement_line_book(line=line, account=b.receivable, actor=None)
    statement_line_book(line=line, account=b.expense, actor=None)
    line.refresh_from_db()
    entry = line.entry
    assert {(line_.account_id, line_.debit, line_.credit) for line_ in entry.lines.all()} == {
        (b.bank.pk, 0, D("12.50")),
        (b.expense.pk, D("12.50"), 0),
    }
    with pytest.raises(ValidationError):  # booked already
        statement_line_book(line=line, account=b.expense, actor=None)
    statement_line_undo(line=line, actor=None)
    line.refresh_from_db()
    assert line.entry is None and Entry.unscoped.filter(reversal_of=entry).exists()
    assert_ledger_sound([company_a])
