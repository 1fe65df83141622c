"""How purchasing reacts to the layers below: the outcome of the purchase order approval process
(workflow events, after commit) and done receipt moves of its order lines (inside the moves'
transaction, through `inventory.stock.on_moves_done`)."""

from __future__ import annotations

from typing import Any

from xietong.workflow.events import InstanceEnded


def instance_ended(event: InstanceEnded) -> None:
    from xietong.purchase import orders

    if event.object_id is None:
        return
    if event.record == "purchase.purchaseorder" and event.process_key == "purchase_order_approval":
        approved = event.data.get("outcome") == "approved" and event.status == "completed"
        orders.approval_decided(order_id=event.object_id, approved=approved,
                                comment=str(event.data.get("comment") or ""))  # fmt: skip


def scorecard_panel(request: Any, party: Any) -> dict[str, Any] | None:
    """The supplier's scorecard on the party page (None for a party that is not a supplier)."""
    from django.urls import reverse

    from xietong.purchase.scorecard import scorecard

    if not party.is_supplier:
        return None
    return {
        "card": scorecard(company=request.company, supplier=party),
        "orders_url": f"{reverse('purchase:order_list')}?party={party.pk}",
    }


def register() -> None:
    """Subscribe to the workflow and stock hooks and add the scorecard to the supplier's page
    (called from `PurchaseConfig.ready()`)."""
    from django.utils.translation import gettext_lazy as _

    from xietong.core import events
    from xietong.inventory import stock
    from xietong.party.panels import Panel, panel_register
    from xietong.purchase import receiving

    events.subscribe(InstanceEnded, instance_ended)
    stock.on_moves_done(receiving.moves_done)
    panel_register(Panel(key="supplier_scorecard", label=_("Supplier scorecard"),
                         template="purchase/_scorecard_panel.html", permission="purchase.view",
                         data=scorecard_panel, order=10))  # fmt: skip
