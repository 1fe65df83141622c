"""Forms of the picking screens: the new picking (header and lines) and the validation of a
picking (the quantity done of each move, with its lot or serial numbers). They parse and look
records up in the request's company; the picking services decide everything else."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from xietong.core.forms import DateInput
from xietong.core.models import UnitOfMeasure
from xietong.core.ui.records import ShellForm
from xietong.inventory.models import Location, Lot, Move, Picking, Warehouse
from xietong.party.models import Party
from xietong.product.models import Product

Kind = Picking.Kind
Tracking = Product.Tracking


def _plain(value: Decimal | None) -> str:
    """A quantity as people write it (10, not 10.000000 or 1E+1)."""
    return "" if value is None else f"{Decimal(value).normalize():f}"


def split_serials(raw: str) -> list[str]:
    """Serial numbers typed or scanned one a line (commas and semicolons separate too)."""
    return [part.strip() for part in re.split(r"[\n\r,;]+", raw or "") if part.strip()]


class PickingForm(ShellForm):
    """The header of a new receipt, delivery or internal transfer."""

    kind = forms.ChoiceField(label=_("Kind"), choices=Kind.choices)
    warehouse = forms.ModelChoiceField(
        label=_("Warehouse"),
        queryset=Warehouse.unscoped.none(),
        required=False,
        help_text=_("Receipts and deliveries follow the warehouse's route (its steps)."),
    )
    partner = forms.CharField(
        label=_("Partner (code)"),
        max_length=30,
        required=False,
        help_text=_("The supplier of a receipt, the customer of a delivery."),
    )
    scheduled_date = forms.DateField(label=_("Scheduled date"), widget=DateInput)
    origin = forms.CharField(label=_("Source document"), max_length=80, required=False)
    from_location = forms.ModelChoiceField(
        label=_("From location"),
        queryset=Location.unscoped.none(),
        required=False,
        help_text=_("Internal transfers only."),
    )
    to_location = forms.ModelChoiceField(
        label=_("To location"),
        queryset=Location.unscoped.none(),
        required=False,
        help_text=_("Internal transfers only."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["warehouse"].queryset = Warehouse.objects.filter(active=True).order_by("code")
        stock_places = Location.objects.filter(
            active=True, usage__in=[Location.Usage.INTERNAL, Location.Usage.TRANSIT]
        ).order_by("full_name")
        self.fields["from_location"].queryset = stock_places
        self.fields["to_location"].queryset = stock_places
        self.fields["partner"].widget.attrs["list"] = "partner-options"

    def clean_partner(self) -> Party | None:
        code = (self.cleaned_data.get("partner") or "").strip()
        if not code:
            return None
        party = Party.objects.filter(code=code, merged_into__isnull=True).first()
        if party is None:
            raise forms.ValidationError(_("No partner has the code %(code)s.") % {"code": code})
        return party

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("kind")
        if kind == Kind.INTERNAL:
            for name in ("from_location", "to_location"):
                if not data.get(name):
                    self.add_error(name, _("An internal transfer needs both locations."))
        elif kind and not data.get("warehouse"):
            self.add_error("warehouse", _("Choose the warehouse."))
        return data


class LineForm(forms.Form):
    """One line of a new picking; a line without product and quantity is ignored."""

    product = forms.CharField(label=_("Product (SKU or barcode)"), max_length=40, required=False)
    quantity = forms.DecimalField(
        label=_("Quantity"), max_digits=18, decimal_places=6, required=False
    )
    uom = forms.ChoiceField(label=_("Unit"), required=False)
    lot = forms.CharField(label=_("Lot or serial number"), max_length=80, required=False)

    def __init__(self, *args: Any, units: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["uom"].choices = [("", _("Product's unit")), *units]
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs["class"] = f"{css} form-control-sm"
        self.fields["quantity"].widget.attrs["class"] += " text-end"
        self.fields["product"].widget.attrs["list"] = "product-options"

    @property
    def is_blank(self) -> bool:
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return not data.get("product") and data.get("quantity") is None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.is_blank:
            return data
        code = (data.get("product") or "").strip()
        product = None
        if not code:
            self.add_error("product", _("Give the product's SKU."))
        else:
            product = (
                Product.objects.filter(sku=code).first()
                or Product.objects.filter(barcode=code).first()
                or Product.objects.filter(sku__iexact=code).first()
            )
            if product is None:
                self.add_error("product", _("No product has the SKU %(sku)s.") % {"sku": code})
        quantity = data.get("quantity")
        if quantity is None:
            self.add_error("quantity", _("Give the quantity."))
        elif quantity <= 0:
            self.add_error("quantity", _("The quantity must be positive."))
        data["product_obj"] = product
        data["uom_obj"] = None
        if data.get("uom"):
            data["uom_obj"] = UnitOfMeasure.objects.filter(code=data["uom"]).first()
        data["lot_obj"] = None
        name = (data.get("lot") or "").strip()
        if name and product is not None:
            if product.tracking == Tracking.NONE:
                self.add_error("lot", _("%(product)s is not tracked.") % {"product": product})
            else:
                lot = Lot.objects.filter(product=product, name=name).first()
                if lot is None:
                    self.add_error(
                        "lot",
                        _(
                            "%(product)s has no lot %(lot)s; new lots are entered when the "
                            "receipt is validated."
                        )
                        % {"product": product, "lot": name},
                    )
                data["lot_obj"] = lot
        return data

    def line(self) -> dict[str, Any]:
        """The line as the create services take it."""
        data = self.cleaned_data
        line: dict[str, Any] = {"product": data["product_obj"], "quantity": data["quantity"]}
        if data.get("uom_obj") is not None:
            line["uom"] = data["uom_obj"]
        if data.get("lot_obj") is not None:
            line["lot"] = data["lot_obj"]
        return line


LineFormSet = forms.formset_factory(LineForm, extra=0)


def unit_choices() -> list[tuple[str, str]]:
    return [
        (u.code, f"{u.code} · {u.name}")
        for u in UnitOfMeasure.objects.filter(active=True).select_related("category")
    ]


def incoming(move: Move) -> bool:
    """Goods coming into the company's stock: their lots may be new."""
    return not move.from_location.is_stock


class ValidateForm(forms.Form):
    """Per open move of a picking: the quantity done (`qty_<move>`, in the move's unit) and,
    for a tracked product, the lot (`lot_<move>`) or the serial numbers, one a line."""

    def __init__(
        self, *args: Any, moves: list[Move], defaults: dict[int, dict[str, Any]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.moves = moves
        for move in moves:
            default = defaults.get(move.pk, {})
            self.fields[f"qty_{move.pk}"] = forms.DecimalField(
                label=_("Done"),
                max_digits=18,
                decimal_places=6,
                min_value=Decimal(0),
                max_value=Decimal(_plain(move.quantity)),
                initial=_plain(default.get("quantity")),
                widget=forms.NumberInput(
                    attrs={"class": "form-control form-control-sm text-end", "step": "any"}
                ),
            )
            tracking = move.product.tracking
            if tracking == Tracking.LOT:
                self.fields[f"lot_{move.pk}"] = forms.CharField(
                    label=_("Lot"),
                    max_length=80,
                    required=False,
                    initial=default.get("lot", ""),
                    widget=forms.TextInput(
                        attrs={
                            "class": "form-control form-control-sm",
                            "list": f"lots-{move.product_id}",
                        }
                    ),
                )
            elif tracking == Tracking.SERIAL:
                self.fields[f"lot_{move.pk}"] = forms.CharField(
                    label=_("Serial numbers"),
                    required=False,
                    initial="\n".join(default.get("serials", [])),
                    help_text=_("One a line, one for each unit."),
                    widget=forms.Textarea(
                        attrs={"class": "form-control form-control-sm", "rows": 2}
                    ),
                )

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "move": move,
                "quantity": self[f"qty_{move.pk}"],
                "lot": self[f"lot_{move.pk}"] if f"lot_{move.pk}" in self.fields else None,
            }
            for move in self.moves
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for move in self.moves:
            quantity = data.get(f"qty_{move.pk}")
            name = f"lot_{move.pk}"
            if name not in self.fields or not quantity:
                continue
            raw = (data.get(name) or "").strip()
            if not raw and incoming(move):
                self.add_error(
                    name,
                    _("Give the lot or serial number of %(product)s.") % {"product": move.product},
                )
        return data

    def quantities(self) -> dict[int, Decimal]:
        return {m.pk: self.cleaned_data[f"qty_{m.pk}"] for m in self.moves}

    def lots(self) -> dict[int, Any]:
        """Move id → lot name or list of serial numbers, for the moves with something done."""
        lots: dict[int, Any] = {}
        for move in self.moves:
            raw = (self.cleaned_data.get(f"lot_{move.pk}") or "").strip()
            if not raw or not self.cleaned_data.get(f"qty_{move.pk}"):
                continue
            if move.product.tracking == Tracking.SERIAL:
                lots[move.pk] = split_serials(raw)
            else:
                lots[move.pk] = raw
        return lots

    def partial(self) -> bool:
        """Less than planned is done for some move (the rest needs a backorder or not)."""
        return any(self.cleaned_data[f"qty_{m.pk}"] < m.quantity for m in self.moves)
