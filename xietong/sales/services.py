"""The sales app's public writes and entry points for the layers above (crm): turning the line
input of a request into the lines the document services take, the quick-quote editor opened
for one customer ("new quotation" of an opportunity), creating a quotation, and authorising a
return. Each one is a
door onto the sales services (`documents`, `returns`) and screens (`views.editor`), which stay
private to sales."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.finance.models import Tax
from xietong.party.models import Party
from xietong.product.models import Product
from xietong.sales import documents, returns
from xietong.sales.common import sales_settings
from xietong.sales.models import Quotation, ReturnOrder, SalesOrder
from xietong.sales.schemas import LineIn


def quotation_lines_from_input(items: Iterable[LineIn]) -> list[dict[str, Any]]:
    """The lines of a request (`schemas.LineIn`) as the document services take them
    (`documents.quotation_create`, `order_create`): products by id (SKUs looked up in one
    query), taxes as records (codes looked up in one query). Raises ValidationError with a
    message per line (`lines.N.field`, N counting from 0 as in the request). Reads only."""
    items = list(items)
    skus = {item.sku.strip() for item in items if item.sku}
    by_sku = dict(Product.objects.filter(sku__in=skus).values_list("sku", "pk")) if skus else {}
    codes = {code for item in items for code in item.taxes or ()}
    taxes = {tax.code: tax for tax in Tax.objects.filter(code__in=codes)} if codes else {}
    errors: dict[str, list[str]] = {}
    lines = []
    for n, item in enumerate(items):
        given = [name for name in ("product", "sku", "configured_item") if getattr(item, name)]
        if len(given) != 1:
            errors[f"lines.{n}.product"] = [
                _("Give the product's id or its SKU, or a configured item (one of them).")
            ]
            continue
        line: dict[str, Any] = {"quantity": item.quantity, "discount": item.discount}
        if item.sku:
            line["product"] = by_sku.get(item.sku.strip())
            if line["product"] is None:
                errors[f"lines.{n}.sku"] = [
                    _("No product has the SKU “%(sku)s”.") % {"sku": item.sku}
                ]
        elif item.product is not None:
            line["product"] = item.product
        else:
            line["configured_item"] = item.configured_item
        if item.taxes is not None:
            missing = [code for code in item.taxes if code not in taxes]
            if missing:
                errors[f"lines.{n}.taxes"] = [
                    _("Unknown tax %(codes)s.") % {"codes": ", ".join(missing)}
                ]
            line["taxes"] = [taxes[code] for code in item.taxes if code in taxes]
        for name in ("uom", "unit_price"):
            if getattr(item, name) is not None:
                line[name] = getattr(item, name)
        if item.description:
            line["description"] = item.description
        lines.append(line)
    if errors:
        raise ValidationError(errors)
    return lines


QuotationSave = Callable[[dict[str, Any], Party, list[dict[str, Any]]], Quotation]


def quotation_editor_page(
    request: HttpRequest,
    *,
    party: Party,
    title: str,
    cancel_url: str,
    save: QuotationSave,
    date: dt.date | None = None,
) -> HttpResponse:
    """The sales quick-quote editor (GET shows it, POST re-prices or saves) for a new
    quotation of `party` (fixed: the customer cannot be changed), dated `date` (today) and
    valid for the company's validity days; saving calls `save(header fields, party, lines)`
    (the header as the editor's form cleaned it: date, valid_until, price_list, warehouse,
    customer_reference, notes, coupon_code; the lines as `documents.quotation_create` takes
    them), whose ValidationError goes back onto the fields, then opens the quotation."""
    from xietong.sales.views.editor import Editor, QuotationEditorForm, editor_page

    day = date or timezone.localdate()
    validity = sales_settings(request.company).quotation_validity_days  # type: ignore[attr-defined]
    return editor_page(request, Editor(
        form_class=QuotationEditorForm, lines_url=reverse("sales:quotation_lines"),
        title=title, cancel_url=cancel_url, save=save,
        done=lambda q: reverse("sales:quotation_detail", args=[q.pk]),
        success=_("Quotation %(number)s saved."),
        initial={"party": party, "date": day, "valid_until": day + dt.timedelta(days=validity)},
        rows=[{}], fixed_party=party, submit_label=_("Save the quotation"),
    ))  # fmt: skip


def quotation_header_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """The header fields of the editor's cleaned form (see `quotation_editor_page`) as the
    quotation services take them: date, customer reference, notes, the coupon code when one
    was typed, and the price list and warehouse when chosen."""
    fields = {name: data[name] for name in ("date", "customer_reference", "notes")}
    if data.get("coupon_code"):
        fields["coupon_code"] = data["coupon_code"]
    for name in ("price_list", "warehouse"):
        if data.get(name) is not None:
            fields[name] = data[name]
    return fields


def quotation_create(
    *, company: Any, actor: Any, party: Party, lines: Sequence[Mapping[str, Any]], **fields: Any
) -> Quotation:
    """A draft quotation for `party` (`documents.quotation_create`: `lines` as
    `common.lines_clean` takes them, header `fields` such as date, valid_until, contact,
    salesperson, customer_reference, notes, coupon_code). Raises SalesError per field
    (`lines.N.field`, `coupon_code` …), then nothing is written; audited, and on the
    customer's timeline."""
    return documents.quotation_create(company=company, actor=actor, party=party, lines=lines,
                                      **fields)  # fmt: skip


def order_return_create(
    *,
    order: SalesOrder,
    actor: Any,
    reason: str,
    lines: Sequence[Mapping[str, Any]],
    date: dt.date | None = None,
) -> ReturnOrder:
    """Authorise a return of goods delivered on `order` (`returns.return_create`: `lines` are
    dicts of order_line, quantity, disposition and lot). Locks the order; raises SalesError
    (nothing written) when the order or a line cannot be returned; audited there."""
    return returns.return_create(order=order, actor=actor, reason=reason, lines=lines, date=date)
