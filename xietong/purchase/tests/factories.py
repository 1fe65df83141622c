"""A company ready to buy: the Chinese chart (taxes, journals) with moving-average stock
valuation, the shipped processes, a warehouse, suppliers and products — all through the
services."""

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
from xietong.inventory.valuation import valuation_setup
from xietong.inventory.warehouses import warehouse_create
from xietong.party.models import Party
from xietong.party.services import party_create
from xietong.product.models import Product
from xietong.product.services import product_cost_set, product_create
from xietong.product.tests.catalog_factories import unit
from xietong.purchase.common import purchase_settings
from xietong.purchase.models import SupplierPrice
from xietong.workflow.shipped import deploy_all

D = Decimal
_numbers = itertools.count(1)


def buying(company: Company, *, steps: str = "one") -> SimpleNamespace:
    """Everything a purchase test needs in `company` (call once per company): chart, stock
    valuation (moving average), shipped processes, a warehouse with `steps` reception steps,
    purchase settings with 13 % input VAT as the default tax."""
    with company_scope(company):
        chart_load(company=company, template="cn")
        valuation_setup(company=company)
        deploy_all(company=company, actor=None)
        warehouse = warehouse_create(company=company, code="WH", name="Suzhou",
                                     reception_steps=steps)  # fmt: skip
        settings = purchase_settings(company)
        vat = Tax.unscoped.get(company=company, code="VAT13-P")
        settings.default_tax = vat
        settings.warehouse = warehouse
        settings.save()
    return SimpleNamespace(company=company, warehouse=warehouse, stock=warehouse.stock_location,
                           vat=vat, settings=settings)  # fmt: skip


def material(company: Company, cost: str = "50", **fields: Any) -> Product:
    """A stockable product bought from suppliers, standard cost `cost`."""
    sku = fields.pop("sku", None) or f"M{next(_numbers):05d}"
    fields.setdefault("name", f"Material {sku}")
    fields.setdefault("uom", unit("pc"))
    with company_scope(company):
        made = product_create(company=company, actor=None, sku=sku, **fields)
        product_cost_set(product=made, actor=None, cost=D(cost))
    return Product.unscoped.select_related("uom", "purchase_uom").get(pk=made.pk)


def supplier(company: Company, name: str = "", **fields: Any) -> Party:
    with company_scope(company):
        return party_create(company=company, actor=None,
                            name=name or f"Supplier {next(_numbers)}", is_supplier=True,
                            allow_duplicate=True, **fields)  # fmt: skip


def price(company: Company, vendor: Party, product: Product, amount: str, *,
          lead_days: int = 7, min_quantity: str = "0") -> SupplierPrice:  # fmt: skip
    return SupplierPrice.unscoped.create(
        company=company, supplier=vendor, product=product, currency_id=company.base_currency_id,
        price=D(amount), lead_time_days=lead_days, min_quantity=D(min_quantity),
    )  # fmt: skip


def today() -> dt.date:
    return timezone.localdate()
