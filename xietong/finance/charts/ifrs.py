"""A generic IFRS chart of accounts for companies outside the PRC standards.

Four-digit codes, grouped by statement line: 1xxx assets, 2xxx liabilities, 3xxx equity,
4xxx revenue and other income, 5xxx cost of sales, 6xxx operating expenses, finance costs and
income tax. English is the reference; the Chinese names follow the Chinese versions of IFRS
(Traditional: Hong Kong and Taiwan usage).

Each row: code, parent code, type, subtype, cash-flow section, then the name in Simplified
Chinese, Traditional Chinese and English.
"""

from __future__ import annotations

from decimal import Decimal

from xietong.finance.models import AccountSubtype as S
from xietong.finance.models import AccountType as T
from xietong.finance.models import CashFlowSection as CF
from xietong.finance.models import Tax

A, L, E, R, X = T.ASSET, T.LIABILITY, T.EQUITY, T.INCOME, T.EXPENSE
NONE, OPER, INV, FIN, CASH = CF.NONE, CF.OPERATING, CF.INVESTING, CF.FINANCING, CF.CASH

Row = tuple[str, str | None, str, str, str, str, str, str]

ACCOUNTS: tuple[Row, ...] = (
    # --- assets ---------------------------------------------------------------------------------
    ("1000", None, A, S.CURRENT_ASSET, CASH, "现金及现金等价物", "現金及現金等價物", "Cash and cash equivalents"),
    ("1010", "1000", A, S.CASH, CASH, "库存现金", "庫存現金", "Cash on hand"),
    ("1020", "1000", A, S.BANK, CASH, "银行活期账户", "銀行往來帳戶", "Bank current account"),
    ("1100", None, A, S.CURRENT_ASSET, OPER, "应收款项", "應收款項", "Receivables"),
    ("1110", "1100", A, S.RECEIVABLE, OPER, "应收账款", "應收帳款", "Trade receivables"),
    ("1120", "1100", A, S.RECEIVABLE, OPER, "其他应收款", "其他應收款", "Other receivables"),
    ("1130", "1100", A, S.RECEIVABLE, OPER, "预付供应商款项", "預付供應商款項", "Advances to suppliers"),
    ("1200", None, A, S.STOCK, OPER, "存货", "存貨", "Inventories"),
    ("1210", "1200", A, S.STOCK, OPER, "原材料", "原材料", "Raw materials"),
    ("1220", "1200", A, S.STOCK, OPER, "在产品", "在製品", "Work in progress"),
    ("1230", "1200", A, S.STOCK, OPER, "库存商品", "庫存商品", "Finished goods and merchandise"),
    ("1240", "1200", A, S.STOCK, OPER, "在途物资", "在途物資", "Goods in transit"),
    ("1300", None, A, S.CURRENT_ASSET, OPER, "其他流动资产", "其他流動資產", "Other current assets"),
    ("1310", "1300", A, S.CURRENT_ASSET, OPER, "预付费用", "預付費用", "Prepaid expenses"),
    ("1320", "1300", A, S.TAX, OPER, "可抵扣进项税额", "可抵扣進項稅額", "Input VAT recoverable"),
    ("1500", None, A, S.FIXED_ASSET, INV, "不动产、厂房及设备", "物業、廠房及設備", "Property, plant and equipment"),
    ("1510", "1500", A, S.FIXED_ASSET, INV, "土地及建筑物", "土地及建築物", "Land and buildings"),
    ("1520", "1500", A, S.FIXED_ASSET, INV, "机器设备", "機器設備", "Plant and machinery"),
    ("1530", "1500", A, S.FIXED_ASSET, INV, "运输工具", "運輸設備", "Motor vehicles"),
    ("1540", "1500", A, S.FIXED_ASSET, INV, "家具及办公设备", "家具及辦公設備", "Furniture and office equipment"),
    ("1590", "1500", A, S.DEPRECIATION, INV, "累计折旧", "累計折舊", "Accumulated depreciation"),
    ("1600", None, A, S.FIXED_ASSET, INV, "无形资产", "無形資產", "Intangible assets"),
    ("1610", "1600", A, S.FIXED_ASSET, INV, "软件及许可证", "軟件及許可證", "Software and licences"),
    ("1690", "1600", A, S.DEPRECIATION, INV, "累计摊销", "累計攤銷", "Accumulated amortisation"),
    # --- liabilities ----------------------------------------------------------------------------
    ("2100", None, L, S.CURRENT_LIABILITY, OPER, "应付款项", "應付款項", "Payables"),
    ("2110", "2100", L, S.PAYABLE, OPER, "应付账款", "應付帳款", "Trade payables"),
    ("2120", "2100", L, S.PAYABLE, OPER, "预收客户款项", "預收客戶款項", "Customer advances"),
    ("2130", "2100", L, S.PAYABLE, OPER, "其他应付款", "其他應付款", "Other payables"),
    ("2140", "2100", L, S.CURRENT_LIABILITY, OPER, "预提费用", "應計費用", "Accrued expenses"),
    ("2200", None, L, S.TAX, OPER, "应交税费", "應交稅費", "Tax liabilities"),
    ("2210", "2200", L, S.TAX, OPER, "销项税额", "銷項稅額", "Output VAT"),
    ("2220", "2200", L, S.TAX, OPER, "应交增值税", "應交增值稅", "VAT payable"),
    ("2230", "2200", L, S.TAX, OPER, "应交所得税", "應交所得稅", "Income tax payable"),
    ("2300", None, L, S.CURRENT_LIABILITY, OPER, "应付职工薪酬", "應付僱員薪酬", "Payroll liabilities"),
    ("2310", "2300", L, S.CURRENT_LIABILITY, OPER, "应付工资", "應付薪金", "Salaries and wages payable"),
    ("2320", "2300", L, S.CURRENT_LIABILITY, OPER, "应付社会保险费", "應付社會保險費", "Social security contributions payable"),
    ("2400", None, L, S.CURRENT_LIABILITY, FIN, "短期借款", "短期借款", "Short-term borrowings"),
    ("2500", None, L, S.LONG_TERM_LIABILITY, FIN, "长期借款", "長期借款", "Long-term borrowings"),
    # --- equity ---------------------------------------------------------------------------------
    ("3000", None, E, S.NONE, NONE, "权益", "權益", "Equity"),
    ("3100", "3000", E, S.NONE, FIN, "股本", "股本", "Share capital"),
    ("3200", "3000", E, S.NONE, FIN, "股本溢价", "股份溢價", "Share premium"),
    ("3400", "3000", E, S.RETAINED_EARNINGS, NONE, "留存收益", "保留盈餘", "Retained earnings"),
    ("3500", "3000", E, S.CURRENT_EARNINGS, NONE, "本年利润", "本年度溢利", "Profit for the year"),
    # --- revenue and other income ---------------------------------------------------------------
    ("4000", None, R, S.NONE, NONE, "收入", "收入", "Revenue and other income"),
    ("4100", "4000", R, S.NONE, NONE, "商品销售收入", "商品銷售收入", "Sales of goods"),
    ("4200", "4000", R, S.NONE, NONE, "服务收入", "服務收入", "Revenue from services"),
    ("4300", "4000", R, S.NONE, NONE, "其他收入", "其他收入", "Other income"),
    ("4400", "4000", R, S.NONE, NONE, "利息收入", "利息收入", "Interest income"),
    ("4500", "4000", R, S.NONE, NONE, "汇兑收益", "匯兌收益", "Exchange gains"),
    # --- cost of sales --------------------------------------------------------------------------
    ("5000", None, X, S.COST_OF_SALES, NONE, "销售成本", "銷售成本", "Cost of sales"),
    ("5100", "5000", X, S.COST_OF_SALES, NONE, "商品销售成本", "商品銷售成本", "Cost of goods sold"),
    ("5200", "5000", X, S.COST_OF_SALES, NONE, "服务成本", "服務成本", "Cost of services"),
    # --- expenses -------------------------------------------------------------------------------
    ("6100", None, X, S.NONE, NONE, "职工薪酬费用", "僱員福利開支", "Employee benefits expense"),
    ("6110", "6100", X, S.NONE, NONE, "工资薪金", "薪金及工資", "Salaries and wages"),
    ("6120", "6100", X, S.NONE, NONE, "社会保险费", "社會保險供款", "Social security contributions"),
    ("6200", None, X, S.NONE, NONE, "管理费用", "行政開支", "Administrative expenses"),
    ("6210", "6200", X, S.NONE, NONE, "租金", "租金", "Rent"),
    ("6220", "6200", X, S.NONE, NONE, "水电费", "水電費", "Utilities"),
    ("6230", "6200", X, S.NONE, NONE, "办公及通讯费", "辦公及通訊費", "Office and communication"),
    ("6240", "6200", X, S.NONE, NONE, "差旅及招待费", "差旅及招待費", "Travel and entertainment"),
    ("6300", None, X, S.NONE, NONE, "销售及分销费用", "銷售及分銷開支", "Selling and distribution expenses"),
    ("6310", "6300", X, S.NONE, NONE, "广告及推广费", "廣告及推廣費", "Advertising and promotion"),
    ("6320", "6300", X, S.NONE, NONE, "运输费", "運輸費", "Delivery and freight out"),
    ("6400", None, X, S.NON_CASH_EXPENSE, NONE, "折旧及摊销", "折舊及攤銷", "Depreciation and amortisation"),
    ("6410", "6400", X, S.NON_CASH_EXPENSE, NONE, "固定资产折旧", "物業、廠房及設備折舊", "Depreciation of property, plant and equipment"),
    ("6420", "6400", X, S.NON_CASH_EXPENSE, NONE, "无形资产摊销", "無形資產攤銷", "Amortisation of intangible assets"),
    ("6700", None, X, S.NONE, NONE, "财务费用", "財務費用", "Finance costs"),
    ("6710", "6700", X, S.NONE, NONE, "银行手续费", "銀行手續費", "Bank charges"),
    ("6720", "6700", X, S.NONE, NONE, "利息支出", "利息支出", "Interest expense"),
    ("6730", "6700", X, S.NONE, NONE, "汇兑损失", "匯兌虧損", "Exchange losses"),
    ("6740", "6700", X, S.NONE, NONE, "现金折扣", "現金折扣", "Cash discounts"),
    ("6800", None, X, S.NONE, NONE, "其他费用", "其他開支", "Other expenses"),
    ("6900", None, X, S.NONE, NONE, "所得税费用", "所得稅開支", "Income tax expense"),
)  # fmt: skip

ROLES: dict[str, str] = {
    "receivable": "1110",
    "payable": "2110",
    "income": "4100",
    "expense": "5100",
    "exchange_gain": "4500",
    "exchange_loss": "6730",
    "retained_earnings": "3400",
    "discount": "6740",
    "bank": "1020",
    "cash": "1010",
    "stock": "1230",
}

TaxRow = tuple[str, str, Decimal, str, int, str, str, str]

# code, use, rate (%), account, sequence, then the name in zh-hans, zh-hant and en
TAXES: tuple[TaxRow, ...] = tuple(
    (
        f"VAT{rate}-{'S' if use == Tax.Use.SALE else 'P'}",
        use,
        Decimal(rate),
        "2210" if use == Tax.Use.SALE else "1320",
        sequence,
        f"增值税 {rate}%（{'销项' if use == Tax.Use.SALE else '进项'}）",
        f"增值稅 {rate}%（{'銷項' if use == Tax.Use.SALE else '進項'}）",
        f"VAT {rate}% ({'sales' if use == Tax.Use.SALE else 'purchases'})",
    )
    for use in (Tax.Use.SALE, Tax.Use.PURCHASE)
    for sequence, rate in ((10, 20), (20, 10), (30, 0))
)
