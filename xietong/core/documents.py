"""What business documents sent to customers and suppliers share: the formatting of amounts,
unit prices and quantities on PDFs and e-mails, the checked list of recipients, and the e-mail
with the document's PDF attached, rendered in the recipient's language."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from xietong.core.money import minor_units
from xietong.core.pdf import pdf_render


def amount_text(value: Decimal, currency: str) -> str:
    """An amount with the currency's decimals and thousands separators."""
    places = minor_units(currency)
    return f"{Decimal(value).quantize(Decimal(1).scaleb(-places)):,.{places}f}"


def quantity_text(value: Decimal) -> str:
    """A quantity without useless trailing zeros."""
    text = f"{Decimal(value).normalize():f}"
    return "0" if text in ("-0", "") else text


def price_text(value: Decimal, currency: str) -> str:
    """A unit price with at least the currency's decimals and no useless trailing zeros."""
    places = minor_units(currency)
    exponent = Decimal(value).normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < 0:
        places = max(places, -exponent)
    return f"{Decimal(value):,.{places}f}"


def file_name(number: str, version: int = 1) -> str:
    """The attachment name of a document's PDF: its number without slashes."""
    name = number.replace("/", "-").replace("\\", "-")
    return f"{name}-v{version}.pdf" if version > 1 else f"{name}.pdf"


def recipients(to: str | Sequence[str] | None, *fallbacks: str, missing: str) -> list[str]:
    """The addresses to send to: `to`, else the first non-empty fallback; each checked.
    Raises ValidationError on field "to" (`missing` when there is none)."""
    if to:
        wanted = [to] if isinstance(to, str) else list(to)
    else:
        wanted = [next((address for address in fallbacks if address), "")]
    wanted = [str(address).strip() for address in wanted if str(address).strip()]
    if not wanted:
        raise ValidationError({"to": [ValidationError(missing, code="no_address")]})
    for address in wanted:
        try:
            validate_email(address)
        except ValidationError as exc:
            raise ValidationError(
                {
                    "to": [
                        ValidationError(
                            _("“%(address)s” is not an e-mail address.") % {"address": address},
                            code="to",
                        )
                    ]
                }  # fmt: skip
            ) from exc
    return wanted


@dataclass
class Rendering:
    """What a document's PDF is made of: the template, its context and the language."""

    template: str
    context: dict[str, Any]
    language: str | None

    def pdf(self) -> bytes:
        return pdf_render(template=self.template, context=self.context, language=self.language)

    def html(self) -> str:
        with translation.override(self.language or translation.get_language()):
            return render_to_string(self.template, {**self.context, "font_stack": ""})


def mail_message(
    *,
    templates: str,
    context: dict[str, Any],
    language: str | None,
    to: list[str],
    attachment: str,
    pdf: bytes,
    reply_to: Sequence[str] = (),
) -> EmailMessage:
    """The e-mail (not sent) of `<templates>_subject.txt` and `<templates>_body.txt` rendered
    in `language`, to `to`, with `pdf` attached as `attachment`."""
    with translation.override(language or translation.get_language()):
        subject = " ".join(render_to_string(f"{templates}_subject.txt", context).split())
        body = render_to_string(f"{templates}_body.txt", context)
    email = EmailMessage(
        subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=to,
        reply_to=[address for address in reply_to if address][:1],
    )  # fmt: skip
    email.attach(attachment, pdf, "application/pdf")
    return email


def mail_with_pdf(
    *,
    templates: str,
    context: dict[str, Any],
    language: str | None,
    to: list[str],
    attachment: str,
    pdf: bytes,
    reply_to: Sequence[str] = (),
) -> None:
    """Send `mail_message(...)` at once. The mail backend's errors propagate."""
    mail_message(templates=templates, context=context, language=language, to=to,
                 attachment=attachment, pdf=pdf, reply_to=reply_to).send(fail_silently=False)  # fmt: skip
