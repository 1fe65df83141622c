"""Warehouses and locations: creating a warehouse with its location tree, the company's virtual
locations (suppliers, customers, production, inventory loss, scrap, transit), and locations
below them."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.models import Company
from xietong.inventory.models import Location, Warehouse

Usage = Location.Usage

# The company's virtual locations, one per usage, below a "Virtual locations" view.
VIRTUAL = (
    (Usage.SUPPLIER, "Suppliers"),
    (Usage.CUSTOMER, "Customers"),
    (Usage.PRODUCTION, "Production"),
    (Usage.INVENTORY, "Inventory loss"),
    (Usage.SCRAP, "Scrap"),
    (Usage.TRANSIT, "Transit"),
)


def _full_name(parent: Location | None, name: str) -> str:
    return f"{parent.full_name}/{name}" if parent is not None else name


def _location(
    company: Company, name: str, usage: str, parent: Location | None, **fields: Any
) -> Location:
    return Location.unscoped.create(
        company=company,
        name=name,
        full_name=_full_name(parent, name),
        usage=usage,
        parent=parent,
        **fields,
    )


@audited
def location_create(
    *,
    company: Company,
    name: str,
    parent: Location,
    usage: str = Usage.INTERNAL,
    barcode: str = "",
    allow_negative: bool = False,
    actor: Any = None,
) -> Location:
    """A location below `parent` (a shelf in a warehouse's stock, for instance). Raises
    ValidationError for a name taken under the parent or a parent of another company."""
    name = (name or "").strip()
    if not name or "/" in name:
        raise ValidationError({"name": _("Give a name without “/”.")})
    if parent.company_id != company.pk:
        raise ValidationError({"parent": _("The parent location belongs to another company.")})
    if usage not in Usage.values:
        raise ValidationError(
            {"usage": _("“%(usage)s” is not a location usage.") % {"usage": usage}}
        )
    try:
        with transaction.atomic():
            return _location(
                company,
                name,
                usage,
                parent,
                warehouse_id=Location.unscoped.values_list("warehouse_id", flat=True).get(
                    pk=parent.pk
                ),
                barcode=barcode,
                allow_negative=allow_negative,
            )
    except IntegrityError as exc:
        raise ValidationError(
            {"name": _("%(parent)s already has a location “%(name)s”.")
             % {"parent": parent, "name": name}}
        ) from exc  # fmt: skip


def virtual_locations(*, company: Company) -> dict[str, Location]:
    """The company's virtual locations by usage, created on first use."""
    found = {
        loc.usage: loc
        for loc in Location.unscoped.filter(
            company=company, warehouse__isnull=True, usage__in=[u for u, _name in VIRTUAL]
        ).order_by("pk")
    }
    if len(found) == len(VIRTUAL):
        return found
    with transaction.atomic():
        root = Location.unscoped.filter(
            company=company, parent__isnull=True, name="Virtual locations"
        ).first() or _location(company, "Virtual locations", Usage.VIEW, None)
        for usage, name in VIRTUAL:
            if usage not in found:
                found[usage] = _location(company, name, usage, root)
    return found


@audited
def warehouse_create(
    *,
    company: Company,
    code: str,
    name: str,
    reception_steps: str = Warehouse.ReceptionSteps.ONE,
    delivery_steps: str = Warehouse.DeliverySteps.ONE,
    actor: Any = None,
) -> Warehouse:
    """A warehouse with its view location and the stock, input, quality, packing and output
    locations below it; the company's virtual locations are created too when missing."""
    code = (code or "").strip().upper()
    if not code or "/" in code:
        raise ValidationError({"code": _("Give a short code without “/”.")})
    if Warehouse.unscoped.filter(company=company, code=code).exists():
        raise ValidationError({"code": _("A warehouse has the code %(code)s.") % {"code": code}})
    virtual_locations(company=company)
    with transaction.atomic():
        view = _location(company, code, Usage.VIEW, None)
        places = {
            key: _location(company, label, Usage.INTERNAL, view)
            for key, label in (
                ("stock", "Stock"),
                ("input", "Input"),
                ("quality", "Quality control"),
                ("pack", "Packing"),
                ("output", "Output"),
            )
        }
        warehouse = Warehouse.unscoped.create(
            company=company,
            code=code,
            name=(name or code).strip(),
            view_location=view,
            stock_location=places["stock"],
            input_location=places["input"],
            quality_location=places["quality"],
            pack_location=places["pack"],
            output_location=places["output"],
            reception_steps=reception_steps,
            delivery_steps=delivery_steps,
        )
        Location.unscoped.filter(pk__in=[view.pk, *(p.pk for p in places.values())]).update(
            warehouse=warehouse
        )
        for location in (view, *places.values()):
            location.warehouse = warehouse
    return warehouse


def internal_locations_below(location: Location) -> list[int]:
    """Ids of `location` and every location below it that holds stock."""
    prefix = f"{location.full_name}/"
    ids = Location.unscoped.filter(
        company_id=location.company_id, full_name__startswith=prefix
    ).values_list("pk", "usage")
    result = [location.pk] if location.is_stock else []
    result += [pk for pk, usage in ids if usage in (Usage.INTERNAL, Usage.TRANSIT)]
    return result
