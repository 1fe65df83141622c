"""Warehouses and locations: creating a warehouse with its location tree, the company's virtual
locations (suppliers, customers, production, inventory loss, scrap, transit), and locations
below them; changing a warehouse's name, routes and activity, and a location's name, barcode,
negative-stock allowance and activity, refusing what would strand stock or open work."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.models import Company
from xietong.inventory.models import Location, Move, Picking, Quant, Warehouse
from xietong.product.models import Product

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
    barcode = _barcode_check(company, barcode, None)
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
    """The company's virtual locations by usage, created on first use (the first of each usage:
    locations added below them later, "Suppliers/Shenzhen" say, do not replace them)."""
    found: dict[str, Location] = {}
    for loc in Location.unscoped.filter(
        company=company, warehouse__isnull=True, usage__in=[u for u, _name in VIRTUAL]
    ).order_by("pk"):
        found.setdefault(loc.usage, loc)
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
    _steps_check(reception_steps, delivery_steps)
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


# --- changing warehouses and locations ---------------------------------------------------------

OPEN_PICKINGS = (Picking.State.DRAFT, Picking.State.WAITING, Picking.State.READY)
OPEN_MOVES = (Move.State.DRAFT, Move.State.WAITING, Move.State.ASSIGNED)
ROUTE_LOCATIONS = ("view", "stock", "input", "quality", "pack", "output")


def _steps_check(reception_steps: str | None, delivery_steps: str | None) -> None:
    errors: dict[str, str] = {}
    if reception_steps is not None and reception_steps not in Warehouse.ReceptionSteps.values:
        errors["reception_steps"] = _("“%(steps)s” is not a reception route.") % {
            "steps": reception_steps
        }
    if delivery_steps is not None and delivery_steps not in Warehouse.DeliverySteps.values:
        errors["delivery_steps"] = _("“%(steps)s” is not a delivery route.") % {
            "steps": delivery_steps
        }
    if errors:
        raise ValidationError(errors)


def _barcode_check(company: Company, barcode: str | None, location: Location | None) -> str:
    """The barcode stripped; refused when another active location or a product of the company
    has it (a scan must find one thing)."""
    barcode = (barcode or "").strip()
    if not barcode:
        return ""
    others = Location.unscoped.filter(company=company, barcode=barcode, active=True)
    if location is not None:
        others = others.exclude(pk=location.pk)
    taken = others.first()
    if taken is not None:
        raise ValidationError(
            {"barcode": _("The location %(location)s has this barcode.") % {"location": taken}}
        )
    product = Product.unscoped.filter(company=company, barcode=barcode).first()
    if product is not None:
        raise ValidationError(
            {"barcode": _("The product %(product)s has this barcode.") % {"product": product}}
        )
    return barcode


def _holds_stock(location_ids: list[int]) -> bool:
    """Whether any of the locations has stock on hand or reserved (negative stock included)."""
    return (
        Quant.unscoped.filter(location_id__in=location_ids)
        .filter(~Q(quantity=0) | ~Q(reserved=0))
        .exists()
    )


def _subtree_ids(location: Location) -> list[int]:
    """Ids of `location` and of every location below it, whatever their usage."""
    below = Location.unscoped.filter(
        company_id=location.company_id, full_name__startswith=f"{location.full_name}/"
    ).values_list("pk", flat=True)
    return [location.pk, *below]


@audited
def warehouse_update(
    *,
    warehouse: Warehouse,
    name: str | None = None,
    reception_steps: str | None = None,
    delivery_steps: str | None = None,
    active: bool | None = None,
    actor: Any = None,
) -> Warehouse:
    """Change a warehouse's name, its reception and delivery routes, or archive (restore) it;
    arguments left None keep their value. The code is fixed: the location tree and the
    picking numbers are named after it.

    A new route applies to the pickings created from then on: each open picking names its own
    locations and its chain finishes along the route it was planned on, so changing the steps
    strands nothing. Archiving is refused while the warehouse has open pickings (they could
    not get backorders nor transfers out) or holds stock (nothing could deliver it). Raises
    ValidationError, writing nothing, for an empty name, an unknown route and those
    refusals. Locks the warehouse row."""
    _steps_check(reception_steps, delivery_steps)
    with transaction.atomic():
        locked = Warehouse.unscoped.select_for_update().get(pk=warehouse.pk)
        changes: dict[str, Any] = {}
        if name is not None:
            name = name.strip()
            if not name:
                raise ValidationError({"name": _("Give the warehouse a name.")})
            changes["name"] = name
        if reception_steps is not None:
            changes["reception_steps"] = reception_steps
        if delivery_steps is not None:
            changes["delivery_steps"] = delivery_steps
        if active is not None:
            if locked.active and not active:
                open_pickings = Picking.unscoped.filter(
                    warehouse=locked, state__in=OPEN_PICKINGS
                ).count()
                if open_pickings:
                    raise ValidationError(
                        {"active": _("%(count)s pickings of the warehouse are open; do or "
                                     "cancel them first.") % {"count": open_pickings}}
                    )  # fmt: skip
                view = Location.unscoped.get(pk=locked.view_location_id)
                if _holds_stock(_subtree_ids(view)):
                    raise ValidationError(
                        {"active": _("The warehouse holds stock; move it out or count it to "
                                     "zero first.")}
                    )  # fmt: skip
            changes["active"] = bool(active)
        for field, value in changes.items():
            setattr(locked, field, value)
        if changes:
            locked.save(update_fields=list(changes))
    for field, value in changes.items():
        setattr(warehouse, field, value)
    return locked


@audited
def location_update(
    *,
    location: Location,
    name: str | None = None,
    barcode: str | None = None,
    allow_negative: bool | None = None,
    active: bool | None = None,
    actor: Any = None,
) -> Location:
    """Change a location's name (the full names of the locations below it follow), barcode,
    whether it allows negative stock, or archive (restore) it; arguments left None keep their
    value. Its place in the tree and its usage are fixed.

    Raises ValidationError, writing nothing, for: a name with “/” or taken under the parent;
    renaming a top-level location (a warehouse's is its code); a barcode another active
    location or a product has; archiving a location that holds stock (itself or below it),
    that open moves come from or go to, with active locations below it, that is a route
    location of an active warehouse or one of the company's virtual locations; restoring a
    location below an archived one. Locks the location row."""
    with transaction.atomic():
        locked = Location.unscoped.select_for_update().get(pk=location.pk)
        company = locked.company
        changes: dict[str, Any] = {}
        if name is not None:
            name = name.strip()
            if not name or "/" in name:
                raise ValidationError({"name": _("Give a name without “/”.")})
            if name != locked.name:
                if locked.parent_id is None:
                    raise ValidationError(
                        {"name": _("A top-level location keeps its name (a warehouse's is its "
                                   "code).")}
                    )  # fmt: skip
                changes["name"] = name
        if barcode is not None and barcode.strip() != locked.barcode:
            changes["barcode"] = _barcode_check(company, barcode, locked)
        if allow_negative is not None:
            changes["allow_negative"] = bool(allow_negative)
        if active is not None and bool(active) != locked.active:
            if active:
                parent = locked.parent
                if parent is not None and not parent.active:
                    raise ValidationError(
                        {"active": _("%(parent)s is archived; restore it first.")
                         % {"parent": parent}}
                    )  # fmt: skip
            else:
                _archive_check(company, locked)
            changes["active"] = bool(active)
        if not changes:
            return locked
        old_full_name = locked.full_name
        for field, value in changes.items():
            setattr(locked, field, value)
        if "name" in changes:
            parent = Location.unscoped.get(pk=locked.parent_id)
            locked.full_name = _full_name(parent, locked.name)
            changes["full_name"] = locked.full_name
        try:
            with transaction.atomic():
                locked.save(update_fields=list(changes))
        except IntegrityError as exc:
            raise ValidationError(
                {"name": _("%(parent)s already has a location “%(name)s”.")
                 % {"parent": locked.parent, "name": locked.name}}
            ) from exc  # fmt: skip
        if "name" in changes:
            below = list(
                Location.unscoped.filter(
                    company=company, full_name__startswith=f"{old_full_name}/"
                ).order_by("pk")
            )
            for child in below:
                child.full_name = locked.full_name + child.full_name[len(old_full_name) :]
            Location.unscoped.bulk_update(below, ["full_name"])
    for field, value in changes.items():
        setattr(location, field, value)
    return locked


def _archive_check(company: Company, location: Location) -> None:
    """Refuse archiving `location` (see `location_update`)."""
    if _holds_stock(_subtree_ids(location)):
        raise ValidationError(
            {"active": _("%(location)s holds stock; move it out or count it to zero first.")
             % {"location": location}}
        )  # fmt: skip
    if Location.unscoped.filter(parent=location, active=True).exists():
        raise ValidationError(
            {"active": _("Archive the locations below %(location)s first.")
             % {"location": location}}
        )  # fmt: skip
    if (
        Move.unscoped.filter(state__in=OPEN_MOVES)
        .filter(Q(from_location=location) | Q(to_location=location))
        .exists()
    ):
        raise ValidationError(
            {"active": _("Open moves come from or go to %(location)s; do or cancel them "
                         "first.") % {"location": location}}
        )  # fmt: skip
    route = Q()
    for key in ROUTE_LOCATIONS:
        route |= Q(**{f"{key}_location": location})
    warehouse = Warehouse.unscoped.filter(route, active=True).first()
    if warehouse is not None:
        raise ValidationError(
            {"active": _("%(location)s is on the routes of the warehouse %(warehouse)s.")
             % {"location": location, "warehouse": warehouse}}
        )  # fmt: skip
    if location.warehouse_id is None and (
        location.parent_id is None
        or location.pk in {loc.pk for loc in virtual_locations(company=company).values()}
    ):
        raise ValidationError(
            {"active": _("%(location)s is one of the company's virtual locations; receipts "
                         "and deliveries use it.") % {"location": location}}
        )  # fmt: skip
