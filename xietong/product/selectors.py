"""Reads of the product catalogue used by views, the API and other apps: product lists, the
category tree, unit conversion for a product and cost history. Prices are read with
`xietong.product.pricing.price_for`.

Every selector reads through the scoped managers (`Model.objects`), so it needs an active
company scope, except `product_convert` and `unit_of`, which only look at the objects given.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from functools import lru_cache

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils.translation import gettext as _

from xietong.core.models import UnitOfMeasure
from xietong.core.quantity import Unit, UnitMismatch, convert
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

CATEGORY_SEPARATOR = " / "


# --- units ------------------------------------------------------------------------------------


def unit_of(uom: UnitOfMeasure) -> Unit:
    """The value-type unit (xietong.core.quantity) of a unit-of-measure row."""
    return _unit(uom.code, str(uom.category_id), str(uom.factor), str(uom.rounding))


@lru_cache(maxsize=512)
def _unit(code: str, category: str, factor: str, rounding: str) -> Unit:
    # units are immutable values: one per distinct row content (figures as text, so that 1 and
    # 1.000 stay apart), not one per conversion
    return Unit(code=code, category=category, factor=Decimal(factor), rounding=Decimal(rounding))


def product_convert(
    *,
    product: Product,
    quantity: Decimal,
    from_uom: UnitOfMeasure,
    to_uom: UnitOfMeasure,
    round_result: bool = True,
) -> Decimal:
    """`quantity` of `product` in `from_uom` expressed in `to_uom` (rounded to `to_uom`'s
    rounding step unless `round_result` is false).

    Both units must measure what the product's stock unit measures; anything else raises
    `xietong.core.quantity.UnitMismatch` (a ValueError) with a message naming the units.
    """
    stock_category = product.uom.category_id
    for unit in (from_uom, to_uom):
        if unit.category_id != stock_category:
            raise UnitMismatch(
                _("%(unit)s cannot measure %(sku)s, which is counted in %(stock)s.")
                % {"unit": unit.code, "sku": product.sku, "stock": product.uom.code}
            )
    return convert(quantity, unit_of(from_uom), unit_of(to_uom), round_result=round_result)


def sales_unit_factor(product: Product) -> Decimal:
    """How many stock units one sales unit holds (1 when the product sells in its stock unit)."""
    sales = product.sales_uom or product.uom
    if sales.pk == product.uom.pk:
        return Decimal(1)
    return product_convert(
        product=product, quantity=Decimal(1), from_uom=sales, to_uom=product.uom, round_result=False
    )


# --- categories -------------------------------------------------------------------------------


def category_depth(category: Category) -> int:
    """0 for a top-level category, 1 for its children, and so on (read from the path)."""
    return category.path.count(CATEGORY_SEPARATOR)


def category_ancestors(category: Category | None) -> list[Category]:
    """The category and its ancestors, top-level first (one query, through the kept paths)."""
    if category is None:
        return []
    return categories_ancestors([category])[category.pk]


def categories_ancestors(categories: Iterable[Category]) -> dict[int, list[Category]]:
    """`category_ancestors` of each of `categories`, by its key: one query for them all (none
    without categories)."""
    wanted: dict[int, tuple[int, list[str]]] = {}
    for category in categories:
        parts = category.path.split(CATEGORY_SEPARATOR)
        prefixes = [CATEGORY_SEPARATOR.join(parts[: i + 1]) for i in range(len(parts))]
        wanted[category.pk] = (category.company_id, prefixes)
    if not wanted:
        return {}
    paths: dict[int, set[str]] = {}
    for company_id, prefixes in wanted.values():
        paths.setdefault(company_id, set()).update(prefixes)
    condition = Q()
    for company_id, prefixes in paths.items():
        condition |= Q(company_id=company_id, path__in=sorted(prefixes))
    found = {(c.company_id, c.path): c for c in Category.unscoped.filter(condition)}
    return {
        pk: [found[(company_id, p)] for p in prefixes if (company_id, p) in found]
        for pk, (company_id, prefixes) in wanted.items()
    }


def category_descendant_ids(category: Category) -> list[int]:
    """Primary keys of the category and every category below it."""
    below = Category.unscoped.filter(
        company_id=category.company_id, path__startswith=category.path + CATEGORY_SEPARATOR
    ).values_list("pk", flat=True)
    return [category.pk, *below]


def category_list() -> QuerySet[Category]:
    """The company's categories in tree order, with their product and sub-category counts."""
    return Category.objects.select_related("parent").annotate(
        product_count=Count("products", distinct=True),
        child_count=Count("children", distinct=True),
    )


def category_choices() -> list[tuple[str, str]]:
    return [(str(pk), path) for pk, path in Category.objects.values_list("pk", "path")]


# --- products ---------------------------------------------------------------------------------


def product_list(
    *,
    q: str = "",
    category: Category | None = None,
    type: str = "",  # noqa: A002  (the field's name)
    supply: str = "",
    active: bool | None = None,
) -> QuerySet[Product]:
    """The company's products (with category and units), filtered; `category` includes its
    sub-categories, `q` searches SKU, name (in every language) and barcode."""
    products = Product.objects.select_related("category", "uom", "sales_uom", "purchase_uom")
    if q:
        products = products.filter(product_search(q))
    if category is not None:
        products = products.filter(category_id__in=category_descendant_ids(category))
    if type:
        products = products.filter(type=type)
    if supply:
        products = products.filter(supply=supply)
    if active is not None:
        products = products.filter(active=active)
    return products.order_by("sku", "pk")


PRODUCT_SEARCH_FIELDS = [
    "sku",
    "name",
    "barcode",
    "name_i18n__en",
    "name_i18n__zh-hans",
    "name_i18n__zh-hant",
]


def product_search(q: str) -> Q:
    condition = Q()
    for field in PRODUCT_SEARCH_FIELDS:
        condition |= Q(**{f"{field}__icontains": q})
    return condition


def product_detail(*, pk: int) -> Product:
    """One product of the company with what its page shows; raises Product.DoesNotExist."""
    return Product.objects.select_related("category", "uom", "sales_uom", "purchase_uom").get(pk=pk)


def product_variants(*, product: Product) -> QuerySet[Variant]:
    return Variant.objects.filter(product=product).prefetch_related(
        Prefetch("values", queryset=AttributeValue.objects.select_related("attribute"))
    )


def product_cost_history(*, product: Product, limit: int = 200) -> QuerySet[CostRecord]:
    return CostRecord.objects.filter(product=product).order_by("-date", "-id")[:limit]


def product_price_rules(*, product: Product) -> QuerySet[PriceRule]:
    """Rules of the company's active price lists that name this product or one of its variants
    (rules have no company of their own: the price list's decides)."""
    return (
        PriceRule.objects.filter(price_list__company_id=product.company_id, price_list__active=True)
        .filter(Q(product=product) | Q(variant__product=product))
        .select_related("price_list", "variant", "customer_group")
        .order_by("price_list__name", "sequence", "id")
    )


# --- attributes, price lists -------------------------------------------------------------------


def attribute_list() -> QuerySet[Attribute]:
    return Attribute.objects.prefetch_related("values").annotate(
        value_count=Count("values", distinct=True)
    )


def price_list_list() -> QuerySet[PriceList]:
    return PriceList.objects.select_related("currency").annotate(
        rule_count=Count("rules", distinct=True)
    )


def price_list_rules(*, price_list: PriceList) -> QuerySet[PriceRule]:
    return price_list.rules.select_related(
        "product", "variant", "category", "customer_group"
    ).order_by("sequence", "id")


def default_price_list(*, company_id: int) -> PriceList | None:
    """The company's active default price list, if it marked one (at most one: a constraint)."""
    try:
        return PriceList.unscoped.get(company_id=company_id, is_default=True, active=True)
    except PriceList.DoesNotExist:
        return None
