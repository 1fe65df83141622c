"""Merging duplicates moves every reference (FKs of any app, M2M tags, the timeline and its
generic sources), fills empty fields, deactivates the duplicate and leaves an audit record."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.exceptions import ValidationError
from django.db import connections

from xietong.core import events
from xietong.core.models import AuditEntry
from xietong.party import services
from xietong.party.events import PartyMerged
from xietong.party.models import Address, BankAccount, Contact, Party, TimelineEntry
from xietong.party.selectors import party_references, references_count
from xietong.party.tests.conftest import make_party

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(company_a):  # type: ignore[no-untyped-def]
    survivor = make_party(company_a, "Velo Sport GmbH", country="DE", tags=["EU", "VIP"])
    duplicate = make_party(
        company_a,
        "VELO SPORT",
        email="info@velo.example",
        phone="+49 30 123456",
        is_supplier=True,
        tags=["VIP", "Bikes"],
        notes="met at Eurobike",
    )
    for party, name in ((survivor, "Anna"), (duplicate, "Bernd")):
        services.contact_create(party=party, actor=None, name=name)
        services.address_create(
            party=party, actor=None, street=f"{name}str. 1", city="Berlin", country="DE"
        )
    services.bank_account_create(
        party=duplicate, actor=None, bank_name="Sparkasse", account_number="123"
    )
    services.timeline_add(party=duplicate, kind="note", summary="Called about the catalogue")
    # A record elsewhere whose generic source is the duplicate (as a later module's would be).
    services.timeline_add(
        party=survivor, kind="note", summary="Mentions the duplicate", source=duplicate
    )
    return survivor, duplicate


def test_merge_moves_everything_and_fills_gaps(pair, admin_a, django_capture_on_commit_callbacks):
    survivor, duplicate = pair
    older = make_party(survivor.company, "Velo Sport (old)")
    services.party_merge(survivor=duplicate, duplicate=older, actor=admin_a)  # merged earlier
    received = []
    events.subscribe(PartyMerged, received.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            result = services.party_merge(survivor=survivor, duplicate=duplicate, actor=admin_a)
    finally:
        events.unsubscribe(PartyMerged, received.append)

    assert result.pk == survivor.pk
    survivor.refresh_from_db()
    duplicate.refresh_from_db()
    assert (duplicate.active, duplicate.merged_into) == (False, survivor)
    assert Party.unscoped.get(pk=older.pk).merged_into == survivor  # the chain follows
    assert sorted(Contact.unscoped.filter(party=survivor).values_list("name", flat=True)) == [
        "Anna",
        "Bernd",
    ]
    assert Contact.unscoped.filter(party=survivor, is_primary=True).count() == 1
    assert Address.unscoped.filter(party=survivor).count() == 2
    assert Address.unscoped.filter(party=survivor, is_default=True).count() == 1
    assert BankAccount.unscoped.filter(party=survivor).count() == 1
    assert sorted(t.name for t in survivor.tags.all()) == ["Bikes", "EU", "VIP"]
    assert not Contact.unscoped.filter(party=duplicate).exists()
    assert not TimelineEntry.unscoped.filter(party=duplicate).exists()
    summaries = set(TimelineEntry.unscoped.filter(party=survivor).values_list("summary", flat=True))
    assert "Called about the catalogue" in summaries
    moved_source = TimelineEntry.unscoped.get(summary="Mentions the duplicate")
    assert moved_source.source == survivor  # generic reference moved too
    merged = TimelineEntry.unscoped.filter(party=survivor, kind="party.merged").latest("pk")
    assert merged.source == duplicate and merged.actor == admin_a
    # Empty fields filled from the duplicate, roles combined, own values kept.
    assert (survivor.email, survivor.notes, survivor.country_id) == (
        "info@velo.example",
        "met at Eurobike",
        "DE",
    )
    assert survivor.normalized_phone == "4930123456"
    assert survivor.is_customer and survivor.is_supplier
    assert survivor.name == "Velo Sport GmbH"
    # The audit trail names the merge on both records.
    dup_entries = AuditEntry.objects.get_for_object(duplicate).filter(actor=admin_a)
    assert any("merged_into" in (e.changes_dict or {}) for e in dup_entries)
    survivor_entries = AuditEntry.objects.get_for_object(survivor).filter(actor=admin_a)
    assert any(duplicate.code in str(e.changes_dict) for e in survivor_entries)
    assert any("tags" in (e.changes_dict or {}) for e in survivor_entries)
    assert received == [
        PartyMerged(
            company_id=survivor.company_id, survivor_id=survivor.pk, duplicate_id=duplicate.pk
        )
    ]
    assert references_count(party=duplicate) == [("timeline entries", 1)]  # the merge note


def test_references_are_found_generically():
    found = {(ref.model._meta.label, ref.field, ref.kind) for ref in party_references()}
    assert ("party.Contact", "party", "fk") in found
    assert ("party.TimelineEntry", "party", "fk") in found
    assert ("party.TimelineEntry", "source_id", "generic") in found
    assert ("party.Party", "merged_into", "fk") in found  # hidden reverse relation
    assert not any(label == "core.AuditEntry" for label, _f, _k in found)
    assert not any(label == "party.Party_tags" for label, _f, _k in found)  # own data


def test_merge_refusals_change_nothing(company_a, company_b):
    party = make_party(company_a, "A")
    foreign = make_party(company_b, "A")
    for survivor, duplicate, field in ((party, party, "duplicate"), (party, foreign, "duplicate")):
        with pytest.raises(ValidationError) as excinfo:
            services.party_merge(survivor=survivor, duplicate=duplicate, actor=None)
        assert field in excinfo.value.message_dict
    other = make_party(company_a, "B")
    services.party_merge(survivor=party, duplicate=other, actor=None)
    other.refresh_from_db()
    for survivor, duplicate, field in (
        (party, other, "duplicate"),
        (other, make_party(company_a), "survivor"),
    ):
        with pytest.raises(ValidationError) as excinfo:
            services.party_merge(survivor=survivor, duplicate=duplicate, actor=None)
        assert field in excinfo.value.message_dict
    assert Party.unscoped.get(pk=foreign.pk).active


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_merges_of_one_duplicate_on_postgresql(company_a):
    """Two users merge the same duplicate into different survivors at once: the row locks
    let exactly one win; the other gets a field error and changes nothing."""
    duplicate = make_party(company_a, "Dup")
    services.contact_create(party=duplicate, actor=None, name="Moved once")
    survivors = [make_party(company_a, f"Survivor {i}") for i in range(2)]
    barrier = threading.Barrier(2)

    def merge(survivor: Party) -> str:
        try:
            barrier.wait(timeout=10)
            services.party_merge(
                survivor=Party.unscoped.get(pk=survivor.pk),
                duplicate=Party.unscoped.get(pk=duplicate.pk),
                actor=None,
            )
            return "merged"
        except ValidationError:
            return "refused"
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = sorted(pool.map(merge, survivors))
    assert results == ["merged", "refused"]
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id in {s.pk for s in survivors}
    assert Contact.unscoped.get(name="Moved once").party_id == duplicate.merged_into_id
