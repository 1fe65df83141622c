"""The OpenAPI document and the docs page: served under /api/v1, and the page loads nothing from
another host (Swagger UI comes from the static copy inside django-ninja)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.test import Client

from xietong.api.tests.conftest import API

pytestmark = pytest.mark.django_db

OUR_HOSTS = {"testserver"}


def test_openapi_document() -> None:
    response = Client().get(f"{API}/openapi.json")

    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert f"{API}/exchange-rates" in document["paths"]
    schemes = document["components"]["securitySchemes"]
    assert {"type": "http", "scheme": "bearer"} in schemes.values()
    assert "Problem" in document["components"]["schemas"]


def test_docs_page_references_only_local_files() -> None:
    client = Client()
    response = client.get(f"{API}/docs")

    assert response.status_code == 200
    html = response.content.decode()
    for url in re.findall(r"""https?://[^\s"'<>)]+""", html):
        assert urlsplit(url).hostname in OUR_HOSTS, f"external URL on the docs page: {url}"
    assert '"validatorUrl": null' in html
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    for asset in assets:
        assert asset.startswith("/"), asset
        served = client.get(asset)
        served.close()  # a streamed static file
        assert served.status_code == 200, f"{asset} is not served"
