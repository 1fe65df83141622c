"""A small sales history for the analytics tests: categories, products, customers in groups
with salespeople, confirmed orders over two years (one cancelled), loaded into the warehouse."""

from __future__ import annotations

import datetime as dt
import random
from types import SimpleNamespace
from typing import Any

from django.utils import timezone

from xietong.analytics import etl
from xietong.core.models import Company
from xietong.core.tenancy import company_scope
from xietong.crm import campaigns, services, tickets
from xietong.crm.tests import factories as crm_factories
from xietong.crm.tests import marketing_factories as mk
from xietong.crm.tests import service_factories as sf
from xietong.finance.models import Journal
from xietong.finance.payments import payment_create, payment_post
from xietong.inventory import pickings
from xietong.inventory.models import Picking
from xietong.party.services import contact_create, customer_group_create
from xietong.product.services import category_create, product_cost_set
from xietong.sales import billing, documents
from xietong.sales.models import SalesOrderLine
from xietong.sales.tests.factories import D, customer, item, receive, shop


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


def campaign_sent(company: Company, buyers: list[Any]) -> Any:
    """An e-mail campaign to `buyers` (their e-mail contacts) holding half of them out."""
    with company_scope(company):
        for n, buyer in enumerate(buyers):
            contact_create(party=buyer, actor=None, name=f"Buyer {n}",
                           email=f"b{company.pk}-{n}@buyer.example")  # fmt: skip
    segment = mk.segment(company, [], name=f"Everyone {company.pk}")
    made = mk.campaign(company, name=f"Spring {company.pk}", segment=segment,
                       state="scheduled", holdout_percent=50)  # fmt: skip
    with company_scope(company):
        campaigns.template_save(campaign=made, actor=None, language="zh-hans", subject="Spring",
                                body="https://xietong.example/")  # fmt: skip
    mk.send(made)
    return made


def service_history(company: Company, h: SimpleNamespace, *, rep: Any) -> SimpleNamespace:
    """On top of `history` `h`: SLA policies and a ticket per customer (alternately high
    priority by e-mail and normal by phone; the first resolved ten days later — in breach —
    and the second an hour later), an order of 3 × the first product at 15 % off, delivered,
    invoiced and paid in two parts (the second 12 days after the due date), the e-mail
    campaign of `campaign_sent` and a 2026 target of `rep` in a team."""
    sf.policies(company)
    now = timezone.now()
    made = [sf.ticket(company, buyer, priority="high" if n % 2 == 0 else "normal",
                      channel="email" if n % 2 == 0 else "phone")
            for n, buyer in enumerate(h.buyers)]  # fmt: skip
    with company_scope(company):
        tickets.ticket_resolve(ticket=made[0], actor=None, resolution="Done.",
                               now=now + dt.timedelta(days=10))  # fmt: skip
        tickets.ticket_resolve(ticket=made[1], actor=None, resolution="Done.",
                               now=now + dt.timedelta(hours=1))  # fmt: skip
    product = h.products[0]
    receive(product, 20, h.shop.stock)
    order = documents.order_create(company=company, actor=None, party=h.buyers[0],
                                   lines=[{"product": product, "quantity": D(3),
                                           "discount": D(15)}])  # fmt: skip
    order = documents.order_confirm(order=order, actor=None)
    for picking in documents.order_pickings(order):
        if picking.state == Picking.State.READY:
            pickings.picking_done(picking=picking)
    invoice = billing.order_invoice(order=order, actor=None, post=True)
    bank = Journal.unscoped.get(company=company, code="BNK")
    due = invoice.due_date or invoice.date
    for amount, date in ((D(100), invoice.date),
                         (invoice.amount_total - D(100), due + dt.timedelta(days=12))):  # fmt: skip
        payment = payment_create(company=company, actor=None, direction="inbound",
                                 party=h.buyers[0], journal=bank, date=date, amount=amount)  # fmt: skip
        payment_post(payment=payment, actor=None, allocations=[invoice])
    team = crm_factories.team(company, name=f"Team {company.pk}", members=[rep])
    with company_scope(company):
        services.target_set(team=team, actor=None, period_start=dt.date(2026, 1, 1),
                            period_end=dt.date(2026, 12, 31), amount=D(90000), user=rep)  # fmt: skip
    campaign = campaign_sent(company, h.buyers)
    return SimpleNamespace(tickets=made, order=order, invoice=invoice, team=team,
                           campaign=campaign)  # fmt: skip


def loaded_world(company_a: Company, company_b: Company, users_a: dict[str, Any], *,
                 orders: int) -> SimpleNamespace:  # fmt: skip
    """`orders` orders of company A sold by its rep and manager, 4 of company B, and the
    warehouse loaded in full; A's history."""
    a = history(company_a, seed=5, orders=orders,
                salespeople=[users_a["sales_rep"], users_a["sales_manager"]])  # fmt: skip
    history(company_b, seed=6, orders=4)
    etl.etl_run(full=True)
    return a


def operational_revenue(company: Company, **filters: Any) -> Any:
    """The revenue of the company's confirmed and done order lines, read from the operational
    database (the figure the warehouse must give)."""
    lines = SalesOrderLine.objects.filter(order__company=company,
                                          order__state__in=etl.SALES_STATES, **filters)  # fmt: skip
    return sum((line.amount_untaxed for line in lines), D(0))
