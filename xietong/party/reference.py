"""Countries and regions (ISO 3166 via pycountry), synced after every migrate.

Reference data shared by every company: all ISO 3166-1 countries with their Chinese names (from
pycountry's zh_CN catalogue) and the ISO 3166-2 subdivisions of the countries our customers and
suppliers mostly sit in, with their parent hierarchy. Rows that exist are never overwritten, so
an administrator's corrections survive the next migrate.
"""

from __future__ import annotations

import gettext
from functools import cache

import pycountry
from django.db import transaction

from xietong.party.models import Country, Region

# Countries whose subdivisions (provinces, states, Länder, …) are loaded as regions.
REGION_COUNTRIES = ("CN", "HK", "TW", "US", "DE")


@cache
def _catalogue(domain: str) -> gettext.NullTranslations:
    return gettext.translation(domain, pycountry.LOCALES_DIR, languages=["zh_CN"], fallback=True)


def _chinese(domain: str, name: str) -> str:
    """The zh_CN name of an ISO 3166 entry, or "" when the catalogue has none."""
    translated = _catalogue(domain).gettext(name)
    return translated if translated != name else ""


def countries_sync() -> None:
    """Create the countries and regions that are missing (idempotent, two queries when nothing
    is missing). Regions are created parents first, so `parent` always points to a saved row."""
    with transaction.atomic():
        existing = set(Country.objects.values_list("code", flat=True))
        missing = [c for c in pycountry.countries if c.alpha_2 not in existing]
        if missing:
            Country.objects.bulk_create(
                [
                    Country(
                        code=c.alpha_2,
                        name=getattr(c, "common_name", None) or c.name,
                        name_zh=_chinese("iso3166-1", c.name),
                    )
                    for c in missing
                ]
            )
        have = {
            (country, code): pk
            for pk, country, code in Region.objects.filter(
                country_id__in=REGION_COUNTRIES
            ).values_list("pk", "country_id", "code")
        }
        pending = [
            s
            for country in REGION_COUNTRIES
            for s in pycountry.subdivisions.get(country_code=country) or []
            if (country, s.code) not in have
        ]
        # Parents before children: each pass creates the subdivisions whose parent exists.
        while pending:
            ready = [
                s for s in pending if not s.parent_code or (s.country_code, s.parent_code) in have
            ]
            if not ready:  # a parent outside the data set: attach to the country instead
                ready = pending
            created = Region.objects.bulk_create(
                [
                    Region(
                        country_id=s.country_code,
                        code=s.code,
                        name=s.name,
                        name_zh=_chinese("iso3166-2", s.name),
                        parent_id=have.get((s.country_code, s.parent_code or "")),
                    )
                    for s in ready
                ]
            )
            if any(r.pk is None for r in created):  # backends that return no ids
                have.update(
                    {
                        (country, code): pk
                        for pk, country, code in Region.objects.filter(
                            country_id__in=REGION_COUNTRIES
                        ).values_list("pk", "country_id", "code")
                    }
                )
            else:
                have.update({(r.country_id, r.code): r.pk for r in created})
            done = {s.code for s in ready}
            pending = [s for s in pending if s.code not in done]
