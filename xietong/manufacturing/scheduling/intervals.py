"""The CP-SAT variables of one operation on its work center's calendar, shared by the full
model (`cpsat`) and the neighbourhood models (`lns`)."""

from __future__ import annotations

from ortools.sat.python import cp_model

from .model import Problem


def operation_vars(
    model: cp_model.CpModel, problem: Problem, i: int, lower: int, upper: int,
    hint_start: int, hint_end: int,
) -> tuple[cp_model.IntVar, cp_model.LinearExprT, cp_model.IntervalVar, dict, list]:  # fmt: skip
    """Operation `i`'s start (admissible starts in [lower, upper] only), end and interval on
    its work center's calendar (see the module's docstring), hinted at (hint_start,
    hint_end); also the start groups by break time and their ranges."""
    cal = problem.calendars[problem.op_center[i]]
    d = problem.op_duration[i]
    groups = cal.start_segments(d, lower, upper)
    ranges = sorted(r for rs in groups.values() for r in rs)
    start = model.new_int_var_from_domain(
        cp_model.Domain.from_intervals([list(r) for r in ranges]), f"s{i}"
    )
    model.add_hint(start, hint_start)
    hint_extra = hint_end - hint_start - d
    if len(groups) == 1:
        (extra,) = groups
        end: cp_model.LinearExprT = start + d + extra
        return (
            start,
            end,
            model.new_fixed_size_interval_var(start, d + extra, f"i{i}"),
            groups,
            ranges,
        )
    sizes = sorted(d + x for x in groups)
    size = model.new_int_var_from_domain(cp_model.Domain.from_values(sizes), f"d{i}")
    end = model.new_int_var(ranges[0][0] + sizes[0], ranges[-1][1] + sizes[-1], f"e{i}")
    choice = []
    for extra, rs in groups.items():
        b = model.new_bool_var(f"b{i}_{extra}")
        model.add_linear_expression_in_domain(
            start, cp_model.Domain.from_intervals([list(r) for r in rs])
        ).only_enforce_if(b)
        model.add_hint(b, extra == hint_extra)
        choice.append((b, extra))
    model.add_exactly_one(b for b, _ in choice)
    model.add(size == d + sum(extra * b for b, extra in choice))
    model.add_hint(size, d + hint_extra)
    model.add_hint(end, hint_end)
    return start, end, model.new_interval_var(start, size, end, f"i{i}"), groups, ranges
