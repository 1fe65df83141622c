"""Market-basket analysis: frequent itemsets by FP-growth and the association rules between them
(support, confidence, lift), and cross-sell recommendations for a customer from the rules whose
antecedent they already buy.

FP-growth is Christian Borgelt's C implementation (PyPI `pyfim`, MIT licence): 100,000 baskets over
1,000 items at 0.5 % minimum support take a fraction of a second, where a pure-Python apriori takes
minutes. Items are any hashable values (product ids here)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import fim


class BasketError(ValueError):
    """Bad parameters of a basket analysis."""


@dataclass(frozen=True)
class Rule:
    """`antecedent` → `consequent`: both in `support` (share of all baskets), the consequent in
    `confidence` of the baskets with the antecedent, `lift` times as often as on average."""

    antecedent: tuple[Hashable, ...]
    consequent: Hashable
    support: float
    confidence: float
    lift: float


def _ordered(items: Iterable[Hashable]) -> tuple[Hashable, ...]:
    try:
        return tuple(sorted(items))  # type: ignore[type-var]
    except TypeError:  # items of mixed types
        return tuple(sorted(items, key=repr))


def _check(baskets: Sequence[Iterable[Hashable]], min_support: float) -> list[list[Hashable]]:
    if not 0 < min_support <= 1:
        raise BasketError("the minimum support is a share of the baskets, above 0 and at most 1")
    return [list(set(basket)) for basket in baskets]


def frequent_itemsets(
    baskets: Sequence[Iterable[Hashable]], *, min_support: float, max_size: int = 4
) -> list[tuple[tuple[Hashable, ...], float]]:
    """The itemsets in at least `min_support` of the baskets (up to `max_size` items), with
    their support, the most frequent first."""
    data = _check(baskets, min_support)
    if not data:
        return []
    found = fim.fpgrowth(data, target="s", supp=100.0 * min_support, zmin=1, zmax=max_size,
                         report="s")  # fmt: skip
    return sorted(((_ordered(items), support) for items, support in found),
                  key=lambda row: (-row[1], len(row[0]), repr(row[0])))  # fmt: skip


def association_rules(
    baskets: Sequence[Iterable[Hashable]],
    *,
    min_support: float,
    min_confidence: float = 0.1,
    min_lift: float = 1.0,
    max_size: int = 4,
) -> list[Rule]:
    """The rules X → y with X ∪ {y} frequent (`min_support`), of at least `min_confidence` and
    `min_lift`, the strongest (lift, then confidence) first."""
    data = _check(baskets, min_support)
    if not 0 <= min_confidence <= 1:
        raise BasketError("the minimum confidence is a share, between 0 and 1")
    if not data:
        return []
    # mode "o": a rule's support is that of antecedent and consequent together
    found = fim.fpgrowth(data, target="r", supp=100.0 * min_support,
                         conf=100.0 * min_confidence, zmin=2, zmax=max_size, report="scl",
                         mode="o")  # fmt: skip
    rules = [
        Rule(_ordered(antecedent), consequent, support, confidence, lift)
        for consequent, antecedent, support, confidence, lift in found
        if lift >= min_lift
    ]
    rules.sort(key=lambda r: (-r.lift, -r.confidence, repr(r.antecedent), repr(r.consequent)))
    return rules


def recommendations(
    rules: Iterable[Rule], bought: Iterable[Hashable], *, limit: int = 5
) -> list[tuple[Hashable, Rule]]:
    """What to offer a customer who buys `bought`: the consequents, not bought yet, of the rules
    whose whole antecedent they buy, each with its strongest rule (lift, then confidence)."""
    owned = set(bought)
    best: dict[Hashable, Rule] = {}
    for rule in rules:
        if rule.consequent in owned or not owned.issuperset(rule.antecedent):
            continue
        kept = best.get(rule.consequent)
        if kept is None or (rule.lift, rule.confidence) > (kept.lift, kept.confidence):
            best[rule.consequent] = rule
    ranked = sorted(best.items(), key=lambda kv: (-kv[1].lift, -kv[1].confidence, repr(kv[0])))
    return ranked[:limit]
