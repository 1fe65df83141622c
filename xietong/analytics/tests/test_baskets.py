"""Market-basket analysis (xietong.analytics.baskets): FP-growth's itemsets and rules equal a
brute-force count on random baskets, by hand on a small set, and recommendations skip what the
customer already buys."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import pytest

from xietong.analytics import baskets

SMALL = [
    {"bike", "helmet", "lock"},
    {"bike", "helmet"},
    {"bike", "lock"},
    {"helmet"},
    {"bike", "helmet", "light"},
]


def test_rules_by_hand() -> None:
    """bike in 4 of 5 baskets, helmet in 4, both in 3: support 0.6, confidence 3/4, lift
    0.75 / 0.8 = 0.9375."""
    rules = baskets.association_rules(SMALL, min_support=0.4, min_confidence=0.5, min_lift=0)
    found = {(r.antecedent, r.consequent): r for r in rules}
    rule = found[(("bike",), "helmet")]
    assert rule.support == pytest.approx(0.6)
    assert rule.confidence == pytest.approx(0.75)
    assert rule.lift == pytest.approx(0.9375)
    assert (("lock",), "bike") in found  # 2 of 5 baskets, lock → bike always
    assert found[(("lock",), "bike")].confidence == pytest.approx(1.0)
    assert found[(("lock",), "bike")].lift == pytest.approx(1.25)
    assert all(r.support >= 0.4 for r in rules)
    # a lift floor keeps only the positive associations: bike and lock (2 of 5 together,
    # lock → bike confidence 1, bike → lock 2/4 = 0.5 against lock's 2/5: lift 1.25 both ways)
    strong = baskets.association_rules(SMALL, min_support=0.4, min_confidence=0.5, min_lift=1.01)
    assert {(r.antecedent, r.consequent) for r in strong} == {
        (("lock",), "bike"),
        (("bike",), "lock"),
    }


def _brute_force(data: list[set[int]], min_support: float, max_size: int) -> dict:  # type: ignore[type-arg]
    counts: Counter[tuple[int, ...]] = Counter()
    for basket in data:
        for size in range(1, max_size + 1):
            counts.update(itertools.combinations(sorted(basket), size))
    n = len(data)
    return {k: c / n for k, c in counts.items() if c / n >= min_support - 1e-12}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_itemsets_equal_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    items = list(range(12))
    data = [set(rng.sample(items, rng.randint(1, 5))) for _ in range(300)]
    for basket in data:  # a planted association
        if 3 in basket and rng.random() < 0.7:
            basket.add(7)
    expected = _brute_force(data, 0.05, 3)
    found = dict(baskets.frequent_itemsets(data, min_support=0.05, max_size=3))
    assert set(found) == set(expected)
    for key, support in expected.items():
        assert found[key] == pytest.approx(support)
    # every rule's figures follow from the supports
    for rule in baskets.association_rules(data, min_support=0.05, min_confidence=0.2,
                                          min_lift=0, max_size=3):  # fmt: skip
        whole = tuple(sorted((*rule.antecedent, rule.consequent)))
        assert rule.support == pytest.approx(expected[whole])
        assert rule.confidence == pytest.approx(expected[whole] / expected[rule.antecedent])
        assert rule.lift == pytest.approx(rule.confidence / expected[(rule.consequent,)])
        assert rule.confidence >= 0.2


def test_recommendations_skip_what_is_bought() -> None:
    rules = baskets.association_rules(SMALL, min_support=0.2, min_confidence=0.3, min_lift=0)
    offers = baskets.recommendations(rules, ["lock"], limit=3)
    assert offers and offers[0][0] == "bike"
    assert all(item != "lock" for item, _ in offers)
    assert all(set(rule.antecedent) <= {"lock"} for _, rule in offers)
    assert baskets.recommendations(rules, ["bike", "helmet", "lock", "light"]) == []


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(baskets.BasketError):
        baskets.frequent_itemsets(SMALL, min_support=0)
    with pytest.raises(baskets.BasketError):
        baskets.association_rules(SMALL, min_support=0.1, min_confidence=1.5)
    assert baskets.frequent_itemsets([], min_support=0.1) == []
