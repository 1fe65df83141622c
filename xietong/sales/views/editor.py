"""The quick-quote line editor shared by quotations and orders: the header form and the lines
(`lines-<n>-<field>`), priced and promised live through `preview.lines_preview` on every change
(HTMX answers: the totals with each line's price, amount, promise and messages swapped in out of
band; or, after adding or removing a line, the whole lines block), and saved through one
service whose refusals go back onto the header fields and the lines.

A coupon code in the header prices the document as saving would (the promotion of the live
campaign that has it, through the price adjusters of `promotions`): the lines show the
promotion and the price it replaced; an unknown or expired code is named on the field and the
prices stay without it."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from xietong.core.ui.records import apply_errors
from xietong.inventory.models import Warehouse
from xietong.party.models import Party
from xietong.product.models import ConfiguredItem, PriceList, Product
from xietong.sales import promotions
from xietong.sales.common import SalesError, amounts_compute, lines_clean
from xietong.sales.forms import LINE_FIELDS, DocumentForm, OrderForm, QuotationForm, today
from xietong.sales.preview import LINE_ERRORS, Preview, lines_preview
from xietong.sales.views.common import fmt, link, price, quantity

MAX_LINES = 200
PARTS = ("errors", "price", "amount", "promise")
PROMISE_STYLES = {"stock": "success", "receipt": "info", "make": "warning", "buy": "warning",
                  "none": "danger"}  # fmt: skip


# --- the header's coupon code -------------------------------------------------------------------


def coupon_form(form_class: type[DocumentForm]) -> type[DocumentForm]:
    """`form_class` with a coupon code field (changing it re-prices the lines)."""
    field = forms.CharField(
        label=gettext_lazy("Coupon code"), max_length=40, required=False,
        help_text=gettext_lazy("A campaign's coupon: its promotion lowers the prices."),
    )  # fmt: skip
    return type(form_class.__name__, (form_class,), {
        "coupon_code": field,
        "live_fields": (*form_class.live_fields, "coupon_code"),
        "clean_coupon_code": lambda self: self.cleaned_data["coupon_code"].strip().upper(),
        "__module__": __name__,
    })  # fmt: skip


QuotationEditorForm = coupon_form(QuotationForm)
OrderEditorForm = coupon_form(OrderForm)


# --- rows as posted -----------------------------------------------------------------------------


def rows_of(data: Any) -> list[dict[str, str]]:
    """The editor's lines as posted (raw strings)."""
    try:
        count = max(0, min(int(data.get("lines-TOTAL_FORMS", "0")), MAX_LINES))
    except ValueError:
        count = 0
    return [
        {name: str(data.get(f"lines-{i}-{name}", "")).strip() for name in LINE_FIELDS}
        for i in range(count)
    ]


def apply_action(rows: list[dict[str, str]], action: str) -> list[dict[str, str]]:
    """The lines after the editor's "add" or "remove-<index>" button (at least one line)."""
    if action == "add" and len(rows) < MAX_LINES:
        rows = [*rows, {}]
    elif action.startswith("remove-") and action[7:].isdigit():
        index = int(action[7:])
        rows = [row for i, row in enumerate(rows) if i != index]
    return rows or [{}]


def is_blank(row: dict[str, str]) -> bool:
    return not any(row.get(name) for name in ("product", "configured_item", "description",
                                              "unit_price"))  # fmt: skip


def line_dicts(rows: list[dict[str, str]]) -> tuple[list[dict[str, Any] | None], dict[int, dict]]:
    """The rows as `lines_clean` takes them (None for blank rows) and the rows' own errors (an
    unknown SKU)."""
    skus = {row["product"] for row in rows if row.get("product")}
    products = dict(Product.objects.filter(sku__in=skus).values_list("sku", "pk"))
    out: list[dict[str, Any] | None] = []
    errors: dict[int, dict[str, list[str]]] = {}
    for index, row in enumerate(rows):
        if is_blank(row):
            out.append(None)
            continue
        item: dict[str, Any] = {}
        sku = row.get("product", "")
        if sku and sku not in products:
            errors[index] = {"product": [_("No product has the SKU %(sku)s.") % {"sku": sku}]}
            out.append(None)
            continue
        if sku:
            item["product"] = products[sku]
        if row.get("configured_item"):
            item["configured_item"] = row["configured_item"]
        for name in ("quantity", "discount", "unit_price", "description"):
            if row.get(name):
                item[name] = row[name]
        out.append(item)
    return out, errors


def rows_from_document(document: Any) -> list[dict[str, str]]:
    """The editor's rows of a saved quotation: a price is shown only when it was typed (it
    differs from the price list's), a description only when it is not the default one."""
    rows = []
    for line in document.lines.select_related("product", "configured_item"):
        default = line.product.name
        if line.configured_item_id:
            default = (line.configured_item.description.splitlines() or [""])[0][:300]
        rows.append(
            {
                "product": "" if line.configured_item_id else line.product.sku,
                "configured_item": str(line.configured_item_id or ""),
                "description": "" if line.description == default else line.description,
                "quantity": quantity(line.quantity),
                "discount": quantity(line.discount) if line.discount else "",
                "unit_price": quantity(line.unit_price)
                if line.unit_price != line.list_price
                else "",
            }
        )
    return rows or [{}]


# --- the preview --------------------------------------------------------------------------------


def _pk(raw: Any) -> int | None:
    raw = str(raw or "").strip()
    return int(raw) if raw.isdigit() else None


def _date(raw: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(raw or "").strip())
    except ValueError:
        return None


def header_of(data: Any, fixed_party: Party | None = None) -> dict[str, Any]:
    """The records and dates of the header as posted (the request company's only)."""
    party = fixed_party
    if party is None and _pk(data.get("party")):
        party = Party.objects.filter(pk=_pk(data.get("party")), is_customer=True).first()
    date = _date(data.get("date")) or today()
    return {
        "party": party,
        "date": date,
        "coupon": str(data.get("coupon_code") or "").strip().upper()[:40],
        "wanted": _date(data.get("requested_date")) or date,
        "price_list": PriceList.objects.filter(pk=_pk(data.get("price_list"))).first()
        if _pk(data.get("price_list"))
        else None,
        "warehouse": Warehouse.objects.filter(pk=_pk(data.get("warehouse"))).first()
        if _pk(data.get("warehouse"))
        else None,
    }


@dataclass
class Result:
    """What the editor shows of one line."""

    messages: list[str]
    fields: set[str]
    name: str = ""
    price: str = ""
    list_price: str = ""
    discount: str = ""
    amount: str = ""
    net: str = ""
    promise_date: dt.date | None = None
    promise_note: str = ""
    promise_style: str = ""
    configure_url: str = ""
    promotion: str = ""
    price_before_promotion: str = ""


def results_for(
    request: HttpRequest, rows: list[dict[str, str]], header: dict[str, Any]
) -> tuple[list[Result | None], Preview | None]:
    """Each row's result (None for blank rows) and the preview of the whole document."""
    lines, own_errors = line_dicts(rows)
    results: list[Result | None] = [None] * len(rows)
    for index, errors in own_errors.items():
        results[index] = Result(messages=[m for ms in errors.values() for m in ms],
                                fields=set(errors))  # fmt: skip
    party = header["party"]
    if party is None:
        for index, item in enumerate(lines):
            if item is not None:
                results[index] = Result(messages=[], fields=set())
        return results, None
    preview = lines_preview(
        company=request.company, party=party, lines=lines, warehouse=header["warehouse"],
        date=header["date"], wanted=header["wanted"], price_list=header["price_list"],
    )  # fmt: skip
    if header["coupon"]:
        header["coupon_errors"] = coupon_apply(request, preview, lines, header)
    currency = preview.currency
    for line in preview.lines:
        result = Result(
            messages=[m for ms in line.errors.values() for m in ms],
            fields={name for name in line.errors if name != LINE_ERRORS},
        )
        data = line.data
        if data is not None:
            result.name = data.description
            result.price = price(data.unit_price, currency)
            if data.list_price != data.unit_price:
                result.list_price = price(data.list_price, currency)
            if line.discount:
                result.discount = quantity(line.discount)
            result.amount = fmt(data.total, currency)
            result.net = fmt(data.net, currency)
            result.promise_date = line.promise_date
            result.promise_note = line.promise_note
            result.promise_style = PROMISE_STYLES.get(line.promise_source, "secondary")
            result.promotion = data.extra.get("promotion", "")
            if "price_before_promotion" in data.extra:
                result.price_before_promotion = price(data.extra["price_before_promotion"],
                                                      currency)  # fmt: skip
        elif "product" in line.errors:
            item = lines[line.index] or {}
            product = Product.objects.filter(pk=item.get("product")).first()
            if product is not None and product.is_configurable:
                result.configure_url = link("product:configure", product.pk)
        results[line.index] = result
    return results, preview


def coupon_apply(request: HttpRequest, preview: Preview, lines: list[dict[str, Any] | None],
                 header: dict[str, Any]) -> list[str]:  # fmt: skip
    """Price the preview's priced lines again, together and with the header's coupon code, as
    saving prices them (a bundle promotion needs its products on the same document), and its
    totals with them. Answers the coupon's refusal (nothing changed then)."""
    company: Any = request.company  # type: ignore[attr-defined]
    party, coupon = header["party"], header["coupon"]
    priced = [line for line in preview.lines if line.data is not None and not line.errors]
    if not priced:
        return promotions.coupon_check(company=company, party=party, date=header["date"],
                                       currency=preview.currency, coupon=coupon)  # fmt: skip
    try:
        data = lines_clean(company=company, party=party, currency=preview.currency,
                           date=header["date"], price_list=header["price_list"] or party.price_list,
                           lines=[lines[line.index] or {} for line in priced],
                           coupon=coupon)  # fmt: skip
    except SalesError as exc:
        refused = exc.message_dict if hasattr(exc, "error_dict") else {}
        return list(refused.get("coupon_code", []))
    for line, clean in zip(priced, data, strict=True):
        line.data = clean
    with contextlib.suppress(SalesError):  # the preview named the problem already
        preview.untaxed, preview.tax, preview.total = amounts_compute(company, preview.currency,
                                                                      data)  # fmt: skip
    preview.max_discount = max(line.discount for line in priced)
    return []


def totals_context(preview: Preview | None, party: Party | None,
                   header: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    header = header or {}
    coupon = {"coupon_code": header.get("coupon", ""),
              "coupon_errors": header.get("coupon_errors", [])}  # fmt: skip
    if preview is None:
        return {"totals": None, "party_missing": party is None, **coupon}
    currency = preview.currency
    return {
        **coupon,
        "coupon_applied": bool(coupon["coupon_code"]) and not coupon["coupon_errors"],
        "party_missing": False,
        "totals": {
            "currency": currency,
            "untaxed": fmt(preview.untaxed, currency),
            "tax": fmt(preview.tax, currency),
            "total": fmt(preview.total, currency),
            "max_discount": quantity(preview.max_discount),
            "limit": quantity(preview.discount_limit),
            "needs_approval": preview.needs_approval,
            "warehouse": preview.warehouse,
        },
    }


def editor_context(request: HttpRequest, rows: list[dict[str, str]], header: dict[str, Any],
                   lines_url: str) -> dict[str, Any]:  # fmt: skip
    results, preview = results_for(request, rows, header)
    items = ConfiguredItem.objects.select_related("product").order_by("-created_at")[:200]
    return {
        "rows": [
            {"index": i, "values": row, "result": result}
            for i, (row, result) in enumerate(zip(rows, results, strict=True))
        ],
        "products": Product.objects.filter(active=True, is_configurable=False)
        .order_by("sku")
        .values_list("sku", "name")[:2000],
        "configured_items": [
            (
                str(item.pk),
                f"{item.product.sku} · {item} ({price(item.price, item.currency_id)} "
                f"{item.currency_id})",
            )
            for item in items
        ],
        "configurator_url": link("product:configurator"),
        "lines_url": lines_url,
        "parts": PARTS,
        **totals_context(preview, header["party"], header),
    }


def lines_response(request: HttpRequest, lines_url: str) -> HttpResponse:
    """The editor's HTMX answers: `?part=amounts` the totals with every line's cells out of
    band; otherwise the whole lines block after adding or removing a line. Nothing is saved."""
    rows = rows_of(request.POST)
    header = header_of(request.POST)
    if request.GET.get("part") == "amounts":
        context = editor_context(request, rows, header, lines_url)
        context["oob"] = True
        return render(request, "sales/_totals.html", context)
    rows = apply_action(rows, request.POST.get("lines_action", ""))
    return render(request, "sales/_lines.html", editor_context(request, rows, header, lines_url))


# --- the page -----------------------------------------------------------------------------------


@dataclass
class Editor:
    """One use of the editor: its form, where its lines endpoint is, how it saves."""

    form_class: type[DocumentForm]
    lines_url: str
    title: str
    cancel_url: str
    save: Callable[[dict[str, Any], Party, list[dict[str, Any]]], Any]
    done: Callable[[Any], str]
    success: str
    initial: dict[str, Any]
    rows: list[dict[str, str]]
    fixed_party: Party | None = None
    submit_label: str = ""


def _line_errors(exc: ValidationError, positions: list[int], results: list[Result | None],
                 form: Any) -> list[str]:  # fmt: skip
    """Put a service's refusal onto the lines (`lines.N.field`, N counting the lines given)
    and the header; returns the messages about the lines as a whole."""
    general: list[str] = []
    if not hasattr(exc, "error_dict"):
        return list(exc.messages)
    header: dict[str, list[str]] = {}
    for key, messages_ in exc.message_dict.items():
        parts = key.split(".")
        if parts[0] != "lines":
            header[key] = messages_
            continue
        if len(parts) == 1 or not parts[1].isdigit() or not 0 < int(parts[1]) <= len(positions):
            general.extend(messages_)
            continue
        index = positions[int(parts[1]) - 1]
        result = results[index] or Result(messages=[], fields=set())
        result.messages.extend(m for m in messages_ if m not in result.messages)
        if len(parts) > 2:
            result.fields.add("unit_price" if parts[2] == "price_list" else parts[2])
        results[index] = result
    if header:
        apply_errors(form, ValidationError(header))
    return general


def editor_page(request: HttpRequest, editor: Editor) -> HttpResponse:
    """The editor's page: GET shows it, POST with `lines_action` adds or removes a line
    (without JavaScript), POST saves through `editor.save` (one service)."""
    kwargs = {"lines_url": editor.lines_url, "party": editor.fixed_party,
              "fixed_party": editor.fixed_party is not None}  # fmt: skip
    action = request.POST.get("lines_action", "") if request.method == "POST" else ""
    saving = request.method == "POST" and not action
    line_errors: list[str] = []
    if request.method == "POST":
        form = editor.form_class(request.POST, initial=editor.initial, **kwargs)
        rows = rows_of(request.POST)
        if action:
            rows = apply_action(rows, action)
    else:
        form = editor.form_class(initial=editor.initial, **kwargs)
        rows = editor.rows
    header = header_of(request.POST if request.method == "POST" else _initial(editor),
                       editor.fixed_party)  # fmt: skip
    context = editor_context(request, rows, header, editor.lines_url)
    if saving:
        results = [row["result"] for row in context["rows"]]
        lines, own_errors = line_dicts(rows)
        positions = [i for i, item in enumerate(lines) if item is not None]
        if form.is_valid() and not own_errors:
            party = editor.fixed_party or form.cleaned_data["party"]
            try:
                saved = editor.save(form.cleaned_data, party,
                                    [item for item in lines if item is not None])  # fmt: skip
            except ValidationError as exc:
                line_errors = _line_errors(exc, positions, results, form)
            else:
                messages.success(request, editor.success % {"number": str(saved)})
                return redirect(editor.done(saved))
        if all(is_blank(row) for row in rows) and not line_errors:
            line_errors = [_("Add at least one line.")]
        for row, result in zip(context["rows"], results, strict=True):
            row["result"] = result
    has_errors = saving and bool(line_errors or form.errors or any(
        row["result"] and row["result"].messages for row in context["rows"]))  # fmt: skip
    context.update(
        {
            "form": form,
            "title": editor.title,
            "cancel_url": editor.cancel_url,
            "line_errors": line_errors,
            "show_errors": saving,
            "fixed_party": editor.fixed_party,
            "submit_label": editor.submit_label or _("Save"),
        }
    )
    return render(request, "sales/document_form.html", context, status=400 if has_errors else 200)


def _initial(editor: Editor) -> QueryDict:
    data = QueryDict(mutable=True)
    for key, value in editor.initial.items():
        if value is not None:
            data[key] = str(getattr(value, "pk", value))
    return data
