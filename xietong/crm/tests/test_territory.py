"""Territory assignment: the most specific matching territory (region over country, a
sub-region over its parent) gives its covering members as candidates, the least loaded of them
wins; no match, or nobody covering it available, falls back to the whole team with the reason
said. Opportunities are placed by their customer's address. Territory settings are checked
and edited on their screens by managers only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from xietong.core.models import Membership
from xietong.core.tenancy import company_scope
from xietong.crm import services, territories
from xietong.crm.assignment import Place, assignee_choose, territory_match
from xietong.crm.models import Lead, Territory
from xietong.crm.tests import factories
from xietong.party.models import Region
from xietong.party.services import address_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def land(company_a, users_a):  # type: ignore[no-untyped-def]
    """Team "Territories" (territory strategy) of reps sh, sh2, cn and spare; territories
    "China" (country CN: cn), "Shanghai" (region CN-SH: sh, sh2) and "Pudong" (a sub-region
    of Shanghai made for the test: spare)."""
    from types import SimpleNamespace

    sh, sh2, cn, spare = (factories.staff(company_a) for _ in range(4))
    team = factories.team(company_a, "Territories", members=[sh, sh2, cn, spare],
                          assignment="territory")  # fmt: skip
    shanghai = Region.objects.get(code="CN-SH")
    pudong = Region.objects.create(country_id="CN", parent=shanghai, code="CN-SH-PD",
                                   name="Pudong")  # fmt: skip
    riverside = Region.objects.create(country_id="CN", parent=pudong, code="CN-SH-PD1",
                                      name="Riverside")  # fmt: skip
    with company_scope(company_a):
        china = territories.territory_create(company=company_a, actor=None, name="China",
                                             team=team, countries=["CN"], members=[cn])  # fmt: skip
        city = territories.territory_create(company=company_a, actor=None, name="Shanghai",
                                            team=team, regions=[shanghai], members=[sh, sh2])  # fmt: skip
        district = territories.territory_create(company=company_a, actor=None, name="Pudong",
                                                team=team, regions=[pudong.pk],
                                                members=[spare])  # fmt: skip
    return SimpleNamespace(team=team, sh=sh, sh2=sh2, cn=cn, spare=spare, china=china, city=city,
                           district=district, shanghai=shanghai, pudong=pudong,
                           riverside=riverside, guangdong=Region.objects.get(code="CN-GD"))  # fmt: skip


def _lead(company, team, **fields):  # type: ignore[no-untyped-def]
    with company_scope(company):
        return services.lead_create(company=company, actor=None, name=fields.pop("name", "Wu"),
                                    email=fields.pop("email", "wu@example.com"), team=team,
                                    assign=True, **fields)  # fmt: skip


def test_most_specific_territory_wins(company_a, land):
    assert territory_match(land.team, Place("CN", land.shanghai.pk)) == ([land.city], True)
    assert territory_match(land.team, Place(None, land.riverside.pk)) == ([land.district], True)
    assert territory_match(land.team, Place("CN", land.guangdong.pk)) == ([land.china], False)
    assert territory_match(land.team, Place("US", None)) == ([], False)
    assert territory_match(land.team, Place()) == ([], False)

    in_shanghai = _lead(company_a, land.team, region=land.shanghai)
    assert in_shanghai.owner_id in {land.sh.pk, land.sh2.pk}
    assert in_shanghai.country_id == "CN"  # the region's country
    assert _lead(company_a, land.team, region=land.riverside.pk).owner_id == land.spare.pk
    in_guangdong = _lead(company_a, land.team, country="cn", region=land.guangdong.pk)
    assert in_guangdong.owner_id == land.cn.pk
    assert in_guangdong.country_id == "CN"


def test_a_region_chain_is_read_in_one_query(land, django_assert_num_queries):
    from xietong.crm.assignment import _region_chain

    with django_assert_num_queries(1):
        country, chain = _region_chain(land.riverside.pk)
    assert (country, chain) == ("CN", [land.riverside.pk, land.pudong.pk, land.shanghai.pk])
    assert _region_chain(None) == (None, [])


def test_least_loaded_among_the_territory_members(company_a, land):
    factories.opportunity(company_a, land.team, owner=land.sh, revenue="50000")
    factories.opportunity(company_a, land.team, owner=land.sh2, revenue="20000")
    with company_scope(company_a):
        decision = assignee_choose(team=land.team, place=Place("CN", land.shanghai.pk))
    assert decision.user_id == land.sh2.pk
    assert "Shanghai" in decision.reason
    # the China territory's rep is less loaded (0) but does not cover Shanghai
    assert _lead(company_a, land.team, region=land.shanghai).owner_id == land.sh2.pk


def test_no_matching_territory_falls_back_to_the_whole_team(company_a, land):
    for rep, revenue in ((land.sh, "10"), (land.sh2, "20"), (land.cn, "30")):
        factories.opportunity(company_a, land.team, owner=rep, revenue=revenue)
    with company_scope(company_a):
        decision = assignee_choose(team=land.team, place=Place("US", None))
        nowhere = assignee_choose(team=land.team, place=None)
    assert decision.user_id == land.spare.pk  # least loaded of the whole team
    assert "no territory" in decision.reason
    assert nowhere.user_id == land.spare.pk
    lead = _lead(company_a, land.team, country="DE")
    assert lead.owner_id == land.spare.pk


def test_absent_territory_member_falls_back_with_reason(company_a, land):
    Membership.unscoped.filter(company=company_a, user=land.spare).update(
        out_of_office_until=timezone.localdate() + dt.timedelta(days=3)
    )
    factories.opportunity(company_a, land.team, owner=land.sh, revenue="5")
    with company_scope(company_a):
        decision = assignee_choose(team=land.team, place=Place("CN", land.pudong.pk))
    assert decision.user_id not in {land.spare.pk, land.sh.pk}
    assert "Pudong" in decision.reason and "available" in decision.reason


def test_opportunity_is_placed_by_its_customer_address(company_a, land):
    customer = factories.customer(company_a, "Pudong Bikes")
    with company_scope(company_a):
        address_create(party=customer, actor=None, street="张江路 88 号", city="上海",
                       country="CN", region=land.pudong)  # fmt: skip
    deal = factories.opportunity(company_a, land.team, party=customer)
    assert deal.owner_id == land.spare.pk
    assert "Pudong" in deal.assignment_reason
    # a qualified lead is placed by its party, not by its own (empty) fields
    lead = _lead(company_a, land.team, name="Qian", email="qian@example.com")
    with company_scope(company_a):
        services.lead_qualify(lead=lead, actor=None, party=customer)
        lead.refresh_from_db()
        from xietong.crm.assignment import lead_place

        assert lead_place(lead) == Place("CN", land.pudong.pk)
        # reassigning the opportunity keeps the territory
        reason = services.opportunity_assign(opportunity=deal, actor=None)
    assert "Pudong" in reason


def test_lead_place_is_checked(company_a, land):
    with pytest.raises(ValidationError) as bad:
        _lead(company_a, land.team, country="ZZ", region=999999)
    assert set(bad.value.message_dict) == {"country", "region"}
    with pytest.raises(ValidationError) as other_country:
        _lead(company_a, land.team, country="US", region=land.shanghai)
    assert "region" in other_country.value.message_dict
    assert not Lead.unscoped.filter(company=company_a).exists()


def test_territory_settings_are_checked(company_a, land, sales):
    with company_scope(company_a), pytest.raises(ValidationError) as bad:
        territories.territory_create(company=company_a, actor=None, name="China", team=land.team,
                                     members=[sales.rep])  # fmt: skip
    assert set(bad.value.message_dict) == {"name", "countries", "members"}
    with company_scope(company_a):
        territories.territory_update(territory=land.china, actor=None, name="Mainland",
                                     team=land.team, countries=["CN", "HK"],
                                     members=[land.cn, land.sh], active=False)  # fmt: skip
    land.china.refresh_from_db()
    assert land.china.name == "Mainland" and not land.china.active
    assert {c.pk for c in land.china.countries.all()} == {"CN", "HK"}
    # an inactive territory matches nothing
    assert territory_match(land.team, Place("CN", land.guangdong.pk)) == ([], False)


def test_territory_screens(company_a, company_b, land, users_a, users_b, client_for):
    manager = client_for(users_a["sales_manager"])
    page = manager.get(reverse("crm:territory_list"))
    assert page.status_code == 200
    assert "Pudong" in page.content.decode()
    assert client_for(land.sh).get(reverse("crm:territory_list")).status_code == 403
    form = manager.get(reverse("crm:territory_create"))
    assert form.status_code == 200 and "CN-SH" in form.content.decode()
    created = manager.post(reverse("crm:territory_create"), {
        "name": "Guangdong", "team": land.team.pk, "regions": [land.guangdong.pk],
        "members": [land.cn.pk], "active": "on"})  # fmt: skip
    assert created.status_code == 302
    territory = Territory.unscoped.get(company=company_a, name="Guangdong")
    assert [m.pk for m in territory.members.all()] == [land.cn.pk]
    refused = manager.post(reverse("crm:territory_edit", args=[territory.pk]), {
        "name": "Guangdong", "team": land.team.pk, "members": [land.cn.pk]})  # fmt: skip
    assert refused.status_code == 200
    assert "Name at least one country or region." in refused.content.decode()
    territory.refresh_from_db()
    assert territory.regions.count() == 1
    other = client_for(users_b["sales_manager"])
    assert other.get(reverse("crm:territory_edit", args=[territory.pk])).status_code == 404


def test_lead_form_takes_country_and_region(company_a, land, client_for):
    client = client_for(land.sh)
    response = client.post(reverse("crm:lead_create"), {
        "name": "Zhao", "email": "zhao@example.com", "source": "manual", "team": land.team.pk,
        "country": "CN", "region": land.pudong.pk})  # fmt: skip
    assert response.status_code == 302
    lead = Lead.unscoped.get(company=company_a, email="zhao@example.com")
    assert (lead.country_id, lead.region_id, lead.owner_id) == ("CN", land.pudong.pk,
                                                                land.spare.pk)  # fmt: skip


def test_a_lead_entered_through_the_api_is_placed_and_assigned(company_a, users_a, land):
    import json

    from django.test import Client

    from xietong.core.services import api_token_create

    _token, raw = api_token_create(user=users_a["sales_manager"], company=company_a, name="t")
    client = Client(headers={"Authorization": f"Bearer {raw}"})
    made = client.post("/api/v1/crm/leads", content_type="application/json", data=json.dumps(
        {"name": "Ma", "email": "ma@example.cn", "team": land.team.pk, "country": "cn",
         "region": land.riverside.pk}))  # fmt: skip
    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["country"], body["region"], body["owner"]) == ("CN", land.riverside.pk,
                                                                land.spare.pk)  # fmt: skip
    bad = client.post("/api/v1/crm/leads", content_type="application/json", data=json.dumps(
        {"name": "Ma", "email": "ma2@example.cn", "team": land.team.pk, "country": "US",
         "region": land.shanghai.pk}))  # fmt: skip
    assert bad.status_code in (400, 422) and "region" in bad.content.decode()
    assert Lead.unscoped.filter(company=company_a, name="Ma").count() == 1
