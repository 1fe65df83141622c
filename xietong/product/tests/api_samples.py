"""Sample requests of the catalogue and pricing API operations for the role × operation matrix
(xietong/api/tests/test_permissions.py): each makes what its request needs in the caller's
company and returns the request's path parameters, body and query."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from xietong.core.models import Company, User
from xietong.product import services
from xietong.product.tests.catalog_factories import (
    make_attribute,
    make_category,
    make_price_list,
    make_product,
    make_rule,
)

_n = itertools.count(1)


def _name(prefix: str) -> str:
    return f"{prefix}{next(_n):05d}"


def _product(company: Company) -> Any:
    return make_product(company, _name("MX-"))


def _attribute(company: Company) -> Any:
    return make_attribute(company, _name("Attr "), [("RED", "Red"), ("BLUE", "Blue")])


def _variant(company: Company) -> Any:
    attribute = _attribute(company)
    return services.variant_create(
        product=_product(company), actor=None, values=[attribute.values.get(code="RED")]
    )


def _rule(company: Company) -> Any:
    return make_rule(make_price_list(company, _name("List ")), fixed_price=Decimal(5))


def _sample(path_params: dict[str, Any], body: Any = None, query: Any = None) -> dict[str, Any]:
    return {"path_params": path_params, "body": body, "query": query}


def _variant_create(user: User, company: Company) -> dict[str, Any]:
    attribute = _attribute(company)
    return _sample(
        {},
        {"product": _product(company).pk, "values": [attribute.values.get(code="RED").pk]},
    )


def _variants_generate(user: User, company: Company) -> dict[str, Any]:
    attribute = _attribute(company)
    return _sample(
        {"product_id": _product(company).pk},
        {"values": list(attribute.values.values_list("pk", flat=True))},
    )


def _price(user: User, company: Company) -> dict[str, Any]:
    price_list = make_price_list(company, _name("List "))
    return _sample(
        {}, query={"product": _product(company).pk, "quantity": "2", "price_list": price_list.pk}
    )


PRODUCT_SAMPLES: dict[tuple[str, str], Callable[[User, Company], dict[str, Any]]] = {
    ("GET", "/products"): lambda user, company: _sample({}),
    ("POST", "/products"): lambda user, company: _sample(
        {}, {"sku": _name("NEW-"), "name": "Matrix", "uom": "pc"}
    ),
    ("GET", "/products/{product_id}"): lambda user, company: _sample(
        {"product_id": _product(company).pk}
    ),
    ("PATCH", "/products/{product_id}"): lambda user, company: _sample(
        {"product_id": _product(company).pk}, {"name": "Renamed"}
    ),
    ("POST", "/products/{product_id}/archive"): lambda user, company: _sample(
        {"product_id": _product(company).pk}
    ),
    ("GET", "/products/{product_id}/costs"): lambda user, company: _sample(
        {"product_id": _product(company).pk}
    ),
    ("POST", "/products/{product_id}/costs"): lambda user, company: _sample(
        {"product_id": _product(company).pk}, {"cost": "12.5"}
    ),
    ("GET", "/product-categories"): lambda user, company: _sample({}),
    ("POST", "/product-categories"): lambda user, company: _sample({}, {"name": _name("Cat ")}),
    ("GET", "/product-categories/{category_id}"): lambda user, company: _sample(
        {"category_id": make_category(company, _name("Cat ")).pk}
    ),
    ("PATCH", "/product-categories/{category_id}"): lambda user, company: _sample(
        {"category_id": make_category(company, _name("Cat ")).pk}, {"name": _name("Cat ")}
    ),
    ("DELETE", "/product-categories/{category_id}"): lambda user, company: _sample(
        {"category_id": make_category(company, _name("Cat ")).pk}
    ),
    ("GET", "/attributes"): lambda user, company: _sample({}),
    ("POST", "/attributes"): lambda user, company: _sample(
        {}, {"name": _name("Attr "), "values": [{"code": "S", "name": "Small"}]}
    ),
    ("GET", "/attributes/{attribute_id}"): lambda user, company: _sample(
        {"attribute_id": _attribute(company).pk}
    ),
    ("PATCH", "/attributes/{attribute_id}"): lambda user, company: _sample(
        {"attribute_id": _attribute(company).pk}, {"name": _name("Attr ")}
    ),
    ("DELETE", "/attributes/{attribute_id}"): lambda user, company: _sample(
        {"attribute_id": _attribute(company).pk}
    ),
    ("GET", "/variants"): lambda user, company: _sample({}),
    ("POST", "/variants"): _variant_create,
    ("POST", "/products/{product_id}/variants"): _variants_generate,
    ("GET", "/variants/{variant_id}"): lambda user, company: _sample(
        {"variant_id": _variant(company).pk}
    ),
    ("PATCH", "/variants/{variant_id}"): lambda user, company: _sample(
        {"variant_id": _variant(company).pk}, {"price_extra": "3.5"}
    ),
    ("POST", "/variants/{variant_id}/archive"): lambda user, company: _sample(
        {"variant_id": _variant(company).pk}
    ),
    ("GET", "/price-lists"): lambda user, company: _sample({}),
    ("POST", "/price-lists"): lambda user, company: _sample(
        {}, {"name": _name("List "), "currency": "CNY"}
    ),
    ("GET", "/price-lists/{price_list_id}"): lambda user, company: _sample(
        {"price_list_id": make_price_list(company, _name("List ")).pk}
    ),
    ("PATCH", "/price-lists/{price_list_id}"): lambda user, company: _sample(
        {"price_list_id": make_price_list(company, _name("List ")).pk}, {"currency": "EUR"}
    ),
    ("POST", "/price-lists/{price_list_id}/archive"): lambda user, company: _sample(
        {"price_list_id": make_price_list(company, _name("List ")).pk}
    ),
    ("GET", "/price-lists/{price_list_id}/rules"): lambda user, company: _sample(
        {"price_list_id": _rule(company).price_list_id}
    ),
    ("POST", "/price-lists/{price_list_id}/rules"): lambda user, company: _sample(
        {"price_list_id": make_price_list(company, _name("List ")).pk},
        {"method": "discount", "discount_percent": "5"},
    ),
    ("GET", "/price-rules/{rule_id}"): lambda user, company: _sample(
        {"rule_id": _rule(company).pk}
    ),
    ("PATCH", "/price-rules/{rule_id}"): lambda user, company: _sample(
        {"rule_id": _rule(company).pk}, {"fixed_price": "6"}
    ),
    ("DELETE", "/price-rules/{rule_id}"): lambda user, company: _sample(
        {"rule_id": _rule(company).pk}
    ),
    ("GET", "/price"): _price,
}

PATH_PARAMETERS = (
    "product_id",
    "category_id",
    "attribute_id",
    "variant_id",
    "price_list_id",
    "rule_id",
)
"""Path parameters of these operations (the anonymous probe fills them with 1)."""
