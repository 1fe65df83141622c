"""Events the party module publishes on core's bus (handlers run after the commit)."""

from __future__ import annotations

from dataclasses import dataclass

from xietong.core.events import Event


@dataclass(frozen=True, kw_only=True)
class PartyMerged(Event):
    """`duplicate_id` was merged into `survivor_id`: every reference now points to the survivor
    and the duplicate is inactive. Caches keyed by party should drop the duplicate."""

    survivor_id: int
    duplicate_id: int
