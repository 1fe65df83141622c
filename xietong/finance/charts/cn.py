"""The PRC enterprise chart of accounts (《企业会计准则——应用指南》附录 会计科目).

First-level codes and names are those of the Ministry of Finance's application guidance for
general enterprises, brought up to date with the later standards: 1501–1504 are the debt and
equity investment accounts of the 2017 financial-instruments standard (replacing 持有至到期投资
and 可供出售金融资产), 6403 is 税金及附加 (2016), 6115 资产处置损益, 6117 其他收益 and
6702 信用减值损失 come from the 2017–2019 statement formats, 4003 其他综合收益 and
4401 其他权益工具 from the 2014 presentation standard. Accounts only banks, insurers,
securities firms and lessors use are left out, as are the common-class 3xxx accounts.

Second- and third-level accounts are the ones a company needs on day one: a bank account, the
VAT columns of 应交税费 (财会〔2016〕22号), payroll, production cost, the profit distribution
accounts and the usual expense detail.

6901 以前年度损益调整 is closed straight into 利润分配—未分配利润, never into the current
year's result, so it is kept as an equity account of the retained-earnings subtype.

Each row: code, parent code, type, subtype, cash-flow section, then the name in Simplified
Chinese (official), Traditional Chinese (Taiwan/Hong Kong usage: 帳 for 账, 週轉, 信用狀,
庫藏股) and English.
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
    # --- 资产类 ----------------------------------------------------------------------------------
    ("1001", None, A, S.CASH, CASH, "库存现金", "庫存現金", "Cash on hand"),
    ("1002", None, A, S.BANK, CASH, "银行存款", "銀行存款", "Bank deposits"),
    ("100201", "1002", A, S.BANK, CASH, "基本存款账户", "基本存款帳戶", "Basic deposit account"),
    ("1012", None, A, S.CURRENT_ASSET, CASH, "其他货币资金", "其他貨幣資金", "Other monetary funds"),
    ("101201", "1012", A, S.CURRENT_ASSET, CASH, "外埠存款", "外埠存款", "Out-of-town deposits"),
    ("101202", "1012", A, S.CURRENT_ASSET, CASH, "银行汇票存款", "銀行匯票存款", "Bank draft deposits"),
    ("101203", "1012", A, S.CURRENT_ASSET, CASH, "银行本票存款", "銀行本票存款", "Cashier's cheque deposits"),
    ("101204", "1012", A, S.CURRENT_ASSET, CASH, "信用卡存款", "信用卡存款", "Credit card deposits"),
    ("101205", "1012", A, S.CURRENT_ASSET, CASH, "信用证保证金存款", "信用狀保證金存款", "Letter of credit deposits"),
    ("101206", "1012", A, S.CURRENT_ASSET, CASH, "存出投资款", "存出投資款", "Deposits with securities brokers"),
    ("1101", None, A, S.CURRENT_ASSET, INV, "交易性金融资产", "交易性金融資產", "Financial assets held for trading"),
    ("1121", None, A, S.CURRENT_ASSET, OPER, "应收票据", "應收票據", "Notes receivable"),
    ("1122", None, A, S.RECEIVABLE, OPER, "应收账款", "應收帳款", "Accounts receivable"),
    ("1123", None, A, S.RECEIVABLE, OPER, "预付账款", "預付帳款", "Advances to suppliers"),
    ("1131", None, A, S.CURRENT_ASSET, INV, "应收股利", "應收股利", "Dividends receivable"),
    ("1132", None, A, S.CURRENT_ASSET, INV, "应收利息", "應收利息", "Interest receivable"),
    ("1221", None, A, S.RECEIVABLE, OPER, "其他应收款", "其他應收款", "Other receivables"),
    ("1231", None, A, S.CURRENT_ASSET, OPER, "坏账准备", "壞帳準備", "Allowance for bad debts"),
    ("1321", None, A, S.CURRENT_ASSET, OPER, "代理业务资产", "代理業務資產", "Agency business assets"),
    ("1401", None, A, S.STOCK, OPER, "材料采购", "材料採購", "Materials purchasing"),
    ("1402", None, A, S.STOCK, OPER, "在途物资", "在途物資", "Goods in transit"),
    ("1403", None, A, S.STOCK, OPER, "原材料", "原材料", "Raw materials"),
    ("1404", None, A, S.STOCK, OPER, "材料成本差异", "材料成本差異", "Material cost variance"),
    ("1405", None, A, S.STOCK, OPER, "库存商品", "庫存商品", "Finished goods and merchandise"),
    ("1406", None, A, S.STOCK, OPER, "发出商品", "發出商品", "Goods shipped"),
    ("1407", None, A, S.STOCK, OPER, "商品进销差价", "商品進銷差價", "Merchandise price differences"),
    ("1408", None, A, S.STOCK, OPER, "委托加工物资", "委託加工物資", "Materials for outsourced processing"),
    ("1411", None, A, S.STOCK, OPER, "周转材料", "週轉材料", "Revolving materials"),
    ("1421", None, A, S.STOCK, OPER, "消耗性生物资产", "消耗性生物資產", "Consumable biological assets"),
    ("1471", None, A, S.STOCK, OPER, "存货跌价准备", "存貨跌價準備", "Inventory write-down provision"),
    ("1501", None, A, S.FIXED_ASSET, INV, "债权投资", "債權投資", "Debt investments"),
    ("1502", None, A, S.DEPRECIATION, INV, "债权投资减值准备", "債權投資減值準備", "Impairment of debt investments"),
    ("1503", None, A, S.FIXED_ASSET, INV, "其他债权投资", "其他債權投資", "Other debt investments"),
    ("1504", None, A, S.FIXED_ASSET, INV, "其他权益工具投资", "其他權益工具投資", "Other equity instrument investments"),
    ("1511", None, A, S.FIXED_ASSET, INV, "长期股权投资", "長期股權投資", "Long-term equity investments"),
    ("1512", None, A, S.DEPRECIATION, INV, "长期股权投资减值准备", "長期股權投資減值準備", "Impairment of long-term equity investments"),
    ("1521", None, A, S.FIXED_ASSET, INV, "投资性房地产", "投資性房地產", "Investment property"),
    ("1531", None, A, S.FIXED_ASSET, INV, "长期应收款", "長期應收款", "Long-term receivables"),
    ("1532", None, A, S.FIXED_ASSET, INV, "未实现融资收益", "未實現融資收益", "Unrealised financing income"),
    ("1601", None, A, S.FIXED_ASSET, INV, "固定资产", "固定資產", "Fixed assets"),
    ("160101", "1601", A, S.FIXED_ASSET, INV, "房屋及建筑物", "房屋及建築物", "Buildings"),
    ("160102", "1601", A, S.FIXED_ASSET, INV, "机器设备", "機器設備", "Machinery and equipment"),
    ("160103", "1601", A, S.FIXED_ASSET, INV, "运输工具", "運輸工具", "Motor vehicles"),
    ("160104", "1601", A, S.FIXED_ASSET, INV, "电子设备", "電子設備", "Electronic equipment"),
    ("160105", "1601", A, S.FIXED_ASSET, INV, "办公设备", "辦公設備", "Office equipment"),
    ("1602", None, A, S.DEPRECIATION, INV, "累计折旧", "累計折舊", "Accumulated depreciation"),
    ("1603", None, A, S.DEPRECIATION, INV, "固定资产减值准备", "固定資產減值準備", "Impairment of fixed assets"),
    ("1604", None, A, S.FIXED_ASSET, INV, "在建工程", "在建工程", "Construction in progress"),
    ("1605", None, A, S.FIXED_ASSET, INV, "工程物资", "工程物資", "Construction materials"),
    ("1606", None, A, S.FIXED_ASSET, INV, "固定资产清理", "固定資產清理", "Fixed assets in disposal"),
    ("1621", None, A, S.FIXED_ASSET, INV, "生产性生物资产", "生產性生物資產", "Productive biological assets"),
    ("1622", None, A, S.DEPRECIATION, INV, "生产性生物资产累计折旧", "生產性生物資產累計折舊", "Accumulated depreciation of productive biological assets"),
    ("1623", None, A, S.FIXED_ASSET, INV, "公益性生物资产", "公益性生物資產", "Public-welfare biological assets"),
    ("1631", None, A, S.FIXED_ASSET, INV, "油气资产", "油氣資產", "Oil and gas assets"),
    ("1632", None, A, S.DEPRECIATION, INV, "累计折耗", "累計折耗", "Accumulated depletion"),
    ("1701", None, A, S.FIXED_ASSET, INV, "无形资产", "無形資產", "Intangible assets"),
    ("1702", None, A, S.DEPRECIATION, INV, "累计摊销", "累計攤銷", "Accumulated amortisation"),
    ("1703", None, A, S.DEPRECIATION, INV, "无形资产减值准备", "無形資產減值準備", "Impairment of intangible assets"),
    ("1711", None, A, S.FIXED_ASSET, INV, "商誉", "商譽", "Goodwill"),
    ("1801", None, A, S.FIXED_ASSET, INV, "长期待摊费用", "長期待攤費用", "Long-term deferred expenses"),
    ("1811", None, A, S.FIXED_ASSET, OPER, "递延所得税资产", "遞延所得稅資產", "Deferred tax assets"),
    ("1901", None, A, S.CURRENT_ASSET, OPER, "待处理财产损溢", "待處理財產損溢", "Unsettled property gains and losses"),
    # --- 负债类 ----------------------------------------------------------------------------------
    ("2001", None, L, S.CURRENT_LIABILITY, FIN, "短期借款", "短期借款", "Short-term borrowings"),
    ("2101", None, L, S.CURRENT_LIABILITY, FIN, "交易性金融负债", "交易性金融負債", "Financial liabilities held for trading"),
    ("2201", None, L, S.CURRENT_LIABILITY, OPER, "应付票据", "應付票據", "Notes payable"),
    ("2202", None, L, S.PAYABLE, OPER, "应付账款", "應付帳款", "Accounts payable"),
    ("2203", None, L, S.PAYABLE, OPER, "预收账款", "預收帳款", "Advances from customers"),
    ("2211", None, L, S.CURRENT_LIABILITY, OPER, "应付职工薪酬", "應付職工薪酬", "Employee benefits payable"),
    ("221101", "2211", L, S.CURRENT_LIABILITY, OPER, "工资", "工資", "Wages and salaries"),
    ("221102", "2211", L, S.CURRENT_LIABILITY, OPER, "职工福利", "職工福利", "Staff welfare"),
    ("221103", "2211", L, S.CURRENT_LIABILITY, OPER, "社会保险费", "社會保險費", "Social insurance"),
    ("221104", "2211", L, S.CURRENT_LIABILITY, OPER, "住房公积金", "住房公積金", "Housing provident fund"),
    ("221105", "2211", L, S.CURRENT_LIABILITY, OPER, "工会经费", "工會經費", "Trade union funds"),
    ("221106", "2211", L, S.CURRENT_LIABILITY, OPER, "职工教育经费", "職工教育經費", "Staff education funds"),
    ("2221", None, L, S.TAX, OPER, "应交税费", "應交稅費", "Taxes payable"),
    ("222101", "2221", L, S.TAX, OPER, "应交增值税", "應交增值稅", "VAT payable"),
    ("22210101", "222101", L, S.TAX, OPER, "进项税额", "進項稅額", "Input VAT"),
    ("22210102", "222101", L, S.TAX, OPER, "销项税额", "銷項稅額", "Output VAT"),
    ("22210103", "222101", L, S.TAX, OPER, "转出未交增值税", "轉出未交增值稅", "Unpaid VAT transferred out"),
    ("22210104", "222101", L, S.TAX, OPER, "进项税额转出", "進項稅額轉出", "Input VAT transferred out"),
    ("22210105", "222101", L, S.TAX, OPER, "已交税金", "已交稅金", "VAT paid"),
    ("22210106", "222101", L, S.TAX, OPER, "转出多交增值税", "轉出多交增值稅", "Overpaid VAT transferred out"),
    ("22210107", "222101", L, S.TAX, OPER, "减免税款", "減免稅款", "VAT relief"),
    ("22210108", "222101", L, S.TAX, OPER, "销项税额抵减", "銷項稅額抵減", "Output VAT offset"),
    ("22210109", "222101", L, S.TAX, OPER, "出口退税", "出口退稅", "Export VAT refunds"),
    ("222102", "2221", L, S.TAX, OPER, "未交增值税", "未交增值稅", "Unpaid VAT"),
    ("222103", "2221", L, S.TAX, OPER, "预交增值税", "預交增值稅", "Prepaid VAT"),
    ("222104", "2221", L, S.TAX, OPER, "待抵扣进项税额", "待抵扣進項稅額", "Input VAT to be deducted"),
    ("222105", "2221", L, S.TAX, OPER, "待认证进项税额", "待認證進項稅額", "Input VAT awaiting certification"),
    ("222106", "2221", L, S.TAX, OPER, "待转销项税额", "待轉銷項稅額", "Output VAT to be recognised"),
    ("222107", "2221", L, S.TAX, OPER, "简易计税", "簡易計稅", "VAT under the simplified method"),
    ("222108", "2221", L, S.TAX, OPER, "应交企业所得税", "應交企業所得稅", "Corporate income tax payable"),
    ("222109", "2221", L, S.TAX, OPER, "应交个人所得税", "應交個人所得稅", "Individual income tax withheld"),
    ("222110", "2221", L, S.TAX, OPER, "应交城市维护建设税", "應交城市維護建設稅", "Urban maintenance and construction tax payable"),
    ("222111", "2221", L, S.TAX, OPER, "应交教育费附加", "應交教育費附加", "Education surcharge payable"),
    ("222112", "2221", L, S.TAX, OPER, "应交地方教育附加", "應交地方教育附加", "Local education surcharge payable"),
    ("222113", "2221", L, S.TAX, OPER, "应交印花税", "應交印花稅", "Stamp duty payable"),
    ("222114", "2221", L, S.TAX, OPER, "应交房产税", "應交房產稅", "Property tax payable"),
    ("222115", "2221", L, S.TAX, OPER, "应交城镇土地使用税", "應交城鎮土地使用稅", "Urban land use tax payable"),
    ("2231", None, L, S.CURRENT_LIABILITY, FIN, "应付利息", "應付利息", "Interest payable"),
    ("2232", None, L, S.CURRENT_LIABILITY, FIN, "应付股利", "應付股利", "Dividends payable"),
    ("2241", None, L, S.PAYABLE, OPER, "其他应付款", "其他應付款", "Other payables"),
    ("2314", None, L, S.CURRENT_LIABILITY, OPER, "代理业务负债", "代理業務負債", "Agency business liabilities"),
    ("2401", None, L, S.LONG_TERM_LIABILITY, OPER, "递延收益", "遞延收益", "Deferred income"),
    ("2501", None, L, S.LONG_TERM_LIABILITY, FIN, "长期借款", "長期借款", "Long-term borrowings"),
    ("2502", None, L, S.LONG_TERM_LIABILITY, FIN, "应付债券", "應付債券", "Bonds payable"),
    ("2701", None, L, S.LONG_TERM_LIABILITY, FIN, "长期应付款", "長期應付款", "Long-term payables"),
    ("2702", None, L, S.LONG_TERM_LIABILITY, FIN, "未确认融资费用", "未確認融資費用", "Unrecognised financing charges"),
    ("2711", None, L, S.LONG_TERM_LIABILITY, FIN, "专项应付款", "專項應付款", "Special-purpose payables"),
    ("2801", None, L, S.LONG_TERM_LIABILITY, OPER, "预计负债", "預計負債", "Provisions"),
    ("2901", None, L, S.LONG_TERM_LIABILITY, OPER, "递延所得税负债", "遞延所得稅負債", "Deferred tax liabilities"),
    # --- 所有者权益类 ----------------------------------------------------------------------------
    ("4001", None, E, S.NONE, FIN, "实收资本", "實收資本", "Paid-in capital"),
    ("4002", None, E, S.NONE, FIN, "资本公积", "資本公積", "Capital reserve"),
    ("400201", "4002", E, S.NONE, FIN, "资本溢价", "資本溢價", "Capital premium"),
    ("400202", "4002", E, S.NONE, FIN, "其他资本公积", "其他資本公積", "Other capital reserve"),
    ("4003", None, E, S.NONE, NONE, "其他综合收益", "其他綜合收益", "Other comprehensive income"),
    ("4101", None, E, S.NONE, NONE, "盈余公积", "盈餘公積", "Surplus reserve"),
    ("410101", "4101", E, S.NONE, NONE, "法定盈余公积", "法定盈餘公積", "Statutory surplus reserve"),
    ("410102", "4101", E, S.NONE, NONE, "任意盈余公积", "任意盈餘公積", "Discretionary surplus reserve"),
    ("4103", None, E, S.CURRENT_EARNINGS, NONE, "本年利润", "本年利潤", "Profit for the year"),
    ("4104", None, E, S.RETAINED_EARNINGS, NONE, "利润分配", "利潤分配", "Profit distribution"),
    ("410401", "4104", E, S.RETAINED_EARNINGS, NONE, "未分配利润", "未分配利潤", "Undistributed profit"),
    ("410402", "4104", E, S.RETAINED_EARNINGS, NONE, "提取法定盈余公积", "提取法定盈餘公積", "Transfer to statutory surplus reserve"),
    ("410403", "4104", E, S.RETAINED_EARNINGS, NONE, "提取任意盈余公积", "提取任意盈餘公積", "Transfer to discretionary surplus reserve"),
    ("410404", "4104", E, S.RETAINED_EARNINGS, NONE, "应付现金股利或利润", "應付現金股利或利潤", "Cash dividends or profits declared"),
    ("410405", "4104", E, S.RETAINED_EARNINGS, NONE, "转作股本的股利", "轉作股本的股利", "Dividends converted into share capital"),
    ("410406", "4104", E, S.RETAINED_EARNINGS, NONE, "盈余公积补亏", "盈餘公積補虧", "Losses made up from surplus reserve"),
    ("4201", None, E, S.NONE, FIN, "库存股", "庫藏股", "Treasury shares"),
    ("4401", None, E, S.NONE, FIN, "其他权益工具", "其他權益工具", "Other equity instruments"),
    # --- 成本类 (balances are work in progress, shown with inventories) --------------------------
    ("5001", None, A, S.STOCK, OPER, "生产成本", "生產成本", "Production costs"),
    ("500101", "5001", A, S.STOCK, OPER, "基本生产成本", "基本生產成本", "Basic production costs"),
    ("500102", "5001", A, S.STOCK, OPER, "辅助生产成本", "輔助生產成本", "Auxiliary production costs"),
    ("5101", None, A, S.STOCK, OPER, "制造费用", "製造費用", "Manufacturing overhead"),
    ("5201", None, A, S.STOCK, OPER, "劳务成本", "勞務成本", "Service costs"),
    ("5301", None, A, S.FIXED_ASSET, INV, "研发支出", "研發支出", "Research and development expenditure"),
    ("530101", "5301", A, S.CURRENT_ASSET, OPER, "费用化支出", "費用化支出", "Expensed expenditure"),
    ("530102", "5301", A, S.FIXED_ASSET, INV, "资本化支出", "資本化支出", "Capitalised expenditure"),
    # --- 损益类 ----------------------------------------------------------------------------------
    ("6001", None, R, S.NONE, NONE, "主营业务收入", "主營業務收入", "Revenue from principal operations"),
    ("6051", None, R, S.NONE, NONE, "其他业务收入", "其他業務收入", "Other operating revenue"),
    ("6101", None, R, S.NONE, NONE, "公允价值变动损益", "公允價值變動損益", "Gains and losses from changes in fair value"),
    ("6111", None, R, S.NONE, NONE, "投资收益", "投資收益", "Investment income"),
    ("6115", None, R, S.NONE, NONE, "资产处置损益", "資產處置損益", "Gains and losses on disposal of assets"),
    ("6117", None, R, S.NONE, NONE, "其他收益", "其他收益", "Other income"),
    ("6301", None, R, S.NONE, NONE, "营业外收入", "營業外收入", "Non-operating income"),
    ("6401", None, X, S.COST_OF_SALES, NONE, "主营业务成本", "主營業務成本", "Cost of principal operations"),
    ("6402", None, X, S.COST_OF_SALES, NONE, "其他业务成本", "其他業務成本", "Other operating costs"),
    ("6403", None, X, S.NONE, NONE, "税金及附加", "稅金及附加", "Taxes and surcharges"),
    ("6601", None, X, S.NONE, NONE, "销售费用", "銷售費用", "Selling expenses"),
    ("660101", "6601", X, S.NONE, NONE, "职工薪酬", "職工薪酬", "Staff costs"),
    ("660102", "6601", X, S.NONE, NONE, "广告宣传费", "廣告宣傳費", "Advertising and promotion"),
    ("660103", "6601", X, S.NONE, NONE, "运输费", "運輸費", "Freight and delivery"),
    ("660104", "6601", X, S.NON_CASH_EXPENSE, NONE, "折旧费", "折舊費", "Depreciation"),
    ("660105", "6601", X, S.NONE, NONE, "其他销售费用", "其他銷售費用", "Other selling expenses"),
    ("6602", None, X, S.NONE, NONE, "管理费用", "管理費用", "Administrative expenses"),
    ("660201", "6602", X, S.NONE, NONE, "职工薪酬", "職工薪酬", "Staff costs"),
    ("660202", "6602", X, S.NONE, NONE, "办公费", "辦公費", "Office expenses"),
    ("660203", "6602", X, S.NONE, NONE, "差旅费", "差旅費", "Travel expenses"),
    ("660204", "6602", X, S.NONE, NONE, "业务招待费", "業務招待費", "Business entertainment"),
    ("660205", "6602", X, S.NON_CASH_EXPENSE, NONE, "折旧费", "折舊費", "Depreciation"),
    ("660206", "6602", X, S.NON_CASH_EXPENSE, NONE, "无形资产摊销", "無形資產攤銷", "Amortisation of intangible assets"),
    ("660207", "6602", X, S.NONE, NONE, "研发费用", "研發費用", "Research and development expenses"),
    ("660208", "6602", X, S.NONE, NONE, "其他管理费用", "其他管理費用", "Other administrative expenses"),
    ("6603", None, X, S.NONE, NONE, "财务费用", "財務費用", "Finance costs"),
    ("660301", "6603", X, S.NONE, NONE, "利息支出", "利息支出", "Interest expense"),
    ("660302", "6603", X, S.NONE, NONE, "汇兑损益", "匯兌損益", "Exchange gains and losses"),
    ("660303", "6603", X, S.NONE, NONE, "手续费", "手續費", "Bank charges"),
    ("660304", "6603", X, S.NONE, NONE, "利息收入", "利息收入", "Interest income"),
    ("660305", "6603", X, S.NONE, NONE, "现金折扣", "現金折扣", "Cash discounts"),
    ("6701", None, X, S.NONE, NONE, "资产减值损失", "資產減值損失", "Asset impairment losses"),
    ("6702", None, X, S.NONE, NONE, "信用减值损失", "信用減值損失", "Credit impairment losses"),
    ("6711", None, X, S.NONE, NONE, "营业外支出", "營業外支出", "Non-operating expenses"),
    ("6801", None, X, S.NONE, NONE, "所得税费用", "所得稅費用", "Income tax expense"),
    ("680101", "6801", X, S.NONE, NONE, "当期所得税费用", "當期所得稅費用", "Current income tax expense"),
    ("680102", "6801", X, S.NONE, NONE, "递延所得税费用", "遞延所得稅費用", "Deferred income tax expense"),
    ("6901", None, E, S.RETAINED_EARNINGS, NONE, "以前年度损益调整", "以前年度損益調整", "Prior-year profit and loss adjustments"),
)  # fmt: skip

ROLES: dict[str, str] = {
    "receivable": "1122",
    "payable": "2202",
    "income": "6001",
    "expense": "6401",
    "exchange_gain": "660302",
    "exchange_loss": "660302",
    "retained_earnings": "410401",
    "discount": "660305",
    "bank": "100201",
    "cash": "1001",
    "stock": "1405",
}

TaxRow = tuple[str, str, Decimal, str, int, str, str, str]

# code, use, rate (%), account, sequence, then the name in zh-hans, zh-hant and en
TAXES: tuple[TaxRow, ...] = tuple(
    (
        f"VAT{rate}-{'S' if use == Tax.Use.SALE else 'P'}",
        use,
        Decimal(rate),
        "22210102" if use == Tax.Use.SALE else "22210101",
        sequence,
        f"增值税 {rate}%（{'销项' if use == Tax.Use.SALE else '进项'}）",
        f"增值稅 {rate}%（{'銷項' if use == Tax.Use.SALE else '進項'}）",
        f"VAT {rate}% ({'sales' if use == Tax.Use.SALE else 'purchases'})",
    )
    for use in (Tax.Use.SALE, Tax.Use.PURCHASE)
    for sequence, rate in ((10, 13), (20, 9), (30, 6), (40, 0))
)
