"""Demo step for the product catalogue of the main company: a bicycle and e-bike manufacturer.

About 300 products with English names and Chinese ones (简体 and 繁體 in `name_i18n`): raw
materials (aluminium and chromoly tube, sheet, powder paint, lithium cells, copper wire,
magnets), purchased parts (tyres, rims, spokes, hubs, drivetrain and brake parts, forks,
cockpit parts, e-bike electronics, fasteners, packaging), sub-assemblies (welded and painted
frames, wheels, battery packs, motors, phantom drivetrain and e-system kits) and finished city,
mountain, road, folding, kids' bikes and e-bikes; a category tree; units pc, kg and m; lead
times, safety stock and lot sizing; costs of purchased items and list prices of finished goods.

BOMs are four levels deep (bike → painted frame → welded frame → tube), routings run on six
work centers (下料 cutting, 焊接 welding, 涂装 painting, 车轮装配 wheel building, 总装 final
assembly, 检测 testing); one e-bike is configurable (frame S/M/L, battery 400/500/625 Wh, hub or
mid-drive motor, display, extras rack, lights and child seat, with requires / excludes / only-if
rules). Low-level codes are set and the made items' standard costs rolled up.

Runs after the core and party steps and before pricing. Deterministic (ctx.rng, fixed order)
and fast: rows are bulk-inserted; a few changes go through the services so that the history
tabs and the audit trail have real entries.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, Decimal
from typing import Any

from auditlog.context import set_actor

from xietong.core.models import Company, UnitOfMeasure
from xietong.demo.context import DemoContext
from xietong.product import bom as bom_services
from xietong.product import configurator
from xietong.product.models import (
    Bom,
    BomLine,
    Category,
    ConfigRule,
    Option,
    OptionBomChange,
    OptionGroup,
    Product,
    Routing,
    RoutingOperation,
    WorkCenter,
)

D = Decimal
BUY, MAKE = Product.Supply.BUY, Product.Supply.MAKE
SEPARATOR = " / "

# --- categories: code -> (parent code, name) ---------------------------------------------------

CATEGORIES = [
    ("FG", None, "整车 Bicycles"),
    ("FG-CITY", "FG", "城市车 City bikes"),
    ("FG-MTB", "FG", "山地车 Mountain bikes"),
    ("FG-ROAD", "FG", "公路车 Road & gravel"),
    ("FG-EBIKE", "FG", "电助力车 E-bikes"),
    ("FG-SMALL", "FG", "折叠车与童车 Folding & kids"),
    ("SA", None, "部件 Sub-assemblies"),
    ("SA-FRAME", "SA", "车架 Frames"),
    ("SA-WHEEL", "SA", "车轮 Wheels"),
    ("SA-DRIVE", "SA", "传动套件 Drivetrain kits"),
    ("SA-BATT", "SA", "电池包 Battery packs"),
    ("SA-MOTOR", "SA", "电机 Motors"),
    ("SA-EKIT", "SA", "电控套件 E-system kits"),
    ("PP", None, "外购件 Purchased parts"),
    ("PP-TYRE", "PP", "轮胎与内胎 Tyres & tubes"),
    ("PP-WHEEL", "PP", "轮圈与花鼓 Rims, hubs & spokes"),
    ("PP-DRIVE", "PP", "传动件 Drivetrain parts"),
    ("PP-BRAKE", "PP", "刹车 Brakes"),
    ("PP-FORK", "PP", "前叉与避震 Forks & shocks"),
    ("PP-COCKPIT", "PP", "操控与座垫 Cockpit & saddles"),
    ("PP-ACC", "PP", "配件 Accessories"),
    ("PP-ELEC", "PP", "电子电气 E-bike electronics"),
    ("PP-FAST", "PP", "紧固件 Fasteners"),
    ("PP-PACK", "PP", "包装 Packaging"),
    ("RM", None, "原材料 Raw materials"),
    ("RM-TUBE", "RM", "管材 Tubes"),
    ("RM-SHEET", "RM", "板材 Sheet"),
    ("RM-PAINT", "RM", "涂料 Paint"),
    ("RM-CELL", "RM", "电芯 Cells"),
    ("RM-AUX", "RM", "辅料 Consumables"),
]


@dataclass
class Item:
    sku: str
    en: str
    hans: str
    hant: str
    category: str
    uom: str = "pc"
    cost: Decimal = D(0)
    price: Decimal = D(0)
    supply: str = BUY
    planning: dict[str, Any] = field(default_factory=dict)


ITEMS: dict[str, Item] = {}


def item(sku: str, en: str, hans: str, hant: str, category: str, **kw: Any) -> str:
    ITEMS[sku] = Item(sku, en, hans, hant, category, **kw)
    return sku


# --- raw materials ----------------------------------------------------------------------------

for d_, c in [("28", "18.5"), ("34", "22"), ("38", "26"), ("45", "31"), ("50", "36")]:
    item(
        f"RM-AL-T{d_}",
        f"Aluminium tube 6061 Ø{d_}",
        f"铝合金管 6061 Ø{d_}",
        f"鋁合金管 6061 Ø{d_}",
        "RM-TUBE",
        uom="m",
        cost=D(c),
    )
for d_, c in [("25", "15"), ("28", "17"), ("32", "19.5")]:
    item(
        f"RM-ST-T{d_}",
        f"Chromoly tube 4130 Ø{d_}",
        f"铬钼钢管 4130 Ø{d_}",
        f"鉻鉬鋼管 4130 Ø{d_}",
        "RM-TUBE",
        uom="m",
        cost=D(c),
    )
item(
    "RM-AL-SH3", "Aluminium sheet 3 mm", "铝板 3 mm", "鋁板 3 mm", "RM-SHEET", uom="kg", cost=D(28)
)
item("RM-ST-SH2", "Steel sheet 2 mm", "钢板 2 mm", "鋼板 2 mm", "RM-SHEET", uom="kg", cost=D("7.5"))
item("RM-PT-PRM", "Epoxy primer", "环氧底漆", "環氧底漆", "RM-PAINT", uom="kg", cost=D(42))
item("RM-PT-CLR", "Clear coat", "透明罩光漆", "透明罩光漆", "RM-PAINT", uom="kg", cost=D(75))
PAINTS = [
    ("BLK", "black", "黑色", "黑色", "58"),
    ("WHT", "white", "白色", "白色", "58"),
    ("RED", "red", "红色", "紅色", "64"),
    ("BLU", "blue", "蓝色", "藍色", "64"),
    ("GRN", "forest green", "森林绿", "森林綠", "66"),
    ("GRY", "graphite grey", "石墨灰", "石墨灰", "61"),
]
for code, en, hans, hant, c in PAINTS:
    item(
        f"RM-PT-{code}",
        f"Powder coat, {en}",
        f"{hans}粉末涂料",
        f"{hant}粉末塗料",
        "RM-PAINT",
        uom="kg",
        cost=D(c),
        planning={"lot_sizing": "min_max", "min_qty": D(50), "max_qty": D(300)},
    )
item(
    "RM-WW-AL",
    "Aluminium welding wire ER5356",
    "铝焊丝 ER5356",
    "鋁焊絲 ER5356",
    "RM-AUX",
    uom="kg",
    cost=D(95),
)
item(
    "RM-WW-ST",
    "Steel welding wire ER70S-6",
    "钢焊丝 ER70S-6",
    "鋼焊絲 ER70S-6",
    "RM-AUX",
    uom="kg",
    cost=D(18),
)
item(
    "RM-CL-18650",
    "Li-ion cell 18650 3.5 Ah",
    "锂电芯 18650 3.5 Ah",
    "鋰電芯 18650 3.5 Ah",
    "RM-CELL",
    cost=D("14.5"),
    planning={"lot_sizing": "eoq", "lot_size": D(2000), "lot_multiple": D(500)},
)
item(
    "RM-CL-21700",
    "Li-ion cell 21700 5.0 Ah",
    "锂电芯 21700 5.0 Ah",
    "鋰電芯 21700 5.0 Ah",
    "RM-CELL",
    cost=D(21),
    planning={"lot_sizing": "eoq", "lot_size": D(3000), "lot_multiple": D(500)},
)
item(
    "RM-NI-STR",
    "Nickel strip 0.15 mm",
    "镍带 0.15 mm",
    "鎳帶 0.15 mm",
    "RM-AUX",
    uom="m",
    cost=D("3.2"),
)
item("RM-CU-WIRE", "Enamelled copper wire", "漆包铜线", "漆包銅線", "RM-AUX", uom="kg", cost=D(88))
item("RM-MAG", "NdFeB magnets", "钕铁硼磁钢", "釹鐵硼磁鋼", "RM-AUX", uom="kg", cost=D(420))
item("RM-SIL", "Silicon steel laminations", "硅钢片", "矽鋼片", "RM-SHEET", uom="kg", cost=D(12))
item("RM-ADH", "Structural adhesive", "结构胶", "結構膠", "RM-AUX", uom="kg", cost=D(120))
item("RM-SHRINK", "Heat-shrink film", "热缩膜", "熱縮膜", "RM-AUX", uom="m", cost=D("4.5"))
item("RM-GREASE", "Bearing grease", "轴承润滑脂", "軸承潤滑脂", "RM-AUX", uom="kg", cost=D(36))

# --- purchased parts --------------------------------------------------------------------------

WHEEL_SIZES = [
    # code, label, spokes per wheel, spoke length (mm)
    ("20", "20″", 28, 186),
    ("24", "24″", 32, 238),
    ("26", "26″", 36, 262),
    ("275", "27.5″", 32, 274),
    ("29", "29″", 32, 292),
    ("700", "700C", 32, 290),
]
WHEELS = [
    # code, label, rim, tyre, tube, spokes per wheel, spoke length, front hub, rear hub
    ("20", "20″", "PP-RIM-20", "PP-TYR-20-CITY", "PP-TUB-20", 28, 186, "PP-HUB-FQR", "PP-HUB-RQR"),
    ("24", "24″", "PP-RIM-24", "PP-TYR-24-MTB", "PP-TUB-24", 32, 238, "PP-HUB-FQR", "PP-HUB-RQR"),
    ("26", "26″", "PP-RIM-26", "PP-TYR-26-MTB", "PP-TUB-26", 36, 262, "PP-HUB-FQR", "PP-HUB-RQR"),
    ("275", "27.5″", "PP-RIM-275", "PP-TYR-275-MTB", "PP-TUB-275", 32, 274, "PP-HUB-FTA", "PP-HUB-RTA"),
    ("29", "29″", "PP-RIM-29", "PP-TYR-29-MTB", "PP-TUB-29", 32, 292, "PP-HUB-FTA", "PP-HUB-RTA"),
    ("29XC", "29″ XC", "PP-RIM-29", "PP-TYR-29-XC", "PP-TUB-29", 28, 292, "PP-HUB-FTA", "PP-HUB-RTA"),
    ("700", "700C city", "PP-RIM-700", "PP-TYR-700-CITY", "PP-TUB-700", 36, 290, "PP-HUB-FQR", "PP-HUB-RQR"),
    ("700H", "700C 3-speed hub", "PP-RIM-700", "PP-TYR-700-CITY", "PP-TUB-700", 36, 288, "PP-HUB-FQR", "PP-HUB-R3S"),
    ("700R", "700C road", "PP-RIM-700", "PP-TYR-700-ROAD", "PP-TUB-700", 24, 290, "PP-HUB-FQR", "PP-HUB-RQR"),
    ("700P", "700C carbon road", "PP-RIM-700D", "PP-TYR-700-ROAD", "PP-TUB-700", 24, 272, "PP-HUB-FTA", "PP-HUB-RTA"),
    ("700G", "700C gravel", "PP-RIM-700", "PP-TYR-700-GRAVEL", "PP-TUB-700", 28, 290, "PP-HUB-FTA", "PP-HUB-RTA"),
]  # fmt: skip
TYRES = [
    ("20", "city", "20 × 1.75 city tyre", "20×1.75 城市胎", "20×1.75 城市胎", "38"),
    ("24", "city", "24 × 1.75 city tyre", "24×1.75 城市胎", "24×1.75 城市胎", "42"),
    ("24", "mtb", "24 × 2.1 MTB tyre", "24×2.1 山地胎", "24×2.1 山地胎", "48"),
    ("26", "city", "26 × 1.95 city tyre", "26×1.95 城市胎", "26×1.95 城市胎", "45"),
    ("26", "mtb", "26 × 2.25 MTB tyre", "26×2.25 山地胎", "26×2.25 山地胎", "58"),
    ("275", "mtb", "27.5 × 2.35 trail tyre", "27.5×2.35 越野胎", "27.5×2.35 越野胎", "88"),
    ("29", "mtb", "29 × 2.4 trail tyre", "29×2.4 越野胎", "29×2.4 越野胎", "96"),
    ("29", "xc", "29 × 2.2 XC race tyre", "29×2.2 竞赛胎", "29×2.2 競賽胎", "118"),
    ("700", "road", "700 × 25C road tyre", "700×25C 公路胎", "700×25C 公路胎", "85"),
    ("700", "gravel", "700 × 40C gravel tyre", "700×40C 砾石胎", "700×40C 礫石胎", "92"),
    (
        "700",
        "city",
        "700 × 42C e-bike tyre, puncture-proof",
        "700×42C 防刺电助力胎",
        "700×42C 防刺電助力胎",
        "105",
    ),
]
for size, kind, en, hans, hant, c in TYRES:
    item(
        f"PP-TYR-{size}-{kind.upper()}",
        en,
        hans,
        hant,
        "PP-TYRE",
        cost=D(c),
        planning={"purchase_lead_days": 14, "safety_stock": D(100)},
    )
for size, label, _spokes, _length in WHEEL_SIZES:
    item(
        f"PP-TUB-{size}",
        f"Inner tube {label}",
        f"{label} 内胎",
        f"{label} 內胎",
        "PP-TYRE",
        cost=D(9),
        planning={"purchase_lead_days": 14, "safety_stock": D(150)},
    )
    item(
        f"PP-RIM-{size}",
        f"Alloy rim {label}, double wall",
        f"{label} 双层铝合金轮圈",
        f"{label} 雙層鋁合金輪圈",
        "PP-WHEEL",
        cost=D(62 if size != "20" else 38),
        planning={"purchase_lead_days": 21},
    )
for length in sorted({w[6] for w in WHEELS}):
    item(
        f"PP-SPK-{length}",
        f"Stainless spoke 2.0 × {length} mm",
        f"不锈钢辐条 2.0×{length} mm",
        f"不鏽鋼輻條 2.0×{length} mm",
        "PP-WHEEL",
        cost=D("0.85"),
        planning={
            "purchase_lead_days": 10,
            "safety_stock": D(2000),
            "lot_sizing": "fixed",
            "lot_size": D(5000),
            "lot_multiple": D(500),
        },
    )
item(
    "PP-RIM-700D",
    "Carbon rim 700C, 45 mm deep",
    "700C 碳纤维刀圈 45 mm",
    "700C 碳纖維刀圈 45 mm",
    "PP-WHEEL",
    cost=D(680),
    planning={"purchase_lead_days": 35},
)
item(
    "PP-NIP",
    "Brass spoke nipple",
    "铜辐条帽",
    "銅輻條帽",
    "PP-WHEEL",
    cost=D("0.12"),
    planning={"safety_stock": D(5000), "lot_sizing": "fixed", "lot_size": D(20000)},
)
HUBS = [
    ("PP-HUB-FQR", "Front hub, quick release", "前花鼓 快拆", "前花鼓 快拆", "42"),
    ("PP-HUB-FTA", "Front hub, 15 mm thru-axle", "前花鼓 15 mm 桶轴", "前花鼓 15 mm 桶軸", "78"),
    ("PP-HUB-RQR", "Rear freehub, quick release", "后花鼓 快拆卡式", "後花鼓 快拆卡式", "68"),
    (
        "PP-HUB-RTA",
        "Rear freehub, 12 mm thru-axle boost",
        "后花鼓 12 mm 桶轴 Boost",
        "後花鼓 12 mm 桶軸 Boost",
        "118",
    ),
    ("PP-HUB-R3S", "Rear hub, 3-speed internal gear", "后花鼓 内三速", "後花鼓 內三速", "185"),
]
for sku, en, hans, hant, c in HUBS:
    item(sku, en, hans, hant, "PP-WHEEL", cost=D(c), planning={"purchase_lead_days": 30})
item("PP-RTAPE-N", "Rim tape, narrow", "轮圈垫带 窄", "輪圈墊帶 窄", "PP-WHEEL", cost=D("1.5"))
item("PP-RTAPE-W", "Rim tape, wide", "轮圈垫带 宽", "輪圈墊帶 寬", "PP-WHEEL", cost=D("2.2"))

for speeds, c in [
    ("7", "28"),
    ("8", "45"),
    ("9", "62"),
    ("10", "88"),
    ("11", "135"),
    ("12", "260"),
]:
    item(
        f"PP-CAS-{speeds}",
        f"Cassette {speeds}-speed",
        f"{speeds} 速飞轮",
        f"{speeds} 速飛輪",
        "PP-DRIVE",
        cost=D(c),
        planning={"purchase_lead_days": 30},
    )
    item(
        f"PP-CHN-{speeds}",
        f"Chain {speeds}-speed",
        f"{speeds} 速链条",
        f"{speeds} 速鏈條",
        "PP-DRIVE",
        cost=D(int(c) // 3 + 12),
        planning={"purchase_lead_days": 30},
    )
    item(
        f"PP-RD-{speeds}",
        f"Rear derailleur {speeds}-speed",
        f"{speeds} 速后拨",
        f"{speeds} 速後撥",
        "PP-DRIVE",
        cost=D(int(c) + 20),
        planning={"purchase_lead_days": 30},
    )
    item(
        f"PP-SFT-{speeds}",
        f"Trigger shifter {speeds}-speed",
        f"{speeds} 速指拨",
        f"{speeds} 速指撥",
        "PP-DRIVE",
        cost=D(int(c) // 2 + 15),
        planning={"purchase_lead_days": 30},
    )
item("PP-SFT-3I", "Twist shifter 3-speed hub", "内三速转把", "內三速轉把", "PP-DRIVE", cost=D(36))
item(
    "PP-STI-11",
    "Road brake/shift levers 2 × 11",
    "公路手变 2×11",
    "公路手變 2×11",
    "PP-DRIVE",
    cost=D(680),
    planning={"purchase_lead_days": 45},
)
item("PP-FD-3", "Front derailleur, triple", "三片前拨", "三片前撥", "PP-DRIVE", cost=D(38))
item(
    "PP-FD-2",
    "Front derailleur, road double",
    "公路双片前拨",
    "公路雙片前撥",
    "PP-DRIVE",
    cost=D(120),
)
CRANKS = [
    ("PP-CRK-CITY", "Crankset 38T with chain guard", "38T 牙盘 带护盘", "38T 齒盤 帶護盤", "68"),
    ("PP-CRK-TRK", "Crankset 48/38/28T trekking", "48/38/28T 三片牙盘", "48/38/28T 三片齒盤", "95"),
    ("PP-CRK-MTB", "Crankset 32T narrow-wide", "32T 正负齿牙盘", "32T 正負齒齒盤", "210"),
    ("PP-CRK-RDC", "Road crankset 50/34T compact", "50/34T 公路牙盘", "50/34T 公路齒盤", "320"),
    ("PP-CRK-RDP", "Road crankset 52/36T", "52/36T 公路牙盘", "52/36T 公路齒盤", "560"),
    ("PP-CRK-KID", "Kids' crankset 32T", "儿童牙盘 32T", "兒童齒盤 32T", "35"),
    ("PP-CRK-EMID", "Crank arms for mid-drive motor", "中置电机曲柄", "中置電機曲柄", "120"),
]
for sku, en, hans, hant, c in CRANKS:
    item(sku, en, hans, hant, "PP-DRIVE", cost=D(c), planning={"purchase_lead_days": 30})
item("PP-BB-SQ", "Bottom bracket, square taper", "方孔中轴", "方孔中軸", "PP-DRIVE", cost=D(22))
item(
    "PP-BB-HT",
    "Bottom bracket, BSA Hollowtech",
    "BSA 一体中轴",
    "BSA 一體中軸",
    "PP-DRIVE",
    cost=D(85),
)
BRAKES = [
    ("PP-BRK-V", "V-brake with lever", "V 刹含手柄", "V 剎含手柄", "32"),
    ("PP-BRK-MD", "Mechanical disc brake", "机械碟刹", "機械碟剎", "68"),
    ("PP-BRK-HD", "Hydraulic disc brake, MTB", "山地油压碟刹", "山地油壓碟剎", "210"),
    ("PP-BRK-HR", "Hydraulic disc caliper, road", "公路油压碟刹卡钳", "公路油壓碟剎卡鉗", "260"),
    ("PP-BRK-RL", "Roller brake", "抱刹", "抱剎", "48"),
    ("PP-BRK-CL", "Caliper brake, road", "公路夹器", "公路夾器", "95"),
]
for sku, en, hans, hant, c in BRAKES:
    item(sku, en, hans, hant, "PP-BRAKE", cost=D(c), planning={"purchase_lead_days": 30})
for mm, c in [("160", "42"), ("180", "48"), ("203", "58")]:
    item(
        f"PP-ROT-{mm}",
        f"Disc rotor {mm} mm",
        f"碟片 {mm} mm",
        f"碟片 {mm} mm",
        "PP-BRAKE",
        cost=D(c),
    )
FORKS = [
    ("PP-FRK-CITY", "Rigid steel fork, city", "城市钢前叉", "城市鋼前叉", "55"),
    (
        "PP-FRK-SUS63",
        "Suspension fork 63 mm, city",
        "63 mm 城市避震前叉",
        "63 mm 城市避震前叉",
        "160",
    ),
    ("PP-FRK-XC100", "Air fork 100 mm, XC", "100 mm 气压前叉", "100 mm 氣壓前叉", "780"),
    ("PP-FRK-TR120", "Air fork 120 mm, trail", "120 mm 越野气压前叉", "120 mm 越野氣壓前叉", "980"),
    ("PP-FRK-EN150", "Air fork 150 mm, enduro", "150 mm 耐力赛前叉", "150 mm 耐力賽前叉", "1480"),
    ("PP-FRK-RDC", "Carbon road fork", "公路碳纤维前叉", "公路碳纖維前叉", "620"),
    ("PP-FRK-GRV", "Alloy gravel fork", "砾石铝合金前叉", "礫石鋁合金前叉", "240"),
    (
        "PP-FRK-E80",
        "Suspension fork 80 mm, e-bike",
        "80 mm 电助力避震前叉",
        "80 mm 電助力避震前叉",
        "420",
    ),
    ("PP-FRK-KID", "Kids' rigid fork", "儿童前叉", "兒童前叉", "28"),
]
for sku, en, hans, hant, c in FORKS:
    item(sku, en, hans, hant, "PP-FORK", cost=D(c), planning={"purchase_lead_days": 40})
item("PP-SHK-120", "Rear shock 120 mm", "120 mm 后避震", "120 mm 後避震", "PP-FORK", cost=D(620))
item("PP-SHK-150", "Rear shock 150 mm", "150 mm 后避震", "150 mm 後避震", "PP-FORK", cost=D(860))
COCKPIT = [
    ("PP-HS-STD", "Headset 1 1/8″", "1 1/8″ 碗组", "1 1/8″ 碗組", "18"),
    ("PP-HS-TAP", "Headset, tapered", "锥管碗组", "錐管碗組", "45"),
    ("PP-BAR-FLAT", "Flat handlebar 620 mm", "620 mm 平把", "620 mm 平把", "28"),
    ("PP-BAR-RISER", "Riser handlebar 760 mm", "760 mm 燕把", "760 mm 燕把", "65"),
    ("PP-BAR-DROP", "Drop handlebar 420 mm", "420 mm 弯把", "420 mm 彎把", "88"),
    ("PP-BAR-CITY", "Swept-back city handlebar", "城市后掠把", "城市後掠把", "32"),
    ("PP-BAR-KID", "Kids' handlebar", "儿童车把", "兒童車把", "15"),
    ("PP-STM-60", "Stem 60 mm", "60 mm 把立", "60 mm 把立", "45"),
    ("PP-STM-90", "Stem 90 mm", "90 mm 把立", "90 mm 把立", "38"),
    ("PP-STM-110", "Stem 110 mm", "110 mm 把立", "110 mm 把立", "55"),
    ("PP-STM-ADJ", "Adjustable city stem", "可调城市把立", "可調城市把立", "42"),
    ("PP-GRP-ERGO", "Ergonomic grips", "人体工学握把", "人體工學握把", "22"),
    ("PP-GRP-LOCK", "Lock-on grips", "锁死握把", "鎖死握把", "35"),
    ("PP-TAPE", "Handlebar tape", "把带", "把帶", "28"),
    ("PP-SAD-CITY", "Comfort saddle, city", "城市舒适座垫", "城市舒適座墊", "45"),
    ("PP-SAD-SPORT", "Sport saddle", "运动座垫", "運動座墊", "68"),
    ("PP-SAD-ROAD", "Road saddle, carbon rails", "碳弓公路座垫", "碳弓公路座墊", "260"),
    ("PP-SAD-KID", "Kids' saddle", "儿童座垫", "兒童座墊", "18"),
    ("PP-SP-272", "Seatpost 27.2 mm", "27.2 mm 座管", "27.2 mm 座管", "32"),
    ("PP-SP-DROP", "Dropper seatpost 30.9 mm", "30.9 mm 升降座管", "30.9 mm 升降座管", "480"),
    ("PP-SP-SUS", "Suspension seatpost 31.6 mm", "31.6 mm 避震座管", "31.6 mm 避震座管", "85"),
    ("PP-PED-CITY", "City pedals with reflectors", "城市脚踏 带反光", "城市腳踏 帶反光", "22"),
    ("PP-PED-FLAT", "MTB flat pedals", "山地平踏", "山地平踏", "75"),
    ("PP-PED-SPD", "Clipless road pedals", "公路锁踏", "公路鎖踏", "260"),
    ("PP-PED-KID", "Kids' pedals", "儿童脚踏", "兒童腳踏", "12"),
    ("PP-PED-FOLD", "Folding pedals", "折叠脚踏", "折疊腳踏", "38"),
]
for sku, en, hans, hant, c in COCKPIT:
    item(sku, en, hans, hant, "PP-COCKPIT", cost=D(c), planning={"purchase_lead_days": 21})
ACCESSORIES = [
    ("PP-FEND-CITY", "Fender set, city", "城市挡泥板套装", "城市擋泥板套裝", "36"),
    ("PP-FEND-E", "Fender set, e-bike, wide", "电助力宽挡泥板套装", "電助力寬擋泥板套裝", "58"),
    ("PP-KICK-R", "Rear kickstand", "后脚撑", "後腳撐", "18"),
    ("PP-KICK-C", "Centre kickstand, heavy duty", "重型中置脚撑", "重型中置腳撐", "45"),
    ("PP-GUARD", "Chain guard", "链罩", "鏈罩", "15"),
    ("PP-BELL", "Bell", "车铃", "車鈴", "6"),
    ("PP-REFL", "Reflector set", "反光片套装", "反光片套裝", "8"),
    ("PP-LIGHT-BAT", "Battery light set", "电池灯套装", "電池燈套裝", "45"),
    ("PP-LIGHT-EF", "E-bike front light 60 lux", "电助力前灯 60 lux", "電助力前燈 60 lux", "85"),
    ("PP-LIGHT-ER", "E-bike rear light", "电助力尾灯", "電助力尾燈", "38"),
    ("PP-RACK", "Rear rack 25 kg", "后货架 25 kg", "後貨架 25 kg", "95"),
    ("PP-RACK-HD", "Heavy-duty cargo rack", "重型货架", "重型貨架", "210"),
    ("PP-CSEAT", "Child seat, rack mount", "货架式儿童座椅", "貨架式兒童座椅", "260"),
    ("PP-BASKET", "Front basket", "前车筐", "前車筐", "48"),
    ("PP-TRAIN", "Training wheels", "辅助轮", "輔助輪", "22"),
    ("PP-HINGE", "Folding frame hinge", "折叠铰链", "折疊鉸鏈", "68"),
]
for sku, en, hans, hant, c in ACCESSORIES:
    item(sku, en, hans, hant, "PP-ACC", cost=D(c), planning={"purchase_lead_days": 14})
ELECTRONICS = [
    ("PP-CTL-36", "Motor controller 36 V 15 A", "36 V 15 A 控制器", "36 V 15 A 控制器", "145"),
    ("PP-CTL-48", "Motor controller 48 V 20 A", "48 V 20 A 控制器", "48 V 20 A 控制器", "210"),
    ("PP-DSP-LCD", "LCD display", "LCD 仪表", "LCD 儀表", "95"),
    ("PP-DSP-TFT", "Colour TFT display", "彩色 TFT 仪表", "彩色 TFT 儀表", "260"),
    ("PP-SNS-SPD", "Speed sensor", "速度传感器", "速度傳感器", "18"),
    ("PP-SNS-TRQ", "Torque sensor", "力矩传感器", "力矩傳感器", "320"),
    ("PP-HRN-E", "E-bike wiring harness", "电助力线束", "電助力線束", "65"),
    ("PP-CHG-36", "Charger 36 V 2 A", "36 V 2 A 充电器", "36 V 2 A 充電器", "88"),
    ("PP-CHG-48", "Charger 48 V 4 A", "48 V 4 A 充电器", "48 V 4 A 充電器", "135"),
    ("PP-BMS-10", "Battery management board 10S", "10 串电池保护板", "10 串電池保護板", "68"),
    ("PP-BMS-13", "Battery management board 13S", "13 串电池保护板", "13 串電池保護板", "92"),
    ("PP-BCASE-S", "Battery casing, down tube, small", "下管电池外壳 小", "下管電池外殼 小", "75"),
    ("PP-BCASE-L", "Battery casing, down tube, large", "下管电池外壳 大", "下管電池外殼 大", "98"),
    ("PP-BCON", "Battery connector and lock", "电池接插件与锁", "電池接插件與鎖", "32"),
    ("PP-MHSG-HUB", "Hub motor housing", "轮毂电机外壳", "輪轂電機外殼", "110"),
    ("PP-MHSG-MID", "Mid-drive motor housing", "中置电机外壳", "中置電機外殼", "230"),
    (
        "PP-GEAR-MID",
        "Mid-drive reduction gear set",
        "中置电机减速齿轮组",
        "中置電機減速齒輪組",
        "260",
    ),
    ("PP-MCABLE", "Motor cable", "电机线", "電機線", "22"),
    ("PP-THROT", "Thumb throttle", "指拨油门", "指撥油門", "35"),
]
for sku, en, hans, hant, c in ELECTRONICS:
    item(sku, en, hans, hant, "PP-ELEC", cost=D(c), planning={"purchase_lead_days": 35})
FASTENERS = [
    ("PP-BOLT-M5", "Bolt M5 × 12", "螺栓 M5×12", "螺栓 M5×12", "0.08"),
    ("PP-BOLT-M6", "Bolt M6 × 20", "螺栓 M6×20", "螺栓 M6×20", "0.12"),
    ("PP-BOLT-M8", "Bolt M8 × 35", "螺栓 M8×35", "螺栓 M8×35", "0.25"),
    ("PP-NUT-M5", "Nylon lock nut M5", "尼龙锁紧螺母 M5", "尼龍鎖緊螺母 M5", "0.05"),
    ("PP-WSH-M5", "Washer M5", "垫圈 M5", "墊圈 M5", "0.02"),
    ("PP-BRG-6001", "Ball bearing 6001", "轴承 6001", "軸承 6001", "2.8"),
    ("PP-BRG-6902", "Ball bearing 6902", "轴承 6902", "軸承 6902", "4.5"),
    ("PP-TIE", "Cable tie", "扎带", "紮帶", "0.03"),
    ("PP-CBL-BRK", "Brake cable set", "刹车线套装", "剎車線套裝", "12"),
    ("PP-CBL-SFT", "Shift cable set", "变速线套装", "變速線套裝", "10"),
]
for sku, en, hans, hant, c in FASTENERS:
    item(
        sku,
        en,
        hans,
        hant,
        "PP-FAST",
        cost=D(c),
        planning={
            "purchase_lead_days": 7,
            "safety_stock": D(5000),
            "lot_sizing": "fixed",
            "lot_size": D(10000),
            "lot_multiple": D(1000),
        }
        if D(c) < 1
        else {"purchase_lead_days": 7},
    )
PACKAGING = [
    ("PP-BOX-STD", "Bike carton, standard", "整车纸箱 标准", "整車紙箱 標準", "28"),
    ("PP-BOX-E", "Bike carton, e-bike", "整车纸箱 电助力", "整車紙箱 電助力", "36"),
    ("PP-BOX-KID", "Bike carton, kids", "整车纸箱 儿童", "整車紙箱 兒童", "18"),
    ("PP-FOAM", "Protective foam set", "保护泡棉套装", "保護泡棉套裝", "9"),
    ("PP-MAN", "User manual zh/en", "中英文说明书", "中英文說明書", "3"),
    (
        "PP-MAN-E",
        "E-bike manual and safety card",
        "电助力说明书与安全卡",
        "電助力說明書與安全卡",
        "5",
    ),
    ("PP-DECAL", "Frame decal set", "车架贴标套装", "車架貼標套裝", "12"),
]
for sku, en, hans, hant, c in PACKAGING:
    item(sku, en, hans, hant, "PP-PACK", cost=D(c), planning={"purchase_lead_days": 10})

# --- finished goods ---------------------------------------------------------------------------


@dataclass
class Model:
    code: str
    en: str
    hans: str
    hant: str
    category: str
    price: int
    material: str  # al | st
    wheel: str
    drivetrain: str
    brake: str
    fork: str
    cockpit: list[str]
    extras: list[str] = field(default_factory=list)
    e: str = ""  # e-system: "36" or "48"
    battery: str = ""
    motor: str = ""
    paint: str = "BLK"
    frame_kind: str = "std"  # std | mtb | road | e | kid | fold
    shock: str = ""


CITY = [
    "PP-HS-STD",
    "PP-BAR-CITY",
    "PP-STM-ADJ",
    "PP-GRP-ERGO",
    "PP-SAD-CITY",
    "PP-SP-SUS",
    "PP-PED-CITY",
]
MTB = ["PP-HS-TAP", "PP-BAR-RISER", "PP-STM-60", "PP-GRP-LOCK", "PP-SAD-SPORT", "PP-PED-FLAT"]
ROAD = [
    "PP-HS-TAP",
    "PP-BAR-DROP",
    "PP-STM-110",
    "PP-TAPE",
    "PP-SAD-ROAD",
    "PP-SP-272",
    "PP-PED-SPD",
]
KID = [
    "PP-HS-STD",
    "PP-BAR-KID",
    "PP-STM-90",
    "PP-GRP-ERGO",
    "PP-SAD-KID",
    "PP-SP-272",
    "PP-PED-KID",
]
CITY_EXTRAS = ["PP-FEND-CITY", "PP-KICK-R", "PP-GUARD", "PP-BELL", "PP-REFL", "PP-LIGHT-BAT"]

MODELS = [
    Model(
        "CITY300",
        "City 300 city bike",
        "城市 300 城市车",
        "城市 300 城市車",
        "FG-CITY",
        1299,
        "st",
        "700H",
        "DT-HUB3",
        "PP-BRK-RL",
        "PP-FRK-CITY",
        CITY,
        [*CITY_EXTRAS, "PP-BASKET"],
        paint="GRN",
    ),
    Model(
        "CITY500",
        "City 500 trekking bike",
        "城市 500 旅行车",
        "城市 500 旅行車",
        "FG-CITY",
        1899,
        "al",
        "700",
        "DT-TRK",
        "PP-BRK-V",
        "PP-FRK-SUS63",
        CITY,
        CITY_EXTRAS,
        paint="BLU",
    ),
    Model(
        "CITY700",
        "City 700 comfort bike",
        "城市 700 舒适车",
        "城市 700 舒適車",
        "FG-CITY",
        2499,
        "al",
        "700H",
        "DT-HUB3",
        "PP-BRK-MD",
        "PP-FRK-SUS63",
        CITY,
        [*CITY_EXTRAS, "PP-RACK"],
        paint="WHT",
    ),
    Model(
        "TOUR700",
        "Touring 700 expedition bike",
        "远征 700 旅行车",
        "遠征 700 旅行車",
        "FG-CITY",
        3299,
        "st",
        "700",
        "DT-TRK",
        "PP-BRK-MD",
        "PP-FRK-CITY",
        CITY,
        ["PP-FEND-CITY", "PP-RACK-HD", "PP-KICK-C", "PP-BELL"],
        paint="GRY",
    ),
    Model(
        "TRAIL27",
        "Trail 27.5 hardtail",
        "越野 27.5 硬尾山地车",
        "越野 27.5 硬尾山地車",
        "FG-MTB",
        2999,
        "al",
        "275",
        "DT-MTB12",
        "PP-BRK-HD",
        "PP-FRK-TR120",
        [*MTB, "PP-SP-272"],
        ["PP-REFL"],
        paint="RED",
        frame_kind="mtb",
    ),
    Model(
        "TRAIL29",
        "Trail 29 hardtail",
        "越野 29 硬尾山地车",
        "越野 29 硬尾山地車",
        "FG-MTB",
        3299,
        "al",
        "29",
        "DT-MTB12",
        "PP-BRK-HD",
        "PP-FRK-TR120",
        [*MTB, "PP-SP-272"],
        ["PP-REFL"],
        paint="BLK",
        frame_kind="mtb",
    ),
    Model(
        "XC29",
        "XC 29 Pro race hardtail",
        "XC 29 Pro 竞赛山地车",
        "XC 29 Pro 競賽山地車",
        "FG-MTB",
        5999,
        "al",
        "29XC",
        "DT-MTB12",
        "PP-BRK-HD",
        "PP-FRK-XC100",
        [*MTB, "PP-SP-272"],
        ["PP-REFL"],
        paint="WHT",
        frame_kind="mtb",
    ),
    Model(
        "ENDURO29",
        "Enduro 29 full suspension",
        "耐力 29 全避震山地车",
        "耐力 29 全避震山地車",
        "FG-MTB",
        8999,
        "al",
        "29",
        "DT-MTB12",
        "PP-BRK-HD",
        "PP-FRK-EN150",
        [*MTB, "PP-SP-DROP"],
        ["PP-REFL"],
        paint="GRN",
        frame_kind="mtb",
        shock="PP-SHK-150",
    ),
    Model(
        "MTB26",
        "Ranger 26 mountain bike",
        "游侠 26 山地车",
        "遊俠 26 山地車",
        "FG-MTB",
        1499,
        "st",
        "26",
        "DT-TRK",
        "PP-BRK-MD",
        "PP-FRK-SUS63",
        [*MTB, "PP-SP-272"],
        ["PP-REFL"],
        paint="BLU",
        frame_kind="mtb",
    ),
    Model(
        "ROAD-S",
        "Road 700 Sport",
        "公路 700 Sport",
        "公路 700 Sport",
        "FG-ROAD",
        4299,
        "al",
        "700R",
        "DT-ROAD",
        "PP-BRK-CL",
        "PP-FRK-RDC",
        ROAD,
        ["PP-REFL"],
        paint="RED",
        frame_kind="road",
    ),
    Model(
        "ROAD-P",
        "Road 700 Pro disc",
        "公路 700 Pro 碟刹",
        "公路 700 Pro 碟剎",
        "FG-ROAD",
        7999,
        "al",
        "700P",
        "DT-ROAD",
        "PP-BRK-HR",
        "PP-FRK-RDC",
        ROAD,
        ["PP-REFL"],
        paint="GRY",
        frame_kind="road",
    ),
    Model(
        "GRAVEL",
        "Gravel 700 adventure bike",
        "砾石 700 探险车",
        "礫石 700 探險車",
        "FG-ROAD",
        4999,
        "al",
        "700G",
        "DT-ROAD",
        "PP-BRK-MD",
        "PP-FRK-GRV",
        ROAD,
        ["PP-REFL"],
        paint="GRN",
        frame_kind="road",
    ),
    Model(
        "FOLD20",
        "Fold 20 folding bike",
        "折叠 20 折叠车",
        "折疊 20 折疊車",
        "FG-SMALL",
        1599,
        "al",
        "20",
        "DT-KID",
        "PP-BRK-V",
        "PP-FRK-KID",
        [
            "PP-HS-STD",
            "PP-BAR-FLAT",
            "PP-STM-ADJ",
            "PP-GRP-ERGO",
            "PP-SAD-SPORT",
            "PP-SP-272",
            "PP-PED-FOLD",
        ],
        ["PP-FEND-CITY", "PP-KICK-R", "PP-BELL", "PP-REFL", "PP-HINGE"],
        paint="WHT",
        frame_kind="fold",
    ),
    Model(
        "KID20",
        "Kids 20 bike",
        "儿童 20 自行车",
        "兒童 20 自行車",
        "FG-SMALL",
        799,
        "st",
        "20",
        "DT-KID",
        "PP-BRK-V",
        "PP-FRK-KID",
        KID,
        ["PP-GUARD", "PP-BELL", "PP-REFL", "PP-TRAIN"],
        paint="RED",
        frame_kind="kid",
    ),
    Model(
        "KID24",
        "Kids 24 mountain bike",
        "儿童 24 山地车",
        "兒童 24 山地車",
        "FG-SMALL",
        999,
        "al",
        "24",
        "DT-KID",
        "PP-BRK-V",
        "PP-FRK-KID",
        KID,
        ["PP-BELL", "PP-REFL"],
        paint="BLU",
        frame_kind="kid",
    ),
    Model(
        "ECITY400",
        "E-City 400 e-bike",
        "电助力城市 400",
        "電助力城市 400",
        "FG-EBIKE",
        5499,
        "al",
        "700",
        "DT-E9",
        "PP-BRK-MD",
        "PP-FRK-E80",
        CITY,
        ["PP-FEND-E", "PP-KICK-C", "PP-BELL", "PP-REFL", "PP-LIGHT-EF", "PP-LIGHT-ER"],
        e="36",
        battery="SA-BAT-400",
        motor="SA-MOT-HUB250",
        paint="WHT",
        frame_kind="e",
    ),
    Model(
        "ETRAIL625",
        "E-Trail 625 e-MTB",
        "电助力越野 625",
        "電助力越野 625",
        "FG-EBIKE",
        13999,
        "al",
        "29",
        "DT-MTB12",
        "PP-BRK-HD",
        "PP-FRK-EN150",
        [*MTB, "PP-SP-DROP"],
        ["PP-REFL"],
        e="48",
        battery="SA-BAT-625",
        motor="SA-MOT-MID250",
        paint="GRY",
        frame_kind="e",
        shock="PP-SHK-150",
    ),
    Model(
        "ECARGO750",
        "E-Cargo 750 longtail",
        "电助力货运 750",
        "電助力貨運 750",
        "FG-EBIKE",
        15999,
        "st",
        "20",
        "DT-E9",
        "PP-BRK-HD",
        "PP-FRK-E80",
        CITY,
        [
            "PP-FEND-E",
            "PP-KICK-C",
            "PP-RACK-HD",
            "PP-BELL",
            "PP-LIGHT-EF",
            "PP-LIGHT-ER",
            "PP-THROT",
        ],
        e="48",
        battery="SA-BAT-750",
        motor="SA-MOT-HUB500",
        paint="GRN",
        frame_kind="e",
    ),
    Model(
        "EFOLD400",
        "E-Fold 400 folding e-bike",
        "电助力折叠 400",
        "電助力折疊 400",
        "FG-EBIKE",
        4999,
        "al",
        "20",
        "DT-E9",
        "PP-BRK-MD",
        "PP-FRK-KID",
        [
            "PP-HS-STD",
            "PP-BAR-FLAT",
            "PP-STM-ADJ",
            "PP-GRP-ERGO",
            "PP-SAD-SPORT",
            "PP-SP-272",
            "PP-PED-FOLD",
        ],
        ["PP-FEND-E", "PP-KICK-R", "PP-BELL", "PP-HINGE", "PP-LIGHT-EF"],
        e="36",
        battery="SA-BAT-400",
        motor="SA-MOT-HUB250",
        paint="BLK",
        frame_kind="fold",
    ),
]
CONFIGURABLE = "EB-CITY500"
MARKUP = {
    "FG-CITY": D("1.6"),
    "FG-MTB": D("1.65"),
    "FG-ROAD": D("1.7"),
    "FG-EBIKE": D("1.55"),
    "FG-SMALL": D("1.5"),
}

# tubes per welded frame: kind -> [(tube suffix, metres)]
FRAME_TUBES = {
    "std": [("34", "1.55"), ("28", "1.35")],
    "mtb": [("45", "0.72"), ("38", "0.9"), ("28", "1.25")],
    "road": [("38", "0.62"), ("34", "0.9"), ("28", "1.2")],
    "e": [("50", "0.75"), ("38", "0.85"), ("28", "1.3")],
    "kid": [("28", "1.2"), ("25", "0.9")],
    "fold": [("45", "0.95"), ("34", "0.6"), ("28", "0.8")],
}
DRIVETRAINS = {
    # code: (en, hans, hant, components)
    "DT-HUB3": (
        "Drivetrain kit, 3-speed hub",
        "内三速传动套件",
        "內三速傳動套件",
        ["PP-CRK-CITY", "PP-BB-SQ", "PP-CHN-7", "PP-SFT-3I"],
    ),
    "DT-TRK": (
        "Drivetrain kit 3 × 8 trekking",
        "3×8 旅行传动套件",
        "3×8 旅行傳動套件",
        [
            "PP-CRK-TRK",
            "PP-BB-SQ",
            "PP-CHN-8",
            "PP-CAS-8",
            "PP-RD-8",
            "PP-FD-3",
            "PP-SFT-8",
            "PP-SFT-8",
        ],
    ),
    "DT-MTB12": (
        "Drivetrain kit 1 × 12 MTB",
        "1×12 山地传动套件",
        "1×12 山地傳動套件",
        ["PP-CRK-MTB", "PP-BB-HT", "PP-CHN-12", "PP-CAS-12", "PP-RD-12", "PP-SFT-12"],
    ),
    "DT-ROAD": (
        "Drivetrain kit 2 × 11 road",
        "2×11 公路传动套件",
        "2×11 公路傳動套件",
        ["PP-CRK-RDC", "PP-BB-HT", "PP-CHN-11", "PP-CAS-11", "PP-RD-11", "PP-FD-2", "PP-STI-11"],
    ),
    "DT-KID": (
        "Drivetrain kit 1 × 7 kids",
        "1×7 儿童传动套件",
        "1×7 兒童傳動套件",
        ["PP-CRK-KID", "PP-BB-SQ", "PP-CHN-7", "PP-CAS-7", "PP-RD-7", "PP-SFT-7"],
    ),
    "DT-E9": (
        "Drivetrain kit 1 × 9 e-bike",
        "1×9 电助力传动套件",
        "1×9 電助力傳動套件",
        ["PP-CRK-CITY", "PP-BB-SQ", "PP-CHN-9", "PP-CAS-9", "PP-RD-9", "PP-SFT-9"],
    ),
}
EKITS = {
    "36": (
        "E-system kit 36 V",
        "36 V 电控套件",
        "36 V 電控套件",
        ["PP-CTL-36", "PP-DSP-LCD", "PP-SNS-SPD", "PP-HRN-E", "PP-CHG-36"],
    ),
    "48": (
        "E-system kit 48 V",
        "48 V 电控套件",
        "48 V 電控套件",
        ["PP-CTL-48", "PP-DSP-TFT", "PP-SNS-TRQ", "PP-HRN-E", "PP-CHG-48"],
    ),
}
BATTERIES = {
    # Wh: (cell, cells, strip m, BMS, casing)
    "400": ("RM-CL-18650", 32, "1.2", "PP-BMS-10", "PP-BCASE-S"),
    "500": ("RM-CL-21700", 28, "1.3", "PP-BMS-10", "PP-BCASE-S"),
    "625": ("RM-CL-21700", 35, "1.6", "PP-BMS-10", "PP-BCASE-L"),
    "750": ("RM-CL-21700", 42, "2.0", "PP-BMS-13", "PP-BCASE-L"),
}
MOTORS = {
    "SA-MOT-HUB250": (
        "Hub motor 250 W",
        "250 W 轮毂电机",
        "250 W 輪轂電機",
        [
            ("RM-CU-WIRE", "0.45"),
            ("RM-SIL", "1.1"),
            ("RM-MAG", "0.25"),
            ("PP-MHSG-HUB", "1"),
            ("PP-BRG-6001", "2"),
            ("PP-MCABLE", "1"),
        ],
    ),
    "SA-MOT-HUB500": (
        "Hub motor 500 W, cargo",
        "500 W 货运轮毂电机",
        "500 W 貨運輪轂電機",
        [
            ("RM-CU-WIRE", "0.7"),
            ("RM-SIL", "1.6"),
            ("RM-MAG", "0.4"),
            ("PP-MHSG-HUB", "1"),
            ("PP-BRG-6001", "2"),
            ("PP-MCABLE", "1"),
        ],
    ),
    "SA-MOT-MID250": (
        "Mid-drive motor 250 W",
        "250 W 中置电机",
        "250 W 中置電機",
        [
            ("RM-CU-WIRE", "0.5"),
            ("RM-SIL", "1.2"),
            ("RM-MAG", "0.3"),
            ("PP-MHSG-MID", "1"),
            ("PP-GEAR-MID", "1"),
            ("PP-BRG-6902", "2"),
            ("PP-MCABLE", "1"),
            ("RM-GREASE", "0.05"),
        ],
    ),
}
# work centers: code, name, hours/day, units, efficiency, cost/h, overhead/h, working days
WORK_CENTERS = [
    ("CUT", "下料 Cutting", "8", 2, "92", "45", "15", [1, 2, 3, 4, 5]),
    ("WELD", "焊接 Welding", "8", 4, "85", "68", "28", [1, 2, 3, 4, 5]),
    ("PAINT", "涂装 Painting", "16", 1, "90", "52", "35", [1, 2, 3, 4, 5]),
    ("WHEEL", "车轮装配 Wheel building", "8", 3, "95", "48", "12", [1, 2, 3, 4, 5, 6]),
    ("ASSY", "总装 Final assembly", "8", 6, "90", "50", "18", [1, 2, 3, 4, 5, 6]),
    ("TEST", "检测 Testing", "8", 2, "100", "55", "10", [1, 2, 3, 4, 5, 6]),
]
HOLIDAYS_2026 = [
    "2026-01-01", "2026-01-02", "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19",
    "2026-02-20", "2026-02-23", "2026-04-06", "2026-05-01", "2026-05-04", "2026-05-05",
    "2026-06-19", "2026-09-25", "2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06",
    "2026-10-07",
]  # fmt: skip


def _sub_assemblies() -> None:
    """Frames, wheels, kits, batteries and motors (the products; their BOMs come later)."""
    for model in MODELS:
        code = model.code
        item(
            f"SA-FRW-{code}",
            f"Frame {code}, welded",
            f"{code} 焊接车架",
            f"{code} 焊接車架",
            "SA-FRAME",
            supply=MAKE,
            planning={"manufacturing_lead_days": 2},
        )
        item(
            f"SA-FRP-{code}",
            f"Frame {code}, painted",
            f"{code} 成品车架",
            f"{code} 成品車架",
            "SA-FRAME",
            supply=MAKE,
            planning={"manufacturing_lead_days": 2},
        )
    for size in ("S", "M", "L"):
        item(
            f"SA-FRW-ECITY-{size}",
            f"E-City 500 welded frame {size}",
            f"电助力城市 500 焊接车架 {size}",
            f"電助力城市 500 焊接車架 {size}",
            "SA-FRAME",
            supply=MAKE,
            planning={"manufacturing_lead_days": 2},
        )
        item(
            f"SA-FRP-ECITY-{size}",
            f"E-City 500 frame {size}, painted",
            f"电助力城市 500 成品车架 {size}",
            f"電助力城市 500 成品車架 {size}",
            "SA-FRAME",
            supply=MAKE,
            planning={"manufacturing_lead_days": 2},
        )
    for code, label, *_rest in WHEELS:
        item(
            f"SA-WHF-{code}",
            f"Front wheel {label}",
            f"{label} 前轮",
            f"{label} 前輪",
            "SA-WHEEL",
            supply=MAKE,
            planning={"manufacturing_lead_days": 1},
        )
        item(
            f"SA-WHR-{code}",
            f"Rear wheel {label}",
            f"{label} 后轮",
            f"{label} 後輪",
            "SA-WHEEL",
            supply=MAKE,
            planning={"manufacturing_lead_days": 1},
        )
    for code, (en, hans, hant, _parts) in DRIVETRAINS.items():
        item(f"SA-{code}", en, hans, hant, "SA-DRIVE", supply=MAKE)
    for volt, (en, hans, hant, _parts) in EKITS.items():
        item(f"SA-EKIT-{volt}", en, hans, hant, "SA-EKIT", supply=MAKE)
    for wh in BATTERIES:
        item(
            f"SA-BAT-{wh}",
            f"Battery pack {wh} Wh",
            f"{wh} Wh 电池包",
            f"{wh} Wh 電池包",
            "SA-BATT",
            supply=MAKE,
            planning={"manufacturing_lead_days": 3, "safety_stock": D(20)},
        )
    for sku, (en, hans, hant, _parts) in MOTORS.items():
        item(sku, en, hans, hant, "SA-MOTOR", supply=MAKE, planning={"manufacturing_lead_days": 3})
    for model in MODELS:
        item(
            f"FG-{model.code}",
            model.en,
            model.hans,
            model.hant,
            model.category,
            price=D(model.price),
            supply=MAKE,
            planning={"manufacturing_lead_days": 2},
        )
    item(
        CONFIGURABLE,
        "E-bike City 500",
        "电助力城市 500（可选配）",
        "電助力城市 500（可選配）",
        "FG-EBIKE",
        price=D(6999),
        supply=MAKE,
        planning={"manufacturing_lead_days": 3},
    )


_sub_assemblies()


# --- BOMs -------------------------------------------------------------------------------------


def _frame_boms(model: Model, welded: str, painted: str) -> list[tuple[str, str, list[Any]]]:
    metal = "AL" if model.material == "al" else "ST"
    steel = {"25": "25", "28": "28", "34": "32", "38": "32", "45": "32", "50": "32"}
    tubes = [
        (f"RM-AL-T{'28' if d_ == '25' else d_}" if metal == "AL" else f"RM-ST-T{steel[d_]}", m, "4")
        for d_, m in FRAME_TUBES[model.frame_kind]
    ]
    weld = [*tubes, (f"RM-WW-{metal}", "0.06", "0")]
    if model.frame_kind == "e":
        weld.append(("RM-AL-SH3" if metal == "AL" else "RM-ST-SH2", "0.4", "5"))
    paint = [
        (welded, "1", "0"),
        ("RM-PT-PRM", "0.12", "8"),
        (f"RM-PT-{model.paint}", "0.3", "10"),
        ("RM-PT-CLR", "0.1", "8"),
        ("PP-DECAL", "1", "0"),
    ]
    return [(welded, "normal", weld), (painted, "normal", paint)]


def _bike_lines(model: Model, painted: str) -> list[Any]:
    size = model.wheel
    disc = model.brake in ("PP-BRK-MD", "PP-BRK-HD", "PP-BRK-HR")
    lines: list[Any] = [
        (painted, "1"),
        (model.fork, "1"),
        (f"SA-WHF-{size}", "1"),
        (f"SA-WHR-{size}", "1"),
        (f"SA-{model.drivetrain}", "1"),
        (model.brake, "2"),
    ]
    if disc:
        lines.append(("PP-ROT-180" if model.frame_kind in ("mtb", "e") else "PP-ROT-160", "2"))
    if model.shock:
        lines.append((model.shock, "1"))
    lines += [(sku, "1") for sku in model.cockpit]
    lines += [(sku, "1") for sku in model.extras]
    lines += [
        ("PP-CBL-BRK", "1"),
        ("PP-CBL-SFT", "1"),
        ("PP-BOLT-M5", "12"),
        ("PP-NUT-M5", "4"),
        ("PP-WSH-M5", "8"),
        ("PP-TIE", "10"),
    ]
    if model.e:
        lines += [
            (model.battery, "1"),
            (model.motor, "1"),
            (f"SA-EKIT-{model.e}", "1"),
            ("PP-BCON", "1"),
            ("PP-BOX-E", "1"),
            ("PP-MAN-E", "1"),
        ]
        if model.motor == "SA-MOT-MID250":
            lines.append(("PP-CRK-EMID", "1"))
    else:
        lines.append(("PP-BOX-KID" if model.frame_kind == "kid" else "PP-BOX-STD", "1"))
        lines.append(("PP-MAN", "1"))
    lines.append(("PP-FOAM", "1"))
    return lines


def _all_boms() -> list[tuple[str, str, list[Any], str]]:
    """(product, kind, [(component, quantity per unit[, scrap %])], batch): the BOM makes a
    batch (lines × batch), so that routing setups are spread over it."""
    boms: list[tuple[str, str, list[Any], str]] = []
    for model in MODELS:
        welded, painted = f"SA-FRW-{model.code}", f"SA-FRP-{model.code}"
        (w, wk, wl), (pt, pk, pl) = _frame_boms(model, welded, painted)
        boms += [(w, wk, wl, "10"), (pt, pk, pl, "20")]
        boms.append((f"FG-{model.code}", "normal", _bike_lines(model, painted), "5"))
    ecity = replace(MODELS[0], code="ECITY", material="al", frame_kind="e", paint="WHT")
    for size in ("S", "M", "L"):
        (w, wk, wl), (pt, pk, pl) = _frame_boms(
            ecity, f"SA-FRW-ECITY-{size}", f"SA-FRP-ECITY-{size}"
        )
        boms += [(w, wk, wl, "10"), (pt, pk, pl, "20")]
    for code, _label, rim, tyre, tube, spokes, length, front, rear in WHEELS:
        tape = "PP-RTAPE-W" if code.startswith(("275", "29")) else "PP-RTAPE-N"
        for end, hub in (("F", front), ("R", rear)):
            boms.append(
                (
                    f"SA-WH{end}-{code}",
                    "normal",
                    [
                        (rim, "1"),
                        (hub, "1"),
                        (f"PP-SPK-{length}", str(spokes), "1"),
                        ("PP-NIP", str(spokes), "2"),
                        (tape, "1"),
                        (tyre, "1"),
                        (tube, "1"),
                    ],
                    "10",
                )
            )
    for code, (_en, _hans, _hant, parts) in DRIVETRAINS.items():
        counts: dict[str, int] = {}
        for sku in parts:
            counts[sku] = counts.get(sku, 0) + 1
        boms.append((f"SA-{code}", "phantom", [(s, str(n)) for s, n in counts.items()], "1"))
    for volt, (_en, _hans, _hant, parts) in EKITS.items():
        boms.append((f"SA-EKIT-{volt}", "phantom", [(s, "1") for s in parts], "1"))
    for wh, (cell, cells, strip, bms, case) in BATTERIES.items():
        boms.append(
            (
                f"SA-BAT-{wh}",
                "normal",
                [
                    (cell, str(cells), "1"),
                    ("RM-NI-STR", strip, "5"),
                    (bms, "1"),
                    (case, "1"),
                    ("RM-SHRINK", "0.6", "5"),
                    ("RM-ADH", "0.05", "0"),
                ],
                "10",
            )
        )
    for sku, (_en, _hans, _hant, parts) in MOTORS.items():
        boms.append((sku, "normal", list(parts), "10"))
    ecity_lines = [
        ("SA-FRP-ECITY-M", "1"),
        ("PP-FRK-E80", "1"),
        ("SA-WHF-700", "1"),
        ("SA-WHR-700", "1"),
        ("SA-DT-E9", "1"),
        ("PP-BRK-HD", "2"),
        ("PP-ROT-180", "2"),
        *[(s, "1") for s in CITY],
        ("PP-FEND-E", "1"),
        ("PP-KICK-C", "1"),
        ("PP-BELL", "1"),
        ("PP-REFL", "1"),
        ("SA-BAT-500", "1"),
        ("SA-MOT-HUB250", "1"),
        ("PP-CTL-36", "1"),
        ("PP-DSP-LCD", "1"),
        ("PP-SNS-SPD", "1"),
        ("PP-HRN-E", "1"),
        ("PP-CHG-36", "1"),
        ("PP-BCON", "1"),
        ("PP-CBL-BRK", "1"),
        ("PP-CBL-SFT", "1"),
        ("PP-BOLT-M5", "12"),
        ("PP-NUT-M5", "4"),
        ("PP-WSH-M5", "8"),
        ("PP-TIE", "10"),
        ("PP-BOX-E", "1"),
        ("PP-MAN-E", "1"),
        ("PP-FOAM", "1"),
    ]
    boms.append((CONFIGURABLE, "normal", ecity_lines, "1"))
    return boms


# Routings: product prefix -> [(work center, setup min, run min per unit)]
def _operations(sku: str, kind: str) -> list[tuple[str, str, str, str]]:
    if sku.startswith("SA-FRW-"):
        heavy = any(k in sku for k in ("ECITY", "ETRAIL", "ECARGO", "EFOLD", "ENDURO"))
        return [
            ("Cut tubes", "CUT", "20", "8"),
            ("Weld frame", "WELD", "30", "48" if heavy else "38"),
        ]
    if sku.startswith("SA-FRP-"):
        return [
            ("Pre-treat and prime", "PAINT", "45", "6"),
            ("Powder coat and cure", "PAINT", "15", "12"),
        ]
    if sku.startswith("SA-WH"):
        return [("Lace and true wheel", "WHEEL", "15", "24"), ("Mount tyre", "WHEEL", "0", "4")]
    if sku.startswith("SA-BAT-"):
        return [("Weld cell pack", "ASSY", "20", "30"), ("Charge test", "TEST", "5", "12")]
    if sku.startswith("SA-MOT-"):
        return [("Wind and assemble motor", "ASSY", "30", "45"), ("Run-in test", "TEST", "5", "8")]
    if sku.startswith("FG-") or sku == CONFIGURABLE:
        e = sku == CONFIGURABLE or any(m.e for m in MODELS if f"FG-{m.code}" == sku)
        return [
            ("Final assembly", "ASSY", "30", "70" if e else "50"),
            ("Road test and inspection", "TEST", "10", "18" if e else "10"),
            ("Pack", "ASSY", "0", "6"),
        ]
    return []


# --- the configurable e-bike ------------------------------------------------------------------

GROUPS = [
    # code, name, multiple, required, options: (code, name, delta, default, changes)
    ("frame", "Frame", False, True, [
        ("s", "S", "0", False, [("replace", "SA-FRP-ECITY-M", "SA-FRP-ECITY-S")]),
        ("m", "M", "0", True, []),
        ("l", "L", "100", False, [("replace", "SA-FRP-ECITY-M", "SA-FRP-ECITY-L")]),
    ]),
    ("battery", "Battery", False, True, [
        ("400", "400 Wh", "-600", False, [("replace", "SA-BAT-500", "SA-BAT-400")]),
        ("500", "500 Wh", "0", True, []),
        ("625", "625 Wh", "900", False, [("replace", "SA-BAT-500", "SA-BAT-625")]),
    ]),
    ("motor", "Motor", False, True, [
        ("hub", "hub 250 W", "0", True, []),
        ("mid", "mid-drive 250 W", "1800", False, [
            ("replace", "SA-MOT-HUB250", "SA-MOT-MID250"),
            ("replace", "PP-SNS-SPD", "PP-SNS-TRQ"),
            ("add", "PP-CRK-EMID", None),
        ]),
    ]),
    ("display", "Display", False, True, [
        ("lcd", "LCD", "0", True, []),
        ("tft", "colour TFT", "350", False, [("replace", "PP-DSP-LCD", "PP-DSP-TFT")]),
    ]),
    ("extras", "Extras", True, False, [
        ("rack", "rear rack", "280", False, [("add", "PP-RACK", None)]),
        ("lights", "lights", "220", False, [("add", "PP-LIGHT-EF", None), ("add", "PP-LIGHT-ER", None)]),
        ("child-seat", "child seat", "580", False, [("add", "PP-CSEAT", None)]),
    ]),
]  # fmt: skip
RULES = [
    ("requires", "625", "mid", "The 625 Wh pack needs the mid-drive's controller."),
    ("requires", "child-seat", "rack", "The child seat mounts on the rear rack."),
    ("excludes", "child-seat", "s", "Frame S is too small to carry a child seat."),
    ("only_if", "tft", "mid", "The colour display talks to the mid-drive motor only."),
]


def _configurator(product: Product, products: dict[str, Product]) -> dict[str, Option]:
    options: dict[str, Option] = {}
    for sequence, (code, name, multiple, required, choices) in enumerate(GROUPS, start=1):
        group = OptionGroup.objects.create(
            product=product,
            sequence=sequence * 10,
            code=code,
            name=name,
            multiple=multiple,
            required=required,
        )
        for number, (opt_code, opt_name, delta, default, changes) in enumerate(choices, start=1):
            option = Option.objects.create(
                group=group,
                code=opt_code,
                name=opt_name,
                price_delta=D(delta),
                is_default=default,
                sequence=number * 10,
            )
            options[opt_code] = option
            OptionBomChange.objects.bulk_create(
                OptionBomChange(
                    option=option,
                    action=action,
                    component=products[component],
                    replacement=products[replacement] if replacement else None,
                )
                for action, component, replacement in changes
            )
    ConfigRule.objects.bulk_create(
        ConfigRule(product=product, kind=kind, option=options[a], other=options[b], message=message)
        for kind, a, b, message in RULES
    )
    return options


# --- the step ---------------------------------------------------------------------------------


def _categories(company: Company) -> dict[str, Category]:
    made: dict[str, Category] = {}
    for code, parent, name in CATEGORIES:
        parent_row = made.get(parent) if parent else None
        path = f"{parent_row.path}{SEPARATOR}{name}" if parent_row else name
        made[code] = Category.unscoped.create(
            company=company, name=name, parent=parent_row, path=path
        )
    return made


def _products(
    ctx: DemoContext, company: Company, categories: dict[str, Category]
) -> dict[str, Product]:
    units = {u.code: u for u in UnitOfMeasure.objects.filter(code__in=["pc", "kg", "m"])}
    rows = []
    for sku in sorted(ITEMS):
        spec = ITEMS[sku]
        planning = dict(spec.planning)
        if spec.supply == BUY:
            planning.setdefault("purchase_lead_days", ctx.rng.choice([10, 14, 21, 30]))
        rows.append(
            Product(
                company=company,
                sku=sku,
                name=spec.en,
                name_i18n={"zh-hans": spec.hans, "zh-hant": spec.hant},
                category=categories[spec.category],
                uom=units[spec.uom],
                purchase_uom=units[spec.uom] if spec.supply == BUY else None,
                sales_uom=units["pc"] if spec.price else None,
                supply=spec.supply,
                standard_cost=(spec.cost * (D(100) + ctx.rng.randint(-3, 3)) / 100).quantize(
                    D("0.01")
                )
                if spec.cost
                else D(0),
                list_price=spec.price,
                is_configurable=sku == CONFIGURABLE,
                tracking=Product.Tracking.SERIAL
                if sku.startswith(("FG-", "EB-", "SA-BAT"))
                else "none",
                weight_kg=D(ctx.rng.randint(120, 260)) / 10 if spec.price else None,
                **planning,
            )
        )
    Product.unscoped.bulk_create(rows, batch_size=500)
    return {p.sku: p for p in Product.unscoped.filter(company=company)}


def run(ctx: DemoContext) -> None:
    company = ctx.companies["main"]
    planner = ctx.users.get("planner")
    categories = _categories(company)
    products = _products(ctx, company, categories)
    units = {u.code: u for u in UnitOfMeasure.objects.all()}

    centers = {}
    for code, name, hours, count, efficiency, cost, overhead, days in WORK_CENTERS:
        centers[code] = WorkCenter(
            company=company,
            code=code,
            name=name,
            working_days=days,
            hours_per_day=D(hours),
            units=count,
            efficiency_percent=D(efficiency),
            cost_per_hour=D(cost),
            overhead_per_hour=D(overhead),
            holidays=HOLIDAYS_2026,
        )
    WorkCenter.unscoped.bulk_create(centers.values())

    start = dt.date(2026, 1, 1)
    boms, lines = [], []
    specs = _all_boms()
    for sku, kind, _lines, quantity in specs:
        product = products[sku]
        boms.append(
            Bom(
                company=company,
                product=product,
                version=1,
                kind=kind,
                quantity=D(quantity),
                uom=product.uom,
                effective_from=start,
            )
        )
    Bom.unscoped.bulk_create(boms)
    for bom, (_sku, _kind, specs_lines, batch) in zip(boms, specs, strict=True):
        for sequence, spec in enumerate(specs_lines, start=1):
            component = products[spec[0]]
            lines.append(
                BomLine(
                    bom=bom,
                    sequence=sequence * 10,
                    component=component,
                    quantity=D(spec[1]) * D(batch),
                    uom=component.uom,
                    scrap_percent=D(spec[2]) if len(spec) > 2 else D(0),
                )
            )
    BomLine.objects.bulk_create(lines, batch_size=1000)

    routings, operations = [], []
    for sku, kind, _lines, _quantity in specs:
        steps = _operations(sku, kind)
        if steps and kind == "normal":
            routing = Routing(company=company, product=products[sku], name=f"Routing {sku}")
            routings.append((routing, steps))
    Routing.unscoped.bulk_create([r for r, _steps in routings])
    for routing, steps in routings:
        for sequence, (name, center, setup, run_minutes) in enumerate(steps, start=1):
            operations.append(
                RoutingOperation(
                    routing=routing,
                    sequence=sequence * 10,
                    name=name,
                    work_center=centers[center],
                    setup_minutes=D(setup),
                    run_minutes=D(run_minutes),
                )
            )
    RoutingOperation.objects.bulk_create(operations)
    bom_services.low_level_codes_update(company=company)

    bike = products[CONFIGURABLE]
    options = _configurator(bike, products)

    # Through the services, so that history and audit screens have real entries.
    with set_actor(planner):
        frame_bom = Bom.unscoped.get(product=products["SA-FRW-TRAIL29"])
        bom_services.bom_update(
            bom=frame_bom,
            actor=planner,
            lines=[
                {
                    "component": line.component_id,
                    "quantity": (
                        line.quantity * (D("0.95") if line.uom_id == units["m"].pk else 1)
                    ).quantize(D("0.001")),
                    "uom": line.uom_id,
                    "scrap_percent": line.scrap_percent,
                    "sequence": line.sequence,
                }
                for line in frame_bom.lines.all()
            ],
        )
        # A second version of the Trail 29 with the 150 mm fork from 2027 on.
        trail = Bom.unscoped.get(product=products["FG-TRAIL29"])
        bom_services.bom_update(bom=trail, actor=planner, effective_to=dt.date(2026, 12, 31))
        new_lines = bom_services.bom_line_dicts(trail)
        for line in new_lines:
            if line["component"] == products["PP-FRK-TR120"].pk:
                line["component"] = products["PP-FRK-EN150"].pk
        bom_services.bom_create(
            company=company,
            actor=planner,
            product=products["FG-TRAIL29"],
            lines=new_lines,
            quantity=trail.quantity,
            effective_from=dt.date(2027, 1, 1),
        )
        welding = Routing.unscoped.get(product=products["SA-FRW-ENDURO29"])
        bom_services.routing_update(
            routing=welding,
            actor=planner,
            name="Enduro 29 frame: cut, weld, heat-treat",
            operations=[
                *bom_services.routing_operation_dicts(welding),
                {
                    "sequence": 30,
                    "name": "Heat treatment",
                    "work_center": centers["WELD"].pk,
                    "setup_minutes": D(60),
                    "run_minutes": D(15),
                },
            ],
        )
        bom_services.work_center_update(
            work_center=centers["PAINT"], actor=planner, efficiency_percent=D("88")
        )
        changes = bom_services.bom_cost_rollup_apply(company=company, actor=planner)

    # List prices of finished bikes: the rolled-up cost with the category's mark-up, ending
    # in 99 (never below the catalogue price of the model).
    finished = list(
        Product.unscoped.filter(company=company, sku__in=[s for s in ITEMS if ITEMS[s].price])
    )
    for product in finished:
        target = product.standard_cost * MARKUP[ITEMS[product.sku].category]
        hundreds = (target / 100).to_integral_value(rounding=ROUND_CEILING)
        product.list_price = max(ITEMS[product.sku].price, hundreds * 100 - 1)
    Product.unscoped.bulk_update(finished, ["list_price"])

    rep = ctx.users.get("sales_rep")
    chosen = [
        ["m", "500", "hub", "lcd"],
        ["l", "625", "mid", "tft", "rack", "lights"],
        ["m", "500", "mid", "lcd", "rack", "child-seat"],
    ]
    with set_actor(rep):
        for codes in chosen:
            configurator.configured_item_create(
                company=company,
                actor=rep,
                product=bike,
                option_ids=[options[c].pk for c in codes],
            )
    ctx.log.append(
        f"{len(products)} products, {len(boms) + 1} BOMs, {len(lines)} BOM lines, "
        f"{len(routings)} routings on {len(centers)} work centers, "
        f"{len(changes)} rolled-up costs, {len(chosen)} configured e-bikes"
    )
