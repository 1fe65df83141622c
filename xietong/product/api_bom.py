from ninja import Router

router = Router(tags=["BOMs and routings"])
