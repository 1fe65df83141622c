"""The demo's catalogue step: about 300 bilingual products, four-level BOMs without loops, six
work centers with routings, low-level codes, rolled-up costs below list prices, and a
configurable e-bike whose rules are each of the three kinds — deterministic."""

from __future__ import annotations

import pytest

from xietong.demo import catalogue, core
from xietong.demo.context import DemoContext
from xietong.product import bom, configurator
from xietong.product.models import Bom, ConfiguredItem, Product, Routing, WorkCenter

pytestmark = pytest.mark.django_db


@pytest.fixture
def ctx():  # type: ignore[no-untyped-def]
    context = DemoContext(seed=1, size="small")
    core.run(context)
    catalogue.run(context)
    return context


def test_catalogue(ctx):  # type: ignore[no-untyped-def]
    company = ctx.companies["main"]
    products = Product.unscoped.filter(company=company)
    assert 280 <= products.count() <= 330
    assert not products.exclude(name_i18n__has_key="zh-hans").exists()
    assert not products.exclude(name_i18n__has_key="zh-hant").exists()
    assert set(products.values_list("uom__code", flat=True)) == {"pc", "kg", "m"}
    codes = set(products.values_list("low_level_code", flat=True))
    assert codes == {0, 1, 2, 3}  # four levels: bike → painted frame → welded frame → tube
    assert {c.code for c in WorkCenter.unscoped.filter(company=company)} == {
        "CUT",
        "WELD",
        "PAINT",
        "WHEEL",
        "ASSY",
        "TEST",
    }
    assert Routing.unscoped.filter(company=company).count() > 80
    assert Bom.unscoped.filter(company=company, kind=Bom.Kind.PHANTOM).exists()
    # Every finished bike explodes without a loop and sells above its rolled-up cost.
    for product in products.filter(sku__startswith="FG-"):
        rollup = bom.bom_cost_rollup(product=product)
        assert rollup.levels[-1].level == 3, product.sku
        assert 0 < product.standard_cost < product.list_price, product.sku
        assert product.standard_cost == bom.q6(rollup.total), product.sku


def test_configurable_ebike(ctx):  # type: ignore[no-untyped-def]
    company = ctx.companies["main"]
    ebike = Product.unscoped.get(company=company, is_configurable=True)
    model = configurator.configuration_model(product=ebike)
    assert [g.code for g in model.groups] == ["frame", "battery", "motor", "display", "extras"]
    assert {r.kind for r in model.rules} == {"requires", "excludes", "only_if"}
    options = {o.code: o.pk for o in model.options.values()}
    assert (
        configurator.configuration_check(
            product=ebike, option_ids=configurator.configuration_defaults(product=ebike)
        )
        == []
    )
    violations = configurator.configuration_check(
        product=ebike,
        option_ids=[options[c] for c in ("s", "625", "hub", "tft", "child-seat")],
    )
    assert [v.code for v in violations] == ["requires", "requires", "excludes", "only_if"]
    assert ConfiguredItem.unscoped.filter(company=company).count() == 3


def test_deterministic():
    def snapshot() -> list[tuple]:  # type: ignore[type-arg]
        return list(
            Product.unscoped.order_by("sku").values_list(
                "sku", "standard_cost", "list_price", "purchase_lead_days", "low_level_code"
            )
        )

    from django.db import transaction

    runs = []
    for _ in range(2):
        with transaction.atomic():
            context = DemoContext(seed=1, size="small")
            core.run(context)
            catalogue.run(context)
            runs.append(snapshot())
            transaction.set_rollback(True)
    assert runs[0] == runs[1]
