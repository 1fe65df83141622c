"""How sales reacts to the layers below: the outcome of its approval processes (workflow
events, after commit) and done stock moves of its order lines (inside the moves' transaction,
through `inventory.stock.on_moves_done`)."""

from __future__ import annotations

from xietong.inventory.models import Move
from xietong.workflow.events import InstanceEnded


def instance_ended(event: InstanceEnded) -> None:
    from xietong.sales import documents

    if event.object_id is None:
        return
    approved = event.data.get("outcome") == "approved" and event.status == "completed"
    comment = str(event.data.get("comment") or "")
    if event.record == "sales.quotation" and event.process_key == "quotation_approval":
        documents.approval_decided(quotation_id=event.object_id, approved=approved,
                                   comment=comment)  # fmt: skip
    elif event.record == "sales.salesorder" and event.process_key == "credit_override":
        documents.credit_decided(order_id=event.object_id, approved=approved, comment=comment)


def moves_done(moves: list[Move]) -> None:
    from xietong.sales import documents

    ids = sorted(
        {m.source_id for m in moves if m.source_type == documents.LINE_SOURCE and m.source_id}
    )
    if ids:
        documents.delivered_refresh(order_line_ids=ids)
