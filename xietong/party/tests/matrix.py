"""What the shell's generated permission matrices need from the party module: a sample record
for each party URL with a primary key (xietong/web/tests) and a sample request for each party
API operation (xietong/api/tests)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from xietong.core.models import Company, User
from xietong.party import services
from xietong.party.models import Party

_serial = itertools.count(1)

# URL name -> key of the record (in the web tests' `records` fixture) its pk comes from.
URL_RECORDS = {
    "party:party_detail": "party",
    "party:party_edit": "party",
    "party:party_credit": "party",
    "party:party_merge": "party",
    "party:party_archive": "party",
    "party:party_restore": "party",
    "party:party_timeline": "party",
    "party:timeline_note": "party",
    "party:contact_create": "party",
    "party:address_create": "party",
    "party:bank_account_create": "party",
    "party:contact_edit": "contact",
    "party:contact_archive": "contact",
    "party:address_edit": "address",
    "party:address_archive": "address",
    "party:bank_account_edit": "bank_account",
    "party:bank_account_archive": "bank_account",
    "party:group_detail": "customer_group",
    "party:group_edit": "customer_group",
    "party:group_archive": "customer_group",
    "party:term_detail": "payment_term",
    "party:term_edit": "payment_term",
    "party:term_archive": "payment_term",
}
# Views that only accept POST.
POST_ONLY = {
    "party:party_archive",
    "party:party_restore",
    "party:contact_archive",
    "party:address_archive",
    "party:bank_account_archive",
    "party:group_archive",
    "party:term_archive",
}


def party_records(company: Company, key: str) -> dict[str, Any]:
    """One record of each party kind in `company`, named CANARY-<key>-… for isolation probes."""
    group = services.customer_group_create(
        company=company, actor=None, code="dist", name=f"CANARY-{key}-group", max_discount_percent=8
    )
    term = services.payment_term_create(
        company=company, actor=None, name=f"CANARY-{key}-term", lines=[{"percent": 100, "days": 30}]
    )
    party = services.party_create(
        company=company,
        actor=None,
        name=f"CANARY-{key}-party",
        is_customer=True,
        is_supplier=True,
        country="CN",
        customer_group=group,
        tags=[f"CANARY-{key}-tag"],
        allow_duplicate=True,
    )
    services.timeline_add(party=party, kind="note", summary=f"CANARY-{key}-note")
    return {
        "party": party,
        "contact": services.contact_create(party=party, actor=None, name=f"CANARY-{key}-contact"),
        "address": services.address_create(
            party=party, actor=None, street=f"CANARY-{key}-street", city="上海", country="CN"
        ),
        "bank_account": services.bank_account_create(
            party=party,
            actor=None,
            bank_name=f"CANARY-{key}-bank",
            account_number="6222000011112222",
        ),
        "customer_group": group,
        "payment_term": term,
    }


# --- API ------------------------------------------------------------------------------------


def _party(company: Company, **fields: Any) -> Party:
    fields.setdefault("is_customer", True)
    return services.party_create(
        company=company, actor=None, name=f"Matrix {next(_serial)}", allow_duplicate=True, **fields
    )


def _contact(company: Company) -> int:
    return services.contact_create(party=_party(company), actor=None, name="Matrix").pk


def _address(company: Company) -> int:
    return services.address_create(
        party=_party(company), actor=None, street="Matrix 1", city="Shanghai", country="CN"
    ).pk


def _bank_account(company: Company) -> int:
    return services.bank_account_create(
        party=_party(company), actor=None, bank_name="Matrix", account_number="1"
    ).pk


def _group(company: Company) -> int:
    return services.customer_group_create(
        company=company, actor=None, code=f"g{next(_serial)}", name="Matrix", max_discount_percent=5
    ).pk


def _term(company: Company) -> int:
    return services.payment_term_create(
        company=company, actor=None, name=f"Matrix {next(_serial)}", lines=[{"percent": 100}]
    ).pk


def _sample(path_params: dict[str, Any], body: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"path_params": path_params, "body": body}


def _on_party(body: dict[str, Any] | None = None) -> Callable[[User, Company], dict[str, Any]]:
    return lambda user, company: _sample({"party_id": _party(company).pk}, body)


def _merge(user: User, company: Company) -> dict[str, Any]:
    return _sample({"party_id": _party(company).pk}, {"duplicate": _party(company).pk})


# Path parameters of the party operations (the anonymous probe fills them with 1).
PATH_PARAMETERS = ("party_id", "contact_id", "address_id", "account_id", "group_id", "term_id")

# (method, path) -> (user, company) -> keyword arguments of the API matrix's `Sample`.
PARTY_SAMPLES: dict[tuple[str, str], Callable[[User, Company], dict[str, Any]]] = {
    ("GET", "/parties"): lambda u, c: _sample({}),
    ("POST", "/parties"): lambda u, c: _sample(
        {}, {"name": f"Matrix {next(_serial)}", "is_customer": True, "allow_duplicate": True}
    ),
    ("GET", "/parties/duplicates"): lambda u, c: _sample({}),
    ("GET", "/parties/{party_id}"): _on_party(),
    ("PATCH", "/parties/{party_id}"): _on_party({"notes": "x"}),
    ("PUT", "/parties/{party_id}/credit-terms"): _on_party(
        {"credit_limit": "1000", "payment_term": None}
    ),
    ("POST", "/parties/{party_id}/archive"): _on_party(),
    ("POST", "/parties/{party_id}/restore"): _on_party(),
    ("POST", "/parties/{party_id}/merge"): _merge,
    ("GET", "/parties/{party_id}/timeline"): _on_party(),
    ("POST", "/parties/{party_id}/timeline"): _on_party({"summary": "Matrix note"}),
    ("GET", "/parties/{party_id}/contacts"): _on_party(),
    ("POST", "/parties/{party_id}/contacts"): _on_party({"name": "Matrix"}),
    ("GET", "/contacts/{contact_id}"): lambda u, c: _sample({"contact_id": _contact(c)}),
    ("PATCH", "/contacts/{contact_id}"): lambda u, c: _sample(
        {"contact_id": _contact(c)}, {"role": "x"}
    ),
    ("POST", "/contacts/{contact_id}/archive"): lambda u, c: _sample({"contact_id": _contact(c)}),
    ("GET", "/parties/{party_id}/addresses"): _on_party(),
    ("POST", "/parties/{party_id}/addresses"): _on_party(
        {"street": "Matrix 2", "city": "Shanghai", "country": "CN"}
    ),
    ("GET", "/addresses/{address_id}"): lambda u, c: _sample({"address_id": _address(c)}),
    ("PATCH", "/addresses/{address_id}"): lambda u, c: _sample(
        {"address_id": _address(c)}, {"postal_code": "200000"}
    ),
    ("POST", "/addresses/{address_id}/archive"): lambda u, c: _sample({"address_id": _address(c)}),
    ("GET", "/parties/{party_id}/bank-accounts"): _on_party(),
    ("POST", "/parties/{party_id}/bank-accounts"): _on_party(
        {"bank_name": "Matrix", "account_number": "2"}
    ),
    ("GET", "/bank-accounts/{account_id}"): lambda u, c: _sample({"account_id": _bank_account(c)}),
    ("PATCH", "/bank-accounts/{account_id}"): lambda u, c: _sample(
        {"account_id": _bank_account(c)}, {"holder": "x"}
    ),
    ("POST", "/bank-accounts/{account_id}/archive"): lambda u, c: _sample(
        {"account_id": _bank_account(c)}
    ),
    ("GET", "/customer-groups"): lambda u, c: _sample({}),
    ("POST", "/customer-groups"): lambda u, c: _sample(
        {}, {"code": f"m{next(_serial)}", "name": "Matrix", "max_discount_percent": "5"}
    ),
    ("GET", "/customer-groups/{group_id}"): lambda u, c: _sample({"group_id": _group(c)}),
    ("PATCH", "/customer-groups/{group_id}"): lambda u, c: _sample(
        {"group_id": _group(c)}, {"name": "x"}
    ),
    ("POST", "/customer-groups/{group_id}/archive"): lambda u, c: _sample({"group_id": _group(c)}),
    ("GET", "/payment-terms"): lambda u, c: _sample({}),
    ("POST", "/payment-terms"): lambda u, c: _sample(
        {}, {"name": f"Matrix {next(_serial)}", "lines": [{"percent": "100", "days": 30}]}
    ),
    ("GET", "/payment-terms/{term_id}"): lambda u, c: _sample({"term_id": _term(c)}),
    ("PATCH", "/payment-terms/{term_id}"): lambda u, c: _sample(
        {"term_id": _term(c)}, {"active": False}
    ),
    ("POST", "/payment-terms/{term_id}/archive"): lambda u, c: _sample({"term_id": _term(c)}),
    ("GET", "/payment-terms/{term_id}/schedule"): lambda u, c: _sample({"term_id": _term(c)}),
    ("GET", "/countries"): lambda u, c: _sample({}),
    ("GET", "/regions"): lambda u, c: _sample({}),
}
