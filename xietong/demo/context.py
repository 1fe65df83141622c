from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

SIZES = {
    # size: (extra staff per company, days of exchange-rate history)
    "small": (6, 180),
    "medium": (40, 730),
    "large": (200, 1825),
}
DEMO_PASSWORD = "xietong-demo-2026"


@dataclass
class DemoContext:
    seed: int
    size: str
    rng: random.Random = field(init=False)
    companies: dict[str, Any] = field(default_factory=dict)
    users: dict[str, Any] = field(default_factory=dict)  # role code -> user of the main company
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.size not in SIZES:
            raise ValueError(f"size must be one of {', '.join(SIZES)}")
        self.rng = random.Random(self.seed)

    @property
    def extra_staff(self) -> int:
        return SIZES[self.size][0]

    @property
    def rate_days(self) -> int:
        return SIZES[self.size][1]
