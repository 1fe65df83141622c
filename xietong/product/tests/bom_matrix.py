"""What the permission matrices need of the BOM, routing and configurator screens and API:
URL name → sample record kind, POST-only views, the sample records (web `records` fixture) and
one sample request per API operation (each makes what it needs in the caller's company)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from xietong.core.models import Company, User
from xietong.product.models import Product
from xietong.product.tests.bom_factories import (
    line,
    make_bom,
    make_group,
    make_item,
    make_option,
    make_routing,
    make_work_center,
    sample_set,
)

URL_RECORDS = {
    "product:bom_detail": "bom",
    "product:bom_edit": "bom",
    "product:bom_archive": "bom",
    "product:bom_explosion": "bom",
    "product:bom_where_used": "bom",
    "product:bom_cost": "bom",
    "product:bom_rollup_apply": "bom",
    "product:work_center_detail": "work_center",
    "product:work_center_edit": "work_center",
    "product:work_center_archive": "work_center",
    "product:routing_detail": "routing",
    "product:routing_edit": "routing",
    "product:routing_archive": "routing",
    "product:configure": "configurable",
    "product:configurator_preview": "configurable",
    "product:configured_detail": "configured_item",
}
POST_ONLY = {
    "product:bom_archive",
    "product:bom_rollup_apply",
    "product:work_center_archive",
    "product:routing_archive",
}


def bom_records(company: Company, key: str) -> dict[str, Any]:
    """A BOM, work center, routing, configurable product and configured item (CANARY-<key>)."""
    records = sample_set(company, key)
    return {
        k: records[k] for k in ("bom", "work_center", "routing", "configurable", "configured_item")
    }


# --- API samples ------------------------------------------------------------------------------

_n = itertools.count(1)


def _sku(prefix: str) -> str:
    return f"{prefix}-{next(_n):05d}"


def _sample(path_params: dict[str, Any], body: Any = None, query: Any = None) -> dict[str, Any]:
    return {"path_params": path_params, "body": body, "query": query}


def _made(company: Company) -> Any:
    """A made product with a one-line BOM."""
    part = make_item(company, _sku("MXP"), cost="10")
    top = make_item(company, _sku("MXT"), supply=Product.Supply.MAKE)
    return make_bom(company, top, [line(part, "2")])


def _configurable(company: Company) -> Product:
    product = make_item(company, _sku("MXC"), price="100", is_configurable=True)
    make_bom(company, product, [line(make_item(company, _sku("MXP")), "1")])
    make_option(make_group(product, "size"), "m", default=True)
    return product


def _item(company: Company) -> Any:
    from xietong.product import configurator

    product = _configurable(company)
    return configurator.configured_item_create(
        company=company,
        actor=None,
        product=product,
        option_ids=configurator.configuration_defaults(product=product),
    )


def _routing(company: Company) -> Any:
    center = make_work_center(company, _sku("MXW"))
    return make_routing(company, make_item(company, _sku("MXR")), [(center, "5", "1")])


def _bom_create(user: User, company: Company) -> dict[str, Any]:
    part = make_item(company, _sku("MXP"))
    top = make_item(company, _sku("MXT"))
    return _sample({}, {"product": top.pk, "lines": [{"component": part.pk, "quantity": "3"}]})


def _routing_create(user: User, company: Company) -> dict[str, Any]:
    center = make_work_center(company, _sku("MXW"))
    product = make_item(company, _sku("MXR"))
    return _sample(
        {},
        {
            "product": product.pk,
            "name": "Matrix",
            "operations": [{"name": "Cut", "work_center": center.pk, "run_minutes": "2"}],
        },
    )


def _configured_create(user: User, company: Company) -> dict[str, Any]:
    from xietong.product import configurator

    product = _configurable(company)
    return _sample(
        {},
        {"product": product.pk, "options": configurator.configuration_defaults(product=product)},
    )


def _configuration(user: User, company: Company) -> dict[str, Any]:
    from xietong.product import configurator

    product = _configurable(company)
    return _sample(
        {"product_id": product.pk},
        {"options": configurator.configuration_defaults(product=product)},
    )


Maker = Callable[[User, Company], dict[str, Any]]

SAMPLES: dict[tuple[str, str], Maker] = {
    ("GET", "/boms"): lambda u, c: _sample({}),
    ("GET", "/boms/{bom_id}"): lambda u, c: _sample({"bom_id": _made(c).pk}),
    ("POST", "/boms"): _bom_create,
    ("PATCH", "/boms/{bom_id}"): lambda u, c: _sample({"bom_id": _made(c).pk}, {"quantity": "2"}),
    ("POST", "/boms/{bom_id}/archive"): lambda u, c: _sample({"bom_id": _made(c).pk}),
    ("GET", "/products/{product_id}/explosion"): lambda u, c: _sample(
        {"product_id": _made(c).product_id}, query={"quantity": "2"}
    ),
    ("GET", "/products/{product_id}/where-used"): lambda u, c: _sample(
        {"product_id": _made(c).lines.get().component_id}
    ),
    ("GET", "/products/{product_id}/cost-rollup"): lambda u, c: _sample(
        {"product_id": _made(c).product_id}
    ),
    ("POST", "/products/{product_id}/cost-rollup"): lambda u, c: _sample(
        {"product_id": _made(c).product_id}
    ),
    ("GET", "/work-centers"): lambda u, c: _sample({}),
    ("GET", "/work-centers/{work_center_id}"): lambda u, c: _sample(
        {"work_center_id": make_work_center(c, _sku("MXW")).pk}
    ),
    ("POST", "/work-centers"): lambda u, c: _sample(
        {}, {"code": _sku("MXW"), "name": "Matrix", "cost_per_hour": "50"}
    ),
    ("PATCH", "/work-centers/{work_center_id}"): lambda u, c: _sample(
        {"work_center_id": make_work_center(c, _sku("MXW")).pk}, {"units": 2}
    ),
    ("POST", "/work-centers/{work_center_id}/archive"): lambda u, c: _sample(
        {"work_center_id": make_work_center(c, _sku("MXW")).pk}
    ),
    ("GET", "/work-centers/{work_center_id}/capacity"): lambda u, c: _sample(
        {"work_center_id": make_work_center(c, _sku("MXW")).pk},
        query={"date_from": "2026-11-23", "date_to": "2026-11-29"},
    ),
    ("GET", "/routings"): lambda u, c: _sample({}),
    ("GET", "/routings/{routing_id}"): lambda u, c: _sample({"routing_id": _routing(c).pk}),
    ("POST", "/routings"): _routing_create,
    ("PATCH", "/routings/{routing_id}"): lambda u, c: _sample(
        {"routing_id": _routing(c).pk}, {"name": "Renamed"}
    ),
    ("POST", "/routings/{routing_id}/archive"): lambda u, c: _sample(
        {"routing_id": _routing(c).pk}
    ),
    ("GET", "/products/{product_id}/options"): lambda u, c: _sample(
        {"product_id": _configurable(c).pk}
    ),
    ("POST", "/products/{product_id}/configuration"): _configuration,
    ("GET", "/configured-items"): lambda u, c: _sample({}),
    ("GET", "/configured-items/{item_id}"): lambda u, c: _sample({"item_id": _item(c).pk}),
    ("POST", "/configured-items"): _configured_create,
}
PATH_PARAMETERS = ("bom_id", "product_id", "work_center_id", "routing_id", "item_id")
