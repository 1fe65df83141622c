"""Shipped charts of accounts and `chart_load`: a consistent tree in every language, the role
accounts, journals, taxes and dunning levels, refusals that change nothing, one chart per
company."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from xietong.core.tenancy import company_scope
from xietong.finance.charts import (
    DUNNING_LEVELS,
    JOURNALS,
    LANGUAGES,
    SETTINGS_ROLES,
    TEMPLATES,
    chart_load,
    chart_templates,
)
from xietong.finance.models import (
    Account,
    AccountSubtype,
    AccountType,
    CashFlowSection,
    DunningLevel,
    FinanceSettings,
    Journal,
    Tax,
)

pytestmark = pytest.mark.django_db

CASES = [(key, language) for key in ("cn", "ifrs") for language in LANGUAGES]


def snapshot(company) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Everything `chart_load` writes for `company`, to compare before and after a refusal."""
    return {
        model.__name__: sorted(
            tuple(row) for row in model.unscoped.filter(company=company).values_list()
        )
        for model in (Account, Journal, Tax, DunningLevel, FinanceSettings)
    }


# --- the templates ------------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_template_is_sound(key):
    chart = TEMPLATES[key]
    assert chart.problems() == []
    assert chart.key == key
    assert chart.default_language in LANGUAGES


def test_cn_codes_extend_their_parents_and_first_level_codes_are_four_digits():
    for account in TEMPLATES["cn"].accounts:
        if account.parent is None:
            assert len(account.code) == 4, account.code
        else:
            assert account.code.startswith(account.parent)
            assert len(account.code) == len(account.parent) + 2, account.code


def test_ifrs_codes_have_four_digits():
    assert all(len(a.code) == 4 and a.code.isdigit() for a in TEMPLATES["ifrs"].accounts)


def test_chart_templates_lists_the_templates_for_a_form():
    choices = chart_templates()
    assert [key for key, _label in choices] == list(TEMPLATES)
    assert all(str(label) for _key, label in choices)


# --- loading ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "language"), CASES)
def test_load_builds_a_consistent_chart(request, key, language):
    company = request.getfixturevalue("company_a" if key == "cn" else "company_b")
    chart = TEMPLATES[key]

    settings = chart_load(company=company, template=key, language=language)

    with company_scope(company):
        accounts = list(Account.objects.select_related("parent"))
        journals = {j.code: j for j in Journal.objects.all()}
        taxes = list(Tax.objects.select_related("account"))
        levels = list(DunningLevel.objects.all())
    by_code = {a.code: a for a in accounts}

    # the tree: as many accounts as the template, unique codes, parents in the same chart
    assert len(accounts) == len(chart.accounts) == len(by_code)
    parents = {a.parent.code for a in accounts if a.parent is not None}
    for account in accounts:
        template = chart.by_code[account.code]
        assert (account.parent.code if account.parent else None) == template.parent
        if account.parent is not None:
            assert account.parent.company_id == company.pk
            assert account.parent.type == account.type
        assert account.is_group == (account.code in parents)
        assert account.reconcile == (
            account.subtype in (AccountSubtype.RECEIVABLE, AccountSubtype.PAYABLE)
        )
        assert account.name == template.names[language]
        assert (account.type, account.subtype, account.cash_flow) == (
            template.type,
            template.subtype,
            template.cash_flow,
        )
        assert account.active and account.currency_id is None
        account.full_clean()
    assert {a.type for a in accounts} == set(AccountType.values)
    subtypes = Counter(a.subtype for a in accounts if not a.is_group)
    for subtype in (
        AccountSubtype.RECEIVABLE,
        AccountSubtype.PAYABLE,
        AccountSubtype.BANK,
        AccountSubtype.CASH,
        AccountSubtype.STOCK,
        AccountSubtype.RETAINED_EARNINGS,
        AccountSubtype.CURRENT_EARNINGS,
        AccountSubtype.TAX,
        AccountSubtype.FIXED_ASSET,
        AccountSubtype.DEPRECIATION,
        AccountSubtype.COST_OF_SALES,
        AccountSubtype.NON_CASH_EXPENSE,
    ):
        assert subtypes[subtype] >= 1, subtype
    for account in accounts:
        if account.type in (AccountType.INCOME, AccountType.EXPENSE):
            assert account.cash_flow == CashFlowSection.NONE, account.code
        if account.subtype in (AccountSubtype.BANK, AccountSubtype.CASH):
            assert account.cash_flow == CashFlowSection.CASH, account.code

    # the settings: the chart key and leaf role accounts of this company
    assert settings.company_id == company.pk
    assert settings.chart == key
    assert FinanceSettings.unscoped.filter(company=company).count() == 1
    for role, field_name in SETTINGS_ROLES.items():
        account = getattr(settings, field_name)
        assert account.code == getattr(chart, role)
        assert account.company_id == company.pk
        assert not account.is_group
    assert settings.receivable_account.subtype == AccountSubtype.RECEIVABLE
    assert settings.payable_account.subtype == AccountSubtype.PAYABLE
    assert settings.retained_earnings_account.subtype == AccountSubtype.RETAINED_EARNINGS
    assert settings.income_account.type == AccountType.INCOME
    assert settings.expense_account.type == AccountType.EXPENSE

    # the journals, named in the requested language
    assert set(journals) == {"SAL", "PUR", "BNK", "CSH", "STK", "GEN"}
    with translation.override(language):
        for code, kind, name, _role in JOURNALS:
            assert (journals[code].kind, journals[code].name) == (kind, str(name))
    assert journals["BNK"].account == by_code[chart.bank]
    assert journals["BNK"].account.subtype == AccountSubtype.BANK
    assert journals["CSH"].account == by_code[chart.cash]
    assert journals["CSH"].account.subtype == AccountSubtype.CASH
    assert journals["STK"].account == by_code[chart.stock]
    assert journals["STK"].account.subtype == AccountSubtype.STOCK
    assert not journals["BNK"].account.is_group and not journals["CSH"].account.is_group
    assert journals["SAL"].account is None and journals["GEN"].account is None
    assert settings.sales_journal == journals["SAL"]
    assert settings.purchase_journal == journals["PUR"]
    assert settings.general_journal == journals["GEN"]

    # the taxes, on leaf tax accounts
    assert len(taxes) == len(chart.taxes)
    for tax in taxes:
        assert tax.account.company_id == company.pk
        assert not tax.account.is_group
        assert tax.account.subtype == AccountSubtype.TAX
        assert not tax.price_include and not tax.compound
        tax.full_clean()
    assert {t.use for t in taxes} == set(Tax.Use.values)

    # the dunning levels, in the requested language
    assert [(d.level, d.days_overdue) for d in levels] == [(1, 7), (2, 30), (3, 60)]
    for level, template in zip(levels, DUNNING_LEVELS, strict=True):
        assert level.name == template.names[language]
        assert level.letter == template.letters[language]
        assert level.fee == 0


def test_cn_receivable_is_named_in_each_language(company_a):
    chart_load(company=company_a, template="cn", language="zh-hans")
    with company_scope(company_a):
        assert Account.objects.get(code="1122").name == "应收账款"
    assert TEMPLATES["cn"].by_code["1122"].names == {
        "zh-hans": "应收账款",
        "zh-hant": "應收帳款",
        "en": "Accounts receivable",
    }


def test_cn_in_traditional_chinese(company_a):
    chart_load(company=company_a, template="cn", language="zh-hant")
    with company_scope(company_a):
        names = dict(Account.objects.values_list("code", "name"))
        tax = Tax.objects.get(code="VAT13-S")
    assert names["1122"] == "應收帳款"
    assert names["2202"] == "應付帳款"
    assert names["1602"] == "累計折舊"
    assert tax.name == "增值稅 13%（銷項）"


def test_cn_defaults_to_simplified_chinese_and_ifrs_to_english(company_a, company_b):
    chart_load(company=company_a, template="cn")
    chart_load(company=company_b, template="ifrs")
    with company_scope(company_a):
        assert Account.objects.get(code="6001").name == "主营业务收入"
        assert Tax.objects.get(code="VAT13-S").name == "增值税 13%（销项）"
        assert DunningLevel.objects.get(level=3).name == "最后通知"
    with company_scope(company_b):
        assert Account.objects.get(code="1110").name == "Trade receivables"
        assert Tax.objects.get(code="VAT20-S").name == "VAT 20% (sales)"
        assert DunningLevel.objects.get(level=1).name == "First reminder"


def test_load_names_its_actor(company_a, admin_a):
    settings = chart_load(company=company_a, template="ifrs", language="en", actor=admin_a)
    assert settings.chart == "ifrs"


def test_language_variants_are_accepted(company_a):
    chart_load(company=company_a, template="cn", language="zh-Hant")
    with company_scope(company_a):
        assert Account.objects.get(code="1001").name == "庫存現金"


def test_cn_standard_accounts(company_a):
    settings = chart_load(company=company_a, template="cn", language="zh-hans")
    with company_scope(company_a):
        accounts = {a.code: a for a in Account.objects.all()}
    expected = {
        "1001": ("库存现金", AccountSubtype.CASH, CashFlowSection.CASH),
        "1002": ("银行存款", AccountSubtype.BANK, CashFlowSection.CASH),
        "1012": ("其他货币资金", AccountSubtype.CURRENT_ASSET, CashFlowSection.CASH),
        "1122": ("应收账款", AccountSubtype.RECEIVABLE, CashFlowSection.OPERATING),
        "1123": ("预付账款", AccountSubtype.RECEIVABLE, CashFlowSection.OPERATING),
        "1405": ("库存商品", AccountSubtype.STOCK, CashFlowSection.OPERATING),
        "1601": ("固定资产", AccountSubtype.FIXED_ASSET, CashFlowSection.INVESTING),
        "1602": ("累计折旧", AccountSubtype.DEPRECIATION, CashFlowSection.INVESTING),
        "1701": ("无形资产", AccountSubtype.FIXED_ASSET, CashFlowSection.INVESTING),
        "1702": ("累计摊销", AccountSubtype.DEPRECIATION, CashFlowSection.INVESTING),
        "2001": ("短期借款", AccountSubtype.CURRENT_LIABILITY, CashFlowSection.FINANCING),
        "2202": ("应付账款", AccountSubtype.PAYABLE, CashFlowSection.OPERATING),
        "2203": ("预收账款", AccountSubtype.PAYABLE, CashFlowSection.OPERATING),
        "2221": ("应交税费", AccountSubtype.TAX, CashFlowSection.OPERATING),
        "2232": ("应付股利", AccountSubtype.CURRENT_LIABILITY, CashFlowSection.FINANCING),
        "2501": ("长期借款", AccountSubtype.LONG_TERM_LIABILITY, CashFlowSection.FINANCING),
        "4001": ("实收资本", AccountSubtype.NONE, CashFlowSection.FINANCING),
        "4103": ("本年利润", AccountSubtype.CURRENT_EARNINGS, CashFlowSection.NONE),
        "4104": ("利润分配", AccountSubtype.RETAINED_EARNINGS, CashFlowSection.NONE),
        "410401": ("未分配利润", AccountSubtype.RETAINED_EARNINGS, CashFlowSection.NONE),
        "6401": ("主营业务成本", AccountSubtype.COST_OF_SALES, CashFlowSection.NONE),
        "6403": ("税金及附加", AccountSubtype.NONE, CashFlowSection.NONE),
        "660302": ("汇兑损益", AccountSubtype.NONE, CashFlowSection.NONE),
    }
    for code, (name, subtype, cash_flow) in expected.items():
        assert (accounts[code].name, accounts[code].subtype, accounts[code].cash_flow) == (
            name,
            subtype,
            cash_flow,
        ), code
    assert accounts["22210101"].parent == accounts["222101"]
    assert accounts["222101"].parent == accounts["2221"]
    assert accounts["2221"].is_group and accounts["222101"].is_group
    assert accounts["1002"].is_group and not accounts["100201"].is_group
    assert accounts["1122"].reconcile and accounts["2202"].reconcile
    assert not accounts["1001"].reconcile and not accounts["22210102"].reconcile
    assert settings.receivable_account == accounts["1122"]
    assert settings.payable_account == accounts["2202"]
    assert settings.income_account == accounts["6001"]
    assert settings.retained_earnings_account == accounts["410401"]
    assert settings.exchange_gain_account == settings.exchange_loss_account == accounts["660302"]
    assert settings.discount_account.parent == accounts["6603"]


def test_cn_vat_rates(company_a):
    chart_load(company=company_a, template="cn")
    with company_scope(company_a):
        taxes = {
            t.code: (t.use, t.rate, t.account.code, t.price_include, t.compound)
            for t in Tax.objects.select_related("account")
        }
    expected = {}
    for rate in (13, 9, 6, 0):
        expected[f"VAT{rate}-S"] = (Tax.Use.SALE, Decimal(rate), "22210102", False, False)
        expected[f"VAT{rate}-P"] = (Tax.Use.PURCHASE, Decimal(rate), "22210101", False, False)
    assert taxes == expected


def test_ifrs_vat_rates(company_b):
    chart_load(company=company_b, template="ifrs")
    with company_scope(company_b):
        taxes = {
            t.code: (t.use, t.rate, t.account.code) for t in Tax.objects.select_related("account")
        }
    expected = {}
    for rate in (20, 10, 0):
        expected[f"VAT{rate}-S"] = (Tax.Use.SALE, Decimal(rate), "2210")
        expected[f"VAT{rate}-P"] = (Tax.Use.PURCHASE, Decimal(rate), "1320")
    assert taxes == expected


# --- refusals -----------------------------------------------------------------------------------


def test_loading_twice_is_refused_and_changes_nothing(company_a):
    chart_load(company=company_a, template="cn")
    before = snapshot(company_a)
    for template in ("cn", "ifrs"):
        with pytest.raises(ValidationError) as excinfo:
            chart_load(company=company_a, template=template, language="en")
        assert excinfo.value.code == "chart_exists"
    assert snapshot(company_a) == before


def test_a_company_with_a_hand_made_account_is_refused(company_a):
    Account.unscoped.create(company=company_a, code="1000", name="Cash", type=AccountType.ASSET)
    before = snapshot(company_a)
    with pytest.raises(ValidationError):
        chart_load(company=company_a, template="ifrs")
    assert snapshot(company_a) == before


def test_unknown_template_is_refused(company_a):
    with pytest.raises(ValidationError) as excinfo:
        chart_load(company=company_a, template="us-gaap")
    assert excinfo.value.code == "unknown_template"
    assert "us-gaap" in excinfo.value.messages[0]
    assert not Account.unscoped.filter(company=company_a).exists()
    assert not FinanceSettings.unscoped.filter(company=company_a).exists()


def test_unknown_language_is_refused(company_a):
    with pytest.raises(ValidationError) as excinfo:
        chart_load(company=company_a, template="cn", language="fr")
    assert excinfo.value.code == "unknown_language"
    assert not Account.unscoped.filter(company=company_a).exists()


def test_a_clashing_journal_is_refused_and_changes_nothing(company_a):
    Journal.unscoped.create(company=company_a, code="BNK", name="Bank", kind=Journal.Kind.BANK)
    before = snapshot(company_a)
    with pytest.raises(ValidationError) as excinfo:
        chart_load(company=company_a, template="cn")
    assert excinfo.value.code == "journal_exists"
    assert snapshot(company_a) == before


def test_existing_settings_and_dunning_levels_are_kept_and_completed(company_a):
    FinanceSettings.unscoped.create(company=company_a, tax_rounding="global")
    DunningLevel.unscoped.create(company=company_a, level=1, name="Friendly", days_overdue=3)

    settings = chart_load(company=company_a, template="cn")

    assert FinanceSettings.unscoped.filter(company=company_a).count() == 1
    assert settings.tax_rounding == "global"
    assert settings.receivable_account.code == "1122"
    levels = DunningLevel.unscoped.filter(company=company_a)
    assert [(d.level, d.name, d.days_overdue) for d in levels] == [
        (1, "Friendly", 3),
        (2, "第二次提醒", 30),
        (3, "最后通知", 60),
    ]


# --- companies apart ----------------------------------------------------------------------------


def test_each_company_has_its_own_chart(company_a, company_b):
    settings_a = chart_load(company=company_a, template="cn")
    settings_b = chart_load(company=company_b, template="ifrs", language="zh-hant")

    with company_scope(company_a):
        codes_a = set(Account.objects.values_list("code", flat=True))
        assert Journal.objects.count() == 6
        assert set(Tax.objects.values_list("code", flat=True)) == {
            f"VAT{r}-{u}" for r in (13, 9, 6, 0) for u in "SP"
        }
    with company_scope(company_b):
        codes_b = set(Account.objects.values_list("code", flat=True))
        assert Journal.objects.count() == 6
        assert Account.objects.get(code="1110").name == "應收帳款"
    assert codes_a == set(TEMPLATES["cn"].by_code)
    assert codes_b == set(TEMPLATES["ifrs"].by_code)
    assert settings_a.chart == "cn" and settings_b.chart == "ifrs"
    assert settings_a.receivable_account.company_id == company_a.pk
    assert settings_b.receivable_account.company_id == company_b.pk
    # parents never cross companies
    for company in (company_a, company_b):
        assert not (
            Account.unscoped.filter(company=company)
            .exclude(parent__isnull=True)
            .exclude(parent__company=company)
            .exists()
        )
    # loading A again is refused, B stays as it was
    before_b = snapshot(company_b)
    with pytest.raises(ValidationError):
        chart_load(company=company_a, template="ifrs")
    assert snapshot(company_b) == before_b


def test_names_fit_their_fields():
    max_name = Account._meta.get_field("name").max_length
    for chart in TEMPLATES.values():
        for account in chart.accounts:
            assert all(len(name) <= max_name for name in account.names.values())
    for template in DUNNING_LEVELS:
        assert set(template.names) == set(template.letters) == set(LANGUAGES)
        assert all(len(name) <= 80 for name in template.names.values())
