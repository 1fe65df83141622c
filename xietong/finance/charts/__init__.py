"""Shipped charts of accounts and `chart_load`, which sets a company's ledger up from one.

A template is the chart (accounts with their type, subtype and cash-flow section, named in
every language the platform speaks), the role accounts the documents post to by default, and
the taxes. Loading one also creates the six standard journals, three dunning levels and the
company's `FinanceSettings`, all in the requested language.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from xietong.core.audit import audited
from xietong.core.models import Company
from xietong.finance.charts import cn, ifrs
from xietong.finance.models import (
    Account,
    AccountSubtype,
    DunningLevel,
    FinanceSettings,
    Journal,
    Tax,
)

if TYPE_CHECKING:
    from xietong.core.models import User

LANGUAGES = ("zh-hans", "zh-hant", "en")
"""The languages every template names its accounts and taxes in."""

ROLES = (
    "receivable",
    "payable",
    "income",
    "expense",
    "exchange_gain",
    "exchange_loss",
    "retained_earnings",
    "discount",
    "bank",
    "cash",
    "stock",
)
"""The role accounts of a template, each the code of a leaf account."""

SETTINGS_ROLES = {
    "receivable": "receivable_account",
    "payable": "payable_account",
    "income": "income_account",
    "expense": "expense_account",
    "exchange_gain": "exchange_gain_account",
    "exchange_loss": "exchange_loss_account",
    "retained_earnings": "retained_earnings_account",
    "discount": "discount_account",
}
"""Template role → the `FinanceSettings` field it fills."""

RECONCILED_SUBTYPES = frozenset({AccountSubtype.RECEIVABLE, AccountSubtype.PAYABLE})


def _translated(names: Mapping[str, str], language: str, fallback: str) -> str:
    return names.get(language) or names.get("en") or names[fallback]


@dataclass(frozen=True)
class AccountTemplate:
    """One account of a template. Whether it is a group follows from the chart: an account
    with children is a group and takes no postings."""

    code: str
    parent: str | None
    type: str
    subtype: str
    cash_flow: str
    names: dict[str, str] = field(hash=False)
    reconcile: bool = False

    def name(self, language: str, fallback: str = "en") -> str:
        return _translated(self.names, language, fallback)


@dataclass(frozen=True)
class TaxTemplate:
    code: str
    use: str
    rate: Decimal
    account: str
    sequence: int
    names: dict[str, str] = field(hash=False)

    def name(self, language: str, fallback: str = "en") -> str:
        return _translated(self.names, language, fallback)


@dataclass(frozen=True)
class ChartTemplate:
    """A shipped chart: its accounts (parents before children), taxes and role accounts."""

    key: str
    label: str | Promise
    default_language: str
    accounts: tuple[AccountTemplate, ...]
    taxes: tuple[TaxTemplate, ...]
    receivable: str
    payable: str
    income: str
    expense: str
    exchange_gain: str
    exchange_loss: str
    retained_earnings: str
    discount: str
    bank: str
    cash: str
    stock: str

    @cached_property
    def by_code(self) -> dict[str, AccountTemplate]:
        return {account.code: account for account in self.accounts}

    @cached_property
    def group_codes(self) -> frozenset[str]:
        """The codes of the accounts that have children."""
        return frozenset(a.parent for a in self.accounts if a.parent is not None)

    def is_group(self, code: str) -> bool:
        return code in self.group_codes

    def depth(self, code: str) -> int:
        """0 for a top-level account, 1 for its children, and so on."""
        depth, parent = 0, self.by_code[code].parent
        while parent is not None:
            depth, parent = depth + 1, self.by_code[parent].parent
        return depth

    def roles(self) -> dict[str, str]:
        """Role → account code."""
        return {role: getattr(self, role) for role in ROLES}

    def problems(self) -> list[str]:
        """What is wrong with the template (an empty list for a sound one); for the tests."""
        found: list[str] = []
        seen: set[str] = set()
        for account in self.accounts:
            if account.code in seen:
                found.append(f"{account.code}: duplicate code")
            if account.parent is not None and account.parent not in seen:
                found.append(f"{account.code}: parent {account.parent} missing or listed later")
            if account.reconcile != (account.subtype in RECONCILED_SUBTYPES):
                found.append(f"{account.code}: reconcile does not follow the subtype")
            if set(account.names) != set(LANGUAGES) or not all(account.names.values()):
                found.append(f"{account.code}: not named in every language")
            if max(len(name) for name in account.names.values()) > 160 or len(account.code) > 20:
                found.append(f"{account.code}: code or name too long")
            seen.add(account.code)
        for role, code in self.roles().items():
            if code not in self.by_code or self.is_group(code):
                found.append(f"{role}: {code} is not a leaf account")
        for tax in self.taxes:
            if tax.account not in self.by_code or self.is_group(tax.account):
                found.append(f"{tax.code}: {tax.account} is not a leaf account")
            if set(tax.names) != set(LANGUAGES) or max(map(len, tax.names.values())) > 80:
                found.append(f"{tax.code}: names missing or too long")
        if len({tax.code for tax in self.taxes}) != len(self.taxes):
            found.append("duplicate tax codes")
        return found


def _build(*, key: str, label: str | Promise, default_language: str, module: Any) -> ChartTemplate:
    """A template from the plain rows of a chart module (`ACCOUNTS`, `TAXES`, `ROLES`)."""
    accounts = tuple(
        AccountTemplate(
            code=code,
            parent=parent,
            type=type_,
            subtype=subtype,
            cash_flow=cash_flow,
            names={"zh-hans": zh_hans, "zh-hant": zh_hant, "en": en},
            reconcile=subtype in RECONCILED_SUBTYPES,
        )
        for code, parent, type_, subtype, cash_flow, zh_hans, zh_hant, en in module.ACCOUNTS
    )
    taxes = tuple(
        TaxTemplate(
            code=code,
            use=use,
            rate=rate,
            account=account,
            sequence=sequence,
            names={"zh-hans": zh_hans, "zh-hant": zh_hant, "en": en},
        )
        for code, use, rate, account, sequence, zh_hans, zh_hant, en in module.TAXES
    )
    return ChartTemplate(
        key=key,
        label=label,
        default_language=default_language,
        accounts=accounts,
        taxes=taxes,
        **module.ROLES,
    )


TEMPLATES: dict[str, ChartTemplate] = {
    "cn": _build(
        key="cn",
        label=gettext_lazy("China: Accounting Standards for Business Enterprises"),
        default_language="zh-hans",
        module=cn,
    ),
    "ifrs": _build(
        key="ifrs",
        label=gettext_lazy("International: IFRS"),
        default_language="en",
        module=ifrs,
    ),
}

JOURNALS: tuple[tuple[str, str, str | Promise, str | None], ...] = (
    ("SAL", Journal.Kind.SALES, gettext_lazy("Sales journal"), None),
    ("PUR", Journal.Kind.PURCHASE, gettext_lazy("Purchase journal"), None),
    ("BNK", Journal.Kind.BANK, gettext_lazy("Bank journal"), "bank"),
    ("CSH", Journal.Kind.CASH, gettext_lazy("Cash journal"), "cash"),
    ("STK", Journal.Kind.STOCK, gettext_lazy("Stock journal"), "stock"),
    ("GEN", Journal.Kind.GENERAL, gettext_lazy("General journal"), None),
)
"""Code, kind, name and the role of the journal's account (bank, cash, stock valuation)."""


@dataclass(frozen=True)
class DunningTemplate:
    level: int
    days_overdue: int
    names: dict[str, str] = field(hash=False)
    letters: dict[str, str] = field(hash=False)


DUNNING_LEVELS: tuple[DunningTemplate, ...] = (
    DunningTemplate(
        level=1,
        days_overdue=7,
        names={"en": "First reminder", "zh-hans": "第一次提醒", "zh-hant": "第一次提醒"},
        letters={
            "en": (
                "Dear customer,\n\n"
                "According to our records, the invoices listed below are now past due. This may "
                "simply be an oversight; if so, we would be grateful if you could arrange payment "
                "at your earliest convenience.\n\n"
                "If you have already paid, please disregard this letter, and thank you. If you "
                "have any questions about these invoices, please do not hesitate to contact us."
                "\n\nKind regards"
            ),
            "zh-hans": (
                "尊敬的客户：\n\n"
                "根据我们的记录，以下发票已超过付款期限。这可能只是一时疏忽，"
                "烦请您在方便时尽快安排付款。\n\n"
                "如您已付款，请忽略本函，并感谢您的支持。如对这些发票有任何疑问，"
                "欢迎随时与我们联系。\n\n"
                "此致\n敬礼"
            ),
            "zh-hant": (
                "尊敬的客戶：\n\n"
                "根據我們的記錄，以下發票已超過付款期限。這可能只是一時疏忽，"
                "煩請您在方便時儘快安排付款。\n\n"
                "如您已付款，請忽略本函，並感謝您的支持。如對這些發票有任何疑問，"
                "歡迎隨時與我們聯絡。\n\n"
                "此致\n敬禮"
            ),
        },
    ),
    DunningTemplate(
        level=2,
        days_overdue=30,
        names={"en": "Second reminder", "zh-hans": "第二次提醒", "zh-hant": "第二次提醒"},
        letters={
            "en": (
                "Dear customer,\n\n"
                "Despite our earlier reminder, we have not yet received payment for the invoices "
                "listed below. We kindly ask you to settle the outstanding amount within the next "
                "seven days.\n\n"
                "If there is a problem with these invoices, or if you would like to agree on a "
                "payment plan, please contact us so that we can find a solution together."
                "\n\nKind regards"
            ),
            "zh-hans": (
                "尊敬的客户：\n\n"
                "我们此前已发出付款提醒，但尚未收到以下发票的款项。恳请您在七日内结清未付金额。"
                "\n\n"
                "如这些发票存在问题，或您希望商定分期付款安排，请与我们联系，"
                "我们愿与您共同寻找解决办法。\n\n"
                "此致\n敬礼"
            ),
            "zh-hant": (
                "尊敬的客戶：\n\n"
                "我們此前已發出付款提醒，但尚未收到以下發票的款項。懇請您在七日內結清未付金額。"
                "\n\n"
                "如這些發票存在問題，或您希望商定分期付款安排，請與我們聯絡，"
                "我們願與您共同尋找解決辦法。\n\n"
                "此致\n敬禮"
            ),
        },
    ),
    DunningTemplate(
        level=3,
        days_overdue=60,
        names={"en": "Final notice", "zh-hans": "最后通知", "zh-hant": "最後通知"},
        letters={
            "en": (
                "Dear customer,\n\n"
                "Despite our previous reminders, the invoices listed below remain unpaid. Please "
                "pay the outstanding amount within seven days of the date of this letter.\n\n"
                "If we have not received payment or heard from you by then, we may have to "
                "suspend further deliveries and take further steps to recover the amount due. We "
                "would much prefer to settle this with you directly, so please contact us if "
                "anything is unclear.\n\nKind regards"
            ),
            "zh-hans": (
                "尊敬的客户：\n\n"
                "尽管我们已多次提醒，以下发票仍未支付。请于本函日期起七日内支付全部未付金额。\n\n"
                "如届时仍未收到款项或您的回复，我们可能不得不暂停后续供货，"
                "并采取进一步措施追收欠款。我们更希望与您直接协商解决，如有任何疑问，"
                "请与我们联系。\n\n"
                "此致\n敬礼"
            ),
            "zh-hant": (
                "尊敬的客戶：\n\n"
                "儘管我們已多次提醒，以下發票仍未支付。請於本函日期起七日內支付全部未付金額。\n\n"
                "如屆時仍未收到款項或您的回覆，我們可能不得不暫停後續供貨，"
                "並採取進一步措施追收欠款。我們更希望與您直接協商解決，如有任何疑問，"
                "請與我們聯絡。\n\n"
                "此致\n敬禮"
            ),
        },
    ),
)


def chart_templates() -> list[tuple[str, str | Promise]]:
    """The shipped templates as form choices: (key, label)."""
    return [(key, chart.label) for key, chart in TEMPLATES.items()]


def _language(language: str) -> str:
    """The platform language code for `language` ("zh-CN" → "zh-hans"); ValidationError if
    the platform does not speak it."""
    try:
        return translation.get_supported_language_variant(language.lower())
    except LookupError:
        raise ValidationError(
            _("“%(language)s” is not a language the charts of accounts are available in."),
            code="unknown_language",
            params={"language": language},
        ) from None


@audited
def chart_load(
    *,
    company: Company,
    template: str,
    language: str | None = None,
    actor: User | None = None,
) -> FinanceSettings:
    """Set up the ledger of `company` from the shipped chart `template`.

    Creates the accounts, the journals SAL, PUR, BNK, CSH, STK and GEN, the template's taxes,
    the dunning levels the company does not have yet, and fills the company's finance settings
    with the role accounts and journals. Names are in `language` (a Django language code),
    by default the template's own. One transaction; raises ValidationError, changing nothing,
    for an unknown template or language or a company that already has a chart.
    """
    chart = TEMPLATES.get(template)
    if chart is None:
        raise ValidationError(
            _("There is no chart of accounts template “%(template)s”."),
            code="unknown_template",
            params={"template": template},
        )
    language = _language(language or chart.default_language)
    with transaction.atomic():
        # Serialises concurrent loads for the same company.
        Company.objects.select_for_update().filter(pk=company.pk).first()
        if Account.unscoped.filter(company=company).exists():
            raise ValidationError(
                _("This company already has a chart of accounts."), code="chart_exists"
            )
        clashes = list(
            Journal.unscoped.filter(
                company=company, code__in=[code for code, *_rest in JOURNALS]
            ).values_list("code", flat=True)
        )
        if clashes:
            raise ValidationError(
                _("The company already has journals with the codes %(codes)s."),
                code="journal_exists",
                params={"codes": ", ".join(sorted(clashes))},
            )
        accounts = _accounts_create(company=company, chart=chart, language=language)
        journals = _journals_create(
            company=company, chart=chart, accounts=accounts, language=language
        )
        Tax.unscoped.bulk_create(
            [
                Tax(
                    company=company,
                    code=tax.code,
                    name=tax.name(language, chart.default_language),
                    use=tax.use,
                    rate=tax.rate,
                    price_include=False,
                    compound=False,
                    sequence=tax.sequence,
                    account=accounts[tax.account],
                )
                for tax in chart.taxes
            ]
        )
        _dunning_levels_create(company=company, language=language)
        defaults: dict[str, Any] = {
            field_name: accounts[getattr(chart, role)]
            for role, field_name in SETTINGS_ROLES.items()
        }
        settings, _created = FinanceSettings.unscoped.update_or_create(
            company=company,
            defaults={
                **defaults,
                "chart": chart.key,
                "sales_journal": journals["SAL"],
                "purchase_journal": journals["PUR"],
                "general_journal": journals["GEN"],
            },
        )
    return settings


def _accounts_create(
    *, company: Company, chart: ChartTemplate, language: str
) -> dict[str, Account]:
    """Bulk-create the chart level by level, so each level knows its parents' ids."""
    levels: dict[int, list[AccountTemplate]] = defaultdict(list)
    for template in chart.accounts:
        levels[chart.depth(template.code)].append(template)
    created: dict[str, Account] = {}
    for depth in sorted(levels):
        rows = Account.unscoped.bulk_create(
            [
                Account(
                    company=company,
                    code=template.code,
                    name=template.name(language, chart.default_language),
                    parent=created[template.parent] if template.parent is not None else None,
                    type=template.type,
                    subtype=template.subtype,
                    cash_flow=template.cash_flow,
                    is_group=chart.is_group(template.code),
                    reconcile=template.reconcile,
                )
                for template in levels[depth]
            ]
        )
        created.update((row.code, row) for row in rows)
    return created


def _journals_create(
    *,
    company: Company,
    chart: ChartTemplate,
    accounts: Mapping[str, Account],
    language: str,
) -> dict[str, Journal]:
    with translation.override(language):
        journals = [
            Journal(
                company=company,
                code=code,
                name=str(name),
                kind=kind,
                account=accounts[getattr(chart, role)] if role else None,
            )
            for code, kind, name, role in JOURNALS
        ]
    return {journal.code: journal for journal in Journal.unscoped.bulk_create(journals)}


def _dunning_levels_create(*, company: Company, language: str) -> None:
    existing = set(DunningLevel.unscoped.filter(company=company).values_list("level", flat=True))
    DunningLevel.unscoped.bulk_create(
        [
            DunningLevel(
                company=company,
                level=template.level,
                name=_translated(template.names, language, "en"),
                days_overdue=template.days_overdue,
                letter=_translated(template.letters, language, "en"),
            )
            for template in DUNNING_LEVELS
            if template.level not in existing
        ]
    )
