"""How parties are recognised: normalised names and phone numbers (duplicate detection), and
tax and bank identifiers checked with python-stdnum.

Tax ID schemes are small strategy objects looked up by code (`cn.uscc`, `eu.vat`, `us.ein`,
or any other python-stdnum module such as `de.stnr` or `cn.ric`); `scheme_for(country, code)`
picks the scheme a party's tax ID is checked with.
"""

from __future__ import annotations

import importlib
import re
import unicodedata
from dataclasses import dataclass
from types import ModuleType

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from stdnum import exceptions as stdnum_errors

# --- names ----------------------------------------------------------------------------------

# Legal-form suffixes that say nothing about who a company is. Longest first, so that
# 股份有限公司 goes before 有限公司; Latin ones are matched as whole trailing words.
CJK_SUFFIXES = sorted(
    [
        "股份有限公司",
        "有限责任公司",
        "有限責任公司",
        "集团有限公司",
        "集團有限公司",
        "有限公司",
        "股份公司",
        "集团公司",
        "集團公司",
        "集团",
        "集團",
        "公司",
        "厂",
        "廠",
    ],
    key=len,
    reverse=True,
)
LATIN_SUFFIXES = {
    "ag",
    "bv",
    "co",
    "company",
    "corp",
    "corporation",
    "gmbh",
    "group",
    "inc",
    "incorporated",
    "kg",
    "limited",
    "llc",
    "ltd",
    "nv",
    "oy",
    "plc",
    "pte",
    "pty",
    "sa",
    "sarl",
    "sas",
    "spa",
    "srl",
}
_WORD = re.compile(r"\w+", re.UNICODE)


def _has_cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" for ch in text)


def normalize_name(name: str) -> str:
    """A key under which spellings of the same company collide: NFKC (full-width → half-width),
    case-folded, without spaces, punctuation and legal-form suffixes.

    >>> normalize_name("上海骑行者贸易有限公司") == normalize_name("上海 骑行者贸易（集团）")
    True
    >>> normalize_name("Velo Sport GmbH"), normalize_name("VELO-SPORT Co., Ltd.")
    ('velosport', 'velosport')
    """
    text = unicodedata.normalize("NFKC", name or "").casefold()
    words = _WORD.findall(text)
    # Trailing Latin legal-form words ("co", "ltd", "gmbh" …), but never the whole name.
    while len(words) > 1 and words[-1] in LATIN_SUFFIXES:
        words.pop()
    key = "".join(words).replace("_", "")
    if _has_cjk(key):
        stripped = True
        while stripped:
            stripped = False
            for suffix in CJK_SUFFIXES:
                if key.endswith(suffix) and len(key) > len(suffix):
                    key = key[: -len(suffix)]
                    stripped = True
                    break
    return key[:200] or text.strip()[:200]


def normalize_phone(phone: str) -> str:
    """The digits that identify a phone line: no separators, no international prefix (00 or
    +), no Chinese country code 86 and no trunk 0, so that "+86 21 5555-1234" and
    "021 5555 1234" collide. Empty when there are no digits."""
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", phone or "") if ch.isdigit())
    if digits.startswith("00"):
        digits = digits[2:]
    if digits.startswith("86") and len(digits) >= 12:
        digits = digits[2:]
    return digits.lstrip("0")[:40]


def compact_tax_id(value: str) -> str:
    """Upper-case letters and digits only: the form tax IDs are compared in."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", value or "") if ch.isalnum()).upper()


# --- tax ID schemes ---------------------------------------------------------------------------

EU_COUNTRIES = {
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE",
    "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
}  # fmt: skip
# Greece writes its VAT numbers with the prefix EL.
VAT_PREFIX = {"GR": "EL"}
_SCHEME_CODE = re.compile(r"^[a-z]{2}\.[a-z_]{2,20}$")


class TaxIdError(ValueError):
    """A tax ID is not valid under its scheme; the message names the scheme and the reason."""


@dataclass(frozen=True)
class TaxScheme:
    """One way of writing and checking tax IDs, backed by a python-stdnum module (or none)."""

    code: str
    label: str | Promise
    module: str | None = None  # python-stdnum module path, e.g. "stdnum.cn.uscc"

    def _stdnum(self) -> ModuleType | None:
        return importlib.import_module(self.module) if self.module else None

    def clean(self, value: str, *, country: str | None = None) -> str:
        """The compact, valid form of `value`. Raises TaxIdError naming the scheme."""
        module = self._stdnum()
        value = value.strip()
        if module is None:
            return compact_tax_id(value)
        if self.code == "eu.vat" and country:
            compact = compact_tax_id(value)
            if compact[:2].isdigit():  # written without its country prefix
                value = VAT_PREFIX.get(country, country) + compact
        try:
            return str(module.validate(value))
        except stdnum_errors.InvalidChecksum:
            reason = _("the check digit is wrong")
        except stdnum_errors.InvalidLength:
            reason = _("it has the wrong number of characters")
        except stdnum_errors.InvalidComponent:
            reason = _("a part of the number is not valid")
        except stdnum_errors.ValidationError:
            reason = _("it is not written in the scheme's format")
        raise TaxIdError(
            _("This is not a valid %(scheme)s: %(reason)s.")
            % {"scheme": self.label, "reason": reason}
        )


SCHEMES: dict[str, TaxScheme] = {
    scheme.code: scheme
    for scheme in (
        TaxScheme(
            "cn.uscc",
            gettext_lazy("unified social credit code (统一社会信用代码)"),
            "stdnum.cn.uscc",
        ),
        TaxScheme(
            "cn.ric", gettext_lazy("resident identity card number (身份证)"), "stdnum.cn.ric"
        ),
        TaxScheme("eu.vat", gettext_lazy("EU VAT number"), "stdnum.eu.vat"),
        TaxScheme(
            "us.ein", gettext_lazy("US employer identification number (EIN)"), "stdnum.us.ein"
        ),
        TaxScheme("hk.br", gettext_lazy("Hong Kong business registration number")),
        TaxScheme("other", gettext_lazy("other identifier (not checked)")),
    )
}
# The scheme a country's parties are checked with when the party names none.
COUNTRY_SCHEMES = {"CN": "cn.uscc", "US": "us.ein", "HK": "hk.br"} | dict.fromkeys(
    EU_COUNTRIES, "eu.vat"
)


def scheme_choices() -> list[tuple[str, str]]:
    return [(code, str(scheme.label)) for code, scheme in SCHEMES.items()]


def scheme_get(code: str) -> TaxScheme | None:
    """The scheme `code`: one of SCHEMES, or any python-stdnum module named like `de.stnr`."""
    if code in SCHEMES:
        return SCHEMES[code]
    if not _SCHEME_CODE.match(code or ""):
        return None
    path = f"stdnum.{code}"
    try:
        module = importlib.import_module(path)
    except ImportError:
        return None
    if not callable(getattr(module, "validate", None)):
        return None
    label = (module.__doc__ or code).strip().splitlines()[0].rstrip(".")
    return TaxScheme(code, label, path)


def scheme_for(*, country: str | None, code: str = "") -> TaxScheme:
    """The scheme named by `code`, else the one of `country`, else "other" (accept as given).
    Raises LookupError for a `code` that names no known scheme."""
    if code:
        scheme = scheme_get(code)
        if scheme is None:
            raise LookupError(code)
        return scheme
    return SCHEMES[COUNTRY_SCHEMES.get(country or "", "other")]


# --- bank accounts ----------------------------------------------------------------------------

_IBAN_SHAPE = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{8,30}$")


def looks_like_iban(value: str) -> bool:
    """Two letters, two check digits and at least 8 more characters (Chinese account numbers
    are digits only and never look like this)."""
    return bool(_IBAN_SHAPE.match(compact_tax_id(value)))


def clean_iban(value: str) -> str:
    """The compact IBAN. Raises TaxIdError with the reason."""
    from stdnum import iban

    try:
        return str(iban.validate(value))
    except stdnum_errors.InvalidChecksum:
        reason = _("the check digits are wrong")
    except stdnum_errors.InvalidLength:
        reason = _("it has the wrong length for its country")
    except stdnum_errors.ValidationError:
        reason = _("it is not written in the IBAN format")
    raise TaxIdError(_("This is not a valid IBAN: %(reason)s.") % {"reason": reason})
