"""A plain, per-item and per-bucket MRP with the same rules as `engine` (see its docstring and
docs/mrp-csv.md), written for clarity, not speed. The tests compare the two.

Firm planned production (``inp.firm``) is supply in its bucket and explodes at its release,
its components' requirements pegged to it; ``no_plan_before`` / ``firm_until`` block new
orders bucket by bucket, a shortfall left there is reported once per item as "expedite".

`reference_plan(inp)` returns a dict:

* ``orders``: list of dicts (item, due, seq, release, qty, past_due, phantom), sorted by
  low-level code, item (input order), due date, seq; ``release`` is the release date before moving it to the start;
* ``pegging``: {(item, due, seq): {(kind, item, date, reference): qty}};
* ``exceptions``: list of tuples (item, kind, date, suggested_date, qty, reference, order key).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np

from .engine import BUCKET_DAYS, EOQ, EPS, FOQ, LFL, MINMAX, POQ, PlanError, PlanInput


def _d(day: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(day))


def _ceil_mult(x: float, m: float) -> float:
    return math.ceil(x / m - EPS) * m if m > 0 else x


def reference_plan(inp: PlanInput) -> dict[str, Any]:
    it = inp.items
    n = len(it)
    codes = [str(c) for c in it.code]
    index = {c: i for i, c in enumerate(codes)}
    T = int(inp.horizon)
    blen = BUCKET_DAYS[inp.bucket]
    start = (
        inp.start
        if isinstance(inp.start, dt.date)
        else _d(int(np.datetime64(inp.start, "D").astype(int)))
    )
    nonworking = {_d(int(np.datetime64(d, "D").astype(np.int64))) for d in inp.non_working_days}
    due_date = [start + dt.timedelta(days=blen * b) for b in range(T)]

    phantom = [bool(p) for p in it.phantom]
    make = [m == "make" for m in it.make_or_buy]
    params = []
    for i in range(n):
        p = {
            "rule": int(it.lot_rule[i]),
            "lot": float(it.lot_qty[i]),
            "mult": float(it.multiple[i]),
            "min": float(it.min_qty[i]),
            "max": float(it.max_qty[i]),
            "ss": float(it.safety_stock[i]),
            "lead": int(it.lead_time_days[i]),
            "oh": float(it.on_hand[i]),
        }
        if phantom[i]:
            p.update(rule=LFL, lot=0.0, mult=0.0, min=0.0, max=0.0, ss=0.0, lead=0)
        params.append(p)

    # BOM: children per parent with summed effective quantity; low-level codes
    children: dict[int, dict[int, float]] = {i: {} for i in range(n)}
    parents: dict[int, set[int]] = {i: set() for i in range(n)}
    for p, c, q, s in zip(
        inp.bom.parent, inp.bom.component, inp.bom.qty_per, inp.bom.scrap_pct, strict=True
    ):
        pi, ci = index[str(p)], index[str(c)]
        parents[ci].add(pi)
        if make[pi] or phantom[pi]:
            children[pi][ci] = children[pi].get(ci, 0.0) + float(q) * (1 + float(s) / 100)
    llc: dict[int, int] = {}

    def level(i: int, path: tuple[int, ...]) -> int:
        if i in path:
            raise PlanError("bom_cycle", "BOM cycle", items=tuple(codes[j] for j in path))
        if i not in llc:
            llc[i] = max((level(p, (*path, i)) + 1 for p in parents[i]), default=0)
        return llc[i]

    for i in range(n):
        level(i, ())

    def bucket(day: dt.date) -> int:
        return max(0, (day - start).days // blen)

    def release(due: dt.date, lead: int) -> dt.date:
        if not nonworking:
            return due - dt.timedelta(days=lead)
        day, counted = due, 0
        while counted < lead:
            day -= dt.timedelta(days=1)
            if day not in nonworking:
                counted += 1
        return day

    gross = [[0.0] * T for _ in range(n)]
    receipts = [[0.0] * T for _ in range(n)]
    # requirement elements: (bucket, kind, k1, k2, k3, qty, source)
    reqs: list[list[tuple]] = [[] for _ in range(n)]
    sups: list[list[tuple]] = [[] for _ in range(n)]
    for row in range(len(inp.demands)):
        i = index[str(inp.demands.item[row])]
        day = _d(inp.demands.date[row])
        qty = float(inp.demands.qty[row])
        b = bucket(day)
        if b < T:
            gross[i][b] += qty
            if qty > 0:
                src = ("demand", codes[i], day, str(inp.demands.reference[row]))
                reqs[i].append((b, 0, row, 0, 0, qty, src))
    for row in range(len(inp.receipts)):
        i = index[str(inp.receipts.item[row])]
        day = _d(inp.receipts.date[row])
        qty = float(inp.receipts.qty[row])
        b = bucket(day)
        if b < T:
            receipts[i][b] += qty
            if qty > 0:
                sups[i].append((b, 0, row, qty, None))
    # firm planned production: supply in its bucket, exploded at its release
    firm = inp.firm
    firm_count = [[0] * T for _ in range(n)]
    for row in range(len(firm) if firm is not None else 0):
        i = index[str(firm.item[row])]
        day = _d(firm.date[row])
        qty = float(firm.qty[row])
        b = bucket(day)
        if b >= T:
            continue
        receipts[i][b] += qty
        firm_count[i][b] += 1
        if qty <= 0:
            continue
        sups[i].append((b, 0, len(inp.receipts) + row, qty, None))
        rb = bucket(release(due_date[b], params[i]["lead"]))
        for c, eff in children[i].items():
            gross[c][rb] += qty * eff
            src = ("firm", codes[i], day, str(firm.reference[row]))
            reqs[c].append((rb, 1, row, 0, 0, qty * eff, src))
    no_plan_before = [0] * n if inp.no_plan_before is None else list(inp.no_plan_before)
    firm_until = [0] * n if inp.firm_until is None else list(inp.firm_until)

    def blocked(i: int, t: int) -> bool:
        return t < no_plan_before[i] or (t < firm_until[i] and firm_count[i][t] > 0)

    shortfall: dict[int, dict[int, float]] = {}

    orders: list[dict[str, Any]] = []
    pegging: dict[tuple, dict[tuple, float]] = {}
    order_qty: dict[tuple, float] = {}
    for i in sorted(range(n), key=lambda k: (llc[k], k)):
        p = params[i]
        pab = p["oh"]
        planned = [0.0] * T
        for t in range(T):
            avail = pab + receipts[i][t] - gross[i][t]
            nr = p["ss"] - avail
            need = nr > EPS * max(1.0, abs(p["ss"]))
            if p["rule"] == MINMAX and avail < p["min"] - EPS:
                need = True
            if blocked(i, t):
                if avail < -EPS:
                    shortfall.setdefault(i, {})[t] = -avail
                need = False
            if need:
                if p["rule"] == FOQ:
                    q = _ceil_mult(nr, p["lot"])
                elif p["rule"] == EOQ:
                    q = max(nr, p["lot"])
                elif p["rule"] == POQ:
                    periods = max(int(math.floor(p["lot"] + EPS)), 1)
                    cover = avail
                    for u in range(t + 1, min(t + periods, T)):
                        cover += receipts[i][u] - gross[i][u]
                    q = max(nr, p["ss"] - cover)
                elif p["rule"] == MINMAX:
                    q = max(nr, p["max"] - avail)
                else:
                    q = nr
                if p["rule"] != MINMAX:
                    q = max(q, p["min"])
                q = _ceil_mult(q, p["mult"])
                if q > EPS:
                    planned[t] = q
                    avail += q
            pab = avail
        # planned orders, split above the maximum lot
        for t in range(T):
            q = planned[t]
            if q <= 0:
                continue
            maxe = p["max"]
            if p["mult"] > 0:
                maxe = math.floor(p["max"] / p["mult"] + EPS) * p["mult"]
                if maxe <= 0 and p["max"] > 0:
                    maxe = p["mult"]
            pieces = [q]
            if maxe > 0 and p["rule"] != MINMAX and q > maxe * (1 + EPS):
                count = math.ceil(q / maxe - EPS)
                pieces = [maxe] * (count - 1) + [q - (count - 1) * maxe]
            for seq, pq in enumerate(pieces):
                rel = release(due_date[t], p["lead"])
                key = (codes[i], due_date[t], seq)
                orders.append(
                    {
                        "index": i,
                        "item": codes[i],
                        "due": due_date[t],
                        "seq": seq,
                        "release": rel,
                        "qty": pq,
                        "past_due": rel < start,
                        "phantom": phantom[i],
                    }
                )
                order_qty[key] = pq
                sups[i].append((t, 1, seq, pq, key))
                rb = bucket(rel)
                for c, eff in children[i].items():
                    gross[c][rb] += pq * eff
                    reqs[c].append((rb, 2, i, t, seq, pq * eff, ("order", key)))
        # FIFO pegging: requirements and supplies by date
        if p["ss"] > 0:
            reqs[i].append((T, 2, 0, 0, 0, p["ss"], ("safety_stock", codes[i], None, "")))
        supply = [(-1, 0, 0, p["oh"], None)] if p["oh"] > 0 else []
        supply += sorted(sups[i], key=lambda s: s[:3])
        demand = sorted(reqs[i], key=lambda r: r[:5])
        k, left_s = 0, supply[0][3] if supply else 0.0
        for r in demand:
            left_r = r[5]
            while left_r > EPS and k < len(supply):
                take = min(left_r, left_s)
                key = supply[k][4]
                if key is not None and take > 0:
                    peg = pegging.setdefault(key, {})
                    src = r[6]
                    if src[0] == "order":
                        for col, v in pegging.get(src[1], {}).items():
                            peg[col] = peg.get(col, 0.0) + take * v / order_qty[src[1]]
                    else:
                        peg[src] = peg.get(src, 0.0) + take
                left_r -= take
                left_s -= take
                if left_s <= EPS * max(1.0, left_s):
                    k += 1
                    left_s = supply[k][3] if k < len(supply) else 0.0
        while k < len(supply):
            key = supply[k][4]
            if key is not None and left_s > EPS:
                col = ("lot_size", codes[i], None, "")
                pegging.setdefault(key, {})[col] = pegging.get(key, {}).get(col, 0.0) + left_s
            k += 1
            left_s = supply[k][3] if k < len(supply) else 0.0

    # exceptions
    exceptions = []
    rows = sorted(
        (r for r in range(len(inp.receipts)) if float(inp.receipts.qty[r]) > 0),
        key=lambda r: (index[str(inp.receipts.item[r])], bucket(_d(inp.receipts.date[r])), r),
    )
    supplied: dict[int, float] = {}
    for r in rows:
        i = index[str(inp.receipts.item[r])]
        day = _d(inp.receipts.date[r])
        qty = float(inp.receipts.qty[r])
        ref = str(inp.receipts.reference[r])
        if day < start:
            exceptions.append((codes[i], "past_due", day, start, qty, ref, None))
        b = bucket(day)
        if b >= T:
            continue
        before = supplied.get(i, params[i]["oh"])
        supplied[i] = before + qty
        cum, need = params[i]["ss"], None
        for t in range(T):
            cum += gross[i][t]
            if cum > before + EPS * max(1.0, abs(before)):
                need = t
                break
        if need is None:
            exceptions.append((codes[i], "cancel", day, None, qty, ref, None))
        elif need < b:
            exceptions.append((codes[i], "expedite", day, due_date[need], qty, ref, None))
        elif need > b:
            exceptions.append((codes[i], "defer", day, due_date[need], qty, ref, None))
    for o in orders:
        if o["past_due"] and not o["phantom"]:
            key = (o["item"], o["due"], o["seq"])
            exceptions.append((o["item"], "past_due", o["release"], start, o["qty"], "", key))
    for i in range(n):
        p = params[i]
        if p["ss"] <= 0 or phantom[i]:
            continue
        proj, first, worst, can = p["oh"], None, 0.0, None
        for t in range(T):
            proj += receipts[i][t] - gross[i][t]
            late = release(due_date[t], p["lead"]) < start
            if late and proj < p["ss"] - EPS * max(1.0, p["ss"]):
                first = t if first is None else first
                worst = max(worst, p["ss"] - proj)
            if not late and can is None:
                can = due_date[t]
        if first is not None:
            exceptions.append(
                (codes[i], "below_safety_stock", due_date[first], can, worst, "", None)
            )
    for i, shorts in shortfall.items():
        first = min(shorts)
        free = [t for t in range(first, T) if not blocked(i, t)]
        suggested = due_date[free[0]] if free else None
        exceptions.append(
            (codes[i], "expedite", due_date[first], suggested, max(shorts.values()), "", None)
        )
    orders.sort(key=lambda o: (llc[o["index"]], o["index"], o["due"], o["seq"]))
    return {"orders": orders, "pegging": pegging, "exceptions": exceptions, "llc": llc}
