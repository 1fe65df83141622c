"""The finance API: entries created and posted through the posting service with idempotent
replays, refused postings as problems with nothing saved, reversal, periods, accounts and
journals, invoices (draft, post, cancel, PDF), payments with allocation, the reports as JSON,
permissions and company scoping."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from xietong.api.tests.conftest import API, token_client, token_for
from xietong.finance.models import Account, Entry, Invoice, Payment, Period
from xietong.finance.tests.matrix import DATE, customer, invoice, ledger, posted_entry

pytestmark = pytest.mark.django_db


@pytest.fixture
def books_a(company_a):  # type: ignore[no-untyped-def]
    return ledger(company_a)


@pytest.fixture
def accountant(users_a, company_a) -> Client:  # type: ignore[no-untyped-def]
    return token_client(token_for(users_a["accountant"], company_a))


def post(client: Client, path: str, body: dict[str, Any], **headers: str) -> Any:
    return client.post(
        API + path, json.dumps(body), content_type="application/json", headers=headers
    )


def entry_body(debit: str = "250.00", credit: str = "250.00", **extra: Any) -> dict[str, Any]:
    return {
        "journal": "GEN",
        "date": DATE.isoformat(),
        "ref": "API entry",
        "lines": [
            {"account": "1002", "debit": debit, "label": "Money in"},
            {"account": "4001", "credit": credit, "label": "Capital"},
        ],
        **extra,
    }


def test_entry_is_created_and_posted_once_per_idempotency_key(company_a, books_a, accountant):
    first = post(accountant, "/finance/entries", entry_body(), **{"Idempotency-Key": "e-1"})
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["state"] == "posted" and body["number"].startswith("GEN/2026/")
    assert body["total"] == "250.0000" and len(body["lines"]) == 2
    assert body["lines"][0]["account"] == "1002" and body["lines"][0]["debit"] == "250.0000"
    assert body["chain_index"] == 1 and len(body["hash"]) == 64
    replay = post(accountant, "/finance/entries", entry_body(), **{"Idempotency-Key": "e-1"})
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json() == body
    assert Entry.unscoped.filter(company=company_a).count() == 1
    other = post(accountant, "/finance/entries", entry_body("9", "9"), **{"Idempotency-Key": "e-1"})
    assert other.status_code == 422
    fetched = accountant.get(f"{API}/finance/entries/{body['id']}")
    assert fetched.status_code == 200 and fetched.json() == body
    listed = accountant.get(f"{API}/finance/entries?journal=GEN&state=posted").json()
    assert listed["count"] == 1 and listed["items"][0]["total"] == "250.0000"
    draft = post(accountant, "/finance/entries", entry_body(post=False))
    assert draft.status_code == 201 and draft.json()["state"] == "draft"


def test_unbalanced_entry_is_a_problem_and_nothing_is_saved(company_a, books_a, accountant):
    response = post(
        accountant, "/finance/entries", entry_body("100", "90"), **{"Idempotency-Key": "bad-1"}
    )
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert "does not balance" in problem["detail"] and problem["code"] == "unbalanced"
    assert Entry.unscoped.filter(company=company_a).count() == 0
    retried = post(accountant, "/finance/entries", entry_body(), **{"Idempotency-Key": "bad-1"})
    assert retried.status_code == 201  # a refused request does not keep its key
    unknown = post(accountant, "/finance/entries", entry_body() | {"journal": "NOPE"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "journal"
    group = Account.unscoped.create(
        company=company_a, code="19", name="Group", type="asset", is_group=True
    )
    body = entry_body()
    body["lines"][0]["account"] = group.code
    grouped = post(accountant, "/finance/entries", body)
    assert grouped.status_code == 422 and grouped.json()["code"] == "group_account"
    assert Entry.unscoped.filter(company=company_a).count() == 1


def test_reverse_an_entry(company_a, books_a, accountant):
    entry = posted_entry(company_a, "80")
    response = post(accountant, f"/finance/entries/{entry.pk}/reverse", {})
    assert response.status_code == 201
    reversal = response.json()
    assert reversal["reversal_of"] == entry.pk
    assert (
        accountant.get(f"{API}/finance/entries/{entry.pk}").json()["reversed_by"] == reversal["id"]
    )
    again = post(accountant, f"/finance/entries/{entry.pk}/reverse", {})
    assert again.status_code == 422 and again.json()["code"] == "reversed"


def test_sales_rep_is_refused_everywhere(company_a, books_a, users_a):
    rep = token_client(token_for(users_a["sales_rep"], company_a))
    entry = posted_entry(company_a)
    for path in ("/finance/entries", f"/finance/entries/{entry.pk}", "/finance/accounts",
                 "/finance/invoices", "/finance/payments", "/finance/periods"):  # fmt: skip
        response = rep.get(API + path)
        assert response.status_code == 403, path
        assert response.json()["permission"] == "finance.view"
    refused = post(rep, "/finance/entries", entry_body())
    assert refused.status_code == 403
    assert Entry.unscoped.filter(company=company_a).count() == 1


def test_company_b_cannot_read_company_a_entries(company_a, company_b, books_a, users_b):
    entry = posted_entry(company_a, ref="CANARY-a-entry")
    theirs = token_client(token_for(users_b["accountant"], company_b))
    assert theirs.get(f"{API}/finance/entries/{entry.pk}").status_code == 404
    assert post(theirs, f"/finance/entries/{entry.pk}/reverse", {}).status_code == 404
    assert theirs.get(f"{API}/finance/entries").json()["count"] == 0
    sold = invoice(company_a)
    assert theirs.get(f"{API}/finance/invoices/{sold.pk}").status_code == 404
    assert theirs.get(f"{API}/finance/invoices/{sold.pk}/pdf").status_code == 404
    assert not Entry.unscoped.filter(reversal_of=entry).exists()


def test_accounts_journals_and_periods(company_a, books_a, accountant):
    accounts = accountant.get(f"{API}/finance/accounts?q=bank&postable=true").json()
    assert {a["code"] for a in accounts["items"]} == {"1002", "1003"}
    created = post(
        accountant,
        "/finance/accounts",
        {"code": "660201", "name": "Travel", "type": "expense"},
        **{"Idempotency-Key": "acc-1"},
    )
    assert created.status_code == 201 and created.json()["code"] == "660201"
    duplicate = post(
        accountant, "/finance/accounts", {"code": "660201", "name": "X", "type": "expense"}
    )
    assert duplicate.status_code == 422 and duplicate.json()["errors"][0]["field"] == "code"
    journals = accountant.get(f"{API}/finance/journals").json()
    assert {"GEN", "BNK", "SAL"} <= {j["code"] for j in journals["items"]}
    posted_entry(company_a)
    periods = accountant.get(f"{API}/finance/periods?date=2026-03-10").json()
    assert periods["count"] == 1 and periods["items"][0]["name"] == "2026-03"
    february = Period.unscoped.get(company=company_a, name="2026-02")
    closed = post(accountant, f"/finance/periods/{february.pk}/close", {})
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    late = post(accountant, "/finance/entries", entry_body() | {"date": "2026-02-10"})
    assert late.status_code == 422 and late.json()["code"] == "closed_period"


def test_invoice_draft_post_pdf_and_cancel(company_a, books_a, accountant):
    party = customer(company_a, "API Customer")
    body = {
        "kind": "out_invoice",
        "party": party.pk,
        "date": DATE.isoformat(),
        "reference": "PO-9",
        "lines": [
            {"description": "Wheel", "quantity": "3", "unit_price": "0.33", "taxes": ["VAT13"]},
            {"description": "Service", "unit_price": "100", "discount": "10"},
        ],
    }
    created = post(accountant, "/finance/invoices", body, **{"Idempotency-Key": "inv-1"})
    assert created.status_code == 201, created.content
    draft = created.json()
    assert (draft["state"], draft["amount_total"], draft["number"]) == ("draft", "91.1200", "")
    assert draft["lines"][0]["taxes"] == ["VAT13"] and draft["taxes"][0]["tax"] == "VAT13"
    replay = post(accountant, "/finance/invoices", body, **{"Idempotency-Key": "inv-1"})
    assert replay.json() == draft
    assert Invoice.unscoped.filter(company=company_a).count() == 1
    posted = post(accountant, f"/finance/invoices/{draft['id']}/post", {})
    assert posted.status_code == 200 and posted.json()["state"] == "posted"
    assert posted.json()["installments"] and posted.json()["entry"]
    pdf = accountant.get(f"{API}/finance/invoices/{draft['id']}/pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    listed = accountant.get(f"{API}/finance/invoices?kind=out_invoice&state=posted").json()
    assert [i["id"] for i in listed["items"]] == [draft["id"]]
    cancelled = post(accountant, f"/finance/invoices/{draft['id']}/cancel", {})
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    bad = post(
        accountant, "/finance/invoices", body | {"lines": [{"unit_price": "1", "taxes": ["X"]}]}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "lines.0.taxes"


def test_payment_is_posted_and_allocated_once(company_a, books_a, accountant):
    party = customer(company_a)
    sold = invoice(company_a, party, "100")
    body = {
        "direction": "inbound",
        "party": party.pk,
        "journal": "BNK",
        "date": "2026-03-20",
        "amount": "113.00",
        "allocations": [{"invoice": sold.pk}],
    }
    created = post(accountant, "/finance/payments", body, **{"Idempotency-Key": "pay-1"})
    assert created.status_code == 201, created.content
    assert created.json()["state"] == "posted" and created.json()["number"].startswith("BNK/")
    replay = post(accountant, "/finance/payments", body, **{"Idempotency-Key": "pay-1"})
    assert replay.json() == created.json()
    assert Payment.unscoped.filter(company=company_a).count() == 1
    sold.refresh_from_db()
    assert sold.payment_state == Invoice.PaymentState.PAID
    too_much = post(accountant, "/finance/payments",
                    body | {"allocations": [{"invoice": sold.pk, "amount": "5"}]})  # fmt: skip
    assert too_much.status_code == 422
    assert Payment.unscoped.filter(company=company_a).count() == 1
    listed = accountant.get(f"{API}/finance/payments?direction=inbound").json()
    assert listed["count"] == 1 and listed["items"][0]["amount"] == "113.0000"


def test_reports_as_json(company_a, books_a, accountant):
    invoice(company_a, amount="1000")
    posted_entry(company_a, "500")
    trial = accountant.get(f"{API}/finance/reports/trial-balance?start=2026-01-01&end=2026-12-31")
    assert trial.status_code == 200
    data = trial.json()
    assert data["balanced"] and data["totals"]["debit"] == data["totals"]["credit"]
    receivable = next(row for row in data["rows"] if row["code"] == "1122")
    assert Decimal(receivable["closing"]) == Decimal("1130")
    pl = accountant.get(f"{API}/finance/reports/profit-and-loss?start=2026-01-01&end=2026-12-31")
    net = next(row for row in pl.json()["summary"] if row["code"] == "net_profit")
    assert Decimal(net["amount"]) == Decimal(1000)
    sheet = accountant.get(f"{API}/finance/reports/balance-sheet?as_of=2026-12-31").json()
    totals = {s["key"]: Decimal(s["total"]) for s in sheet["sections"]}
    assert totals["assets"] == totals["liabilities"] + totals["equity"] == Decimal(1630)
    missing = accountant.get(f"{API}/finance/reports/trial-balance?start=2026-01-01")
    assert missing.status_code == 422
