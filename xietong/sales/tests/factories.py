"""A company ready to sell: the Chinese chart (taxes, journals) with moving-average stock
valuation, a one-step warehouse, a default price list, customers, and stocked products — all
through the services."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from django.utils import timezone

from xietong.core.models import Company
from xietong.core.tenancy import company_scope
from xietong.finance.charts import chart_load
from xietong.finance.models import Tax
from xietong.inventory import stock
from xietong.inventory.models import Location
from xietong.inventory.valuation import valuation_setup
from xietong.inventory.warehouses import virtual_locations, warehouse_create
from xietong.party.models import Party
from xietong.party.services import party_create
from xietong.product import pricing
from xietong.product.models import Product
from xietong.product.services import product_create
from xietong.product.tests.catalog_factories import unit
from xietong.sales.common import sales_settings
from xietong.workflow.shipped import deploy_all

D = Decimal
_numbers = itertools.count(1)


def shop(company: Company, *, steps: str = "one") -> SimpleNamespace:
    """Everything a sales test needs in `company` (created once per company)."""
    with company_scope(company):
        chart_load(company=company, template="cn")
        valuation_setup(company=company)
        deploy_all(company=company, actor=None)
        warehouse = warehouse_create(company=company, code="SH", name="Shanghai",
                                     delivery_steps=steps)  # fmt: skip
        prices = pricing.price_list_create(company=company, actor=None, name="Standard",
                                           currency=company.base_currency_id, is_default=True)  # fmt: skip
        settings = sales_settings(company)
        vat = Tax.unscoped.get(company=company, code="VAT13-S")
        settings.default_tax = vat
        settings.warehouse = warehouse
        settings.save()
    return SimpleNamespace(
        company=company, warehouse=warehouse, stock=warehouse.stock_location, prices=prices,
        vat=vat, settings=settings,
    )  # fmt: skip


def item(company: Company, price: str = "100", *, cost: str = "60", **fields: Any) -> Product:
    sku = fields.pop("sku", None) or f"SKU{next(_numbers):05d}"
    fields.setdefault("name", f"Item {sku}")
    fields.setdefault("uom", unit("pc"))
    with company_scope(company):
        made = product_create(company=company, actor=None, sku=sku, list_price=D(price),
                              **fields)  # fmt: skip
    return Product.unscoped.select_related("uom").get(pk=made.pk)


def customer(company: Company, name: str = "", **fields: Any) -> Party:
    with company_scope(company):
        return party_create(company=company, actor=None,
                            name=name or f"Customer {next(_numbers)}", is_customer=True,
                            allow_duplicate=True, **fields)  # fmt: skip


def receive(product: Product, quantity: Any, location: Location, cost: str = "60") -> None:
    supplier = virtual_locations(company=product.company)[Location.Usage.SUPPLIER]
    move = stock.move_create(
        company=product.company, product=product, quantity=D(quantity),
        from_location=supplier, to_location=location, planned_date=timezone.localdate(),
        unit_cost=D(cost),
    )  # fmt: skip
    stock.moves_done(moves=[move])


def today() -> dt.date:
    return timezone.localdate()
