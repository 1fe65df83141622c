"""Countries and regions from pycountry, synced after migrate."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from xietong.party.models import Country, Region
from xietong.party.reference import countries_sync

pytestmark = pytest.mark.django_db


def test_countries_with_chinese_names():
    assert Country.objects.count() >= 249
    china = Country.objects.get(code="CN")
    assert (china.name, china.name_zh) == ("China", "中国")
    assert Country.objects.get(code="DE").name_zh == "德国"
    assert Country.objects.get(code="TW").name == "Taiwan"


def test_regions_of_the_main_countries():
    assert Region.objects.get(code="CN-GD").name_zh == "广东省"
    assert Region.objects.filter(country="US").count() >= 50
    assert Region.objects.filter(country="DE").count() == 16
    assert Region.objects.filter(country="TW").exists()


def test_sync_is_idempotent_keeps_edits_and_fills_gaps():
    Country.objects.filter(code="CN").update(name="China (PRC)")
    Region.objects.filter(code="DE-BE").delete()
    countries_sync()
    assert Country.objects.get(code="CN").name == "China (PRC)"
    assert Region.objects.filter(code="DE-BE").count() == 1
    with CaptureQueriesContext(connection) as queries:
        countries_sync()
    assert len([q for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]) <= 3
