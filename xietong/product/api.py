"""REST endpoints of the catalogue and pricing, mounted at `/api/v1` (conventions: see
`xietong.core.api`): products, product categories, attributes, variants, price lists and their
rules, the price quote (`GET /price`) and costs.

Related records travel as ids (units as codes); an id of another company's record is an unknown
id (a field error), and another company's record in the path is not found (404). Amounts on
products are in the company's base currency per stock unit; prices of a price list are in its
currency per sales unit.
"""

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Model, Prefetch, Q, QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Field

from xietong.core.api import DecimalString
from xietong.core.idempotency import idempotent
from xietong.core.models import UnitOfMeasure
from xietong.core.permissions import requires
from xietong.party.models import CustomerGroup, Party
from xietong.product import pricing, selectors, services
from xietong.product.models import (
    Attribute,
    AttributeValue,
    Category,
    CostRecord,
    PriceList,
    PriceRule,
    Product,
    Variant,
)

router = Router(tags=["products"])

# --- schemas ----------------------------------------------------------------------------------

Translations = dict[str, str]


class ProductOut(Schema):
    id: int
    sku: str
    name: str
    name_i18n: Translations
    description: str
    description_i18n: Translations
    category: int | None = Field(None, alias="category_id")
    category_path: str | None
    type: str
    uom: str
    purchase_uom: str | None
    sales_uom: str | None
    barcode: str
    weight_kg: DecimalString | None
    volume_m3: DecimalString | None
    tracking: str
    supply: str
    purchase_lead_days: int
    manufacturing_lead_days: int
    safety_stock: DecimalString
    min_qty: DecimalString
    max_qty: DecimalString
    lot_sizing: str
    lot_size: DecimalString
    lot_multiple: DecimalString
    list_price: DecimalString
    standard_cost: DecimalString
    average_cost: DecimalString
    is_configurable: bool
    invoice_policy: str = Field(
        ..., description="order, delivery, or empty: the customer's or the company's"
    )
    active: bool
    low_level_code: int

    @staticmethod
    def resolve_category_path(obj: Product) -> str | None:
        return obj.category.path if obj.category_id else None

    @staticmethod
    def resolve_uom(obj: Product) -> str:
        return obj.uom.code

    @staticmethod
    def resolve_purchase_uom(obj: Product) -> str | None:
        return obj.purchase_uom.code if obj.purchase_uom_id else None

    @staticmethod
    def resolve_sales_uom(obj: Product) -> str | None:
        return obj.sales_uom.code if obj.sales_uom_id else None


class ProductPatch(Schema):
    """Fields to change; units by code, the category by id (null: none)."""

    sku: str | None = None
    name: str | None = None
    name_i18n: Translations | None = None
    description: str | None = None
    description_i18n: Translations | None = None
    category: int | None = None
    type: str | None = None
    uom: str | None = None
    purchase_uom: str | None = None
    sales_uom: str | None = None
    barcode: str | None = None
    weight_kg: DecimalString | None = None
    volume_m3: DecimalString | None = None
    tracking: str | None = None
    supply: str | None = None
    purchase_lead_days: int | None = Field(None, ge=0, le=32767)
    manufacturing_lead_days: int | None = Field(None, ge=0, le=32767)
    safety_stock: DecimalString | None = None
    min_qty: DecimalString | None = None
    max_qty: DecimalString | None = None
    lot_sizing: str | None = None
    lot_size: DecimalString | None = None
    lot_multiple: DecimalString | None = None
    list_price: DecimalString | None = None
    is_configurable: bool | None = None
    invoice_policy: str | None = Field(
        None,
        description="invoice order lines of it on ordered (order) or delivered (delivery) "
        "quantities, whoever the customer; empty: the customer's or the company's",
    )
    active: bool | None = None


class ProductIn(ProductPatch):
    sku: str
    name: str
    uom: str


class ProductFilters(Schema):
    q: str | None = None
    sku: str | None = None
    category: int | None = Field(None, description="a category id; includes its sub-categories")
    type: str | None = None
    supply: str | None = None
    active: bool | None = None


class CategoryOut(Schema):
    id: int
    name: str
    parent: int | None = Field(None, alias="parent_id")
    path: str


class CategoryIn(Schema):
    name: str
    parent: int | None = None


class CategoryPatch(Schema):
    name: str | None = None
    parent: int | None = None


class ValueOut(Schema):
    id: int
    code: str
    name: str


class ValueIn(Schema):
    code: str
    name: str


class AttributeOut(Schema):
    id: int
    name: str
    values: list[ValueOut]

    @staticmethod
    def resolve_values(obj: Attribute) -> list[AttributeValue]:
        return list(obj.values.all())


class AttributeIn(Schema):
    name: str
    values: list[ValueIn]


class AttributePatch(Schema):
    name: str | None = None
    values: list[ValueIn] | None = Field(None, description="replaces the values, matched by code")


class VariantValueOut(ValueOut):
    attribute: str

    @staticmethod
    def resolve_attribute(obj: AttributeValue) -> str:
        return obj.attribute.name


class VariantOut(Schema):
    id: int
    product: int = Field(alias="product_id")
    sku: str
    barcode: str
    price_extra: DecimalString
    active: bool
    values: list[VariantValueOut]

    @staticmethod
    def resolve_values(obj: Variant) -> list[AttributeValue]:
        return list(obj.values.all())


class VariantIn(Schema):
    product: int
    values: list[int] = Field(description="attribute value ids, one per attribute")
    sku: str = Field("", description="empty: product SKU plus the value codes")
    barcode: str = ""
    price_extra: DecimalString = Decimal(0)


class VariantPatch(Schema):
    sku: str | None = None
    barcode: str | None = None
    price_extra: DecimalString | None = None
    active: bool | None = None


class VariantFilters(Schema):
    product: int | None = None
    active: bool | None = None
    q: str | None = None


class VariantGenerateIn(Schema):
    values: list[int] = Field(description="attribute value ids; every combination is made")
    price_extras: dict[int, DecimalString] = Field(
        default_factory=dict, description="value id → price extra added to its variants"
    )


class PriceListOut(Schema):
    id: int
    name: str
    currency: str = Field(alias="currency_id")
    active: bool
    is_default: bool


class PriceListIn(Schema):
    name: str
    currency: str
    active: bool = True
    is_default: bool = False


class PriceListPatch(Schema):
    name: str | None = None
    currency: str | None = None
    active: bool | None = None
    is_default: bool | None = None


class RuleOut(Schema):
    id: int
    price_list: int = Field(alias="price_list_id")
    sequence: int
    product: int | None = Field(None, alias="product_id")
    variant: int | None = Field(None, alias="variant_id")
    category: int | None = Field(None, alias="category_id")
    customer_group: int | None = Field(None, alias="customer_group_id")
    min_qty: DecimalString
    date_from: dt.date | None
    date_to: dt.date | None
    method: str
    fixed_price: DecimalString | None
    discount_percent: DecimalString | None
    margin_percent: DecimalString | None


class RulePatch(Schema):
    sequence: int | None = Field(None, ge=0)
    product: int | None = None
    variant: int | None = None
    category: int | None = None
    customer_group: int | None = None
    min_qty: DecimalString | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    method: str | None = None
    fixed_price: DecimalString | None = None
    discount_percent: DecimalString | None = None
    margin_percent: DecimalString | None = None


class RuleIn(RulePatch):
    method: str


class PriceQuery(Schema):
    product: int
    quantity: DecimalString = Decimal(1)
    party: int | None = None
    variant: int | None = None
    date: dt.date | None = Field(None, description="default: today")
    price_list: int | None = Field(None, description="default: the party's, else the company's")


class PriceQuoteOut(Schema):
    product: int
    variant: int | None
    party: int | None
    price_list: int
    currency: str
    quantity: DecimalString
    unit: str
    date: dt.date
    unit_price: DecimalString
    list_price: DecimalString | None
    discount_percent: DecimalString | None
    rule: int | None
    explanation: list[str]


class CostOut(Schema):
    id: int
    product: int = Field(alias="product_id")
    kind: str
    date: dt.date
    cost: DecimalString
    reason: str
    created_at: dt.datetime


class CostIn(Schema):
    cost: DecimalString
    date: dt.date | None = None
    reason: str = ""


# --- helpers ----------------------------------------------------------------------------------


def _known(queryset: QuerySet, pk: int | None, field: str) -> Any:
    """The row with `pk` among the company's (scoped `queryset`), None for None, or a field error:
    another company's id is as unknown as a wrong one."""
    if pk is None:
        return None
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        raise ValidationError({field: [_("Unknown id %(id)s.") % {"id": pk}]})
    return obj


def _unit(code: str | None, field: str) -> UnitOfMeasure | None:
    if code is None:
        return None
    unit = UnitOfMeasure.objects.select_related("category").filter(code=code).first()
    if unit is None:
        raise ValidationError({field: [_("Unknown unit “%(code)s”.") % {"code": code}]})
    return unit


def _product_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Payload fields as keyword arguments of the product services."""
    if "category" in fields:
        fields["category"] = _known(Category.objects, fields["category"], "category")
    for field in ("uom", "purchase_uom", "sales_uom"):
        if field in fields:
            fields[field] = _unit(fields[field], field)
    for field in ("name_i18n", "description_i18n"):
        if field in fields and fields[field] is None:
            fields[field] = {}
    for field in ("description", "barcode", "invoice_policy"):
        if field in fields and fields[field] is None:
            fields[field] = ""
    return fields


def _products() -> QuerySet[Product]:
    return Product.objects.select_related("category", "uom", "purchase_uom", "sales_uom")


def _variants() -> QuerySet[Variant]:
    return Variant.objects.prefetch_related(
        Prefetch("values", queryset=AttributeValue.objects.select_related("attribute"))
    )


def _rules() -> QuerySet[PriceRule]:
    # Rules have no company of their own: the (scoped) price list's decides.
    return PriceRule.objects.filter(price_list__in=PriceList.objects.values("pk"))


def _get(queryset: QuerySet, pk: int) -> Any:
    return get_object_or_404(queryset, pk=pk)


def _refetch(queryset: QuerySet, obj: Model) -> Any:
    return queryset.get(pk=obj.pk)


# --- products ---------------------------------------------------------------------------------


@router.get("/products", response=list[ProductOut])
@requires("product.view")
@paginate
def product_list(request: HttpRequest, filters: Query[ProductFilters]) -> Any:
    """The company's products by SKU; `q` searches SKU, names (every language) and barcode,
    `category` includes sub-categories."""
    category = _known(Category.objects, filters.category, "category")
    products = selectors.product_list(
        q=filters.q or "",
        category=category,
        type=filters.type or "",
        supply=filters.supply or "",
        active=filters.active,
    )
    if filters.sku:
        products = products.filter(sku__iexact=filters.sku)
    return products


@router.get("/products/{product_id}", response=ProductOut)
@requires("product.view")
def product_get(request: HttpRequest, product_id: int) -> Product:
    """One product."""
    return _get(_products(), product_id)


@router.post("/products", response={201: ProductOut})
@requires("product.change")
@idempotent
def product_create(request: HttpRequest, payload: ProductIn) -> Status:
    """Create a product (the stock unit `uom` by code, e.g. "pc"); costs are set with
    `POST /products/{id}/costs`."""
    fields = _product_fields(payload.model_dump(exclude_unset=True))
    product = services.product_create(
        company=request.company,  # type: ignore[attr-defined]
        actor=request.user,
        **fields,
    )
    return Status(201, _refetch(_products(), product))


@router.patch("/products/{product_id}", response=ProductOut)
@requires("product.change")
def product_update(request: HttpRequest, product_id: int, payload: ProductPatch) -> Product:
    """Change some of a product's fields."""
    product = _get(_products(), product_id)
    fields = _product_fields(payload.model_dump(exclude_unset=True))
    services.product_update(product=product, actor=request.user, **fields)
    return _refetch(_products(), product)


@router.post("/products/{product_id}/archive", response=ProductOut)
@requires("product.change")
def product_archive(request: HttpRequest, product_id: int) -> Product:
    """Archive a product (restore with `PATCH {"active": true}`)."""
    product = _get(_products(), product_id)
    services.product_archive(product=product, actor=request.user)
    return product


# --- costs ------------------------------------------------------------------------------------


@router.get("/products/{product_id}/costs", response=list[CostOut], tags=["costs"])
@requires("product.view")
@paginate
def cost_list(request: HttpRequest, product_id: int) -> Any:
    """The product's cost history (standard and moving average), newest first."""
    product = _get(Product.objects, product_id)
    return CostRecord.objects.filter(product=product).order_by("-date", "-id")


@router.post("/products/{product_id}/costs", response={201: CostOut}, tags=["costs"])
@requires("product.cost")
@idempotent
def cost_set(request: HttpRequest, product_id: int, payload: CostIn) -> Status:
    """Set the standard cost (company currency, per stock unit); recorded in the history."""
    product = _get(Product.objects, product_id)
    record = services.product_cost_set(
        product=product,
        actor=request.user,
        cost=payload.cost,
        date=payload.date,
        reason=payload.reason,
    )
    return Status(201, _refetch(CostRecord.objects, record))


# --- categories -------------------------------------------------------------------------------


@router.get("/product-categories", response=list[CategoryOut], tags=["product categories"])
@requires("product.view")
@paginate
def category_list(request: HttpRequest) -> Any:
    """The category tree in path order ("Bikes / E-bikes")."""
    return Category.objects.order_by("path", "pk")


@router.get("/product-categories/{category_id}", response=CategoryOut, tags=["product categories"])
@requires("product.view")
def category_get(request: HttpRequest, category_id: int) -> Category:
    return _get(Category.objects, category_id)


@router.post("/product-categories", response={201: CategoryOut}, tags=["product categories"])
@requires("product.change")
@idempotent
def category_create(request: HttpRequest, payload: CategoryIn) -> Status:
    """Create a category, top-level or under `parent`."""
    category = services.category_create(
        company=request.company,  # type: ignore[attr-defined]
        actor=request.user,
        name=payload.name,
        parent=_known(Category.objects, payload.parent, "parent"),
    )
    return Status(201, category)


@router.patch(
    "/product-categories/{category_id}", response=CategoryOut, tags=["product categories"]
)
@requires("product.change")
def category_update(request: HttpRequest, category_id: int, payload: CategoryPatch) -> Category:
    """Rename or move a category (`parent`: null for top level); a loop is refused."""
    category = _get(Category.objects, category_id)
    fields = payload.model_dump(exclude_unset=True)
    if "parent" in fields:
        fields["parent"] = _known(Category.objects, fields["parent"], "parent")
    return services.category_update(category=category, actor=request.user, **fields)


@router.delete(
    "/product-categories/{category_id}", response={204: None}, tags=["product categories"]
)
@requires("product.change")
def category_delete(request: HttpRequest, category_id: int) -> Status:
    """Delete an unused category (refused while it has sub-categories, products or rules)."""
    services.category_delete(category=_get(Category.objects, category_id), actor=request.user)
    return Status(204, None)


# --- attributes -------------------------------------------------------------------------------


def _attributes() -> QuerySet[Attribute]:
    return Attribute.objects.prefetch_related(
        Prefetch("values", queryset=AttributeValue.objects.order_by("code"))
    )


@router.get("/attributes", response=list[AttributeOut], tags=["variants"])
@requires("product.view")
@paginate
def attribute_list(request: HttpRequest) -> Any:
    """Attributes (colour, size…) with their values."""
    return _attributes().order_by("name", "pk")


@router.get("/attributes/{attribute_id}", response=AttributeOut, tags=["variants"])
@requires("product.view")
def attribute_get(request: HttpRequest, attribute_id: int) -> Attribute:
    return _get(_attributes(), attribute_id)


@router.post("/attributes", response={201: AttributeOut}, tags=["variants"])
@requires("product.change")
@idempotent
def attribute_create(request: HttpRequest, payload: AttributeIn) -> Status:
    """Create an attribute with its values (codes A–Z/0–9 become part of variant SKUs)."""
    attribute = services.attribute_create(
        company=request.company,  # type: ignore[attr-defined]
        actor=request.user,
        name=payload.name,
        values=[(v.code, v.name) for v in payload.values],
    )
    return Status(201, _refetch(_attributes(), attribute))


@router.patch("/attributes/{attribute_id}", response=AttributeOut, tags=["variants"])
@requires("product.change")
def attribute_update(request: HttpRequest, attribute_id: int, payload: AttributePatch) -> Any:
    """Rename an attribute or replace its values (matched by code; used values stay)."""
    attribute = _get(_attributes(), attribute_id)
    services.attribute_update(
        attribute=attribute,
        actor=request.user,
        name=payload.name,
        values=[(v.code, v.name) for v in payload.values] if payload.values is not None else None,
    )
    return _refetch(_attributes(), attribute)


@router.delete("/attributes/{attribute_id}", response={204: None}, tags=["variants"])
@requires("product.change")
def attribute_delete(request: HttpRequest, attribute_id: int) -> Status:
    """Delete an attribute no variant uses."""
    services.attribute_delete(attribute=_get(Attribute.objects, attribute_id), actor=request.user)
    return Status(204, None)


# --- variants ---------------------------------------------------------------------------------


def _values(ids: list[int]) -> list[AttributeValue]:
    values = list(
        AttributeValue.objects.select_related("attribute").filter(
            pk__in=ids, attribute__in=Attribute.objects.values("pk")
        )
    )
    missing = sorted(set(ids) - {v.pk for v in values})
    if missing:
        raise ValidationError(
            {"values": [_("Unknown id %(id)s.") % {"id": ", ".join(map(str, missing))}]}
        )
    return values


@router.get("/variants", response=list[VariantOut], tags=["variants"])
@requires("product.view")
@paginate
def variant_list(request: HttpRequest, filters: Query[VariantFilters]) -> Any:
    """Variants by SKU; filter by `product`, `active`, `q` (SKU or barcode)."""
    variants = _variants().order_by("sku", "pk")
    if filters.product is not None:
        variants = variants.filter(product_id=filters.product)
    if filters.active is not None:
        variants = variants.filter(active=filters.active)
    if filters.q:
        variants = variants.filter(Q(sku__icontains=filters.q) | Q(barcode__icontains=filters.q))
    return variants


@router.get("/variants/{variant_id}", response=VariantOut, tags=["variants"])
@requires("product.view")
def variant_get(request: HttpRequest, variant_id: int) -> Variant:
    return _get(_variants(), variant_id)


@router.post("/variants", response={201: VariantOut}, tags=["variants"])
@requires("product.change")
@idempotent
def variant_create(request: HttpRequest, payload: VariantIn) -> Status:
    """Create one variant of `product` from attribute value ids (one per attribute)."""
    product = _known(Product.objects, payload.product, "product")
    variant = services.variant_create(
        product=product,
        actor=request.user,
        values=_values(payload.values),
        sku=payload.sku,
        barcode=payload.barcode,
        price_extra=payload.price_extra,
    )
    return Status(201, _refetch(_variants(), variant))


@router.post("/products/{product_id}/variants", response={201: list[VariantOut]}, tags=["variants"])
@requires("product.change")
@idempotent
def variants_generate(request: HttpRequest, product_id: int, payload: VariantGenerateIn) -> Status:
    """Generate the variants of every combination of the chosen values (one per attribute),
    SKUs like BASE-RED-M; existing combinations are skipped. Answers the new variants."""
    product = _get(Product.objects, product_id)
    created = services.variants_generate(
        product=product,
        actor=request.user,
        values=_values(payload.values),
        price_extras=payload.price_extras,
    )
    return Status(201, list(_variants().filter(pk__in=[v.pk for v in created]).order_by("sku")))


@router.patch("/variants/{variant_id}", response=VariantOut, tags=["variants"])
@requires("product.change")
def variant_update(request: HttpRequest, variant_id: int, payload: VariantPatch) -> Variant:
    """Change a variant's SKU, barcode, price extra or active flag."""
    variant = _get(_variants(), variant_id)
    fields = payload.model_dump(exclude_unset=True)
    if "barcode" in fields and fields["barcode"] is None:
        fields["barcode"] = ""
    services.variant_update(variant=variant, actor=request.user, **fields)
    return _refetch(_variants(), variant)


@router.post("/variants/{variant_id}/archive", response=VariantOut, tags=["variants"])
@requires("product.change")
def variant_archive(request: HttpRequest, variant_id: int) -> Variant:
    variant = _get(_variants(), variant_id)
    services.variant_archive(variant=variant, actor=request.user)
    return variant


# --- price lists ------------------------------------------------------------------------------


@router.get("/price-lists", response=list[PriceListOut], tags=["price lists"])
@requires("product.view")
@paginate
def price_list_list(request: HttpRequest) -> Any:
    return PriceList.objects.order_by("name", "pk")


@router.get("/price-lists/{price_list_id}", response=PriceListOut, tags=["price lists"])
@requires("product.view")
def price_list_get(request: HttpRequest, price_list_id: int) -> PriceList:
    return _get(PriceList.objects, price_list_id)


@router.post("/price-lists", response={201: PriceListOut}, tags=["price lists"])
@requires("product.price")
@idempotent
def price_list_create(request: HttpRequest, payload: PriceListIn) -> Status:
    """Create a price list; its prices are in `currency`, whatever the party's currency.
    `is_default` makes it the list of parties without one (the previous default loses it)."""
    price_list = pricing.price_list_create(
        company=request.company,  # type: ignore[attr-defined]
        actor=request.user,
        **payload.model_dump(),
    )
    return Status(201, price_list)


@router.patch("/price-lists/{price_list_id}", response=PriceListOut, tags=["price lists"])
@requires("product.price")
def price_list_update(
    request: HttpRequest, price_list_id: int, payload: PriceListPatch
) -> PriceList:
    price_list = _get(PriceList.objects, price_list_id)
    return pricing.price_list_update(
        price_list=price_list, actor=request.user, **payload.model_dump(exclude_unset=True)
    )


@router.post("/price-lists/{price_list_id}/archive", response=PriceListOut, tags=["price lists"])
@requires("product.price")
def price_list_archive(request: HttpRequest, price_list_id: int) -> PriceList:
    """Archive a price list (it stops being the default; its parties fall back to it)."""
    price_list = _get(PriceList.objects, price_list_id)
    return pricing.price_list_archive(price_list=price_list, actor=request.user)


def _rule_fields(fields: dict[str, Any]) -> dict[str, Any]:
    lookups = {
        "product": Product.objects,
        "variant": Variant.objects,
        "category": Category.objects,
        "customer_group": CustomerGroup.objects,
    }
    for field, queryset in lookups.items():
        if field in fields:
            fields[field] = _known(queryset, fields[field], field)
    return fields


@router.get("/price-lists/{price_list_id}/rules", response=list[RuleOut], tags=["price lists"])
@requires("product.view")
@paginate
def price_rule_list(request: HttpRequest, price_list_id: int) -> Any:
    """The list's rules by sequence."""
    price_list = _get(PriceList.objects, price_list_id)
    return price_list.rules.order_by("sequence", "id")


@router.post("/price-lists/{price_list_id}/rules", response={201: RuleOut}, tags=["price lists"])
@requires("product.price")
@idempotent
def price_rule_create(request: HttpRequest, price_list_id: int, payload: RuleIn) -> Status:
    """Add a rule: a target (`variant`, `product` or `category`; none for all products),
    conditions (`customer_group`, `min_qty`, `date_from`/`date_to`) and a `method` with its
    figure (`fixed_price`, `discount_percent` or `margin_percent`)."""
    price_list = _get(PriceList.objects, price_list_id)
    fields = _rule_fields(payload.model_dump(exclude_unset=True))
    rule = pricing.price_rule_create(price_list=price_list, actor=request.user, **fields)
    return Status(201, _refetch(_rules(), rule))


@router.get("/price-rules/{rule_id}", response=RuleOut, tags=["price lists"])
@requires("product.view")
def price_rule_get(request: HttpRequest, rule_id: int) -> PriceRule:
    return _get(_rules(), rule_id)


@router.patch("/price-rules/{rule_id}", response=RuleOut, tags=["price lists"])
@requires("product.price")
def price_rule_update(request: HttpRequest, rule_id: int, payload: RulePatch) -> PriceRule:
    rule = _get(_rules().select_related("price_list"), rule_id)
    fields = _rule_fields(payload.model_dump(exclude_unset=True))
    pricing.price_rule_update(rule=rule, actor=request.user, **fields)
    return _refetch(_rules(), rule)


@router.delete("/price-rules/{rule_id}", response={204: None}, tags=["price lists"])
@requires("product.price")
def price_rule_delete(request: HttpRequest, rule_id: int) -> Status:
    pricing.price_rule_delete(rule=_get(_rules(), rule_id), actor=request.user)
    return Status(204, None)


# --- price quote ------------------------------------------------------------------------------


@router.get("/price", response=PriceQuoteOut, tags=["price lists"])
@requires("product.view")
def price_quote(request: HttpRequest, query: Query[PriceQuery]) -> dict[str, Any]:
    """The unit price of `quantity` (sales unit) of `product` (or its `variant`) for `party` on
    `date`, in the price list's currency, with the winning `rule` (null: list price) and the
    `explanation`: which rules were considered and why the winner won."""
    product = _known(_products(), query.product, "product")
    result = pricing.price_for(
        product=product,
        party=_known(Party.objects.select_related("customer_group"), query.party, "party"),
        variant=_known(Variant.objects, query.variant, "variant"),
        quantity=query.quantity,
        date=query.date or timezone.localdate(),
        price_list=_known(PriceList.objects, query.price_list, "price_list"),
    )
    return {
        "product": product.pk,
        "variant": query.variant,
        "party": query.party,
        "price_list": result.price_list.pk,
        "currency": result.currency,
        "quantity": result.quantity,
        "unit": (product.sales_uom or product.uom).code,
        "date": result.date,
        "unit_price": result.unit_price.amount,
        "list_price": result.list_price.amount if result.list_price else None,
        "discount_percent": result.discount_percent,
        "rule": result.rule.pk if result.rule else None,
        "explanation": list(result.explanation),
    }
