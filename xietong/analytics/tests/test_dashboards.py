"""The role dashboards and the pins: each role sees its dashboard (an executive every one),
the tiles give the operational totals and the pivot's answers in the user's scope (a rep only
their customers), the 7P, forecast, purchase, receivable and ledger figures equal what the
warehouse holds, pins are added, moved and removed only on views one may open, bad input is
refused with nothing changed, and an empty warehouse says so."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest
from django.urls import reverse

from xietong.analytics import (
    customers,
    dashboards,
    forecast_run,
    selectors,
    services,
    warehouse,
)
from xietong.analytics.models import DashboardPin, SavedPivot
from xietong.analytics.tests.factories import loaded_world, operational_revenue
from xietong.core.models import Role

pytestmark = pytest.mark.django_db
ROLE_BOARDS = {"sales_manager": "sales_manager", "planner": "planner", "buyer": "buyer",
               "accountant": "accountant"}  # fmt: skip
FIRST_TILE = {d.code: dashboards.dashboard_tiles(d)[0].key for d in dashboards.DASHBOARDS}
AS_OF = dt.date(2026, 9, 1)


@pytest.fixture
def world(company_a, company_b, users_a):  # type: ignore[no-untyped-def]
    return loaded_world(company_a, company_b, users_a, orders=25)


def _tiles(response) -> dict:  # type: ignore[no-untyped-def]
    return {t["id"]: t for t in response.context["tiles"]}


def _view(company, owner, name="V", shared=False, **definition):  # type: ignore[no-untyped-def]
    definition = services.definition_clean({"measures": ["revenue"], "rows": ["customer_group"],
                                            **definition})  # fmt: skip
    return SavedPivot.unscoped.create(company=company, owner=owner, name=name, shared=shared,
                                      definition=definition)  # fmt: skip


def test_each_role_sees_its_dashboard_and_not_the_others(world, users_a, client_for):
    url = reverse("analytics:dashboards")
    for role, code in ROLE_BOARDS.items():
        client = client_for(users_a[role])
        html = client.get(url).content.decode()
        assert f'id="tile-{FIRST_TILE[code]}"' in html, role
        assert 'id="board-switcher"' not in html
        for other, key in FIRST_TILE.items():
            if other != code:  # asking for another role's board shows one's own
                forced = client.get(url + f"?board={other}").content.decode()
                assert (
                    f'id="tile-{key}"' not in forced and f'id="tile-{FIRST_TILE[code]}"' in forced
                )
    executive = client_for(users_a["executive"])
    html = executive.get(url).content.decode()
    assert 'id="board-switcher"' in html and f'id="tile-{FIRST_TILE["executive"]}"' in html
    for code, key in FIRST_TILE.items():
        assert f'id="tile-{key}"' in executive.get(url + f"?board={code}").content.decode()
    for role in ("sales_rep", "warehouse_clerk", "service_agent", "portal_customer"):
        assert client_for(users_a[role]).get(url).status_code in (302, 403), role


def test_pivot_tiles_give_the_operational_totals(world, company_a, users_a, client_for):
    manager = users_a["sales_manager"]
    response = client_for(manager).get(reverse("analytics:dashboards"))
    tiles = _tiles(response)
    by_person = tiles["tile-sales_salesperson"]
    assert by_person["table"]["footer"][1] == operational_revenue(
        company_a
    )  # [Total, revenue, margin]
    assert by_person["chart"]["series"][0]["type"] == "bar"
    assert by_person["link"].startswith(reverse("analytics:pivot") + "?m=revenue&m=margin")
    assert tiles["tile-sales_group"]["chart"]["series"][0]["type"] == "pie"
    # every pivot tile is the pivot screen's answer for the same definition and scope
    for tile in dashboards.dashboard_tiles(dashboards.BY_CODE["sales_manager"]):
        if tile.definition is None:
            continue
        answer = selectors.pivot_answer(company=company_a, user=manager, see_all=True,
                                        definition=tile.definition)  # fmt: skip
        shown = tiles[f"tile-{tile.key}"]["table"]
        assert shown["rows"] == [[" / ".join(k), *[answer.cells.get((k, ()), {}).get(m)
                                                   for m in answer.measures]]
                                 for k in answer.row_keys[:dashboards.TABLE_ROWS]], tile.key  # fmt: skip
        assert shown["footer"][1:] == [answer.total[m] for m in answer.measures], tile.key


def test_a_rep_scoped_dashboard_shows_only_own_customers(world, company_a, users_a, client_for):
    rep = users_a["sales_rep"]
    lead = Role.objects.create(company=company_a, code="sales_manager", name="Team lead",
                               permissions=["core.dashboard", "analytics.view",
                                            "analytics.dashboard"])  # fmt: skip
    rep.memberships.get(company=company_a).roles.add(lead)
    tiles = _tiles(client_for(rep).get(reverse("analytics:dashboards")))
    own = operational_revenue(company_a, order__party__salesperson=rep)
    assert Decimal(0) < own < operational_revenue(company_a)
    assert tiles["tile-sales_salesperson"]["table"]["footer"][1] == own
    names = {r[0] for r in tiles["tile-sales_top_customers"]["table"]["rows"]}
    assert names <= {b.name for b in world.buyers if b.salesperson_id == rep.pk}
    # facts without a customer are left out for a rep, as in the pivot
    purchase = dashboards.tile_answer(tile=dashboards.BY_CODE["buyer"].tiles[0],
                                      company=company_a, user=rep, see_all=False)  # fmt: skip
    assert purchase == {"skipped": True}


def _insert(con, table: str, rows: list[tuple]) -> None:  # type: ignore[no-untyped-def]
    marks = ", ".join("?" * len(rows[0]))
    con.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)  # noqa: S608


def test_purchase_receivable_ledger_and_production_figures(world, company_a, company_b,
                                                            users_a):  # type: ignore[no-untyped-def]  # fmt: skip
    today = dt.date(2026, 6, 30)
    with warehouse.connect() as con:
        customer = con.execute("SELECT customer_key FROM dim_customer WHERE owner_id = ? "
                               "LIMIT 1", [users_a["sales_manager"].pk]).fetchone()[0]  # fmt: skip
        con.execute("DELETE FROM fact_receivable")
        # line, order, company, date, supplier, product, warehouse, currency, state, qty, spend, received
        _insert(con, "fact_purchase_line", [
            (9001, 1, company_a.pk, today, None, None, None, "CNY", "confirmed", 10, 200, 4),
            (9002, 1, company_a.pk, today, None, None, None, "CNY", "confirmed", 5, 50, 5),
            (9003, 2, company_a.pk, today, None, None, None, "CNY", "done", 8, 80, 2),
            (9004, 3, company_a.pk, today, None, None, None, "CNY", "sent", 3, 30, 0),
            (9005, 4, company_b.pk, today, None, None, None, "CNY", "sent", 99, 990, 0),
        ])  # fmt: skip
        _insert(con, "fact_receivable", [
            (8001, company_a.pk, today, today - dt.timedelta(days=5), customer, "ci", 100, 60),
            (8002, company_a.pk, today, today + dt.timedelta(days=5), customer, "ci", 40, 40),
            (8003, company_b.pk, today, today - dt.timedelta(days=5), None, "ci", 7, 7),
        ])  # fmt: skip
        _insert(con, "fact_gl_line", [
            (7001, 1, company_a.pk, today, "1122", "receivable", None, None, 100, 0, 100),
            (7002, 1, company_a.pk, today, "6001", "income", None, None, 0, 100, -100),
            (7003, 2, company_b.pk, today, "1122", "receivable", None, None, 5, 0, 5),
        ])  # fmt: skip
        con.execute("DELETE FROM fact_stock_snapshot")
        # company, month, date, product, warehouse, quantity, value
        _insert(con, "fact_stock_snapshot", [
            (company_a.pk, "2025-05", dt.date(2025, 5, 31), 1, 1, 9, 900),  # 13 months back
            (company_a.pk, "2025-06", dt.date(2025, 6, 30), 1, 1, 3, 300),
            (company_a.pk, "2026-05", dt.date(2026, 5, 31), 1, 1, 4, 400),
            (company_a.pk, "2026-05", dt.date(2026, 5, 31), 2, 1, 1, 25),
            (company_b.pk, "2026-05", dt.date(2026, 5, 31), 1, 1, 7, 70),
        ])  # fmt: skip
        _insert(con, "fact_production", [
            (6001, company_a.pk, today, None, None, "released", 10, 0, 0),
            (6002, company_a.pk, today, None, None, "in_progress", 6, 2, 30),
            (6003, company_a.pk, today - dt.timedelta(days=60), None, None, "done", 4, 4, 20),
        ])  # fmt: skip
    scope = dashboards.Scope(company_a, users_a["buyer"], True, today)
    with warehouse.connect(read_only=True) as con:
        figures = [f["value"] for f in dashboards.purchase_open(con, scope)["figures"]]
        # to receive: 6 of line 9001 (120 at its price), 3 of 9004; 9002 received, 9003 done
        assert figures[:3] == [Decimal(9), Decimal(150), 2]
        ar = [f["value"] for f in dashboards.receivables(con, scope)["figures"]]
        assert ar == [Decimal(100), Decimal(60), 1]
        assert dashboards.overdue_by_customer(con, scope)["table"]["rows"][0][1:] == [
            Decimal(60), 5]  # fmt: skip
        gl = dashboards.gl_by_type(con, scope)["table"]["rows"]
        assert gl == [["Income", 0, 100, -100], ["Receivable", 100, 0, 100]]  # by name
        made = [f["value"] for f in dashboards.production(con, scope)["figures"]]
        assert made[:5] == [2, Decimal(16), Decimal(2), Decimal(2), Decimal(30)]
        months = dashboards.stock_months(con, scope)
        assert months["table"]["rows"] == [["2025-06", Decimal(300), Decimal(3)],
                                           ["2026-05", Decimal(425), Decimal(5)]]  # fmt: skip
        rep_scope = dashboards.Scope(company_a, users_a["sales_rep"], False, today)
        assert dashboards.gl_by_type(con, rep_scope) == {"skipped": True}
        assert dashboards.stock_months(con, rep_scope) == {"skipped": True}
        assert dashboards.receivables(con, rep_scope)["figures"][0]["value"] == 0  # not theirs


def test_7p_figures_equal_the_analysis(world, company_a, users_a, client_for):
    customers.customers_refresh(company_id=company_a.pk, as_of=AS_OF)
    with warehouse.connect(read_only=True) as con:
        rows = con.execute("SELECT CAST(t.revenue AS DOUBLE), t.churn_probability, "
                           "CAST(t.clv AS DOUBLE) FROM cust_7p t WHERE t.company_id = ?",
                           [company_a.pk]).fetchall()  # fmt: skip
        answer = dashboards.customers_7p(con, dashboards.Scope(company_a, users_a["executive"],
                                                               True, AS_OF))  # fmt: skip
    revenues = sorted((r[0] for r in rows), reverse=True)
    top = math.ceil(len(revenues) / 5)
    values = [f["value"] for f in answer["figures"]]
    assert values[0] == len(rows)
    assert values[1] == sum(1 for r in rows if r[1] is not None and r[1] >= 0.5)
    assert abs(float(values[2]) - sum(r[2] or 0 for r in rows)) < 0.01
    assert values[3] == pytest.approx(sum(revenues[:top]) / sum(revenues))
    response = client_for(users_a["sales_manager"]).get(reverse("analytics:dashboards"))
    tiles = _tiles(response)
    assert [f["value"] for f in tiles["tile-sales_7p"]["figures"]] == values
    assert b"The 7P analysis has not been computed yet." not in response.content


def test_forecast_figures_read_the_forecast_tables(world, company_a, users_a):
    last = dt.date(2026, 6, 1)
    with warehouse.connect() as con:
        forecast_run.tables_ensure(con)
        con.execute("INSERT INTO fc_run VALUES (?, ?, ?, ?, ?)",
                    [company_a.pk, dt.datetime(2026, 6, 2), 8, last, "{}"])  # fmt: skip
        series = []
        for key, mase, naive in ((1, 0.8, 1.0), (2, 1.2, 1.0), (3, 0.5, 0.9)):
            series.append(
                (
                    company_a.pk,
                    "product",
                    str(key),
                    key,
                    None,
                    "A",
                    "smooth",
                    1.0,
                    0.1,
                    False,
                    100,
                    "ETS",
                    "[]",
                    mase,
                    0.3,
                    0.0,
                    naive,
                    0.4,
                    0.0,
                    "{}",
                )
            )
        _insert(con, "fc_series", series)
        _insert(con, "fc_forecast", [
            (company_a.pk, "product", str(key), key, None, last + dt.timedelta(weeks=w), 2.0 * key)
            for key in (1, 2, 3) for w in range(1, 7)])  # fmt: skip
    scope = dashboards.Scope(company_a, users_a["planner"], True, AS_OF)
    with warehouse.connect(read_only=True) as con:
        figures = [f["value"] for f in dashboards.forecast_summary(con, scope)["figures"]]
        weeks = dashboards.forecast_weeks(con, scope)
    assert figures[0] == 3
    assert figures[1] == pytest.approx((0.8 + 1.2 + 0.5) / 3)
    assert figures[2] == pytest.approx((1.0 + 1.0 + 0.9) / 3)
    assert figures[3] == pytest.approx(2 / 3)
    assert weeks["table"]["rows"] == [[(last + dt.timedelta(weeks=w)).isoformat(), 12.0]
                                      for w in range(1, 5)]  # fmt: skip


def test_pin_move_unpin_and_bad_input(world, company_a, company_b, users_a, users_b,
                                      client_for):  # type: ignore[no-untyped-def]  # fmt: skip
    manager, executive = users_a["sales_manager"], users_a["executive"]
    own = _view(company_a, manager, "Own")
    shared = _view(company_a, executive, "Shared", shared=True, rows=["region"])
    private = _view(company_a, executive, "Private")
    foreign = _view(company_b, users_b["executive"], "Foreign", shared=True)
    client = client_for(manager)
    pin_url = reverse("analytics:dashboard_pin")
    assert client.post(pin_url, {"view": own.pk, "display": "bar"}).status_code == 302
    client.post(pin_url, {"view": shared.pk, "display": "pie"})
    client.get(reverse("analytics:dashboards"))  # shows (and so uses up) the success messages
    pins = list(DashboardPin.unscoped.filter(user=manager))
    assert [(p.view, p.display, p.position) for p in pins] == [(own, "bar", 0),
                                                                (shared, "pie", 1)]  # fmt: skip
    for bad in ({"view": private.pk}, {"view": foreign.pk}, {"view": "x"}, {},
                {"view": own.pk}, {"view": shared.pk, "display": "radar"}):  # fmt: skip
        client.post(pin_url, bad)
        page = client.get(reverse("analytics:dashboards"))
        assert [m.level_tag for m in page.context["messages"]] == ["error"], bad
        assert DashboardPin.unscoped.count() == 2, bad
    # another company's user cannot pin company A's shared view
    client_for(users_b["sales_manager"]).post(pin_url, {"view": shared.pk})
    assert DashboardPin.unscoped.count() == 2
    move_url = reverse("analytics:dashboard_move")
    client.post(move_url, {"pin": pins[1].pk, "direction": "up"})
    assert [p.view for p in DashboardPin.unscoped.filter(user=manager)] == [shared, own]
    for bad in ({"pin": pins[1].pk, "direction": "up"}, {"pin": pins[0].pk, "direction": "sideways"},
                {"pin": "nope", "direction": "down"}):  # fmt: skip
        client.post(move_url, bad)
        assert [p.view for p in DashboardPin.unscoped.filter(user=manager)] == [shared, own], bad
    html = client.get(reverse("analytics:dashboards")).content.decode()
    assert html.index(f'id="pin-{pins[1].pk}"') < html.index(f'id="pin-{pins[0].pk}"')
    assert f'href="{reverse("analytics:pivot")}?view={own.pk}"' in html
    # somebody else's pin is neither moved nor removed
    other = client_for(executive)
    other.post(reverse("analytics:dashboard_unpin"), {"pin": pins[0].pk})
    other.post(move_url, {"pin": pins[0].pk, "direction": "down"})
    assert DashboardPin.unscoped.filter(user=manager).count() == 2
    client.post(reverse("analytics:dashboard_unpin"), {"pin": pins[0].pk})
    assert [p.view for p in DashboardPin.unscoped.filter(user=manager)] == [shared]
    # a view no longer shared leaves the dashboard of the others
    shared.shared = False
    shared.save()
    response = client.get(reverse("analytics:dashboards"))
    assert response.context["pinned"] == []


def test_pinned_views_show_the_pivot_in_the_users_scope(world, company_a, users_a, client_for):
    manager = users_a["sales_manager"]
    view = _view(company_a, manager, "Groups", shared=True)
    dashboards.dashboard_pin_add(company=company_a, actor=manager, view_id=view.pk,
                                 display="line")  # fmt: skip
    pinned = client_for(manager).get(reverse("analytics:dashboards")).context["pinned"]
    assert pinned[0]["table"]["footer"] == ["Total", operational_revenue(company_a)]
    assert pinned[0]["chart"]["series"][0]["type"] == "line"
    pivot = client_for(manager).get(reverse("analytics:pivot") + f"?view={view.pk}")
    assert 'id="pin-view"' in pivot.content.decode()
    rep_pivot = client_for(users_a["sales_rep"]).get(
        reverse("analytics:pivot") + f"?view={view.pk}"
    )
    assert 'id="pin-view"' not in rep_pivot.content.decode()  # no dashboard to pin to


def test_an_empty_warehouse_says_so(company_a, users_a, client_for):
    html = client_for(users_a["buyer"]).get(reverse("analytics:dashboards")).content.decode()
    assert 'id="warehouse-empty"' in html and 'id="role-tiles"' not in html
    assert reverse("analytics:refresh") in html  # the buyer may refresh
    home = client_for(users_a["accountant"]).get(reverse("web:home")).content.decode()
    assert f'href="{reverse("analytics:dashboards")}"' in home
