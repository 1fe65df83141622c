"""The role × screen matrix, generated from the URL configuration.

Every view of the shell declares what it needs (`@requires`, `@login_only`, `@public`); this test
walks all URL patterns, fails on any view without a declaration, and checks that each predefined
role gets exactly the screens its permissions allow — and anonymous visitors the login page.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from xietong.analytics.tests.matrix import POST_ONLY as ANALYTICS_POST_ONLY
from xietong.analytics.tests.matrix import URL_RECORDS as ANALYTICS_URL_RECORDS
from xietong.core.roles import DEFAULT_ROLES, role_permissions
from xietong.crm.tests.matrix import POST_ONLY as CRM_POST_ONLY
from xietong.crm.tests.matrix import URL_RECORDS as CRM_URL_RECORDS
from xietong.finance.tests.matrix import POST_ONLY as FINANCE_POST_ONLY
from xietong.finance.tests.matrix import URL_RECORDS as FINANCE_URL_RECORDS
from xietong.inventory.tests.matrix import POST_ONLY as INVENTORY_POST_ONLY
from xietong.inventory.tests.matrix import URL_RECORDS as INVENTORY_URL_RECORDS
from xietong.manufacturing.tests.matrix import POST_ONLY as MANUFACTURING_POST_ONLY
from xietong.manufacturing.tests.matrix import URL_RECORDS as MANUFACTURING_URL_RECORDS
from xietong.party.tests.matrix import POST_ONLY as PARTY_POST_ONLY
from xietong.party.tests.matrix import URL_RECORDS as PARTY_URL_RECORDS
from xietong.product.tests.bom_matrix import POST_ONLY as BOM_POST_ONLY
from xietong.product.tests.bom_matrix import URL_RECORDS as BOM_URL_RECORDS
from xietong.purchase.tests.matrix import POST_ONLY as PURCHASE_POST_ONLY
from xietong.purchase.tests.matrix import URL_RECORDS as PURCHASE_URL_RECORDS
from xietong.sales.tests.matrix import POST_ONLY as SALES_POST_ONLY
from xietong.sales.tests.matrix import URL_RECORDS as SALES_URL_RECORDS
from xietong.workflow.tests.matrix import POST_ONLY as WORKFLOW_POST_ONLY
from xietong.workflow.tests.matrix import URL_RECORDS as WORKFLOW_URL_RECORDS

# Views that only accept POST (their GET answer is 405 for everybody).
POST_ONLY = {
    "web:logout",
    "web:switch_company",
    "web:otp_disable",
    "web:token_revoke",
    "core:rate_delete",
    "set_language",
    "product:product_archive",
    "product:variant_archive",
    "product:category_delete",
    "product:attribute_delete",
    "product:price_rule_delete",
    *PARTY_POST_ONLY,
    *BOM_POST_ONLY,
    *WORKFLOW_POST_ONLY,
    *FINANCE_POST_ONLY,
    *INVENTORY_POST_ONLY,
    *SALES_POST_ONLY,
    *PURCHASE_POST_ONLY,
    *MANUFACTURING_POST_ONLY,
    *CRM_POST_ONLY,
    *ANALYTICS_POST_ONLY,
}
SKIP_NAMESPACES = {"admin"}

# Companies, users and records are built once for this module; each test's requests are rolled
# back after it (see the root conftest's `module_world`). The roles request the same documents:
# each distinct one is converted to PDF once (the root conftest's `shared_pdf_conversions`).
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("module_world", "module_records", "shared_pdf_conversions"),
]


def _patterns(resolver: URLResolver | None = None, namespace: str = ""):  # type: ignore[no-untyped-def]
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            ns = pattern.namespace or ""
            if ns in SKIP_NAMESPACES or str(pattern.pattern).startswith("api/"):
                continue
            yield from _patterns(pattern, f"{namespace}{ns}:" if ns else namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}{pattern.name}", pattern


def _args(name: str, records) -> list:  # type: ignore[no-untyped-def]
    if name.startswith("core:export_"):  # every importable table exports as csv or xlsx
        return ["csv"]
    kind = {
        "core:rate_detail": "rate",
        "core:rate_edit": "rate",
        "core:rate_delete": "rate",
        "core:unit_detail": "unit",
        "core:unit_edit": "unit",
        "core:sequence_detail": "sequence",
        "core:sequence_edit": "sequence",
        "core:user_detail": "membership",
        "core:user_roles": "membership",
        "core:job_detail": "job",
        "web:token_revoke": "token",
        "product:product_detail": "product",
        "product:product_edit": "product",
        "product:product_archive": "product",
        "product:product_cost": "product",
        "product:product_price_check": "product",
        "product:variant_generate": "product",
        "product:variant_detail": "variant",
        "product:variant_edit": "variant",
        "product:variant_archive": "variant",
        "product:category_detail": "category",
        "product:category_edit": "category",
        "product:category_delete": "category",
        "product:attribute_detail": "attribute",
        "product:attribute_edit": "attribute",
        "product:attribute_delete": "attribute",
        "product:price_list_detail": "price_list",
        "product:price_list_edit": "price_list",
        "product:price_rule_create": "price_list",
        "product:price_rule_edit": "price_rule",
        "product:price_rule_delete": "price_rule",
        **PARTY_URL_RECORDS,
        **BOM_URL_RECORDS,
        **WORKFLOW_URL_RECORDS,
        **FINANCE_URL_RECORDS,
        **INVENTORY_URL_RECORDS,
        **SALES_URL_RECORDS,
        **PURCHASE_URL_RECORDS,
        **MANUFACTURING_URL_RECORDS,
        **CRM_URL_RECORDS,
        **ANALYTICS_URL_RECORDS,
    }[name]
    record = records["unit"] if kind == "unit" else records["a"][kind]
    return [record.pk]


def _post_only(name: str) -> bool:
    return name in POST_ONLY or (name.startswith("core:import_") and name.endswith("_confirm"))


def _url(name: str, pattern: URLPattern, records) -> str:  # type: ignore[no-untyped-def]
    return reverse(name, args=_args(name, records) if pattern.pattern.converters else [])


def test_every_view_declares_its_permission():
    missing = [
        name
        for name, pattern in _patterns()
        if not hasattr(pattern.callback, "required_permission")
    ]
    assert missing == [], f"views without @requires/@login_only/@public: {missing}"


@pytest.mark.django_db
def test_anonymous_gets_the_login_page(client, records):
    for name, pattern in _patterns():
        if _post_only(name):
            continue
        required = pattern.callback.required_permission
        response = client.get(_url(name, pattern, records))
        if required == "public":
            assert response.status_code in (200, 302), name
        else:
            assert response.status_code == 302, name
            assert response["Location"].startswith(reverse("web:login")), name


@pytest.mark.django_db
@pytest.mark.role_matrix
@pytest.mark.parametrize("role", list(DEFAULT_ROLES))
def test_role_reaches_exactly_its_screens(role, users_a, records, client_for):
    user = users_a[role]
    permissions = set(role_permissions(role))
    client = client_for(user)
    for name, pattern in _patterns():
        if _post_only(name):
            assert client.get(_url(name, pattern, records)).status_code == 405, name
            continue
        required = pattern.callback.required_permission
        # The job of the matrix records belongs to the admin; others see only their own jobs.
        if name == "core:job_detail" and "core.job.view" not in permissions and role != "admin":
            required_ok = False
        else:
            required_ok = required in (None, "public") or required in permissions
        response = client.get(_url(name, pattern, records))
        if required == "public":
            assert response.status_code in (200, 302), (role, name)
        elif required_ok:
            assert response.status_code in (200, 302), (role, name, response.status_code)
        else:
            assert response.status_code in (403, 404), (role, name, response.status_code)
            if "core.dashboard" not in permissions or name != "core:job_detail":
                assert response.status_code == 403, (role, name)


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(DEFAULT_ROLES))
def test_navigation_shows_only_allowed_screens(role, users_a, client_for):
    from xietong.core.menu import _ITEMS

    response = client_for(users_a[role]).get(reverse("web:home"), follow=True)
    html = response.content.decode()
    for item in _ITEMS:
        allowed = item.permission in role_permissions(role)
        assert (f'href="{reverse(item.url_name)}"' in html) == allowed, (role, item.url_name)


@pytest.mark.django_db
def test_portal_user_lands_on_the_portal(users_a, client_for):
    response = client_for(users_a["portal_customer"]).get(reverse("web:home"))
    assert response.status_code == 302 and response["Location"] == reverse("web:portal")


@pytest.mark.django_db
def test_admin_site_is_for_superusers_only(users_a, client_for):
    admin = users_a["admin"]
    assert (
        client_for(admin).get("/admin/").status_code == 302
    )  # an administrator role is not enough
    admin.is_superuser = admin.is_staff = True
    admin.save()
    assert client_for(admin).get("/admin/").status_code == 200
