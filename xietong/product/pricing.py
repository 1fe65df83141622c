"""Price lists: their rules (writes) and `price_for`, the one place a sales price comes from.

A price list has a currency and rules. A rule targets a variant, a product, a category (and so
every product in its sub-categories too) or, with none of these, every product; it may be
limited to a customer group, a minimum quantity (quantity breaks) and validity dates. Its method
gives the unit price:

- fixed: `fixed_price`, in the list's currency, per sales unit;
- discount: (product list price + variant price extra) less `discount_percent`;
- cost plus: product standard cost plus `margin_percent`.

**Currency.** The price is always in the price list's currency, whatever the party's currency
(a party that pays in another currency gets a price list in that currency). List prices, price
extras and costs are kept in the company's base currency, per stock unit; for a list in another
currency they are converted at the company's exchange rate on the pricing date.

**Units.** Quantities, minimum quantities and prices are in the product's sales unit.

**Which rule wins.** Of the rules that apply, the most specific: variant before product before
category (a deeper category before a higher one) before all products; then a rule for the
party's customer group before one for everybody; then the highest minimum quantity reached;
then the lower sequence. Without any applicable rule the list price is used. The answer says
why, step by step (`PriceResult.explanation`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.models import Company, Currency, User
from xietong.core.money import Money
from xietong.core.selectors import RateNotFound, rate_on
from xietong.party.models import CustomerGroup
from xietong.product.models import Category, PriceList, PriceRule, Product, Variant
from xietong.product.selectors import (
    categories_ancestors,
    category_depth,
    default_price_list,
    sales_unit_factor,
)
from xietong.product.services import Errors, _add, _decimal, _model_errors, _raise, _same_company

PRICE_PLACES = Decimal("0.000001")


# --- price lists ------------------------------------------------------------------------------


def _currency_check(errors: Errors, code: str) -> None:
    if not Currency.objects.filter(code=code, active=True).exists():
        _add(errors, "currency", _("“%(code)s” is not an active currency.") % {"code": code})


def _price_list_validate(price_list: PriceList, errors: Errors) -> None:
    price_list.name = (price_list.name or "").strip()
    if not price_list.name:
        _add(errors, "name", _("Give the price list a name."))
    elif (
        PriceList.unscoped.filter(company_id=price_list.company_id, name__iexact=price_list.name)
        .exclude(pk=price_list.pk)
        .exists()
    ):
        _add(errors, "name", _("There is already a price list with this name."))
    if price_list.is_default and not price_list.active:
        _add(errors, "is_default", _("An archived price list cannot be the default."))
    _model_errors(price_list, errors, exclude=["currency"])


def _make_default(price_list: PriceList) -> None:
    if price_list.is_default:
        PriceList.unscoped.filter(company_id=price_list.company_id, is_default=True).exclude(
            pk=price_list.pk
        ).update(is_default=False)


def _save_price_list(price_list: PriceList) -> None:
    try:
        with transaction.atomic():
            _make_default(price_list)
            price_list.save()
    except IntegrityError as exc:  # a concurrent request used the name in the meantime
        raise ValidationError(
            {"name": [_("There is already a price list with this name.")]}
        ) from exc


@audited
def price_list_create(
    *,
    company: Company,
    actor: User | None,
    name: str,
    currency: str,
    active: bool = True,
    is_default: bool = False,
) -> PriceList:
    """Create a price list in `currency` (ISO code). Making it the default takes that mark off
    the previous default list. Raises ValidationError."""
    errors: Errors = {}
    code = (currency or "").strip().upper()
    _currency_check(errors, code)
    price_list = PriceList(
        company=company, name=name, currency_id=code, active=active, is_default=is_default
    )
    _price_list_validate(price_list, errors)
    _raise(errors)
    _save_price_list(price_list)
    return price_list


PRICE_LIST_FIELDS = {"name", "currency", "active", "is_default"}


@audited
def price_list_update(*, price_list: PriceList, actor: User | None, **fields: Any) -> PriceList:
    """Change a price list's name, currency (refused while fixed-price rules exist: their prices
    are in the old currency), active flag or default mark. Raises ValidationError."""
    unknown = set(fields) - PRICE_LIST_FIELDS
    if unknown:
        raise ValidationError(
            {f: [_("This field cannot be changed here.")] for f in sorted(unknown)}
        )
    draft = PriceList.unscoped.get(pk=price_list.pk)
    errors: Errors = {}
    if "currency" in fields:
        code = (fields.pop("currency") or "").strip().upper()
        _currency_check(errors, code)
        fixed = draft.rules.filter(method=PriceRule.Method.FIXED).exists()
        if code != draft.currency_id and fixed:
            _add(
                errors,
                "currency",
                _("Fixed-price rules hold prices in %(code)s; change or remove them first.")
                % {"code": draft.currency_id},
            )
        draft.currency_id = code
    for field, value in fields.items():
        setattr(draft, field, value)
    if not draft.active:
        draft.is_default = draft.is_default and "is_default" in fields
    _price_list_validate(draft, errors)
    _raise(errors)
    _save_price_list(draft)
    for field in ("name", "currency_id", "active", "is_default"):
        setattr(price_list, field, getattr(draft, field))
    return price_list


@audited
def price_list_archive(*, price_list: PriceList, actor: User | None) -> PriceList:
    """Mark a price list inactive (parties pointing at it fall back to the company default);
    an archived list is no longer the default."""
    if price_list.active or price_list.is_default:
        price_list.active = False
        price_list.is_default = False
        with transaction.atomic():
            price_list.save(update_fields=["active", "is_default"])
    return price_list


# --- rules ------------------------------------------------------------------------------------

RULE_FIELDS = {
    "sequence",
    "product",
    "variant",
    "category",
    "customer_group",
    "min_qty",
    "date_from",
    "date_to",
    "method",
    "fixed_price",
    "discount_percent",
    "margin_percent",
}
METHOD_FIELD = {
    PriceRule.Method.FIXED: "fixed_price",
    PriceRule.Method.DISCOUNT: "discount_percent",
    PriceRule.Method.COST_PLUS: "margin_percent",
}


def _rule_validate(rule: PriceRule, errors: Errors) -> None:
    company_id = rule.price_list.company_id
    for field in ("product", "variant", "category", "customer_group"):
        _same_company(errors, field, getattr(rule, field), company_id)
    if rule.variant is not None and "variant" not in errors:
        if rule.product is not None and rule.product_id != rule.variant.product_id:
            _add(errors, "variant", _("This variant belongs to another product."))
        else:
            rule.product = rule.variant.product
    if rule.category is not None and rule.product is not None:
        _add(errors, "category", _("A rule targets a product or a category, not both."))
    rule.min_qty = _decimal(errors, "min_qty", rule.min_qty)
    if rule.date_from and rule.date_to and rule.date_from > rule.date_to:
        _add(errors, "date_to", _("The end of validity cannot be before its start."))
    field = METHOD_FIELD.get(rule.method)
    if field is None:
        _add(errors, "method", _("Choose how the price is computed."))
    else:
        value = _decimal(errors, field, getattr(rule, field))
        setattr(rule, field, value)
        if value is None and field not in errors:
            _add(errors, field, _("This method needs a value here."))
        for other in METHOD_FIELD.values():
            if other != field:
                setattr(rule, other, None)  # a rule keeps only its own method's figure
    _model_errors(rule, errors, exclude=["price_list"])


@audited
def price_rule_create(*, price_list: PriceList, actor: User | None, **fields: Any) -> PriceRule:
    """Add a rule to a price list (fields: see `RULE_FIELDS`; targets as objects). A variant
    rule also names its product; product, variant, category and customer group must be the
    list's company's. Raises ValidationError."""
    unknown = set(fields) - RULE_FIELDS
    if unknown:
        raise ValidationError({f: [_("This field cannot be set here.")] for f in sorted(unknown)})
    rule = PriceRule(price_list=price_list, **fields)
    errors: Errors = {}
    _rule_validate(rule, errors)
    _raise(errors)
    with transaction.atomic():
        rule.save()
    return rule


@audited
def price_rule_update(*, rule: PriceRule, actor: User | None, **fields: Any) -> PriceRule:
    """Change some fields of a rule (see `RULE_FIELDS`). Raises ValidationError."""
    unknown = set(fields) - RULE_FIELDS
    if unknown:
        raise ValidationError(
            {f: [_("This field cannot be changed here.")] for f in sorted(unknown)}
        )
    draft = PriceRule.objects.select_related("price_list").get(pk=rule.pk)
    if "variant" in fields and "product" not in fields:
        draft.product = None  # follows the new variant (or stays empty)
    for field, value in fields.items():
        setattr(draft, field, value)
    errors: Errors = {}
    _rule_validate(draft, errors)
    _raise(errors)
    with transaction.atomic():
        draft.save()
    for field in RULE_FIELDS:
        setattr(rule, field, getattr(draft, field))
    return rule


@audited
def price_rule_delete(*, rule: PriceRule, actor: User | None) -> None:
    with transaction.atomic():
        rule.delete()


# --- price_for --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PriceResult:
    """The answer of `price_for`: the unit price per sales unit in the list's currency, the
    list price (plus variant extra) it compares with, the winning rule (None: the list price applies) and the
    human-readable steps that led there."""

    unit_price: Money
    list_price: Money | None  # None when it cannot be converted (no rate) and is not needed
    price_list: PriceList
    rule: PriceRule | None
    explanation: tuple[str, ...]
    quantity: Decimal
    date: dt.date

    @property
    def currency(self) -> str:
        return self.unit_price.currency

    @property
    def discount_percent(self) -> Decimal | None:
        """How far below the list price the price is (negative: above), None without one."""
        if self.list_price is None or not self.list_price.amount:
            return None
        ratio = (self.list_price.amount - self.unit_price.amount) / self.list_price.amount
        return (ratio * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


SCOPE_VARIANT, SCOPE_PRODUCT, SCOPE_CATEGORY, SCOPE_ALL = 3, 2, 1, 0


def _scope(rule: PriceRule) -> int:
    if rule.variant_id:
        return SCOPE_VARIANT
    if rule.product_id:
        return SCOPE_PRODUCT
    if rule.category_id:
        return SCOPE_CATEGORY
    return SCOPE_ALL


def _scope_label(scope: int) -> str:
    return {
        SCOPE_VARIANT: _("a variant rule"),
        SCOPE_PRODUCT: _("a product rule"),
        SCOPE_CATEGORY: _("a category rule"),
        SCOPE_ALL: _("a rule for all products"),
    }[scope]


def _num(value: Decimal | int) -> str:
    return f"{Decimal(value).normalize():f}"


def format_money(amount: Decimal, currency: str) -> str:
    """An amount for people: to the currency's minor unit, or more decimals when it has them
    (unit prices of small parts)."""
    money = Money(amount, currency)
    if money.rounded().amount == money.amount:
        return str(money)
    return f"{money.amount.quantize(PRICE_PLACES).normalize():,f} {currency}"


def rule_target(rule: PriceRule) -> str:
    """What a rule applies to, in words."""
    if rule.variant_id:
        return _("variant %(sku)s") % {"sku": rule.variant.sku}
    if rule.product_id:
        return _("product %(sku)s") % {"sku": rule.product.sku}
    if rule.category_id:
        return _("category “%(path)s” and below") % {"path": rule.category.path}
    return _("all products")


def rule_formula(rule: PriceRule, currency: str) -> str:
    """The rule's method in words."""
    if rule.method == PriceRule.Method.FIXED:
        return _("fixed price %(price)s") % {
            "price": format_money(rule.fixed_price or Decimal(0), currency)
        }
    if rule.method == PriceRule.Method.DISCOUNT:
        return _("list price less %(pct)s%%") % {"pct": _num(rule.discount_percent or Decimal(0))}
    return _("standard cost plus %(pct)s%%") % {"pct": _num(rule.margin_percent or Decimal(0))}


def rule_summary(rule: PriceRule, currency: str) -> str:
    """One line describing a rule: its number, target, conditions and formula."""
    parts = [rule_target(rule)]
    if rule.customer_group_id:
        parts.append(_("customer group “%(group)s”") % {"group": rule.customer_group.name})
    if rule.min_qty:
        parts.append(_("from %(qty)s") % {"qty": _num(rule.min_qty)})
    if rule.date_from or rule.date_to:
        parts.append(
            _("valid %(start)s – %(end)s")
            % {
                "start": rule.date_from.isoformat() if rule.date_from else "…",
                "end": rule.date_to.isoformat() if rule.date_to else "…",
            }
        )
    parts.append(rule_formula(rule, currency))
    return _("Rule #%(id)s (sequence %(seq)s): %(text)s") % {
        "id": rule.pk,
        "seq": rule.sequence,
        "text": ", ".join(parts),
    }


def _applies(rule: PriceRule, *, group_id: int | None, quantity: Decimal, date: dt.date) -> bool:
    """The rule's conditions hold (`_not_applicable` says why not, in words)."""
    return not (
        (rule.customer_group_id and rule.customer_group_id != group_id)
        or rule.min_qty > quantity
        or (rule.date_from and rule.date_from > date)
        or (rule.date_to and rule.date_to < date)
    )


def _not_applicable(
    rule: PriceRule, *, group_id: int | None, quantity: Decimal, date: dt.date
) -> list[str]:
    reasons = []
    if rule.customer_group_id and rule.customer_group_id != group_id:
        reasons.append(
            _("only for customer group “%(group)s”") % {"group": rule.customer_group.name}
        )
    if rule.min_qty > quantity:
        reasons.append(
            _("needs at least %(min)s (asked: %(qty)s)")
            % {"min": _num(rule.min_qty), "qty": _num(quantity)}
        )
    if rule.date_from and rule.date_from > date:
        reasons.append(_("valid only from %(date)s") % {"date": rule.date_from.isoformat()})
    if rule.date_to and rule.date_to < date:
        reasons.append(_("expired on %(date)s") % {"date": rule.date_to.isoformat()})
    return reasons


def _why(winner: PriceRule, runner_up: PriceRule, keys: dict[int, tuple[Any, ...]]) -> str:
    """Why `winner` beats `runner_up`: the first criterion where they differ."""
    a, b = keys[winner.pk], keys[runner_up.pk]
    if a[0] != b[0]:
        return _("%(winner)s is more specific than %(other)s") % {
            "winner": _scope_label(a[0]),
            "other": _scope_label(b[0]),
        }
    if a[1] != b[1]:
        return _("its category “%(a)s” is more specific than “%(b)s”") % {
            "a": winner.category.path,
            "b": runner_up.category.path,
        }
    if a[2] != b[2]:
        return _(
            "it is for the party's customer group “%(group)s”, rule #%(other)s for everybody"
        ) % {
            "group": winner.customer_group.name,
            "other": runner_up.pk,
        }
    if a[3] != b[3]:
        return _("its minimum quantity %(a)s is the highest reached (rule #%(other)s: %(b)s)") % {
            "a": _num(winner.min_qty),
            "other": runner_up.pk,
            "b": _num(runner_up.min_qty),
        }
    if winner.sequence != runner_up.sequence:
        return _("it comes first in the list (sequence %(a)s before %(b)s)") % {
            "a": winner.sequence,
            "b": runner_up.sequence,
        }
    return _("it was created first (rule #%(a)s before #%(b)s)") % {
        "a": winner.pk,
        "b": runner_up.pk,
    }


def _price_list_for(
    *, company_id: int, party: Any, price_list: PriceList | None, steps: list[str]
) -> PriceList:
    if price_list is not None:
        if price_list.company_id != company_id:
            raise ValidationError({"price_list": [_("Choose a record of your own company.")]})
        if not price_list.active:
            raise ValidationError({"price_list": [_("This price list is archived.")]})
        steps.append(
            _("Price list “%(name)s” (%(currency)s), as asked.")
            % {"name": price_list.name, "currency": price_list.currency_id}
        )
        return price_list
    if party is not None and party.price_list_id:
        own = PriceList.unscoped.get(pk=party.price_list_id)
        if own.active:
            steps.append(
                _("Price list “%(name)s” (%(currency)s): the party's own.")
                % {"name": own.name, "currency": own.currency_id}
            )
            return own
        steps.append(_("The party's price list “%(name)s” is archived.") % {"name": own.name})
    default = default_price_list(company_id=company_id)
    if default is None:
        raise ValidationError(
            {
                "price_list": [
                    _(
                        "There is no price list to use: give the party one or mark a price list "
                        "as the company default."
                    )
                ]
            }
        )
    steps.append(
        _("Price list “%(name)s” (%(currency)s): the company default.")
        % {"name": default.name, "currency": default.currency_id}
    )
    return default


@dataclass(frozen=True)
class PriceItem:
    """One question for `prices_for`: `quantity` (in the product's sales unit) of `product`, or
    of its `variant`."""

    product: Product
    quantity: Decimal
    variant: Variant | None = None


@dataclass
class _Batch:
    """What the items of one `prices_for` call share: read once, not per item."""

    company: Company
    price_list: PriceList
    list_steps: list[str]
    group: Any
    date: dt.date
    rules: list[PriceRule]
    ancestors: dict[int, list[int]]  # category → its own and its ancestors' keys
    depth: dict[int, int]  # category → depth
    factors: dict[int, Decimal]  # product → sales unit factor, filled as they are needed
    rate: Decimal | RateNotFound | None = None  # of the list's currency on `date`

    def convert(self, amount: Decimal, currency: str) -> Decimal:
        """`amount` in the company's currency in `currency` at the rate of `date`, as
        `money_convert` computes it (the rate is read once per call). Raises RateNotFound."""
        if self.rate is None:
            try:
                self.rate = rate_on(company=self.company, currency=currency, date=self.date)
            except RateNotFound as exc:
                self.rate = exc
        if isinstance(self.rate, RateNotFound):
            raise self.rate
        return Money(amount * Decimal(1) / self.rate, currency).amount


def prices_for(
    *,
    company: Company,
    party: Any = None,
    items: Sequence[PriceItem],
    date: dt.date,
    price_list: PriceList | None = None,
    explain: bool = True,
) -> list[PriceResult | ValidationError]:
    """The answer of `price_for` for each of `items` (products of `company`), in their order:
    its `PriceResult`, or the `ValidationError` `price_for` would raise for it (returned, not
    raised, so that one bad item does not hide the others' prices). Without `explain` the
    results carry no explanation (an empty tuple), which spares writing it for every line.

    However many items: the price list is looked up once, the categories of the products and
    their ancestors in at most two queries, the candidate rules of all the items in one (and
    the customer groups they name that are not the party's in one more), and the exchange rate
    at most once."""
    results: list[PriceResult | ValidationError | None] = []
    quantities: list[Any] = []
    for item in items:
        errors: Errors = {}
        quantity = _decimal(errors, "quantity", item.quantity)
        if "quantity" not in errors and quantity <= 0:
            _add(errors, "quantity", _("The quantity must be above zero."))
        if item.product.company_id != company.pk:
            _add(errors, "product", _("Choose a record of your own company."))
        if party is not None and party.company_id != company.pk:
            _add(errors, "party", _("Choose a record of your own company."))
        if item.variant is not None and item.variant.product_id != item.product.pk:
            _add(errors, "variant", _("This variant belongs to another product."))
        results.append(ValidationError(errors) if errors else None)
        quantities.append(quantity)
    pending = [n for n, result in enumerate(results) if result is None]
    if not pending:
        return results  # type: ignore[return-value]

    list_steps: list[str] = []
    try:
        chosen_list = _price_list_for(
            company_id=company.pk, party=party, price_list=price_list, steps=list_steps
        )
    except ValidationError as exc:
        for n in pending:
            results[n] = exc
        return results  # type: ignore[return-value]

    products = {items[n].product.pk: items[n].product for n in pending}
    variants = {items[n].variant.pk: items[n].variant for n in pending if items[n].variant}
    categories: dict[int, Category] = {}
    unloaded: set[int] = set()
    for product in products.values():
        if product.category_id is None:
            continue
        if Product.category.is_cached(product):
            categories[product.category_id] = product.category
        else:
            unloaded.add(product.category_id)
    if unloaded:
        categories.update((c.pk, c) for c in Category.unscoped.filter(pk__in=unloaded))
    lineage = categories_ancestors(categories.values())
    by_pk = {c.pk: c for found in lineage.values() for c in found}

    condition = Q(product__isnull=True, variant__isnull=True, category__isnull=True)
    condition |= Q(product_id__in=list(products), variant__isnull=True)
    if variants:
        condition |= Q(variant_id__in=list(variants))
    if by_pk:
        condition |= Q(category_id__in=list(by_pk), product__isnull=True, variant__isnull=True)
    rules = list(chosen_list.rules.filter(condition).order_by("sequence", "id"))

    group = getattr(party, "customer_group", None) if party is not None else None
    if explain:
        _rules_relate(rules, group=group, products=products, variants=variants, categories=by_pk)
    batch = _Batch(
        company=company,
        price_list=chosen_list,
        list_steps=list_steps,
        group=group,
        date=date,
        rules=rules,
        ancestors={pk: [c.pk for c in found] for pk, found in lineage.items()},
        depth={pk: category_depth(c) for pk, c in by_pk.items()},
        factors={},
    )
    for n in pending:
        item = items[n]
        try:
            results[n] = _price_item(batch, item.product, item.variant, quantities[n], explain)
        except ValidationError as exc:
            results[n] = exc
    return results  # type: ignore[return-value]


def _rules_relate(
    rules: list[PriceRule],
    *,
    group: Any,
    products: dict[int, Product],
    variants: dict[int, Variant],
    categories: dict[int, Category],
) -> None:
    """Give the rules the products, variants, categories and customer groups their
    explanation names, without a query per rule."""
    groups = {group.pk: group} if group is not None else {}
    missing = {r.customer_group_id for r in rules if r.customer_group_id} - set(groups)
    if missing:
        groups.update((g.pk, g) for g in CustomerGroup.unscoped.filter(pk__in=missing))
    relations = (
        (PriceRule.product, "product_id", products),
        (PriceRule.variant, "variant_id", variants),
        (PriceRule.category, "category_id", categories),
        (PriceRule.customer_group, "customer_group_id", groups),
    )
    for rule in rules:
        for descriptor, attname, known in relations:
            key = getattr(rule, attname)
            if key is not None and key in known and not descriptor.is_cached(rule):
                descriptor.field.set_cached_value(rule, known[key])


def _applies_to(rule: PriceRule, product: Product, variant: Variant | None,
                categories: list[int]) -> bool:  # fmt: skip
    """The rule targets all products, this product, this variant or one of these categories
    (the condition of the rules query in `prices_for`, item by item)."""
    if rule.product_id is None and rule.variant_id is None:
        return rule.category_id is None or rule.category_id in categories
    if variant is not None and rule.variant_id == variant.pk:
        return True
    return rule.product_id == product.pk and rule.variant_id is None


def price_for(
    *,
    product: Product,
    party: Any = None,
    quantity: Decimal,
    date: dt.date,
    variant: Variant | None = None,
    price_list: PriceList | None = None,
) -> PriceResult:
    """The unit price of `quantity` (in the product's sales unit) of `product` (or of its
    `variant`) for `party` on `date`: from `price_list` if given, else the party's price list,
    else the company's default list. The price is in the list's currency, per sales unit, kept
    to six decimals (rounding to the currency happens on the document line). Many lines at
    once: `prices_for`.

    Raises ValidationError when the input is inconsistent (another company's party, a variant of
    another product, no price list at all, no exchange rate for the list's currency)."""
    (result,) = prices_for(
        company=product.company,
        party=party,
        items=[PriceItem(product=product, quantity=quantity, variant=variant)],
        date=date,
        price_list=price_list,
    )
    if isinstance(result, ValidationError):
        raise result
    return result


def _price_item(
    batch: _Batch, product: Product, variant: Variant | None, quantity: Decimal, explain: bool
) -> PriceResult:
    """The price of one item of a `prices_for` call, with its explanation when `explain`
    (`steps` is None otherwise: nothing is written). Raises ValidationError (no rate)."""
    steps = list(batch.list_steps) if explain else None
    chosen_list, date, group = batch.price_list, batch.date, batch.group
    currency = chosen_list.currency_id
    sales_uom = product.sales_uom or product.uom
    if steps is not None:
        steps.append(
            _("%(qty)s %(unit)s of %(item)s on %(date)s; customer group: %(group)s.")
            % {
                "qty": _num(quantity),
                "unit": sales_uom.code,
                "item": variant.sku if variant else product.sku,
                "date": date.isoformat(),
                "group": group.name if group else _("none"),
            }
        )

    lineage = batch.ancestors.get(product.category_id, []) if product.category_id else []
    depth = {pk: batch.depth[pk] for pk in lineage}
    rules = [rule for rule in batch.rules if _applies_to(rule, product, variant, lineage)]
    applicable = []
    group_id = group.pk if group else None
    for rule in rules:
        if steps is None:
            if _applies(rule, group_id=group_id, quantity=quantity, date=date):
                applicable.append(rule)
            continue
        reasons = _not_applicable(rule, group_id=group_id, quantity=quantity, date=date)
        if reasons:
            steps.append(
                _("%(rule)s — does not apply: %(reasons)s.")
                % {"rule": rule_summary(rule, currency), "reasons": "; ".join(reasons)}
            )
        else:
            steps.append(_("%(rule)s — applies.") % {"rule": rule_summary(rule, currency)})
            applicable.append(rule)
    keys = {
        rule.pk: (
            _scope(rule),
            depth.get(rule.category_id, 0) if rule.category_id else 0,
            1 if rule.customer_group_id else 0,
            rule.min_qty,
            -rule.sequence,
            -rule.pk,
        )
        for rule in applicable
    }
    applicable.sort(key=lambda r: keys[r.pk], reverse=True)
    winner = applicable[0] if applicable else None
    if steps is None:
        pass
    elif winner is None:
        if not rules:
            steps.append(_("The price list has no rule for this product."))
        steps.append(_("No rule applies, so the list price is used."))
    elif len(applicable) == 1:
        steps.append(_("Rule #%(id)s wins: it is the only one that applies.") % {"id": winner.pk})
    else:
        steps.append(
            _("Rule #%(id)s wins: %(why)s.")
            % {"id": winner.pk, "why": _why(winner, applicable[1], keys)}
        )

    factor = batch.factors.get(product.pk)
    if factor is None:
        factor = batch.factors[product.pk] = sales_unit_factor(product)
    base = batch.company.base_currency_id
    extra = variant.price_extra if variant is not None else Decimal(0)
    list_base = (product.list_price + extra) * factor
    method = winner.method if winner is not None else None
    list_price: Decimal | None
    if method in (None, PriceRule.Method.DISCOUNT):
        list_steps: list[str] | None = [] if steps is not None else None
        list_price = _in_currency(batch, list_base, base, currency, list_steps, label=None)
        if steps is not None and list_steps is not None:
            steps.append(_price_line(product, variant, factor, sales_uom.code, base))
            steps.extend(list_steps)
    else:  # the list price is only shown for comparison: no exchange rate is no obstacle
        try:
            list_price = _in_currency(batch, list_base, base, currency, None, label=None)
        except ValidationError:
            list_price = None
    if winner is None:
        assert list_price is not None
        unit = list_price
    elif winner.method == PriceRule.Method.FIXED:
        unit = winner.fixed_price or Decimal(0)
        if steps is not None:
            steps.append(
                _("Fixed price: %(price)s per %(unit)s.")
                % {"price": format_money(unit, currency), "unit": sales_uom.code}
            )
    elif winner.method == PriceRule.Method.DISCOUNT:
        assert list_price is not None
        pct = winner.discount_percent or Decimal(0)
        unit = list_price * (Decimal(100) - pct) / Decimal(100)
        if steps is not None:
            steps.append(
                _("Less %(pct)s%%: %(list)s → %(price)s.")
                % {
                    "pct": _num(pct),
                    "list": format_money(list_price, currency),
                    "price": format_money(unit, currency),
                }
            )
    else:
        pct = winner.margin_percent or Decimal(0)
        cost = _in_currency(
            batch, product.standard_cost * factor, base, currency, steps, label="cost"
        )
        unit = cost * (Decimal(100) + pct) / Decimal(100)
        if steps is not None:
            if not product.standard_cost:
                steps.append(_("Careful: the product has no standard cost yet (it is zero)."))
            steps.append(
                _("Standard cost %(cost)s per %(unit)s plus %(pct)s%% margin → %(price)s.")
                % {
                    "cost": format_money(cost, currency),
                    "unit": sales_uom.code,
                    "pct": _num(pct),
                    "price": format_money(unit, currency),
                }
            )
    unit = unit.quantize(PRICE_PLACES, rounding=ROUND_HALF_UP)
    if steps is not None:
        steps.append(
            _("Unit price: %(price)s per %(unit)s (in the price list's currency).")
            % {"price": format_money(unit, currency), "unit": sales_uom.code}
        )
    return PriceResult(
        unit_price=Money(unit, currency),
        list_price=(
            Money(list_price.quantize(PRICE_PLACES, rounding=ROUND_HALF_UP), currency)
            if list_price is not None
            else None
        ),
        price_list=chosen_list,
        rule=winner,
        explanation=tuple(steps) if steps is not None else (),
        quantity=quantity,
        date=date,
    )


def _price_line(
    product: Product, variant: Variant | None, factor: Decimal, unit: str, base: str
) -> str:
    if variant is not None and variant.price_extra:
        text = _("List price %(price)s + variant extra %(extra)s per %(stock)s") % {
            "price": format_money(product.list_price, base),
            "extra": format_money(variant.price_extra, base),
            "stock": product.uom.code,
        }
    else:
        text = _("List price %(price)s per %(stock)s") % {
            "price": format_money(product.list_price, base),
            "stock": product.uom.code,
        }
    if factor != 1:
        text += _("; 1 %(unit)s = %(factor)s %(stock)s") % {
            "unit": unit,
            "factor": _num(factor),
            "stock": product.uom.code,
        }
    return text + "."


def _in_currency(
    batch: _Batch,
    amount: Decimal,
    base: str,
    currency: str,
    steps: list[str] | None,
    *,
    label: str | None,
) -> Decimal:
    """`amount` (company currency) in the price list's currency at the rate of the date; the
    conversion is told in `steps` (unless None)."""
    if base == currency:
        return amount
    try:
        converted = batch.convert(amount, currency)
    except RateNotFound as exc:
        raise ValidationError({"date": [str(exc)]}) from exc
    if steps is None:
        return converted
    steps.append(
        _(
            "%(what)s converted from %(base)s to %(currency)s at the rate of %(date)s: %(a)s → %(b)s."
        )
        % {
            "what": _("Standard cost") if label == "cost" else _("List price"),
            "base": base,
            "currency": currency,
            "date": batch.date.isoformat(),
            "a": format_money(amount, base),
            "b": format_money(converted, currency),
        }
    )
    return converted
