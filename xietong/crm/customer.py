"""The customer 360: what crm adds to the party page (`xietong.party.panels`) so that a customer
reads as one — key figures at the top (revenue this and last year, open receivables and what is
overdue, average days to pay, open pipeline and win rate), then the open opportunities and
activities, the quotations and orders, the deliveries, and the invoices with the balance by age.
Each panel reads through the selectors of crm, sales, inventory and finance, with a fixed number
of queries whatever the customer's history (sums in the database, the latest `LATEST` rows,
and a link to the full list). Tickets and campaigns add their own panels (crm.tickets,
crm.campaigns).

`register()` (called from `CrmConfig.ready()`) also wires crm to the sales events (an order
confirmed from an opportunity's quotation wins the opportunity: `services.order_confirmed`) and
the worker's periodic e-mail reminders of activities (`reminders`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from xietong.core.permissions import has_perm
from xietong.party.models import Party

LATEST = 5
_CACHE = "_crm_customer_360"


def _cached(request: HttpRequest, key: str, compute: Any) -> Any:
    """`compute()` once per request (two panels share the receivables)."""
    store = request.__dict__.setdefault(_CACHE, {})
    if key not in store:
        store[key] = compute()
    return store[key]


def _receivables(request: HttpRequest, party: Party) -> Any:
    from xietong.finance import selectors as finance_selectors

    return _cached(request, f"receivables-{party.pk}", lambda: finance_selectors.customer_receivables(
        party=party, today=timezone.localdate(), limit=LATEST))  # fmt: skip


def _pipeline(request: HttpRequest, party: Party) -> Any:
    from xietong.crm import selectors

    return _cached(request, f"pipeline-{party.pk}", lambda: selectors.customer_pipeline(
        party=party, user=request.user, see_all=has_perm(request, "crm.manage"), limit=LATEST))  # fmt: skip


def _search(url_name: str, text: str) -> str:
    return f"{reverse(url_name)}?{urlencode({'q': text})}"


def key_figures_panel(request: HttpRequest, party: Party) -> dict[str, Any] | None:
    """The strip of key figures at the top of a customer's page."""
    if not party.is_customer:
        return None
    return {
        "layout": "strip",
        "receivables": _receivables(request, party),
        "pipeline": _pipeline(request, party),
        "currency": party.company.base_currency_id,
    }


def opportunities_panel(request: HttpRequest, party: Party) -> dict[str, Any] | None:
    if not party.is_customer:
        return None
    pipeline = _pipeline(request, party)
    return {
        "pipeline": pipeline,
        "all_url": _search("crm:opportunity_list", party.name),
        "can_sell": has_perm(request, "crm.sell"),
    }


def sales_panel(request: HttpRequest, party: Party) -> dict[str, Any] | None:
    from xietong.sales import selectors as sales_selectors

    if not party.is_customer:
        return None
    return {
        "sales": sales_selectors.customer_sales(party=party, limit=LATEST),
        "quotations_url": _search("sales:quotation_list", party.code),
        "orders_url": _search("sales:order_list", party.code),
        "new_quotation_url": f"{reverse('sales:quotation_create')}?party={party.pk}"
        if has_perm(request, "sales.quote")
        else "",
    }


def deliveries_panel(request: HttpRequest, party: Party) -> dict[str, Any] | None:
    from xietong.inventory import selectors as inventory_selectors

    if not party.is_customer:
        return None
    return {
        "deliveries": inventory_selectors.party_deliveries(party=party, limit=LATEST),
        "all_url": _search("inventory:picking_list", party.name),
    }


def receivables_panel(request: HttpRequest, party: Party) -> dict[str, Any] | None:
    if not party.is_customer:
        return None
    return {
        "receivables": _receivables(request, party),
        "all_url": _search("finance:customer_invoice_list", party.code)
        if has_perm(request, "finance.view")
        else "",
    }


def register() -> None:
    """Add the customer 360's panels to the party page, subscribe crm to the sales events and
    register the activity reminders with the worker (from `CrmConfig.ready()`)."""
    from xietong.core import events, jobs
    from xietong.crm import reminders, services
    from xietong.party.panels import Panel, panel_register
    from xietong.sales.events import OrderConfirmed

    for panel in (
        Panel(key="customer_key_figures", label=_("Key figures"),
              template="crm/panels/key_figures.html", permission="crm.view",
              data=key_figures_panel, order=1),
        Panel(key="customer_opportunities", label=_("Opportunities and activities"),
              template="crm/panels/opportunities.html", permission="crm.view",
              data=opportunities_panel, order=20),
        Panel(key="customer_sales", label=_("Quotations and orders"),
              template="crm/panels/sales.html", permission="sales.view",
              data=sales_panel, order=30),
        Panel(key="customer_deliveries", label=_("Deliveries"),
              template="crm/panels/deliveries.html", permission="inventory.view",
              data=deliveries_panel, order=40),
        Panel(key="customer_receivables", label=_("Invoices, balance and aging"),
              template="crm/panels/receivables.html", permission="sales.view",
              data=receivables_panel, order=50),
    ):  # fmt: skip
        panel_register(panel)
    events.subscribe(OrderConfirmed, services.order_confirmed)
    jobs.register_periodic("crm.activity_reminders", reminders.activity_reminders_periodic)
