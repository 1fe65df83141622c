"""The Promotion P (customers_promotion.py) on a small star and hand-written campaign exposures:
conversion, uplift and its p-value checked by hand, a campaign without a control group, the
per-customer totals, the best next campaign per cluster and customer group with its minimum
sample, and the refresh end to end from crm's exposures onto the 7P screens."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from django.urls import reverse
from django.utils import timezone

from xietong.analytics import customers, customers_promotion, etl, warehouse
from xietong.crm.campaign_selectors import CONTROL, TREATED, Exposure

D = dt.date
AS_OF = D(2026, 1, 1)
SENT = D(2025, 6, 1)


def _at(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime(day.year, day.month, day.day, 10, 0))


def _exposure(campaign: int, key: int, group: str = TREATED, day: dt.date = SENT,
              **flags: object) -> Exposure:  # fmt: skip
    names = {1: ("春季邮件", "email"), 2: ("车展", "event"), 3: ("秋季邮件", "email"),
             4: ("冬季邮件", "email"), 5: ("小范围邮件", "email"), 9: ("未来", "email")}  # fmt: skip
    name, channel = names[campaign]
    return Exposure(campaign, name, channel, None, key, _at(day), group, **flags)  # type: ignore[arg-type]


def _star(con, orders, groups):  # type: ignore[no-untyped-def]
    """orders: (customer_key, date); groups: {customer_key: (group, cluster)}."""
    customers.tables_ensure(con)
    for key, (group, cluster) in groups.items():
        con.execute("INSERT INTO dim_customer VALUES (?, 1, ?, ?, ?, 'R', 'CN', 7, 'Rep')",
                    [key, f"C{key}", f"Customer {key}", group])  # fmt: skip
        con.execute("INSERT INTO cust_7p (company_id, customer_key, cluster) VALUES (1, ?, ?)",
                    [key, cluster])  # fmt: skip
    for n, (key, date) in enumerate(orders, start=1):
        con.execute("INSERT INTO fact_sales_line VALUES (?, ?, 1, ?, ?, 1, 1, 1, 'CNY', "
                    "'confirmed', 1, 100, 60)", [n, n, date, key])  # fmt: skip


# Campaign 1 (e-mail): customers 1–10 reached on 1 June, 11–15 held out. Orders within 30 days
# of it: 1, 2, 3, 4 (treated) and 12 (control); 5 orders too late, 6 before the e-mail.
# 1, 2, 3 opened. Conversion 4/10 against 1/5: uplift +0.2 (relative +100 %).
# Campaign 2 (event, no control): leads of 1 and 2, a coupon order of 3 on 1 July.
# Cluster 1 / Group B (customers 20–31): campaign 3 reaches all 12, 6 respond; campaign 4
# reaches 20–29, 2 respond; campaign 5 reaches 20–24 only (5 < 10), all respond.
ORDERS = [(1, D(2025, 6, 10)), (2, D(2025, 6, 1)), (3, D(2025, 7, 1)), (4, D(2025, 6, 30)),
          (5, D(2025, 8, 1)), (6, D(2025, 5, 20)), (12, D(2025, 6, 15)),
          (3, D(2025, 7, 1))]  # fmt: skip
GROUPS = dict.fromkeys(range(1, 16), ("Group A", 0)) | dict.fromkeys(range(20, 32), ("Group B", 1))


def _exposures() -> list[Exposure]:
    out = [_exposure(1, k, opened=k <= 3) for k in range(1, 11)]
    out += [_exposure(1, k, CONTROL) for k in range(11, 16)]
    out += [_exposure(2, 1, day=D(2025, 6, 20), lead=True), _exposure(2, 2, lead=True),
            _exposure(2, 3, day=D(2025, 7, 1), coupon_orders=1)]  # fmt: skip
    out += [_exposure(3, k, clicked=k < 26) for k in range(20, 32)]
    out += [_exposure(4, k, opened=k < 22) for k in range(20, 30)]
    out += [_exposure(5, k, opened=True) for k in range(20, 25)]
    out += [_exposure(9, 1, day=D(2026, 3, 1), opened=True)]  # after as_of: left out
    return out


@pytest.fixture
def hand():  # type: ignore[no-untyped-def]
    with warehouse.connect() as con:
        _star(con, ORDERS, GROUPS)
        summary = customers_promotion.promotion_refresh(con, company_id=1, as_of=AS_OF,
                                                        exposures=_exposures())  # fmt: skip
        yield con, summary


def test_uplift_conversion_and_p_value_by_hand(hand):  # type: ignore[no-untyped-def]
    con, summary = hand
    page = customers_promotion.promotion_overview(con, company_id=1)
    rows = {c["campaign_id"]: c for c in page["campaigns"]}
    assert set(rows) == {1, 2, 3, 4, 5}  # campaign 9 is after as_of
    email = rows[1]
    assert (email["treated"], email["control"], email["responded"]) == (10, 5, 3)
    assert (email["converted"], email["control_converted"]) == (4, 1)
    assert email["response_rate"] == pytest.approx(0.3)
    assert email["conversion"] == pytest.approx(0.4)
    assert email["control_conversion"] == pytest.approx(0.2)
    assert email["uplift"] == pytest.approx(0.2)
    assert email["uplift_relative"] == pytest.approx(1.0)
    # pooled p = 5/15, se = sqrt(1/3 · 2/3 · (1/10 + 1/5)) = 0.258199, z = 0.774597,
    # two-sided p = 2 · (1 − Φ(0.774597)) = 0.438578
    assert email["p_value"] == pytest.approx(0.438578, abs=1e-6)
    assert email["channel"] == "E-mail"
    assert summary == {"campaigns": 5, "with_control": 1, "exposures": 10 + 5 + 3 + 12 + 10 + 5,
                       "segments": 4}  # fmt: skip


def test_a_campaign_without_control_group_has_no_uplift(hand):  # type: ignore[no-untyped-def]
    con, _ = hand
    rows = {c["campaign_id"]: c for c in
            customers_promotion.promotion_overview(con, company_id=1)["campaigns"]}  # fmt: skip
    event = rows[2]
    assert (event["treated"], event["control"], event["responded"]) == (3, 0, 3)
    # 1 ordered on 10 June (before the 20 June lead: no), 2 on 1 June (the day: yes),
    # 3 on 1 July (the coupon order's day: yes)
    assert event["converted"] == 2
    assert event["conversion"] == pytest.approx(2 / 3)
    assert event["uplift"] is None and event["p_value"] is None
    assert event["control_conversion"] is None


def test_two_proportion_test_edges():
    assert customers_promotion.two_proportion_test(0, 10, 0, 5) == 1.0
    assert customers_promotion.two_proportion_test(3, 10, 0, 0) is None
    # a large difference on large groups is significant
    assert customers_promotion.two_proportion_test(300, 1000, 200, 1000) < 1e-6
    symmetric = customers_promotion.two_proportion_test(2, 10, 4, 10)
    assert symmetric == pytest.approx(customers_promotion.two_proportion_test(4, 10, 2, 10))
    assert math.isclose(customers_promotion.uplift(1, 4, 0, 4)["uplift"] or 0, 0.25)
    assert customers_promotion.uplift(1, 4, 0, 4)["uplift_relative"] is None  # control at 0


def test_customer_totals_and_campaign_list(hand):  # type: ignore[no-untyped-def]
    con, _ = hand
    one = customers_promotion.promotion_customer(con, company_id=1, customer_key=1)
    assert one is not None
    assert one["totals"]["campaigns"] == 2 and one["totals"]["responses"] == 2
    assert one["totals"]["held_out"] == 0
    assert [r["campaign_id"] for r in one["campaigns"]] == [2, 1]  # newest first
    three = customers_promotion.promotion_customer(con, company_id=1, customer_key=3)
    assert three is not None and three["totals"]["coupon_orders"] == 1
    held = customers_promotion.promotion_customer(con, company_id=1, customer_key=12)
    assert held is not None and held["totals"]["held_out"] == 1
    assert held["totals"]["campaigns"] == 0 and held["campaigns"][0]["grp"] == "control"
    assert held["campaigns"][0]["converted"] is True
    assert customers_promotion.promotion_customer(con, company_id=1, customer_key=99) is None
    assert customers_promotion.promotion_customer(con, company_id=2, customer_key=1) is None


def test_best_next_campaign_per_segment(hand):  # type: ignore[no-untyped-def]
    con, _ = hand
    page = customers_promotion.promotion_overview(con, company_id=1)
    clusters = {b["cluster"]: b for b in page["best_clusters"]}
    groups = {b["segment"]: b for b in page["best_groups"]}
    # cluster 0 / Group A: campaign 1's uplift (campaign 2 reached only 3 of them)
    for best in (clusters[0], groups["Group A"]):
        assert (best["campaign_id"], best["metric"]) == (1, "uplift")
        assert best["value"] == pytest.approx(0.2) and best["candidates"] == 1
    # cluster 1 / Group B: no control group, the best response rate with ≥ 10 reached:
    # campaign 3 (6/12) over campaign 4 (2/10); campaign 5 (5/5) is too small a sample
    for best in (clusters[1], groups["Group B"]):
        assert (best["campaign_id"], best["metric"]) == (3, "response_rate")
        assert best["value"] == pytest.approx(0.5) and best["candidates"] == 2
        assert best["campaign"] == "秋季邮件"


def test_refresh_replaces_its_rows_and_keeps_other_companies(hand):  # type: ignore[no-untyped-def]
    con, _ = hand
    con.execute("INSERT INTO cust_7p_promo_customer VALUES (2, 1, 9, 9, 9, 9, NULL)")
    customers_promotion.promotion_refresh(con, company_id=1, as_of=AS_OF,
                                          exposures=_exposures()[:10])  # fmt: skip
    page = customers_promotion.promotion_overview(con, company_id=1)
    assert [c["campaign_id"] for c in page["campaigns"]] == [1]
    assert page["campaigns"][0]["control"] == 0 and page["campaigns"][0]["uplift"] is None
    # without its control group, campaign 1 is ranked by its response rate (3 of 10)
    assert [(b["campaign_id"], b["metric"]) for b in page["best_clusters"]
            ] == [(1, "response_rate")]  # fmt: skip
    assert page["best_groups"][0]["value"] == pytest.approx(0.3)
    assert con.execute("SELECT count(*) FROM cust_7p_promo_customer WHERE company_id = 2"
                       ).fetchone() == (1,)  # fmt: skip


def test_reads_before_any_refresh_are_empty():
    with warehouse.connect() as con:
        con.execute("DROP TABLE IF EXISTS cust_7p_promo_campaign")
        assert customers_promotion.promotion_overview(con, company_id=1)["campaigns"] == []
        assert customers_promotion.promotion_customer(con, company_id=1, customer_key=1) is None


@pytest.mark.django_db
def test_refresh_from_crm_onto_the_screens(company_a, users_a, client_for):  # type: ignore[no-untyped-def]
    """An e-mail campaign with a control group in crm, the 7P refresh, and both screens."""
    from xietong.core.tenancy import company_scope
    from xietong.crm import campaigns
    from xietong.crm.models import Recipient
    from xietong.crm.tests import marketing_factories as mk
    from xietong.sales.tests.factories import item, shop

    shop(company_a)
    bike = item(company_a, "100", sku="PROMOBIKE")
    parties = [mk.customer(company_a, f"客户{n:02d}", email=f"p{n}@example.cn", country="CN")
               for n in range(12)]  # fmt: skip
    for n, party in enumerate(parties):
        mk.order(company_a, party, bike, date=mk.today() - dt.timedelta(days=40 + n))
    everybody = mk.segment(company_a, [], name="全部")
    c = mk.campaign(company_a, name="促销邮件", segment=everybody, state="scheduled",
                    holdout_percent=50)  # fmt: skip
    with company_scope(company_a):
        campaigns.template_save(campaign=c, actor=None, language="zh-hans", subject="促销",
                                body="看看 https://shop.example.cn/")  # fmt: skip
    mk.send(c)
    rows = list(Recipient.unscoped.filter(campaign=c))
    treated = [r for r in rows if r.status == "sent"]
    control = [r for r in rows if r.status == "control"]
    assert treated and control
    buyer = treated[0].party
    mk.order(company_a, buyer, bike, date=mk.today())
    etl.etl_run(full=True)
    summary = customers.customers_refresh(company_id=company_a.pk, as_of=mk.today())
    assert summary["promotion"]["campaigns"] == 1
    with warehouse.connect(read_only=True) as con:
        page = customers_promotion.promotion_overview(con, company_id=company_a.pk)
    row = page["campaigns"][0]
    assert (row["treated"], row["control"]) == (len(treated), len(control))
    assert row["converted"] == 1 and row["control_converted"] == 0
    assert row["uplift"] == pytest.approx(1 / len(treated))
    client = client_for(users_a["sales_manager"])
    html = client.get(reverse("analytics:customers")).content.decode()
    assert 'id="promo-campaigns"' in html and "促销邮件" in html
    detail = client.get(reverse("analytics:customer_7p") + f"?key={buyer.pk}").content.decode()
    assert 'id="promo-totals"' in detail and "促销邮件" in detail
