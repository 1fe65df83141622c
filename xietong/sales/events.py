"""Events the sales module publishes on core's bus (handlers run after the commit), so that the
layers above (crm) react to sales without sales knowing them."""

from __future__ import annotations

from dataclasses import dataclass

from xietong.core.events import Event


@dataclass(frozen=True, kw_only=True)
class OrderConfirmed(Event):
    """Sales order `order_id` of customer `party_id` was confirmed (by `actor_id`, None for the
    system: a credit override's approval); `quotation_id` is the quotation it was accepted
    from, if any."""

    order_id: int
    party_id: int
    quotation_id: int | None
    actor_id: int | None


def publish(event: Event) -> None:
    """Publish a sales event on core's bus (after the current transaction commits)."""
    from xietong.core import events

    events.publish(event)
