"""What the purchase screens share: state badges, action buttons, amounts and quantities as
text, the records of the request's company (404 for another company's) and PDF responses."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse

from xietong.core.documents import file_name, quantity_text
from xietong.core.ui.records import get_or_404  # noqa: F401  (used by the views)
from xietong.finance.views.common import Badge, fmt, safe_reverse  # noqa: F401  (the door)

STYLES = {
    "draft": "secondary",
    "to_approve": "warning",
    "approved": "info",
    "sent": "primary",
    "confirmed": "primary",
    "done": "success",
    "cancelled": "danger",
    "rejected": "danger",
    "open": "info",
    "in_rfq": "primary",
    "ordered": "success",
    "awarded": "success",
    "invited": "secondary",
    "answered": "success",
    "declined": "dark",
    "matched": "success",
    "mismatch": "danger",
    "accepted": "warning",
    "pending": "warning",
    "waiting": "secondary",
    "ready": "info",
    "posted": "success",
}


def badge(obj: Any, field_name: str = "state") -> Any:
    value = getattr(obj, field_name)
    return Badge(getattr(obj, f"get_{field_name}_display")(), STYLES.get(value, "secondary"))


def action(label: str, url: str, *, post: bool = False, style: str = "outline-primary",
           **extra: Any) -> dict[str, Any]:  # fmt: skip
    return {"label": label, "url": url, "post": post, "style": style, **extra}


def quantity(value: Any) -> str:
    return "" if value is None else quantity_text(value)


def pdf_response(content: bytes, number: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{file_name(number)}"'
    return response
