"""Scenario: a sales rep (not an administrator) takes on a new customer through the screens —
creates it, is warned about a duplicate, adds a contact and a shipping address, notes a call —
and the accountant sets its credit terms; the rep follows it all on the customer's timeline."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from xietong.party import services
from xietong.party.models import Party, Region
from xietong.party.tests.conftest import make_party, valid_uscc

pytestmark = pytest.mark.django_db


def test_sales_rep_takes_on_a_customer(company_a, users_a, client_for):
    make_party(company_a, "杭州悦动体育用品有限公司", phone="0571-8765 4321")
    rep_user = users_a["sales_rep"]
    rep = client_for(rep_user)

    # The rep finds the customer list in the CRM menu and opens the form from there.
    home = rep.get(reverse("web:home"), follow=True).content.decode()
    assert reverse("party:customer_list") in home
    listing = rep.get(reverse("party:customer_list")).content.decode()
    new_url = reverse("party:party_create") + "?role=customer"
    assert new_url in listing.replace("&amp;", "&")

    # First attempt: same phone as an existing customer → warned, nothing saved.
    form = {
        "name": "杭州悦动运动科技有限公司",
        "kind": "organisation",
        "is_customer": "on",
        "country": "CN",
        "tax_id": valid_uscc(region="330100"),
        "phone": "+86 571 8765 4321",
        "email": "buy@yuedong.example",
        "language": "zh-hans",
        "currency": "CNY",
        "salesperson": rep_user.pk,
        "tags": "电商, 华东",
    }
    warned = rep.post(new_url, form)
    assert warned.status_code == 400 and "same phone" in warned.content.decode()
    assert Party.unscoped.filter(company=company_a).count() == 1
    # It is a different company that shares a switchboard: create it anyway.
    created = rep.post(new_url, {**form, "allow_duplicate": "on"})
    assert created.status_code == 302
    party = Party.unscoped.get(company=company_a, name="杭州悦动运动科技有限公司")
    assert created["Location"] == reverse("party:party_detail", args=[party.pk])
    assert party.salesperson == rep_user and party.normalized_phone == "57187654321"

    response = rep.post(
        reverse("party:contact_create", args=[party.pk]),
        {
            "name": "陈静",
            "role": "采购经理",
            "mobile": "13900139000",
            "wechat": "chenjing_yd",
            "preferred_channel": "wechat",
            "language": "zh-hans",
        },
    )
    assert response.status_code == 302
    zhejiang = Region.objects.get(code="CN-ZJ")
    options = rep.get(reverse("party:region_options") + "?country=CN").content.decode()
    assert "Zhejiang Sheng" in options
    response = rep.post(
        reverse("party:address_create", args=[party.pk]) + "?kind=shipping",
        {
            "kind": "shipping",
            "street": "余杭区文一西路 998 号 仓库 3",
            "city": "杭州",
            "postal_code": "311121",
            "country": "CN",
            "region": zhejiang.pk,
        },
    )
    assert response.status_code == 302
    rep.post(
        reverse("party:timeline_note", args=[party.pk]), {"summary": "电话：想要 50 台 E-City"}
    )

    # Credit terms are not the rep's to set.
    assert rep.get(reverse("party:party_credit", args=[party.pk])).status_code == 403
    accountant = client_for(users_a["accountant"])
    term = services.payment_term_create(
        company=company_a, actor=None, name="Net 30", lines=[{"percent": 100, "days": 30}]
    )
    response = accountant.post(
        reverse("party:party_credit", args=[party.pk]),
        {"credit_limit": "80000", "payment_term": term.pk},
    )
    assert response.status_code == 302

    # The rep sees everything on the customer page: contact, address, terms, timeline, history.
    page = rep.get(reverse("party:party_detail", args=[party.pk]) + "?tab=timeline")
    html = page.content.decode()
    assert "陈静" in html and "余杭区文一西路" in html and "浙江省" not in html  # English UI
    assert 'id="credit-limit">80,000.00 CNY' in html
    entries = re.findall(r'data-kind="([^"]+)"', html)
    assert entries == ["party.credit", "note", "party.created"]
    assert "电话：想要 50 台 E-City" in html
    assert rep_user.username in html or rep_user.get_full_name() in html
    history = html.split('id="history-table"')[1]
    assert "credit limit" in history.lower() and users_a["accountant"].username in history
    timeline = rep.get(
        reverse("party:party_timeline", args=[party.pk]) + "?kind=party.credit",
        headers={"HX-Request": "true"},
    ).content.decode()
    assert "80,000.00 CNY" in timeline and "Net 30" in timeline
