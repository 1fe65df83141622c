"""The API permission matrix's part for analytics customers (see api_samples.py). One
customer's 7P summary needs a customer of the caller's (a rep sees only their own): the sample
writes one straight into the warehouse, with a few orders, and runs the 7P refresh."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from xietong.core.models import Company, User

PATH_PARAMETERS: tuple[str, ...] = ("customer_key",)
PER_CALLER: set[tuple[str, str]] = {("GET", "/analytics/customers/{customer_key}")}


def _sample(path_params: dict[str, Any], body: Any = None, query: Any = None) -> dict[str, Any]:
    return {"path_params": path_params, "body": body, "query": query}


def own_customer(user: User, company: Company) -> int:
    """A warehouse customer of `user` with three orders, analysed; its customer key."""
    from xietong.analytics import customers, warehouse

    key = 900_000_000 + user.pk
    with warehouse.connect() as con:
        con.execute("DELETE FROM dim_customer WHERE customer_key = ?", [key])
        con.execute("INSERT INTO dim_customer VALUES (?, ?, 'M', 'Matrix customer', 'G', 'R', "
                    "'CN', ?, 'Owner')", [key, company.pk, user.pk])  # fmt: skip
        for i, day in enumerate((dt.date(2025, 1, 5), dt.date(2025, 4, 5), dt.date(2025, 9, 5))):
            line = key * 10 + i
            con.execute("DELETE FROM fact_sales_line WHERE line_id = ?", [line])
            con.execute("INSERT INTO fact_sales_line VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL, "
                        "'CNY', 'confirmed', 1, 100, 60)", [line, line, company.pk, day, key])  # fmt: skip
        customers.refresh(con, company_id=company.pk, as_of=dt.date(2026, 1, 1))
    return key


SAMPLES: dict[tuple[str, str], Callable[[User, Company], dict[str, Any]]] = {
    ("GET", "/analytics/customers/overview"): lambda u, c: _sample({}, query={"group": ""}),
    ("GET", "/analytics/customers/cohorts"): lambda u, c: _sample({}),
    ("GET", "/analytics/customers/whale"): lambda u, c: _sample({}),
    ("GET", "/analytics/customers/{customer_key}"): lambda u, c: _sample(
        {"customer_key": own_customer(u, c)}
    ),
    ("POST", "/analytics/customers/refresh"): lambda u, c: _sample({}),
}
