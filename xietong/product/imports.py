"""Import and export of the catalogue: products, variants and price lists (with their rules).

Each table is an `ImportSpec` of `xietong.core.imports`: every row is checked against lookups
loaded once per file (no query per row), and only when every row is good is everything written,
in bulk, in one transaction, with audit entries for what changed. Exporting and importing the
export again changes nothing (the tests check it), so a spreadsheet round trip is safe.

- Products are keyed by SKU: a known SKU is updated, a new one created; columns left out of
  the file keep their stored values. Categories are given as
  their path ("Bikes / E-bikes") and created when missing. A changed standard cost is recorded
  in the cost history, as `product_cost_set` does.
- Variants are keyed by SKU and name their attribute values ("Colour: RED; Size: M"); the
  values of an existing variant are its identity and cannot change.
- Price lists: one row per rule; a list named in the file gets exactly the file's rules (a row
  without a method is a list without rules). Lists not in the file are left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Model, Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from xietong.core import imports
from xietong.core.audit import audit_bulk
from xietong.core.imports import Cells, Column, RowError
from xietong.core.models import AuditEntry, Company, Currency, UnitOfMeasure, User
from xietong.party.models import CustomerGroup
from xietong.product import services
from xietong.product.models import (
    AttributeValue,
    Bom,
    BomLine,
    Category,
    CostRecord,
    PriceList,
    PriceRule,
    Product,
    Variant,
)
from xietong.product.pricing import METHOD_FIELD, RULE_FIELDS
from xietong.product.selectors import CATEGORY_SEPARATOR

BATCH = 1000
METHOD_FIELDS = {str(method): field for method, field in METHOD_FIELD.items()}
CHUNK = 500  # ids per IN (…): well under SQLite's and PostgreSQL's parameter limits


def _chunks(items: list[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _first_errors(errors: dict[str, list[str]]) -> dict[str, str]:
    return {field: messages[0] for field, messages in errors.items()}


def _units() -> dict[str, UnitOfMeasure]:
    return {u.code.lower(): u for u in UnitOfMeasure.objects.select_related("category")}


def _categories(company: Company) -> dict[str, int]:
    return {
        path.lower(): pk
        for pk, path in Category.unscoped.filter(company=company).values_list("pk", "path")
    }


def _category_path_check(cells: Cells, path: str) -> str:
    """A category path as "A / B / C" with clean names (missing categories are created)."""
    names = [name.strip() for name in path.split(CATEGORY_SEPARATOR.strip())]
    if any(not name for name in names):
        cells.error("category", _("a category path is names separated by “ / ”"))
    max_length = Category._meta.get_field("path").max_length
    clean = CATEGORY_SEPARATOR.join(names)
    if len(clean) > max_length:
        cells.error("category", _("the category path is too long"))
    return clean


def _categories_ensure(
    company: Company, paths: Iterable[str], actor: User | None
) -> dict[str, int]:
    """Primary keys of the categories at `paths`, creating the missing ones (parents first)."""
    known = _categories(company)
    wanted: set[str] = set()
    for path in paths:
        names = path.split(CATEGORY_SEPARATOR)
        for depth in range(1, len(names) + 1):
            wanted.add(CATEGORY_SEPARATOR.join(names[:depth]))
    missing = [p for p in wanted if p.lower() not in known]
    created: list[tuple[Model | None, Model]] = []
    for depth in sorted({p.count(CATEGORY_SEPARATOR) for p in missing}):
        level = []  # a parent is one level up, so it exists before its children
        for path in sorted(p for p in missing if p.count(CATEGORY_SEPARATOR) == depth):
            names = path.split(CATEGORY_SEPARATOR)
            parent = CATEGORY_SEPARATOR.join(names[:-1]).lower()
            level.append(
                Category(
                    company=company,
                    name=names[-1],
                    parent_id=known[parent] if depth else None,
                    path=path,
                )
            )
        Category.unscoped.bulk_create(level, batch_size=BATCH)
        for category in level:
            known[category.path.lower()] = category.pk
            created.append((None, category))
    audit_bulk(created, actor=actor)
    return known


# --- products ---------------------------------------------------------------------------------

PRODUCT_COLUMNS = [
    Column("sku", gettext_lazy("SKU"), required=True),
    Column("name", gettext_lazy("Name"), required=True),
    Column("name_zh_hans", gettext_lazy("Name in Simplified Chinese")),
    Column("name_zh_hant", gettext_lazy("Name in Traditional Chinese")),
    Column("description", gettext_lazy("Description")),
    Column("description_zh_hans", gettext_lazy("Description in Simplified Chinese")),
    Column("description_zh_hant", gettext_lazy("Description in Traditional Chinese")),
    Column("category", gettext_lazy("Category"), help=gettext_lazy("path, e.g. Bikes / E-bikes")),
    Column("type", gettext_lazy("Type"), help=gettext_lazy("stockable, consumable or service")),
    Column("uom", gettext_lazy("Stock unit"), required=True, help=gettext_lazy("unit code")),
    Column("purchase_uom", gettext_lazy("Purchase unit")),
    Column("sales_uom", gettext_lazy("Sales unit")),
    Column("barcode", gettext_lazy("Barcode")),
    Column("weight_kg", gettext_lazy("Weight (kg)")),
    Column("volume_m3", gettext_lazy("Volume (m³)")),
    Column("tracking", gettext_lazy("Tracking"), help=gettext_lazy("none, lot or serial")),
    Column("supply", gettext_lazy("Make or buy"), help=gettext_lazy("buy or make")),
    Column("purchase_lead_days", gettext_lazy("Purchase lead time (days)")),
    Column("manufacturing_lead_days", gettext_lazy("Manufacturing lead time (days)")),
    Column("safety_stock", gettext_lazy("Safety stock")),
    Column("min_qty", gettext_lazy("Minimum stock")),
    Column("max_qty", gettext_lazy("Maximum stock")),
    Column(
        "lot_sizing",
        gettext_lazy("Lot sizing"),
        help=gettext_lazy("lot_for_lot, fixed, eoq, periods or min_max"),
    ),
    Column("lot_size", gettext_lazy("Lot size")),
    Column("lot_multiple", gettext_lazy("Order multiple")),
    Column("list_price", gettext_lazy("List price")),
    Column("standard_cost", gettext_lazy("Standard cost")),
    Column("active", gettext_lazy("Active"), help=gettext_lazy("1 or 0")),
]
TRANSLATED = {"name_zh_hans": "zh-hans", "name_zh_hant": "zh-hant"}
DESCRIBED = {"description_zh_hans": "zh-hans", "description_zh_hant": "zh-hant"}
PRODUCT_DECIMALS = (*services.OPTIONAL_DECIMAL_FIELDS, *services.DECIMAL_FIELDS)
# What an import writes: the editable fields (the configurator flag and the invoicing policy are
# set on the product's screen) and the standard cost, which the import records in the cost history.
NOT_IMPORTED = {"sku", "is_configurable", "invoice_policy"}
SAVED_FIELDS = sorted(services.PRODUCT_FIELDS - NOT_IMPORTED) + ["standard_cost"]


class ProductImport(imports.ImportSpec):
    key = "products"
    title = gettext_lazy("Products")
    permission = "product.import"
    columns = PRODUCT_COLUMNS

    def begin(self, company: Company) -> dict[str, Any]:
        products = Product.unscoped.filter(company=company)
        existing = {
            sku.lower(): (pk, sku, uom_id, barcode)
            for pk, sku, uom_id, barcode in products.values_list("pk", "sku", "uom_id", "barcode")
        }
        barcodes = {code: sku for sku, (_pk, sku, _u, code) in existing.items() if code}
        variants = Variant.unscoped.filter(company=company).values_list("sku", "barcode")
        variant_skus = set()
        for sku, code in variants:
            variant_skus.add(sku.lower())
            if code:
                barcodes[code] = sku
        in_boms = set(
            BomLine.objects.filter(bom__company=company).values_list("component_id", flat=True)
        ) | set(Bom.unscoped.filter(company=company).values_list("product_id", flat=True))
        return {
            "company": company,
            "units": _units(),
            "existing": existing,
            "variant_skus": variant_skus,
            "barcodes": barcodes,
            "file_barcodes": {},
            "in_boms": in_boms,
        }

    def clean_row(self, state: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
        cells = Cells(values)
        units = state["units"]
        sku = cells.text("sku", required=True)
        found = state["existing"].get(sku.lower())
        if sku.lower() in state["variant_skus"]:
            cells.error("sku", _("a variant already has the SKU “%(sku)s”") % {"sku": sku})
        elif found and found[1] != sku:
            cells.error("sku", _("write the SKU as it is stored: “%(sku)s”") % {"sku": found[1]})
        category = values.get("category", "").strip()
        if category:
            category = _category_path_check(cells, category)
        uom = cells.lookup("uom", units, label=_("unit"), required=True)
        fields: dict[str, Any] = {
            "company_id": state["company"].pk,
            "sku": sku,
            "name": cells.text("name", required=True),
            "description": cells.text("description"),
            "name_i18n": {c: v for n, c in TRANSLATED.items() if (v := cells.text(n))},
            "description_i18n": {c: v for n, c in DESCRIBED.items() if (v := cells.text(n))},
            "type": cells.choice("type", Product.Type, default=Product.Type.STOCKABLE),
            "uom": uom,
            "purchase_uom": cells.lookup("purchase_uom", units, label=_("unit")),
            "sales_uom": cells.lookup("sales_uom", units, label=_("unit")),
            "barcode": cells.text("barcode"),
            "tracking": cells.choice("tracking", Product.Tracking, default=Product.Tracking.NONE),
            "supply": cells.choice("supply", Product.Supply, default=Product.Supply.BUY),
            "purchase_lead_days": cells.integer("purchase_lead_days"),
            "manufacturing_lead_days": cells.integer("manufacturing_lead_days"),
            "lot_sizing": cells.choice(
                "lot_sizing", Product.LotSizing, default=Product.LotSizing.LOT_FOR_LOT
            ),
            "active": cells.boolean("active", default=True),
        }
        for name in PRODUCT_DECIMALS:
            optional = name in services.OPTIONAL_DECIMAL_FIELDS
            fields[name] = cells.decimal(name, default=None if optional else Decimal(0))
        standard_cost = cells.decimal("standard_cost")
        cells.done()
        if found and not set(COLUMN_NAMES) <= set(values):
            category, standard_cost = _keep_stored(
                fields, values, found[0], category, standard_cost
            )

        product = Product(**fields)
        before = Product(uom_id=found[2]) if found else None
        errors: dict[str, list[str]] = {}
        services.product_validate(product, errors, before=before, in_bulk=True)
        if found and found[2] != uom.pk and found[0] in state["in_boms"]:
            old = next(u for u in units.values() if u.pk == found[2])
            if old.category_id != uom.category_id:
                errors.setdefault("uom", []).append(
                    _(
                        "Bills of materials count this product in %(unit)s; the stock unit can "
                        "only change to a unit of the same kind."
                    )
                    % {"unit": old.code}
                )
        if product.barcode and "barcode" not in errors:
            owner = state["barcodes"].get(product.barcode)
            twin = state["file_barcodes"].get(product.barcode)
            if owner and owner.lower() != sku.lower():
                errors["barcode"] = [_("%(sku)s already has this barcode.") % {"sku": owner}]
            elif twin and twin.lower() != sku.lower():
                errors["barcode"] = [_("%(sku)s already has this barcode.") % {"sku": twin}]
            else:
                state["file_barcodes"][product.barcode] = sku
        if errors:
            columns = {"name_i18n": "name_zh_hans", "description_i18n": "description_zh_hans"}
            raise RowError({columns.get(f, f): m for f, m in _first_errors(errors).items()})
        return {
            "pk": found[0] if found else None,
            "product": product,
            "category": category,
            "standard_cost": standard_cost,
        }

    def row_key(self, row: dict[str, Any]) -> str:
        return row["product"].sku.lower()

    def save(
        self,
        state: dict[str, Any],
        rows: list[dict[str, Any]],
        *,
        company: Company,
        actor: User | None,
        progress: Callable[[int], None],
    ) -> dict[str, int]:
        categories = _categories_ensure(
            company, {r["category"] for r in rows if r["category"]}, actor
        )
        for row in rows:
            product = row["product"]
            product.category_id = categories[row["category"].lower()] if row["category"] else None
            product.standard_cost = row["standard_cost"]
        new = [row["product"] for row in rows if row["pk"] is None]
        Product.unscoped.bulk_create(new, batch_size=BATCH)
        pairs: list[tuple[Model | None, Model]] = [(None, p) for p in new]
        costs = [p for p in new if p.standard_cost]
        changed_cost: list[Product] = []
        updates = [row for row in rows if row["pk"] is not None]
        changed: list[Product] = []
        for index, chunk in enumerate(_chunks(updates), start=1):
            current = Product.unscoped.in_bulk([row["pk"] for row in chunk])
            for row in chunk:
                before, draft = current[row["pk"]], row["product"]
                draft.pk = before.pk
                draft.average_cost = before.average_cost
                draft.low_level_code = before.low_level_code
                draft.is_configurable = before.is_configurable
                if any(_value(before, f) != _value(draft, f) for f in SAVED_FIELDS):
                    changed.append(draft)
                    pairs.append((before, draft))
                    if before.standard_cost != draft.standard_cost:
                        changed_cost.append(draft)
            progress(index * CHUNK)
        for chunk in _chunks(changed, BATCH):
            Product.unscoped.bulk_update(chunk, SAVED_FIELDS)
        today = timezone.localdate()
        CostRecord.unscoped.bulk_create(
            [
                CostRecord(
                    company=company,
                    product=product,
                    kind=CostRecord.Kind.STANDARD,
                    date=today,
                    cost=product.standard_cost,
                    reason=_("Imported"),
                )
                for product in [*costs, *changed_cost]
            ],
            batch_size=BATCH,
        )
        audit_bulk(pairs, actor=actor)
        return {"created": len(new), "updated": len(changed)}

    def export(self, company: Company) -> Iterator[dict[str, Any]]:
        units = {u.pk: u.code for u in UnitOfMeasure.objects.all()}
        paths = dict(Category.unscoped.filter(company=company).values_list("pk", "path"))
        products = Product.unscoped.filter(company=company).order_by("sku")
        for product in products.iterator(chunk_size=2000):
            yield {
                "sku": product.sku,
                "name": product.name,
                "name_zh_hans": product.name_i18n.get("zh-hans", ""),
                "name_zh_hant": product.name_i18n.get("zh-hant", ""),
                "description": product.description,
                "description_zh_hans": product.description_i18n.get("zh-hans", ""),
                "description_zh_hant": product.description_i18n.get("zh-hant", ""),
                "category": paths.get(product.category_id, ""),
                "type": product.type,
                "uom": units[product.uom_id],
                "purchase_uom": units.get(product.purchase_uom_id, ""),
                "sales_uom": units.get(product.sales_uom_id, ""),
                "barcode": product.barcode,
                "weight_kg": product.weight_kg,
                "volume_m3": product.volume_m3,
                "tracking": product.tracking,
                "supply": product.supply,
                "purchase_lead_days": product.purchase_lead_days,
                "manufacturing_lead_days": product.manufacturing_lead_days,
                "safety_stock": product.safety_stock,
                "min_qty": product.min_qty,
                "max_qty": product.max_qty,
                "lot_sizing": product.lot_sizing,
                "lot_size": product.lot_size,
                "lot_multiple": product.lot_multiple,
                "list_price": product.list_price,
                "standard_cost": product.standard_cost,
                "active": product.active,
            }


COLUMN_NAMES = [c.name for c in PRODUCT_COLUMNS]


def _keep_stored(
    fields: dict[str, Any],
    values: dict[str, str],
    pk: int,
    category: str,
    standard_cost: Decimal | None,
) -> tuple[str, Decimal | None]:
    """Columns missing from the file keep the product's stored values (an update with a few
    columns changes only those). One query per such row: only partial files pay for it."""
    stored = Product.unscoped.select_related(
        "category", "purchase_uom__category", "sales_uom__category"
    ).get(pk=pk)
    for column in COLUMN_NAMES:
        if column in values:
            continue
        if column in TRANSLATED or column in DESCRIBED:
            field, code = (
                ("name_i18n", TRANSLATED[column])
                if column in TRANSLATED
                else ("description_i18n", DESCRIBED[column])
            )
            text = getattr(stored, field).get(code, "")
            if text:
                fields[field][code] = text
        elif column == "category":
            category = stored.category.path if stored.category else ""
        elif column == "standard_cost":
            standard_cost = stored.standard_cost
        else:
            fields[column] = getattr(stored, column)
    return category, standard_cost


def _value(obj: Model, field: str) -> Any:
    """A field's stored value for comparison (links by id, decimals by value)."""
    meta_field = obj._meta.get_field(field)
    value = getattr(obj, meta_field.attname)
    if field in ("name_i18n", "description_i18n"):
        return {k: v for k, v in (value or {}).items() if v}
    return value


# --- variants ---------------------------------------------------------------------------------


def _values_text(values: Iterable[AttributeValue]) -> str:
    """ "Colour: RED; Size: M" — attribute name and value code, in attribute-name order."""
    return "; ".join(
        f"{v.attribute.name}: {v.code}" for v in sorted(values, key=lambda v: v.attribute.name)
    )


class VariantImport(imports.ImportSpec):
    key = "variants"
    title = gettext_lazy("Product variants")
    permission = "product.import"
    columns = [
        Column("product", gettext_lazy("Product SKU"), required=True),
        Column("sku", gettext_lazy("Variant SKU"), required=True),
        Column(
            "attributes",
            gettext_lazy("Attribute values"),
            required=True,
            help=gettext_lazy("e.g. Colour: RED; Size: M (attribute name: value code)"),
        ),
        Column("barcode", gettext_lazy("Barcode")),
        Column("price_extra", gettext_lazy("Price extra")),
        Column("active", gettext_lazy("Active"), help=gettext_lazy("1 or 0")),
    ]

    def begin(self, company: Company) -> dict[str, Any]:
        products = {
            sku.lower(): (pk, sku)
            for pk, sku in Product.unscoped.filter(company=company).values_list("pk", "sku")
        }
        values = {}
        for value in AttributeValue.objects.filter(attribute__company=company).select_related(
            "attribute"
        ):
            values[(value.attribute.name.lower(), value.code.lower())] = value
        variants = {}
        combinations: dict[tuple[int, frozenset[int]], str] = {}
        barcodes = dict(
            Product.unscoped.filter(company=company)
            .exclude(barcode="")
            .values_list("barcode", "sku")
        )
        through = Variant.values.through
        by_variant: dict[int, set[int]] = {}
        for variant_id, value_id in through.objects.filter(variant__company=company).values_list(
            "variant_id", "attributevalue_id"
        ):
            by_variant.setdefault(variant_id, set()).add(value_id)
        for pk, sku, product_id, barcode in Variant.unscoped.filter(company=company).values_list(
            "pk", "sku", "product_id", "barcode"
        ):
            combination = frozenset(by_variant.get(pk, ()))
            variants[sku.lower()] = (pk, sku, product_id, combination)
            combinations[(product_id, combination)] = sku
            if barcode:
                barcodes[barcode] = sku
        return {
            "company": company,
            "products": products,
            "values": values,
            "variants": variants,
            "combinations": combinations,
            "barcodes": barcodes,
            "file_barcodes": {},
            "file_combinations": {},
        }

    def clean_row(self, state: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
        cells = Cells(values)
        product = cells.lookup("product", state["products"], label=_("product"), required=True)
        sku = cells.text("sku", required=True, max_length=Variant._meta.get_field("sku").max_length)
        errors: dict[str, list[str]] = {}
        if sku and services.sku_shape_check(errors, sku):
            if sku.lower() in state["products"]:
                cells.error("sku", _("a product already has the SKU “%(sku)s”") % {"sku": sku})
        elif errors:
            cells.error("sku", errors["sku"][0])
        chosen = self._values(cells, state, cells.text("attributes", required=True))
        barcode = cells.text("barcode")
        problem = services.barcode_validate(barcode)
        if problem:
            cells.error("barcode", problem)
        price_extra = cells.decimal("price_extra", minimum=None)
        active = cells.boolean("active", default=True)
        cells.done()

        found = state["variants"].get(sku.lower())
        combination = frozenset(v.pk for v in chosen)
        product_id = product[0]
        if found:
            if found[1] != sku:
                cells.error(
                    "sku", _("write the SKU as it is stored: “%(sku)s”") % {"sku": found[1]}
                )
            if found[2] != product_id:
                cells.error("product", _("this variant belongs to another product"))
            elif found[3] != combination:
                cells.error(
                    "attributes",
                    _("the attribute values of a variant cannot change; add a new variant"),
                )
        else:
            twin = state["combinations"].get((product_id, combination)) or state[
                "file_combinations"
            ].get((product_id, combination))
            if twin:
                cells.error(
                    "attributes",
                    _("%(sku)s already has these attribute values") % {"sku": twin},
                )
            else:
                state["file_combinations"][(product_id, combination)] = sku
        if barcode:
            owner = state["barcodes"].get(barcode) or state["file_barcodes"].get(barcode)
            if owner and owner.lower() != sku.lower():
                cells.error("barcode", _("%(sku)s already has this barcode.") % {"sku": owner})
            else:
                state["file_barcodes"][barcode] = sku
        if found and not {"barcode", "price_extra", "active"} <= set(values):
            stored = Variant.unscoped.get(pk=found[0])
            barcode = barcode if "barcode" in values else stored.barcode
            price_extra = price_extra if "price_extra" in values else stored.price_extra
            active = active if "active" in values else stored.active
        variant = Variant(
            company_id=state["company"].pk,
            product_id=product_id,
            sku=sku,
            barcode=barcode,
            price_extra=price_extra,
            active=active,
        )
        try:
            variant.full_clean(exclude=["company", "product"], validate_unique=False)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                cells.error(field, messages[0])
        cells.done()
        return {"pk": found[0] if found else None, "variant": variant, "values": chosen}

    def _values(self, cells: Cells, state: dict[str, Any], text: str) -> list[AttributeValue]:
        chosen: list[AttributeValue] = []
        attributes: set[int] = set()
        for part in filter(None, (p.strip() for p in text.split(";"))):
            name, colon, code = part.partition(":")
            value = state["values"].get((name.strip().lower(), code.strip().lower()))
            if not colon or value is None:
                cells.error(
                    "attributes",
                    _("unknown attribute value “%(value)s” (write Attribute: CODE)")
                    % {"value": part},
                )
            elif value.attribute_id in attributes:
                cells.error(
                    "attributes",
                    _("%(attribute)s is given twice") % {"attribute": value.attribute.name},
                )
            else:
                attributes.add(value.attribute_id)
                chosen.append(value)
        return chosen

    def row_key(self, row: dict[str, Any]) -> str:
        return row["variant"].sku.lower()

    def save(
        self,
        state: dict[str, Any],
        rows: list[dict[str, Any]],
        *,
        company: Company,
        actor: User | None,
        progress: Callable[[int], None],
    ) -> dict[str, int]:
        fields = ["barcode", "price_extra", "active"]
        new_rows = [row for row in rows if row["pk"] is None]
        Variant.unscoped.bulk_create([row["variant"] for row in new_rows], batch_size=BATCH)
        through = Variant.values.through
        through.objects.bulk_create(
            [
                through(variant_id=row["variant"].pk, attributevalue_id=value.pk)
                for row in new_rows
                for value in row["values"]
            ],
            batch_size=BATCH,
        )
        pairs: list[tuple[Model | None, Model]] = [(None, row["variant"]) for row in new_rows]
        changed = []
        for chunk in _chunks([row for row in rows if row["pk"] is not None]):
            current = Variant.unscoped.in_bulk([row["pk"] for row in chunk])
            for row in chunk:
                before, draft = current[row["pk"]], row["variant"]
                draft.pk = before.pk
                if any(getattr(before, f) != getattr(draft, f) for f in fields):
                    changed.append(draft)
                    pairs.append((before, draft))
        Variant.unscoped.bulk_update(changed, fields, batch_size=BATCH)
        audit_bulk(pairs, actor=actor)
        progress(len(rows))
        return {"created": len(new_rows), "updated": len(changed)}

    def export(self, company: Company) -> Iterator[dict[str, Any]]:
        variants = (
            Variant.unscoped.filter(company=company)
            .select_related("product")
            .prefetch_related("values__attribute")
            .order_by("product__sku", "sku")
        )
        for variant in variants:
            yield {
                "product": variant.product.sku,
                "sku": variant.sku,
                "attributes": _values_text(variant.values.all()),
                "barcode": variant.barcode,
                "price_extra": variant.price_extra,
                "active": variant.active,
            }


# --- price lists ------------------------------------------------------------------------------


def _rule_signature(rule: PriceRule) -> tuple[Any, ...]:
    return (
        rule.sequence,
        rule.product_id,
        rule.variant_id,
        rule.category_id,
        rule.customer_group_id,
        rule.min_qty,
        rule.date_from,
        rule.date_to,
        rule.method,
        rule.fixed_price,
        rule.discount_percent,
        rule.margin_percent,
    )


class PriceListImport(imports.ImportSpec):
    key = "price-lists"
    title = gettext_lazy("Price lists")
    permission = "product.import"
    columns = [
        Column("price_list", gettext_lazy("Price list"), required=True),
        Column("currency", gettext_lazy("Currency"), help=gettext_lazy("ISO 4217 code")),
        Column("is_default", gettext_lazy("Default list"), help=gettext_lazy("1 or 0")),
        Column("active", gettext_lazy("Active"), help=gettext_lazy("1 or 0")),
        Column("sequence", gettext_lazy("Sequence")),
        Column("product", gettext_lazy("Product SKU")),
        Column("variant", gettext_lazy("Variant SKU")),
        Column("category", gettext_lazy("Category path")),
        Column("customer_group", gettext_lazy("Customer group code")),
        Column("min_qty", gettext_lazy("Minimum quantity")),
        Column("date_from", gettext_lazy("Valid from"), help=gettext_lazy("YYYY-MM-DD")),
        Column("date_to", gettext_lazy("Valid until"), help=gettext_lazy("YYYY-MM-DD")),
        Column(
            "method",
            gettext_lazy("Method"),
            help=gettext_lazy("fixed, discount or cost_plus; empty for a list without rules"),
        ),
        Column("fixed_price", gettext_lazy("Fixed price")),
        Column("discount_percent", gettext_lazy("Discount (%)")),
        Column("margin_percent", gettext_lazy("Margin (%)")),
    ]

    def begin(self, company: Company) -> dict[str, Any]:
        return {
            "company": company,
            "lists": {pl.name.lower(): pl for pl in PriceList.unscoped.filter(company=company)},
            "currencies": set(Currency.objects.filter(active=True).values_list("code", flat=True)),
            "products": {
                sku.lower(): pk
                for pk, sku in Product.unscoped.filter(company=company).values_list("pk", "sku")
            },
            "variants": {
                sku.lower(): (pk, product_id)
                for pk, sku, product_id in Variant.unscoped.filter(company=company).values_list(
                    "pk", "sku", "product_id"
                )
            },
            "categories": _categories(company),
            "groups": {
                code.lower(): pk
                for pk, code in CustomerGroup.unscoped.filter(company=company).values_list(
                    "pk", "code"
                )
            },
            "headers": {},
            "rule_keys": {},
        }

    def clean_row(self, state: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
        cells = Cells(values)
        company = state["company"]
        name = cells.text("price_list", required=True, max_length=80)
        existing = state["lists"].get(name.lower())
        currency = (values.get("currency", "").strip().upper()) or (
            existing.currency_id if existing else company.base_currency_id
        )
        if currency not in state["currencies"]:
            cells.error("currency", _("“%(code)s” is not an active currency") % {"code": currency})
        header = (
            currency,
            cells.boolean("is_default", default=existing.is_default if existing else False),
            cells.boolean("active", default=existing.active if existing else True),
        )
        if header[1] and not header[2]:
            cells.error("is_default", _("an archived price list cannot be the default"))
        first = state["headers"].setdefault(name.lower(), (header, values.get("_line")))
        default = state.setdefault("default", name.lower()) if header[1] else None
        if default and default != name.lower():
            cells.error(
                "is_default",
                _("only one price list can be the default; the file also marks another one"),
            )
        if first[0] != header:
            cells.error(
                "price_list",
                _("currency, default and active must be the same on every row of a price list"),
            )
        method = values.get("method", "").strip()
        rule = None
        if method:
            rule = self._rule(cells, state, values)
        elif any(values.get(c, "").strip() for c in RULE_FIELDS):
            cells.error("method", _("a rule needs a method (fixed, discount or cost_plus)"))
        cells.done()
        return {"name": name, "header": header, "rule": rule}

    def _rule(self, cells: Cells, state: dict[str, Any], values: dict[str, str]) -> PriceRule:
        method = cells.choice("method", PriceRule.Method)
        variant = cells.lookup("variant", state["variants"], label=_("variant"))
        product_id = cells.lookup("product", state["products"], label=_("product"))
        if variant is not None:
            if product_id is not None and product_id != variant[1]:
                cells.error("variant", _("this variant belongs to another product"))
            product_id = variant[1]
        category = values.get("category", "").strip()
        category_id = None
        if category:
            path = CATEGORY_SEPARATOR.join(n.strip() for n in category.split("/"))
            category_id = state["categories"].get(path.lower())
            if category_id is None:
                cells.error("category", _("unknown category “%(path)s”") % {"path": category})
            elif product_id is not None:
                cells.error("category", _("a rule targets a product or a category, not both"))
        rule = PriceRule(
            sequence=cells.integer("sequence", default=10, maximum=2_147_483_647),
            product_id=product_id,
            variant_id=variant[0] if variant else None,
            category_id=category_id,
            customer_group_id=cells.lookup(
                "customer_group", state["groups"], label=_("customer group")
            ),
            min_qty=cells.decimal("min_qty"),
            date_from=cells.date("date_from"),
            date_to=cells.date("date_to"),
            method=method,
        )
        for field in METHOD_FIELDS.values():
            setattr(rule, field, cells.decimal(field, default=None, minimum=None))
        if rule.date_from and rule.date_to and rule.date_from > rule.date_to:
            cells.error("date_to", _("the end of validity cannot be before its start"))
        wanted = METHOD_FIELDS.get(method)
        if wanted:
            if getattr(rule, wanted) is None:
                cells.error(wanted, _("this method needs a value here"))
            for field in METHOD_FIELDS.values():
                if field != wanted and getattr(rule, field) is not None:
                    cells.error(field, _("leave empty: the rule's method does not use it"))
        try:
            rule.full_clean(
                exclude=["price_list", "product", "variant", "category", "customer_group"],
                validate_unique=False,
                validate_constraints=False,
            )
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                cells.error(field, messages[0])
        return rule

    def save(
        self,
        state: dict[str, Any],
        rows: list[dict[str, Any]],
        *,
        company: Company,
        actor: User | None,
        progress: Callable[[int], None],
    ) -> dict[str, int]:
        by_list: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_list.setdefault(row["name"].lower(), []).append(row)
        defaults = [rows[0]["name"] for rows in by_list.values() if rows[0]["header"][1]]
        if defaults:
            PriceList.unscoped.filter(company=company, is_default=True).exclude(
                name__iexact=defaults[0]
            ).update(is_default=False)
        created = updated = 0
        pairs: list[tuple[Model | None, Model]] = []
        for key, list_rows in by_list.items():
            currency, is_default, active = list_rows[0]["header"]
            price_list = state["lists"].get(key)
            before = None
            if price_list is None:
                price_list = PriceList.unscoped.create(
                    company=company,
                    name=list_rows[0]["name"],
                    currency_id=currency,
                    is_default=is_default,
                    active=active,
                )
                created += 1
                pairs.append((None, price_list))
            else:
                before = PriceList.unscoped.get(pk=price_list.pk)
                price_list.currency_id, price_list.is_default, price_list.active = (
                    currency,
                    is_default,
                    active,
                )
            rules = [row["rule"] for row in list_rows if row["rule"] is not None]
            old = list(price_list.rules.order_by("sequence", "pk"))
            same_rules = sorted(map(_rule_signature, old), key=repr) == sorted(
                map(_rule_signature, rules), key=repr
            )
            header_changed = before is not None and (
                before.currency_id,
                before.is_default,
                before.active,
            ) != (currency, is_default, active)
            if header_changed:
                price_list.save(update_fields=["currency", "is_default", "active"])
                pairs.append((before, price_list))
            if not same_rules:
                price_list.rules.all().delete()
                for rule in rules:
                    rule.price_list = price_list
                PriceRule.objects.bulk_create(rules, batch_size=BATCH)
                if before is not None:
                    AuditEntry.objects.log_create(
                        price_list,
                        action=AuditEntry.Action.UPDATE,
                        changes={
                            "rules": [
                                _("%(count)d rule(s)") % {"count": len(old)},
                                _("%(count)d rule(s), imported") % {"count": len(rules)},
                            ]
                        },
                        actor=actor,
                    )
            if before is not None and (header_changed or not same_rules):
                updated += 1
        audit_bulk(pairs, actor=actor)
        progress(len(rows))
        return {"created": created, "updated": updated}

    def export(self, company: Company) -> Iterator[dict[str, Any]]:
        products = dict(Product.unscoped.filter(company=company).values_list("pk", "sku"))
        variants = dict(Variant.unscoped.filter(company=company).values_list("pk", "sku"))
        paths = dict(Category.unscoped.filter(company=company).values_list("pk", "path"))
        groups = dict(CustomerGroup.unscoped.filter(company=company).values_list("pk", "code"))
        lists = PriceList.unscoped.filter(company=company).order_by("name")
        ordered = Prefetch("rules", queryset=PriceRule.objects.order_by("sequence", "pk"))
        for price_list in lists.prefetch_related(ordered):
            header = {
                "price_list": price_list.name,
                "currency": price_list.currency_id,
                "is_default": price_list.is_default,
                "active": price_list.active,
            }
            rules = list(price_list.rules.all())
            if not rules:
                yield header
            for rule in rules:
                yield {
                    **header,
                    "sequence": rule.sequence,
                    "product": "" if rule.variant_id else products.get(rule.product_id, ""),
                    "variant": variants.get(rule.variant_id, ""),
                    "category": paths.get(rule.category_id, ""),
                    "customer_group": groups.get(rule.customer_group_id, ""),
                    "min_qty": rule.min_qty,
                    "date_from": rule.date_from,
                    "date_to": rule.date_to,
                    "method": rule.method,
                    "fixed_price": rule.fixed_price,
                    "discount_percent": rule.discount_percent,
                    "margin_percent": rule.margin_percent,
                }


imports.register(ProductImport())
imports.register(VariantImport())
imports.register(PriceListImport())
