"""Demo step for parties: the customers and suppliers of a bicycle and e-bike manufacturer.

In the main company: customer groups (经销商 Distributors, 零售 Retail, OEM, 海外 Export) with
their discount thresholds, payment terms (Net 30, 30/70, 2/10 net 30, …), ~500 customers (more
for the larger sizes) in China and abroad and ~40 suppliers of frames, wheels, drives, motors
and batteries — with valid tax IDs (USCC check digits, EU VAT, US EIN), contacts, addresses
in their provinces and states, bank accounts, tags, salespeople and some timeline history.
A duplicate pair is merged and another left for the duplicate warning to find. The partner
company buys from a few suppliers, the main company among them.

Bulk inserts keep it fast; the groups, terms, a few parties and the merge go through the
services so that their audit history is real.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from django.utils import timezone, translation
from stdnum import iban, luhn
from stdnum.cn import uscc
from stdnum.eu import vat
from stdnum.us import ein

from xietong.core.models import Company, Membership, User
from xietong.demo.context import DemoContext
from xietong.demo.core import GIVEN, SURNAMES
from xietong.party import services
from xietong.party.identifiers import normalize_name, normalize_phone
from xietong.party.models import (
    Address,
    BankAccount,
    Contact,
    CustomerGroup,
    Party,
    PaymentTerm,
    Region,
    Tag,
    TimelineEntry,
)

# size: (customers, suppliers)
VOLUMES = {"small": (500, 40), "medium": (2000, 80), "large": (10000, 200)}

# city: (province region code, administrative division code for the USCC, postal code, phone area)
CN_CITIES = {
    "上海": ("CN-SH", "310000", "200000", "21"),
    "北京": ("CN-BJ", "110000", "100000", "10"),
    "天津": ("CN-TJ", "120000", "300000", "22"),
    "重庆": ("CN-CQ", "500000", "400000", "23"),
    "杭州": ("CN-ZJ", "330100", "310000", "571"),
    "宁波": ("CN-ZJ", "330200", "315000", "574"),
    "温州": ("CN-ZJ", "330300", "325000", "577"),
    "苏州": ("CN-JS", "320500", "215000", "512"),
    "南京": ("CN-JS", "320100", "210000", "25"),
    "无锡": ("CN-JS", "320200", "214000", "510"),
    "常州": ("CN-JS", "320400", "213000", "519"),
    "深圳": ("CN-GD", "440300", "518000", "755"),
    "广州": ("CN-GD", "440100", "510000", "20"),
    "东莞": ("CN-GD", "441900", "523000", "769"),
    "佛山": ("CN-GD", "440600", "528000", "757"),
    "厦门": ("CN-FJ", "350200", "361000", "592"),
    "福州": ("CN-FJ", "350100", "350000", "591"),
    "青岛": ("CN-SD", "370200", "266000", "532"),
    "济南": ("CN-SD", "370100", "250000", "531"),
    "成都": ("CN-SC", "510100", "610000", "28"),
    "武汉": ("CN-HB", "420100", "430000", "27"),
    "长沙": ("CN-HN", "430100", "410000", "731"),
    "合肥": ("CN-AH", "340100", "230000", "551"),
    "郑州": ("CN-HA", "410100", "450000", "371"),
    "西安": ("CN-SN", "610100", "710000", "29"),
    "昆明": ("CN-YN", "530100", "650000", "871"),
    "南昌": ("CN-JX", "360100", "330000", "791"),
    "沈阳": ("CN-LN", "210100", "110000", "24"),
    "大连": ("CN-LN", "210200", "116000", "411"),
    "南宁": ("CN-GX", "450100", "530000", "771"),
}
BRANDS = [
    "骑行者",
    "飞轮",
    "速达",
    "绿源",
    "风驰",
    "悦动",
    "山野",
    "铁骑",
    "锐途",
    "骏马",
    "追风",
    "轻骑",
    "酷骑",
    "乐途",
    "畅行",
    "安骑",
    "迅翼",
    "捷行",
    "蓝鲸",
    "远征",
    "凌风",
    "驰骋",
    "云途",
    "易骑",
    "优步",
    "青禾",
    "快轮",
    "阳光",
    "星驰",
    "天行",
]
BUSINESSES = [
    "贸易",
    "车业",
    "自行车销售",
    "电动车",
    "体育用品",
    "商贸",
    "运动器材",
    "出行科技",
    "单车俱乐部",
    "车行",
    "户外用品",
    "电商",
]
STREETS = ["人民路", "中山路", "解放路", "建设路", "和平路", "长江路", "科技园路", "工业大道"]
CONTACT_ROLES = ["采购经理", "总经理", "财务主管", "店长", "运营总监", "采购专员"]
DISTRICT_WORDS = ["经济开发区", "高新区", "工业园区", ""]

# country: (cities with (region code or "", postal code), phone prefix, currency, language)
FOREIGN = {
    "DE": ([("Berlin", "DE-BE", "10115"), ("Hamburg", "DE-HH", "20095"), ("München", "DE-BY", "80331"), ("Köln", "DE-NW", "50667"), ("Stuttgart", "DE-BW", "70173")], "+49", "EUR", "en"),
    "NL": ([("Amsterdam", "", "1011"), ("Utrecht", "", "3511"), ("Rotterdam", "", "3011")], "+31", "EUR", "en"),
    "FR": ([("Paris", "", "75001"), ("Lyon", "", "69001"), ("Lille", "", "59000")], "+33", "EUR", "en"),
    "IT": ([("Milano", "", "20121"), ("Torino", "", "10121")], "+39", "EUR", "en"),
    "AT": ([("Wien", "", "1010"), ("Graz", "", "8010")], "+43", "EUR", "en"),
    "US": ([("Portland", "US-OR", "97201"), ("Boulder", "US-CO", "80302"), ("San Diego", "US-CA", "92101"), ("Chicago", "US-IL", "60601")], "+1", "USD", "en"),
    "HK": ([("Kowloon", "", ""), ("Hong Kong", "", "")], "+852", "HKD", "zh-hant"),
    "TW": ([("Taichung", "TW-TXG", "407"), ("Taipei", "TW-TPE", "100")], "+886", "TWD", "zh-hant"),
    "JP": ([("Osaka", "", "530-0001"), ("Tokyo", "", "100-0001")], "+81", "JPY", "en"),
}  # fmt: skip
EXPORT_COUNTRIES = ["DE", "DE", "DE", "NL", "NL", "FR", "IT", "AT", "US", "US", "HK", "TW", "JP"]
EN_FIRST = [
    "Velo",
    "Cycle",
    "Bike",
    "Pedal",
    "Spoke",
    "Trail",
    "Urban",
    "Alpine",
    "Summit",
    "Metro",
    "Green",
    "Swift",
    "Blue",
    "Nordic",
    "Coastal",
    "Ride",
    "Torque",
    "Volt",
    "Chain",
    "Gear",
    "Apex",
    "Prime",
    "Vista",
    "Open",
    "Road",
]
EN_SECOND = [
    "Sport",
    "Works",
    "House",
    "Point",
    "Avenue",
    "Center",
    "Garage",
    "Team",
    "Mobility",
    "Motion",
    "Store",
    "Depot",
    "Trading",
    "Supply",
    "Outfitters",
    "Partners",
]
LEGAL_FORMS = {
    "DE": "GmbH",
    "NL": "B.V.",
    "FR": "SARL",
    "IT": "S.r.l.",
    "AT": "GmbH",
    "US": "LLC",
    "HK": "Limited",
    "TW": "Co., Ltd.",
    "JP": "K.K.",
}
EN_STREETS = {
    "DE": "Hauptstraße",
    "AT": "Ringstraße",
    "NL": "Keizersgracht",
    "FR": "Rue de la République",
    "IT": "Via Roma",
    "US": "Main Street",
    "HK": "Nathan Road",
    "TW": "Taiwan Boulevard",
    "JP": "Chuo-dori",
}
EN_NAMES = ["Anna Schmidt", "Jan de Vries", "Marie Dubois", "Luca Rossi", "John Miller", "Chen Wei", "Sato Yuki", "Lisa Wagner", "Tom Jansen", "Emma Moore"]  # fmt: skip
EN_ROLES = ["Purchasing manager", "CEO", "Accounts payable", "Product manager"]

SUPPLIER_PARTS = [
    ("车架", "frames", 35),
    ("轮毂", "hubs", 25),
    ("车圈", "rims", 20),
    ("链条", "chains", 15),
    ("变速器", "derailleurs", 30),
    ("碟刹", "disc brakes", 20),
    ("锂电池", "batteries", 30),
    ("轮毂电机", "hub motors", 40),
    ("控制器", "controllers", 25),
    ("轮胎", "tyres", 15),
    ("车把", "handlebars", 12),
    ("鞍座", "saddles", 12),
    ("辐条", "spokes", 10),
    ("轴承", "bearings", 18),
    ("包装材料", "packaging", 7),
    ("铝型材", "aluminium tubes", 21),
]
FOREIGN_SUPPLIERS = [
    ("DE", "Antriebstechnik Keller GmbH", "drive units", 56),
    ("DE", "Akkuwerk Sachsen GmbH", "battery cells", 60),
    ("TW", "Taichung Precision Components Co., Ltd.", "derailleurs", 45),
    ("TW", "Formosa Wheel Industrial Co., Ltd.", "rims", 40),
    ("JP", "Kansai Brake Systems K.K.", "hydraulic brakes", 50),
    ("NL", "Dutch Cargo Frames B.V.", "cargo frames", 42),
    ("US", "Summit Suspension LLC", "suspension forks", 48),
]
CN_BANKS = [
    ("中国工商银行", "ICBKCNBJ"),
    ("中国建设银行", "PCBCCNBJ"),
    ("招商银行", "CMBCCNBS"),
    ("中国银行", "BKCHCNBJ"),
    ("交通银行", "COMMCNSH"),
]
TIMELINE_NOTES = [
    ("activity", "电话回访：询问 2026 款电助力车价格"),
    ("activity", "拜访客户门店，演示新款山地车"),
    ("note", "客户希望增加城市通勤车型的库存"),
    ("activity", "在上海国际自行车展会见面"),
    ("note", "要求提供 CE 认证文件"),
    ("activity", "Video call about the spring collection"),
    ("note", "Asked for a quote for 200 e-bikes, delivery in March"),
    ("activity", "Met at Eurobike, interested in cargo bikes"),
]
TAGS = ["VIP", "电商", "华东", "华南", "重点客户", "Eurobike", "新客户", "电助力"]
GROUPS = [
    # code, name, discount without approval, share of domestic customers
    ("dist", "经销商 Distributors", Decimal("8"), 45),
    ("retail", "零售 Retail", Decimal("5"), 40),
    ("oem", "OEM", Decimal("12"), 15),
    ("export", "海外 Export", Decimal("10"), 0),
]
TERMS = [
    ("Net 30", [{"percent": 100, "days": 30}]),
    ("Net 60", [{"percent": 100, "days": 60}]),
    ("30/70", [{"percent": 30, "days": 0}, {"percent": 70, "days": 60}]),
    (
        "2/10 net 30",
        [{"percent": 100, "days": 30, "discount_percent": 2, "discount_days": 10}],
    ),
    ("预付 Prepayment", [{"percent": 100, "days": 0}]),
]
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


class _Maker:
    """Deterministic generators of names, numbers and rows for one demo run."""

    def __init__(self, ctx: DemoContext) -> None:
        self.ctx = ctx
        self.rng = ctx.rng
        self.regions = {r.code: r.pk for r in Region.objects.all()}
        self.used_names: set[str] = set()
        self.serial = itertools.count(1)

    # numbers
    def uscc(self, division: str) -> str:
        org = "MA" + "".join(self.rng.choice(USCC_ALPHABET) for _ in range(7))
        body = f"91{division}{org}"
        return body + uscc.calc_check_digit(body)

    def vat(self, country: str) -> str:
        if country == "FR":  # a SIREN (Luhn) and its two-digit key
            body = f"{self.rng.randrange(10**8):08d}"
            siren = body + luhn.calc_check_digit(body)
            return f"FR{(12 + 3 * (int(siren) % 97)) % 97:02d}{siren}"
        shapes = {"DE": "{:09d}", "NL": "{:09d}B01", "IT": "{:011d}", "AT": "U{:08d}"}
        digits = {"DE": 9, "NL": 9, "IT": 11, "AT": 8}
        for _attempt in range(20000):
            number = country + shapes[country].format(self.rng.randrange(10 ** digits[country]))
            if vat.is_valid(number):
                return number
        raise RuntimeError(f"no valid VAT number for {country}")

    def tax_id(self, country: str, division: str = "310000") -> str:
        if country == "CN":
            return self.uscc(division)
        if country in {"DE", "NL", "FR", "IT", "AT"}:
            return self.vat(country)
        if country == "US":
            while True:
                number = f"{self.rng.randrange(10, 99)}{self.rng.randrange(10**7):07d}"
                if ein.is_valid(number):
                    return number
        return f"{self.rng.randrange(10**7, 10**8)}"  # HK business registration, TW, JP

    def mobile(self) -> str:
        return f"1{self.rng.choice('3589')}{self.rng.randrange(10**9):09d}"

    def landline(self, area: str) -> str:
        return f"0{area}-{self.rng.randrange(10**7, 10**8)}"

    def person(self) -> str:
        return self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)

    def iban_de(self) -> str:
        bban = f"{self.rng.randrange(10**7, 10**8)}{self.rng.randrange(10**10):010d}"
        return f"DE{iban.calc_check_digits('DE00' + bban)}{bban}"

    # names
    def unique(self, make: Any) -> str:
        for _attempt in range(50):
            name = make()
            key = normalize_name(name)
            if key not in self.used_names:
                self.used_names.add(key)
                return name
        name = f"{make()} {next(self.serial)}"
        self.used_names.add(normalize_name(name))
        return name

    def chinese_customer(self, city: str) -> str:
        return self.unique(
            lambda: f"{city}{self.rng.choice(BRANDS)}{self.rng.choice(BUSINESSES)}有限公司"
        )

    def foreign_customer(self, country: str) -> str:
        city = self.rng.choice(FOREIGN[country][0])[0]
        return self.unique(
            lambda: (
                f"{self.rng.choice(EN_FIRST)} {self.rng.choice(EN_SECOND)}"
                + (f" {city}" if self.rng.random() < 0.3 else "")
                + f" {LEGAL_FORMS[country]}"
            )
        )


def _salespeople(company: Company) -> list[User]:
    members = Membership.unscoped.filter(
        company=company, is_active=True, roles__code__in=["sales_rep", "sales_manager"]
    ).values("user_id")
    return list(User.objects.filter(pk__in=members).order_by("pk"))


def _setup(
    company: Company, actor: User
) -> tuple[dict[str, CustomerGroup], dict[str, PaymentTerm]]:
    groups = {
        code: services.customer_group_create(
            company=company, actor=actor, code=code, name=name, max_discount_percent=discount
        )
        for code, name, discount, _share in GROUPS
    }
    terms = {
        name: services.payment_term_create(company=company, actor=actor, name=name, lines=lines)
        for name, lines in TERMS
    }
    return groups, terms


def _customers(
    ctx: DemoContext,
    maker: _Maker,
    company: Company,
    count: int,
    groups: dict[str, CustomerGroup],
    terms: dict[str, PaymentTerm],
) -> list[dict[str, Any]]:
    """Plans of customer rows (party fields plus contacts, addresses and tags)."""
    rng = ctx.rng
    salespeople = _salespeople(company)
    plans = []
    domestic_groups = [code for code, _n, _d, share in GROUPS for _ in range(share)]
    for number in range(1, count + 1):
        export = rng.random() < 0.18
        if export:
            country = rng.choice(EXPORT_COUNTRIES)
            cities, prefix, currency, language = FOREIGN[country]
            city, region, postal = rng.choice(cities)
            name = maker.foreign_customer(country)
            group = "export"
            term = rng.choice(["2/10 net 30", "30/70", "预付 Prepayment"])
            phone = f"{prefix} {rng.randrange(10, 99)} {rng.randrange(10**6, 10**7)}"
            first = rng.choice(EN_NAMES)
            contacts = [
                {
                    "name": first,
                    "role": rng.choice(EN_ROLES),
                    "email": f"{first.split()[0].lower()}@{normalize_name(name)[:20]}.example",
                    "phone": phone,
                    "preferred_channel": "email",
                    "language": language,
                }
            ]
            street = f"{EN_STREETS[country]} {rng.randrange(1, 200)}"
            addresses = [("billing", street, city, region, postal, country)]
            tax_id = maker.tax_id(country)
        else:
            country, currency, language = "CN", "CNY", "zh-hans"
            city = rng.choice(list(CN_CITIES))
            region, division, postal, area = CN_CITIES[city]
            name = maker.chinese_customer(city)
            group = rng.choice(domestic_groups)
            term = {
                "dist": rng.choice(["30/70", "Net 30"]),
                "retail": rng.choice(["预付 Prepayment", "Net 30"]),
                "oem": "Net 60",
            }[group]
            phone = maker.landline(area)
            contacts = []
            for index in range(rng.choice([1, 1, 2, 2, 3])):
                contacts.append(
                    {
                        "name": maker.person(),
                        "role": CONTACT_ROLES[index] if index else rng.choice(CONTACT_ROLES[:2]),
                        "mobile": maker.mobile(),
                        "wechat": f"wx_{rng.randrange(10**6, 10**7)}",
                        "email": f"{rng.randrange(10**7, 10**10)}@qq.example"
                        if rng.random() < 0.5
                        else f"sales{index + 1}@c{number:05d}.example",
                        "preferred_channel": rng.choice(["wechat", "wechat", "phone", "email"]),
                        "language": "zh-hans",
                    }
                )
            street = f"{rng.choice(DISTRICT_WORDS)}{rng.choice(STREETS)}{rng.randrange(1, 999)}号"
            addresses = [("billing", street, city, region, postal, "CN")]
            if rng.random() < 0.4:
                addresses.append(
                    (
                        "shipping",
                        f"{rng.choice(STREETS)}{rng.randrange(1, 999)}号 仓库",
                        city,
                        region,
                        postal,
                        "CN",
                    )
                )
            tax_id = maker.tax_id("CN", division)
        limit = None
        if group in {"dist", "oem", "export"}:
            limit = Decimal(rng.choice([50, 100, 200, 300, 500, 1000, 2000]) * 1000)
        tags = rng.sample(TAGS, rng.choice([0, 0, 1, 1, 2]))
        plans.append(
            {
                "party": Party(
                    company=company,
                    kind=Party.Kind.ORGANISATION,
                    code=f"C{number:05d}",
                    name=name,
                    legal_name=name,
                    normalized_name=normalize_name(name),
                    tax_id=tax_id,
                    is_customer=True,
                    phone=phone,
                    normalized_phone=normalize_phone(phone),
                    language=language,
                    country_id=country,
                    currency_id=currency,
                    payment_term=terms[term],
                    credit_limit=limit,
                    salesperson=rng.choice(salespeople)
                    if salespeople and (not export or rng.random() < 0.5)
                    else None,
                    customer_group=groups[group],
                ),
                "contacts": contacts,
                "addresses": addresses,
                "tags": tags,
            }
        )
    return plans


def _suppliers(
    ctx: DemoContext, maker: _Maker, company: Company, count: int, terms: dict[str, PaymentTerm]
) -> list[dict[str, Any]]:
    rng = ctx.rng
    plans = []
    foreign = FOREIGN_SUPPLIERS[: max(2, count // 6)]
    for number in range(1, count + 1):
        if number <= len(foreign):
            country, name, what, lead = foreign[number - 1]
            cities, prefix, currency, language = FOREIGN[country]
            city, region, postal = cities[0]
            maker.used_names.add(normalize_name(name))
            phone = f"{prefix} {rng.randrange(10, 99)} {rng.randrange(10**6, 10**7)}"
            contact = {"name": rng.choice(EN_NAMES), "role": "Key account manager", "email": f"sales@{normalize_name(name)[:16]}.example", "phone": phone, "preferred_channel": "email", "language": "en"}  # fmt: skip
            address = (
                "billing",
                f"{EN_STREETS[country]} {rng.randrange(1, 200)}",
                city,
                region,
                postal,
                country,
            )
            bank = (
                {"bank_name": "Deutsche Bank", "account_number": maker.iban_de(), "swift": "DEUTDEFF", "currency_id": "EUR"}
                if country == "DE"
                else {"bank_name": "HSBC", "account_number": f"{rng.randrange(10**11, 10**12)}", "swift": "HSBCHKHH", "currency_id": currency}
            )  # fmt: skip
            term, notes = "Net 60", f"Supplies {what}."
            tax_id = maker.tax_id(country)
        else:
            part, what, lead = rng.choice(SUPPLIER_PARTS)
            city = rng.choice(
                ["宁波", "天津", "东莞", "深圳", "苏州", "常州", "无锡", "温州", "厦门"]
            )
            region, division, postal, area = CN_CITIES[city]
            country, currency, language = "CN", "CNY", "zh-hans"
            name = maker.unique(
                lambda city=city, part=part: f"{city}{rng.choice(BRANDS)}{part}制造有限公司"
            )
            phone = maker.landline(area)
            contact = {"name": maker.person(), "role": "销售经理", "mobile": maker.mobile(), "wechat": f"wx_{rng.randrange(10**6, 10**7)}", "preferred_channel": "wechat", "language": "zh-hans"}  # fmt: skip
            address = (
                "billing",
                f"{rng.choice(DISTRICT_WORDS)}{rng.choice(STREETS)}{rng.randrange(1, 999)}号",
                city,
                region,
                postal,
                "CN",
            )
            bank_name, swift = rng.choice(CN_BANKS)
            bank = {"bank_name": bank_name, "account_number": f"6222{rng.randrange(10**15):015d}", "swift": swift, "currency_id": "CNY"}  # fmt: skip
            term = rng.choice(["Net 30", "Net 60", "30/70"])
            notes = f"供应{part}（{what}）。"
            tax_id = maker.tax_id("CN", division)
        plans.append(
            {
                "party": Party(
                    company=company,
                    code=f"S{number:04d}",
                    name=name,
                    legal_name=name,
                    normalized_name=normalize_name(name),
                    tax_id=tax_id,
                    is_supplier=True,
                    phone=phone,
                    normalized_phone=normalize_phone(phone),
                    language=language,
                    country_id=country,
                    currency_id=currency,
                    payment_term=terms[term],
                    supplier_lead_days=lead + rng.randrange(-3, 8),
                    notes=notes,
                ),
                "contacts": [contact],
                "addresses": [address],
                "bank": bank,
                "tags": [],
            }
        )
    return plans


def _insert(ctx: DemoContext, maker: _Maker, company: Company, plans: list[dict[str, Any]]) -> int:
    """Bulk-insert planned parties with their contacts, addresses, bank accounts, tags and a
    "party created" timeline entry each."""
    parties = Party.unscoped.bulk_create([plan["party"] for plan in plans], batch_size=1000)
    now = timezone.now()
    tags = {t.name: t for t in Tag.unscoped.filter(company=company)}
    missing = {name for plan in plans for name in plan["tags"]} - set(tags)
    for tag in Tag.unscoped.bulk_create([Tag(company=company, name=n) for n in sorted(missing)]):
        tags[tag.name] = tag
    contacts, addresses, banks, links, entries = [], [], [], [], []
    through = Party.tags.through
    for party, plan in zip(parties, plans, strict=True):
        for index, fields in enumerate(plan["contacts"]):
            contacts.append(Contact(company=company, party=party, is_primary=index == 0, **fields))
        seen_kinds: set[str] = set()
        for kind, street, city, region, postal, country in plan["addresses"]:
            addresses.append(
                Address(
                    company=company,
                    party=party,
                    kind=kind,
                    street=street,
                    city=city,
                    region_id=maker.regions.get(region),
                    postal_code=postal,
                    country_id=country,
                    is_default=kind not in seen_kinds,
                )
            )
            seen_kinds.add(kind)
        if plan.get("bank"):
            banks.append(
                BankAccount(company=company, party=party, holder=party.name, **plan["bank"])
            )
        links += [through(party_id=party.pk, tag_id=tags[name].pk) for name in plan["tags"]]
        role = "客户" if party.is_customer else "供应商"
        entries.append(
            TimelineEntry(
                company=company,
                party=party,
                kind="party.created",
                summary=f"新建{role}：{party.name}",
                occurred_at=now - dt.timedelta(days=ctx.rng.randrange(200, 900)),
            )
        )
        if ctx.rng.random() < 0.2:
            for _ in range(ctx.rng.randrange(1, 4)):
                kind, summary = ctx.rng.choice(TIMELINE_NOTES)
                entries.append(
                    TimelineEntry(
                        company=company,
                        party=party,
                        kind=kind,
                        summary=summary,
                        occurred_at=now
                        - dt.timedelta(
                            days=ctx.rng.randrange(1, 180), hours=ctx.rng.randrange(0, 10)
                        ),
                        actor=party.salesperson,
                    )
                )
    Contact.unscoped.bulk_create(contacts, batch_size=2000)
    Address.unscoped.bulk_create(addresses, batch_size=2000)
    BankAccount.unscoped.bulk_create(banks, batch_size=2000)
    through.objects.bulk_create(links, batch_size=2000)
    TimelineEntry.unscoped.bulk_create(entries, batch_size=2000)
    return len(parties)


def _through_services(
    ctx: DemoContext,
    maker: _Maker,
    company: Company,
    groups: dict[str, CustomerGroup],
    terms: dict[str, PaymentTerm],
) -> None:
    """A few parties with real audit history: created, edited, credit terms set, a duplicate
    merged, another duplicate left for the duplicate warning."""
    rep, manager, accountant = (
        ctx.users["sales_rep"],
        ctx.users["sales_manager"],
        ctx.users["accountant"],
    )
    original = services.party_create(
        company=company,
        actor=rep,
        name="上海骑行者贸易有限公司",
        is_customer=True,
        country="CN",
        tax_id=maker.uscc("310000"),
        phone="021-6288 1234",
        email="info@qixingzhe.example",
        customer_group=groups["dist"],
        salesperson=rep,
        tags=["VIP", "华东"],
    )
    services.contact_create(party=original, actor=rep, name="王伟", role="采购经理", mobile="13800138000", preferred_channel="wechat", wechat="wangwei_qxz")  # fmt: skip
    services.address_create(party=original, actor=rep, street="浦东新区张江路 88 号", city="上海", country="CN", region=Region.objects.get(code="CN-SH"), postal_code="201203")  # fmt: skip
    services.party_set_credit_terms(party=original, actor=accountant, credit_limit=Decimal("500000"), payment_term=terms["30/70"])  # fmt: skip
    duplicate = services.party_create(
        company=company,
        actor=rep,
        name="上海骑行者贸易",
        is_customer=True,
        phone="+86 21 6288 1234",
        allow_duplicate=True,
    )
    services.contact_create(party=duplicate, actor=rep, name="李娜", role="财务主管", email="lina@qixingzhe.example")  # fmt: skip
    services.timeline_add(
        party=duplicate, kind="activity", summary="电话确认 2026 年框架协议", actor=rep
    )
    services.party_merge(survivor=original, duplicate=duplicate, actor=manager)
    services.timeline_add(party=original, kind="order", summary="订单 SO2026-00012：电助力车 E-City 120 台", actor=rep, url="/parties/")  # fmt: skip
    velo = services.party_create(
        company=company,
        actor=rep,
        name="Velo Sport GmbH",
        is_customer=True,
        country="DE",
        tax_id="DE136695976",
        language="en",
        currency="EUR",
        email="einkauf@velosport.example",
        customer_group=groups["export"],
        tags=["Eurobike"],
    )
    services.party_set_credit_terms(party=velo, actor=accountant, credit_limit=Decimal("150000"), payment_term=terms["2/10 net 30"])  # fmt: skip
    services.bank_account_create(party=velo, actor=rep, bank_name="Commerzbank", account_number="DE89 3704 0044 0532 0130 00", swift="COBADEFF", currency="EUR")  # fmt: skip
    # Left unmerged on purpose: the duplicate warning and the merge screen find them.
    services.party_create(company=company, actor=rep, name="VELO-SPORT", is_customer=True, country="DE", allow_duplicate=True)  # fmt: skip


def _partner_suppliers(ctx: DemoContext, maker: _Maker, partner: Company, main: Company) -> int:
    """The partner (a Hong Kong distributor) buys bikes from the main company and parts from a
    few others."""
    term = services.payment_term_create(company=partner, actor=None, name="Net 45", lines=[{"percent": 100, "days": 45}])  # fmt: skip
    names = [
        (
            main.legal_name,
            "CN",
            main.tax_id if uscc.is_valid(main.tax_id) else maker.uscc("310000"),
            30,
        ),
        ("Formosa Wheel Industrial Co., Ltd.", "TW", maker.tax_id("TW"), 40),
        ("東莞速達單車配件有限公司", "CN", maker.uscc("441900"), 21),
        ("Kowloon Cycle Parts Limited", "HK", maker.tax_id("HK"), 5),
        ("Velo Logistics (HK) Limited", "HK", maker.tax_id("HK"), 3),
    ]
    parties = []
    for number, (name, country, tax_id, lead) in enumerate(names, start=1):
        parties.append(
            Party(
                company=partner,
                code=f"V{number:03d}",
                name=name,
                legal_name=name,
                normalized_name=normalize_name(name),
                tax_id=tax_id,
                is_supplier=True,
                is_carrier=name.startswith("Velo Logistics"),
                language="zh-hant",
                country_id=country,
                currency_id="HKD" if country == "HK" else "CNY" if country == "CN" else "USD",
                payment_term=term,
                supplier_lead_days=lead,
            )
        )
    Party.unscoped.bulk_create(parties)
    return len(parties)


def run(ctx: DemoContext) -> None:
    main, partner = ctx.companies["main"], ctx.companies["partner"]
    customers, suppliers = VOLUMES[ctx.size]
    maker = _Maker(ctx)
    # Names the service-made parties below use: the generated ones must not collide with them.
    maker.used_names.update(
        normalize_name(n) for n in ("上海骑行者贸易有限公司", "Velo Sport GmbH")
    )
    groups, terms = _setup(main, ctx.users["sales_manager"])
    plans = _customers(ctx, maker, main, customers - 4, groups, terms)
    count = _insert(ctx, maker, main, plans)
    count += _insert(ctx, maker, main, _suppliers(ctx, maker, main, suppliers, terms))
    with translation.override("zh-hans"):  # the entries services write read in Chinese
        _through_services(ctx, maker, main, groups, terms)
    partner_count = _partner_suppliers(ctx, maker, partner, main)
    ctx.log.append(
        f"{count + 4} parties ({customers} customers, {suppliers} suppliers) in {main.name}, "
        f"{partner_count} suppliers in {partner.name}"
    )
