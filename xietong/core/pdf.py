"""PDF documents (invoices, statements, letters, delivery notes…) rendered with WeasyPrint.

A document is a Django template extending `core/pdf/base.html`, rendered in the recipient's
language. Fonts come from the system (Debian's `fonts-wqy-microhei` for Chinese, installed by
CI and listed in the README), never from the network: WeasyPrint's URL fetcher is replaced by one
that serves only our own static files and refuses everything else.
"""

from __future__ import annotations

from typing import Any

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import translation

# CSS font stack: a CJK face first so Chinese never falls back to boxes.
FONT_STACK = (
    '"WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans CJK TC", "DejaVu Sans", sans-serif'
)


class PdfFetchRefused(ValueError):
    pass


def _local_fetcher(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Serve `static:…` URLs from the project's static files; refuse any other URL."""
    if url.startswith("static:"):
        path = finders.find(url.removeprefix("static:"))
        if path:
            with open(path, "rb") as handle:
                return {"string": handle.read(), "filename": path}
    raise PdfFetchRefused(f"PDF rendering does not fetch {url!r}")


def pdf_render(*, template: str, context: dict[str, Any], language: str | None = None) -> bytes:
    """Render `template` with `context` in `language` (the active one when None) to PDF bytes."""
    import weasyprint  # imported on use: it loads Pango, which most requests never need

    with translation.override(language or translation.get_language()):
        html = render_to_string(template, {**context, "font_stack": FONT_STACK})
    return weasyprint.HTML(string=html, url_fetcher=_local_fetcher, base_url="static:").write_pdf()
