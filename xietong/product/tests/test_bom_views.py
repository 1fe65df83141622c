"""Screens of BOMs, work centers, routings and the configurator: the role × screen matrix for
these URLs, other companies' records (404), the edit forms with HTMX line editing, and a
scenario run by a non-admin planner (work center, routing and BOM through the web forms, then
the roll-up) and by a sales rep (who cannot edit BOMs but configures an e-bike)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from xietong.core.roles import DEFAULT_ROLES, role_permissions
from xietong.product import views_bom, views_configurator
from xietong.product.models import Bom, ConfiguredItem, Product, Routing, WorkCenter
from xietong.product.tests.bom_factories import make_item, sample_set
from xietong.product.tests.bom_matrix import POST_ONLY, URL_RECORDS

pytestmark = pytest.mark.django_db


def login(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def sets(company_a, company_b):  # type: ignore[no-untyped-def]
    return {"a": sample_set(company_a, "a"), "b": sample_set(company_b, "b")}


def _mine():  # type: ignore[no-untyped-def]
    """(URL name, pattern) of every screen of this part (views_bom, views_configurator)."""
    return [
        (f"product:{pattern.name}", pattern)
        for pattern in [*views_bom.urlpatterns, *views_configurator.urlpatterns]
    ]


def _url(name: str, pattern, records) -> str:  # type: ignore[no-untyped-def]
    if pattern.pattern.converters:
        return reverse(name, args=[records[URL_RECORDS[name]].pk])
    return reverse(name)


def test_all_my_urls_are_covered():
    assert len(_mine()) == 25


@pytest.mark.parametrize("role", list(DEFAULT_ROLES))
def test_role_matrix_of_these_screens(role, users_a, sets):
    client = login(users_a[role])
    permissions = set(role_permissions(role))
    for name, pattern in _mine():
        url = _url(name, pattern, sets["a"])
        response = client.get(url)
        if name in POST_ONLY:
            assert response.status_code == 405, name
            continue
        allowed = pattern.callback.required_permission in permissions
        expected = 200 if allowed else 403
        assert response.status_code == expected, (role, name, response.status_code)


def test_other_companys_records_are_not_found(users_a, sets):
    client = login(users_a["admin"])
    for name, pattern in _mine():
        if not pattern.pattern.converters:
            continue
        theirs = _url(name, pattern, sets["b"])
        method = client.post if name in POST_ONLY else client.get
        assert method(theirs).status_code == 404, name
    for name in (
        "product:bom_list",
        "product:work_center_list",
        "product:routing_list",
        "product:configured_list",
    ):
        for suffix in ("", "?export=csv"):
            content = client.get(reverse(name) + suffix).content
            assert b"CANARY-b" not in content and b"-b " not in content, name
    assert b"CANARY-a" in client.get(reverse("product:routing_list") + "?export=csv").content


def test_bom_detail_fragments(users_a, sets):
    client = login(users_a["sales_rep"])  # reads BOMs, may not edit them
    bom = sets["a"]["bom"]
    page = client.get(reverse("product:bom_detail", args=[bom.pk])).content.decode()
    assert "FRAME-a" in page and reverse("product:bom_edit", args=[bom.pk]) not in page
    explosion = client.get(
        reverse("product:bom_explosion", args=[bom.pk]), {"quantity": "5", "date": "2026-11-26"}
    ).content.decode()
    assert "WHEEL-a" in explosion and ">10<" in explosion  # 2 wheels × 5 bikes
    used = client.get(reverse("product:bom_where_used", args=[bom.pk])).content.decode()
    assert "is not used in any active BOM" in used
    cost = client.get(reverse("product:bom_cost", args=[bom.pk])).content.decode()
    assert 'id="rollup-total"' in cost and "apply-rollup" not in cost


def test_bom_edit_adds_and_removes_lines_with_htmx(users_a, sets):
    client = login(users_a["planner"])
    bom = sets["a"]["bom"]
    url = reverse("product:bom_edit", args=[bom.pk])
    form = {
        "version": "1",
        "kind": "normal",
        "quantity": "1",
        "uom": "",
        "active": "on",
        "line_sequence": ["10", "20"],
        "line_component": ["FRAME-a", "WHEEL-a"],
        "line_quantity": ["1", "2"],
        "line_uom": ["", ""],
        "line_scrap_percent": ["0", "0"],
    }
    added = client.post(url, {**form, "action": "add"}, headers={"HX-Request": "true"})
    assert added.status_code == 200
    assert added.content.decode().count('class="line-row"') == 3
    removed = client.post(url, {**form, "remove": "0"})
    assert removed.content.decode().count('class="line-row"') == 1
    bad = client.post(
        url, {**form, "line_component": ["FRAME-a", "NOPE"], "line_quantity": ["0", "2"]}
    )
    assert bad.status_code == 400
    html = bad.content.decode()
    assert "The quantity must be greater than zero." in html
    assert "No product has the SKU “NOPE” in your company." in html
    assert Bom.unscoped.get(pk=bom.pk).lines.count() == 2
    loop = client.post(url, {**form, "line_component": ["FRAME-a", "BIKE-a"]})
    assert "A product cannot be a component of itself." in loop.content.decode()


def test_scenario_planner_builds_a_product_through_the_web(users_a, company_a):
    planner = login(users_a["planner"])
    tube = make_item(company_a, "TUBE", uom="m", cost="15", name="Aluminium tube")
    make_item(company_a, "PAINT", uom="kg", cost="50", name="Powder paint")
    make_item(company_a, "FRAME", supply=Product.Supply.MAKE, name="Frame")

    response = planner.post(
        reverse("product:work_center_create"),
        {
            "code": "WELD",
            "name": "焊接",
            "working_days": ["1", "2", "3", "4", "5"],
            "hours_per_day": "8",
            "units": "2",
            "efficiency_percent": "90",
            "cost_per_hour": "60",
            "overhead_per_hour": "30",
            "holidays": "2026-10-01\n2026-10-02",
        },
    )
    center = WorkCenter.unscoped.get(code="WELD")
    assert response.status_code == 302 and center.holidays == ["2026-10-01", "2026-10-02"]
    page = planner.get(
        reverse("product:work_center_detail", args=[center.pk]),
        {"date_from": "2026-11-23", "date_to": "2026-11-29"},
    ).content.decode()
    assert "72 hours available" in page  # 5 days × 8 h × 2 units × 90 %

    response = planner.post(
        reverse("product:routing_create"),
        {
            "product": "FRAME",
            "name": "Frame welding",
            "active": "on",
            "op_sequence": ["10"],
            "op_name": ["Weld"],
            "op_work_center": [str(center.pk)],
            "op_setup_minutes": ["6"],
            "op_run_minutes": ["24"],
        },
    )
    routing = Routing.unscoped.get(name="Frame welding")
    assert response.status_code == 302 and routing.operations.count() == 1

    response = planner.post(
        reverse("product:bom_create"),
        {
            "product": "FRAME",
            "version": "",
            "kind": "normal",
            "quantity": "1",
            "uom": "",
            "active": "on",
            "line_sequence": ["10", "20"],
            "line_component": ["TUBE", "PAINT"],
            "line_quantity": ["2000", "200"],
            "line_uom": ["mm", "g"],
            "line_scrap_percent": ["10", ""],
        },
    )
    bom = Bom.unscoped.get(product__sku="FRAME")
    assert response.status_code == 302 and response["Location"] == reverse(
        "product:bom_detail", args=[bom.pk]
    )
    assert tube.pk in bom.lines.values_list("component_id", flat=True)
    cost = planner.get(reverse("product:bom_cost", args=[bom.pk])).content.decode()
    total = re.search(r'id="rollup-total">([^<]+)<', cost).group(1)
    assert total == "88.00"  # 2 × 1.1 × 15 + 0.2 × 50 + 0.5 h × (60 + 30)
    response = planner.post(reverse("product:bom_rollup_apply", args=[bom.pk]))
    assert response.status_code == 302
    assert Product.unscoped.get(sku="FRAME").standard_cost == Decimal("88")
    history = planner.get(reverse("product:bom_detail", args=[bom.pk])).content.decode()
    assert "TUBE × 2000 mm (+10%); PAINT × 200 g" in history


def test_scenario_sales_rep_configures_an_ebike(users_a, sets):
    rep = login(users_a["sales_rep"])
    bike = sets["a"]["configurable"]
    assert rep.get(reverse("product:bom_edit", args=[sets["a"]["bom"].pk])).status_code == 403
    home = rep.get(reverse("product:configurator")).content.decode()
    assert reverse("product:configure", args=[bike.pk]) in home
    page = rep.get(reverse("product:configure", args=[bike.pk])).content.decode()
    assert "This configuration is valid." in page
    groups = dict(re.findall(r'name="(group-\d+)" value="(\d+)"[^>]*checked', page))
    seat = bike.option_groups.get(code="extras").options.get(code="child-seat")
    rack = bike.option_groups.get(code="extras").options.get(code="rack")
    extras = f"group-{seat.group_id}"
    preview = rep.get(
        reverse("product:configurator_preview", args=[bike.pk]),
        {**groups, extras: [str(seat.pk)]},
        headers={"HX-Request": "true"},
    ).content.decode()
    assert "requires" in preview and 'id="save-configuration" disabled' in preview
    refused = rep.post(
        reverse("product:configure", args=[bike.pk]), {**groups, extras: [str(seat.pk)]}
    )
    assert refused.status_code == 400
    saved = rep.post(
        reverse("product:configure", args=[bike.pk]),
        {**groups, extras: [str(seat.pk), str(rack.pk)], "quantity": "2"},
    )
    item = (
        ConfiguredItem.unscoped.filter(company=bike.company_id)
        .exclude(pk=sets["a"]["configured_item"].pk)
        .get()
    )
    assert saved.status_code == 302 and saved["Location"] == reverse(
        "product:configured_detail", args=[item.pk]
    )
    assert item.price == Decimal("2999") + 150 + 300 and item.created_by == users_a["sales_rep"]
    detail = rep.get(saved["Location"]).content.decode()
    assert item.description in detail
