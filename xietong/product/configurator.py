"""The product configurator: options of a configurable product, the rules between them, the
price and BOM a choice of options gives, and the configured item that records it.

A configurable product (`Product.is_configurable`) has option groups (choose one or choose
several; required or not), options with a price difference and BOM changes (add, remove or
replace a component), and rules between two options:

- *requires*: choosing `option` needs `other` chosen too;
- *excludes*: `option` and `other` cannot both be chosen;
- *only if*: `option` is offered only when `other` is chosen.

`configuration_check` lists what is wrong with a choice (each message names the rule and the
options); `configuration_price` is the product's price (`pricing.price_for`: the party's or the
company's price list, else the list price) plus the options' differences; `configuration_bom`
is the product's BOM with the options' changes applied and `configuration_cost` its roll-up;
`configuration_evaluate` gives all of them at once (the configurator page and the API), and
`configured_item_create` stores the result for a quotation line.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.models import Company, User
from xietong.core.money import Money
from xietong.core.selectors import RateNotFound, money_convert
from xietong.product.bom import BomError, CostRollup, bom_cost_rollup_lines, bom_effective, q6
from xietong.product.models import (
    ConfigRule,
    ConfiguredItem,
    Option,
    OptionBomChange,
    OptionGroup,
    Product,
)
from xietong.product.pricing import price_for

ZERO = Decimal(0)
ONE = Decimal(1)


@dataclass(frozen=True)
class Violation:
    """One thing wrong with a choice of options."""

    code: str  # required | one_only | unknown | requires | excludes | only_if | bom
    message: str
    rule_id: int | None = None
    option_ids: tuple[int, ...] = ()


@dataclass
class ConfigModel:
    """A configurable product's groups (with options), rules and BOM changes, loaded once."""

    product: Product
    groups: list[OptionGroup]
    rules: list[ConfigRule]
    changes: dict[int, list[OptionBomChange]]

    @cached_property
    def options(self) -> dict[int, Option]:
        return {o.pk: o for g in self.groups for o in g.options.all()}

    def label(self, option: Option) -> str:
        group = next(g for g in self.groups if g.pk == option.group_id)
        return f"“{group.name}: {option.name}”"


def configuration_model(*, product: Product) -> ConfigModel:
    """Everything the configurator needs about `product`, in four queries."""
    groups = list(
        OptionGroup.objects.filter(product=product)
        .order_by("sequence", "id")
        .prefetch_related(Prefetch("options", queryset=Option.objects.order_by("sequence", "id")))
    )
    rules = list(ConfigRule.objects.filter(product=product).order_by("id"))
    changes: dict[int, list[OptionBomChange]] = {}
    for change in (
        OptionBomChange.objects.filter(option__group__product=product)
        .select_related("component__uom", "replacement__uom")
        .order_by("id")
    ):
        changes.setdefault(change.option_id, []).append(change)
    return ConfigModel(product=product, groups=groups, rules=rules, changes=changes)


def configurable_products() -> QuerySet[Product]:
    """The active configurable products of the current company."""
    return Product.objects.filter(is_configurable=True, active=True).order_by("sku")


def configuration_defaults(*, product: Product, model: ConfigModel | None = None) -> list[int]:
    """The options marked as default (the starting point of a configuration)."""
    model = model or configuration_model(product=product)
    return [o.pk for g in model.groups for o in g.options.all() if o.is_default]


def _selected(model: ConfigModel, option_ids: list[int]) -> list[Option]:
    """The chosen options in group and option order (unknown ids left out)."""
    wanted = set(option_ids)
    return [o for g in model.groups for o in g.options.all() if o.pk in wanted]


def configuration_check(
    *, product: Product, option_ids: list[int], model: ConfigModel | None = None
) -> list[Violation]:
    """Everything wrong with choosing `option_ids` for `product`: options of another product,
    a required group without a choice, several choices in a choose-one group, and each broken
    rule (its message names the rule and both options, plus the rule's own message)."""
    model = model or configuration_model(product=product)
    options = model.options
    chosen = set(option_ids)
    violations = [
        Violation(
            "unknown",
            _("Option %(id)s is not an option of %(sku)s.") % {"id": pk, "sku": product.sku},
            option_ids=(pk,),
        )
        for pk in sorted(chosen - set(options))
    ]
    for group in model.groups:
        picked = [o for o in group.options.all() if o.pk in chosen]
        if group.required and not picked:
            violations.append(
                Violation(
                    "required", _("Choose an option for “%(group)s”.") % {"group": group.name}
                )
            )
        if not group.multiple and len(picked) > 1:
            violations.append(
                Violation(
                    "one_only",
                    _("Choose only one option for “%(group)s”.") % {"group": group.name},
                    option_ids=tuple(o.pk for o in picked),
                )
            )
    for rule in model.rules:
        option, other = options.get(rule.option_id), options.get(rule.other_id)
        if option is None or other is None:
            continue
        names = {"option": model.label(option), "other": model.label(other)}
        message = None
        if rule.kind == ConfigRule.Kind.REQUIRES and option.pk in chosen and other.pk not in chosen:
            message = _("Rule “requires”: %(option)s requires %(other)s.") % names
        elif rule.kind == ConfigRule.Kind.EXCLUDES and option.pk in chosen and other.pk in chosen:
            message = _("Rule “excludes”: %(option)s cannot be combined with %(other)s.") % names
        elif (
            rule.kind == ConfigRule.Kind.ONLY_IF and option.pk in chosen and other.pk not in chosen
        ):
            message = _("Rule “only if”: %(option)s is only available with %(other)s.") % names
        if message:
            if rule.message:
                message = f"{message} {rule.message}"
            violations.append(Violation(rule.kind, message, rule.pk, (option.pk, other.pk)))
    return violations


def configuration_hints(*, model: ConfigModel, option_ids: list[int]) -> dict[int, list[str]]:
    """For each option not chosen: the rule messages choosing it (in place of its group's
    current choice, for a choose-one group) would raise. The page shows them next to it."""
    chosen = set(option_ids)
    hints: dict[int, list[str]] = {}
    for group in model.groups:
        for option in group.options.all():
            if option.pk in chosen:
                continue
            trial = chosen | {option.pk}
            if not group.multiple:
                trial -= {o.pk for o in group.options.all() if o.pk != option.pk}
            messages = [
                v.message
                for v in configuration_check(
                    product=model.product, option_ids=list(trial), model=model
                )
                if v.rule_id is not None and option.pk in v.option_ids
            ]
            if messages:
                hints[option.pk] = messages
    return hints


# --- price ------------------------------------------------------------------------------------


@dataclass
class ConfigPrice:
    base: Decimal  # the product's unit price (per sales unit)
    currency: str
    source: str  # where the base price comes from, for people
    note: str = ""  # why, when the list price had to be used
    deltas: list[tuple[Option, Decimal]] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return self.base + sum((d for _o, d in self.deltas), ZERO)


def configuration_price(
    *,
    product: Product,
    option_ids: list[int],
    party: Any = None,
    quantity: Decimal = ONE,
    date: dt.date | None = None,
    model: ConfigModel | None = None,
) -> ConfigPrice:
    """The unit price of the configured product: the product's price from `pricing.price_for`
    (the party's price list, else the company's default list) — the list price in the
    company's currency when no price list applies — plus the chosen options' price
    differences (kept in the company's currency, converted to the price list's)."""
    model = model or configuration_model(product=product)
    date = date or timezone.localdate()
    company = product.company
    base_currency = company.base_currency_id
    try:
        result = price_for(product=product, party=party, quantity=quantity, date=date)
    except ValidationError as exc:
        price = ConfigPrice(
            base=product.list_price,
            currency=base_currency,
            source=_("List price"),
            note="; ".join(exc.messages),
        )
    else:
        price = ConfigPrice(
            base=result.unit_price.amount,
            currency=result.currency,
            source=_("Price list “%(name)s”") % {"name": result.price_list.name},
        )
    for option in _selected(model, option_ids):
        delta = option.price_delta
        if delta and price.currency != base_currency:
            try:
                delta = money_convert(
                    company=company,
                    money=Money(delta, base_currency),
                    to_currency=price.currency,
                    date=date,
                ).amount
            except RateNotFound as exc:
                raise ValidationError({"options": [str(exc)]}) from exc
        price.deltas.append((option, q6(delta)))
    return price


# --- generated BOM and cost -------------------------------------------------------------------


@dataclass
class GeneratedLine:
    component: Product
    quantity: Decimal
    uom_id: int
    uom: str
    scrap_percent: Decimal
    origin: str  # "" for the product's BOM, else the option that put the line there


@dataclass
class GeneratedBom:
    product: Product
    base_version: int | None
    quantity: Decimal
    uom_id: int
    lines: list[GeneratedLine]

    @property
    def changed(self) -> list[GeneratedLine]:
        """The lines an option added or changed."""
        return [line for line in self.lines if line.origin]

    def as_json(self) -> list[dict[str, Any]]:
        return [
            {
                "component_id": line.component.pk,
                "sku": line.component.sku,
                "name": line.component.name,
                "quantity": format(line.quantity.normalize(), "f"),
                "uom": line.uom,
                "scrap_percent": format(line.scrap_percent.normalize(), "f"),
                "origin": line.origin,
            }
            for line in self.lines
        ]


def configuration_bom(
    *,
    product: Product,
    option_ids: list[int],
    date: dt.date | None = None,
    model: ConfigModel | None = None,
) -> GeneratedBom:
    """The product's BOM effective on `date` with the chosen options' changes applied in group
    and option order: *add* appends the component (the change's quantity per unit of the
    product, default 1, in its stock unit; scaled to the BOM's quantity); *remove* drops the
    lines of the component; *replace* puts the replacement in the lines of the component (the
    change's quantity if given — per BOM quantity, like the line's — else the line's)."""
    model = model or configuration_model(product=product)
    bom = bom_effective(product=product, date=date or timezone.localdate())
    lines: list[GeneratedLine] = []
    batch = bom.quantity if bom is not None else ONE  # the lines are per BOM quantity
    if bom is not None:
        for row in bom.lines.select_related("component", "uom").order_by("sequence", "id"):
            lines.append(
                GeneratedLine(
                    row.component, row.quantity, row.uom_id, row.uom.code, row.scrap_percent, ""
                )
            )
    for option in _selected(model, option_ids):
        for change in model.changes.get(option.pk, []):
            origin = option.name
            if change.action == OptionBomChange.Action.ADD:
                component = change.component
                lines.append(
                    GeneratedLine(
                        component,
                        (change.quantity or ONE) * batch,
                        component.uom_id,
                        component.uom.code,
                        ZERO,
                        origin,
                    )
                )
            elif change.action == OptionBomChange.Action.REMOVE:
                lines = [ln for ln in lines if ln.component.pk != change.component_id]
            elif change.action == OptionBomChange.Action.REPLACE and change.replacement:
                new = change.replacement
                for ln in lines:
                    if ln.component.pk != change.component_id:
                        continue
                    if ln.uom_id != new.uom_id and not _same_category(ln.uom_id, new):
                        ln.uom_id, ln.uom = new.uom_id, new.uom.code
                    ln.component = new
                    ln.quantity = change.quantity or ln.quantity
                    ln.origin = origin
    return GeneratedBom(
        product=product,
        base_version=bom.version if bom else None,
        quantity=bom.quantity if bom else ONE,
        uom_id=bom.uom_id if bom else product.uom_id,
        lines=lines,
    )


def _same_category(uom_id: int, product: Product) -> bool:
    from xietong.core.models import UnitOfMeasure

    return (
        UnitOfMeasure.objects.filter(pk=uom_id).values_list("category_id", flat=True).first()
        == product.uom.category_id
    )


def configuration_cost(*, generated: GeneratedBom, date: dt.date | None = None) -> CostRollup:
    """The roll-up of the generated BOM (see `bom.bom_cost_rollup_lines`)."""
    return bom_cost_rollup_lines(
        product=generated.product,
        lines=[
            (line.component.pk, line.quantity, line.uom_id, line.scrap_percent)
            for line in generated.lines
        ],
        quantity=generated.quantity,
        uom_id=generated.uom_id,
        date=date,
    )


def configuration_description(*, model: ConfigModel, option_ids: list[int]) -> str:
    """ "E-bike City 500 — frame L, battery 500 Wh, rear rack": the product's name, then each
    choose-one group as "group option" and the options of choose-several groups by name."""
    chosen = set(option_ids)
    parts = []
    for group in model.groups:
        for option in group.options.all():
            if option.pk not in chosen:
                continue
            if group.multiple:
                parts.append(option.name)
            else:
                name = group.name[:1].lower() + group.name[1:]
                parts.append(f"{name} {option.name}")
    name = model.product.display_name
    return f"{name} — {', '.join(parts)}" if parts else name


@dataclass
class Evaluation:
    model: ConfigModel
    option_ids: list[int]
    violations: list[Violation]
    price: ConfigPrice
    bom: GeneratedBom
    cost: CostRollup | None
    description: str
    hints: dict[int, list[str]]

    @property
    def valid(self) -> bool:
        return not self.violations


def configuration_evaluate(
    *,
    product: Product,
    option_ids: list[int],
    party: Any = None,
    quantity: Decimal = ONE,
    date: dt.date | None = None,
) -> Evaluation:
    """Check, price, generate the BOM of and cost a choice of options, all at once."""
    date = date or timezone.localdate()
    model = configuration_model(product=product)
    option_ids = list(dict.fromkeys(option_ids))
    violations = configuration_check(product=product, option_ids=option_ids, model=model)
    known = [pk for pk in option_ids if pk in model.options]
    price = configuration_price(
        product=product, option_ids=known, party=party, quantity=quantity, date=date, model=model
    )
    generated = configuration_bom(product=product, option_ids=known, date=date, model=model)
    cost = None
    try:
        cost = configuration_cost(generated=generated, date=date)
    except BomError as exc:
        violations.append(Violation("bom", str(exc)))
    return Evaluation(
        model=model,
        option_ids=known,
        violations=violations,
        price=price,
        bom=generated,
        cost=cost,
        description=configuration_description(model=model, option_ids=known),
        hints=configuration_hints(model=model, option_ids=known),
    )


@audited
def configured_item_create(
    *,
    company: Company,
    actor: User | None,
    product: Product,
    option_ids: list[int],
    party: Any = None,
    quantity: Decimal = ONE,
    date: dt.date | None = None,
) -> ConfiguredItem:
    """Store a configuration of `product`: its options, unit price (in the price list's
    currency), unit cost (the generated BOM's roll-up, company currency), the generated BOM and
    a description. Refuses (ValidationError, nothing written) a product of another company or
    one that is not configurable, another company's party, and any violated rule or group
    (field `options`, one message per problem)."""
    if product.company_id != company.pk:
        raise ValidationError({"product": [_("Choose a product of this company.")]})
    if not product.is_configurable:
        raise ValidationError(
            {"product": [_("%(sku)s is not a configurable product.") % {"sku": product.sku}]}
        )
    if party is not None and party.company_id != company.pk:
        raise ValidationError({"party": [_("Choose a record of your own company.")]})
    if not isinstance(option_ids, list | tuple) or any(
        not isinstance(pk, int) or isinstance(pk, bool) for pk in option_ids
    ):
        raise ValidationError({"options": [_("Send the chosen options as a list of ids.")]})
    evaluation = configuration_evaluate(
        product=product, option_ids=list(option_ids), party=party, quantity=quantity, date=date
    )
    if evaluation.violations:
        raise ValidationError({"options": [v.message for v in evaluation.violations]})
    assert evaluation.cost is not None
    item = ConfiguredItem(
        company=company,
        product=product,
        description=evaluation.description,
        currency_id=evaluation.price.currency,
        price=q6(evaluation.price.total),
        cost=q6(evaluation.cost.total),
        bom=evaluation.bom.as_json(),
        created_by=actor,
    )
    with transaction.atomic():
        item.save()
        item.options.set(evaluation.option_ids)
    return item


def configured_items() -> QuerySet[ConfiguredItem]:
    """The current company's configured items, newest first."""
    return ConfiguredItem.objects.select_related("product", "created_by").order_by(
        "-created_at", "-pk"
    )
