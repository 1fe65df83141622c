"""How purchasing reacts to the layers below: the outcome of the purchase order approval process
(workflow events, after commit) and done receipt moves of its order lines (inside the moves'
transaction, through `inventory.stock.on_moves_done`)."""

from __future__ import annotations

from xietong.workflow.events import InstanceEnded


def instance_ended(event: InstanceEnded) -> None:
    from xietong.purchase import orders

    if event.object_id is None:
        return
    if event.record == "purchase.purchaseorder" and event.process_key == "purchase_order_approval":
        approved = event.data.get("outcome") == "approved" and event.status == "completed"
        orders.approval_decided(order_id=event.object_id, approved=approved,
                                comment=str(event.data.get("comment") or ""))  # fmt: skip


def register() -> None:
    """Subscribe to the workflow and stock hooks (called from `PurchaseConfig.ready()`)."""
    from xietong.core import events
    from xietong.inventory import stock
    from xietong.purchase import receiving

    events.subscribe(InstanceEnded, instance_ended)
    stock.on_moves_done(receiving.moves_done)
