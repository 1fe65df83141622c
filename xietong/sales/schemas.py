"""The sales app's public API schemas, for its own router (`xietong.sales.api`) and for the
routers of the layers above that take or answer sales documents (crm's "new quotation of an
opportunity"): a document line as a request names it (`LineIn`, turned into lines by
`xietong.sales.services.quotation_lines_from_input`), and a quotation with its lines, versions
and orders as answered (`QuotationOut`, loaded by `xietong.sales.selectors.quotation_detail`)."""

import datetime as dt
from decimal import Decimal
from typing import Any

from ninja import Field, Schema
from pydantic import ConfigDict

from xietong.core.api import DecimalString
from xietong.sales.models import Quotation

ZERO = Decimal(0)


class LineIn(Schema):
    model_config = ConfigDict(extra="forbid")

    product: int | None = Field(None, description="product id (or give `sku`)")
    sku: str | None = Field(None, description="product SKU (or give `product`)")
    configured_item: int | None = Field(
        None, description="id of a configured item (instead of a product)"
    )
    quantity: DecimalString = Decimal(1)
    uom: str | None = Field(None, description="unit code; default: the product's sales unit")
    unit_price: DecimalString | None = Field(
        None, description="default: the customer's price (price list, configuration)"
    )
    discount: DecimalString = Field(ZERO, description="percent")
    taxes: list[str] | None = Field(
        None, description="tax codes; default: the sales settings' default tax; [] for none"
    )
    description: str = Field("", description="default: the product's name")


class LineOut(Schema):
    id: int
    sequence: int
    product: int = Field(..., alias="product_id")
    sku: str
    configured_item: int | None = Field(None, alias="configured_item_id")
    description: str
    quantity: DecimalString
    uom: str
    list_price: DecimalString = Field(..., description="the customer's price before discount")
    unit_price: DecimalString
    discount: DecimalString = Field(..., description="percent")
    taxes: list[str] = Field(..., description="tax codes")
    amount_untaxed: DecimalString
    amount_tax: DecimalString
    amount_total: DecimalString
    promise_date: dt.date | None = Field(None, description="the date promised (ATP)")
    promise_note: str

    @staticmethod
    def resolve_sku(obj: Any) -> str:
        return obj.product.sku

    @staticmethod
    def resolve_uom(obj: Any) -> str:
        return obj.uom.code

    @staticmethod
    def resolve_taxes(obj: Any) -> list[str]:
        return [tax.code for tax in obj.taxes.all()]


class DocumentBrief(Schema):
    id: int
    number: str
    state: str
    party: int = Field(..., alias="party_id")
    party_name: str
    date: dt.date
    currency: str = Field(..., alias="currency_id")
    amount_untaxed: DecimalString
    amount_tax: DecimalString
    amount_total: DecimalString
    salesperson: int | None = Field(None, alias="salesperson_id")
    customer_reference: str

    @staticmethod
    def resolve_party_name(obj: Any) -> str:
        return obj.party.name


class DocumentOut(DocumentBrief):
    warehouse: str = Field(..., description="warehouse code")
    price_list: int | None = Field(None, alias="price_list_id")
    payment_term: int | None = Field(None, alias="payment_term_id")
    contact: int | None = Field(None, alias="contact_id")
    shipping_address: int | None = Field(None, alias="shipping_address_id")
    language: str
    notes: str
    coupon_code: str = Field(..., description="the campaign coupon code the prices got")
    created_at: dt.datetime

    @staticmethod
    def resolve_warehouse(obj: Any) -> str:
        return obj.warehouse.code


class VersionOut(Schema):
    id: int
    version: int
    state: str
    date: dt.date
    amount_total: DecimalString


class QuotationOut(DocumentOut):
    version: int
    valid_until: dt.date
    approval: str = Field(..., description='"", pending, approved or rejected')
    approval_comment: str
    max_discount: DecimalString = Field(..., description="largest effective discount (%)")
    sent_at: dt.datetime | None
    lost_reason: str
    previous: int | None = Field(None, alias="previous_id")
    versions: list[VersionOut] = Field(..., description="every version of the number")
    orders: list[int] = Field(..., description="ids of the orders made from it")
    lines: list[LineOut]

    @staticmethod
    def resolve_versions(obj: Quotation) -> list[Quotation]:
        return list(Quotation.objects.filter(number=obj.number).order_by("version"))

    @staticmethod
    def resolve_orders(obj: Quotation) -> list[int]:
        return list(obj.orders.order_by("pk").values_list("pk", flat=True))

    @staticmethod
    def resolve_lines(obj: Quotation) -> list[Any]:
        return list(obj.lines.all())
