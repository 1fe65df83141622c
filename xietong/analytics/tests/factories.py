"""A small sales history for the analytics tests: categories, products, customers in groups
with salespeople, confirmed orders over two years (one cancelled), loaded into the warehouse."""

from __future__ import annotations

import datetime as dt
import random
from types import SimpleNamespace
from typing import Any

from xietong.core.models import Company
from xietong.core.tenancy import company_scope
from xietong.party.services import customer_group_create
from xietong.product.services import category_create, product_cost_set
from xietong.sales import documents
from xietong.sales.tests.factories import D, customer, item, shop


def history(company: Company, *, seed: int = 1, orders: int = 12,
            salespeople: list[Any] | None = None) -> SimpleNamespace:  # fmt: skip
    rng = random.Random(seed)
    s = shop(company)
    with company_scope(company):
        bikes = category_create(company=company, actor=None, name=f"Bikes {company.pk}")
        ebikes = category_create(company=company, actor=None, name="E-bikes", parent=bikes)
        parts = category_create(company=company, actor=None, name=f"Parts {company.pk}")
        groups = [customer_group_create(company=company, actor=None, code=f"g{i}",
                                        name=f"Group {i}") for i in (1, 2)]  # fmt: skip
    categories = [bikes, ebikes, parts, None]
    products = [item(company, str(rng.randint(20, 900)), sku=f"A{company.pk}-{i}",
                     category=categories[i % 4]) for i in range(6)]  # fmt: skip
    with company_scope(company):
        for p in products:
            product_cost_set(product=p, actor=None, cost=D(rng.randint(5, 15)))
    people = salespeople or [None]
    buyers = [customer(company, f"Buyer {company.pk}-{i}", customer_group=groups[i % 2],
                       salesperson=people[i % len(people)]) for i in range(5)]  # fmt: skip
    made = []
    for n in range(orders):
        date = dt.date(2025, 1, 1) + dt.timedelta(days=rng.randint(0, 600))
        lines = [{"product": p, "quantity": D(rng.randint(1, 7))}
                 for p in rng.sample(products, rng.randint(1, 3))]  # fmt: skip
        order = documents.order_create(company=company, actor=None, party=rng.choice(buyers),
                                       lines=lines, date=date)  # fmt: skip
        if n % 5 != 4:  # every fifth stays a draft: not in the warehouse
            order = documents.order_confirm(order=order, actor=None)
        made.append(order)
    documents.order_cancel(order=made[0], actor=None, reason="changed their mind")
    return SimpleNamespace(shop=s, products=products, buyers=buyers, orders=made,
                           groups=groups)  # fmt: skip
