"""Counts first, ratios derived: the one metric record every part of the benchmark sums.

Empty sets (documented convention, the "vacuous truth" one):
- precision with no predictions (matched + false_pos == 0) is 1.0: nothing was claimed wrongly;
- recall with no truth (matched + missed == 0) is 1.0: nothing was there to miss;
- F1 = 2 * matched / (2 * matched + false_pos + missed), and 1.0 when both sets are empty.
So "no truth, some predictions" gives precision 0, recall 1, F1 0; "some truth, no predictions"
gives precision 1, recall 0, F1 0; "both empty" gives 1, 1, 1.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Counts:
    """Matched / false-positive / missed counts (events or item units). Add to aggregate."""

    matched: int = 0
    false_pos: int = 0
    missed: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.matched + other.matched, self.false_pos + other.false_pos, self.missed + other.missed
        )

    @property
    def predicted(self) -> int:
        return self.matched + self.false_pos

    @property
    def truth(self) -> int:
        return self.matched + self.missed

    @property
    def precision(self) -> float:
        return self.matched / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.truth if self.truth else 1.0

    @property
    def f1(self) -> float:
        denominator = 2 * self.matched + self.false_pos + self.missed
        return 2 * self.matched / denominator if denominator else 1.0

    @property
    def exact(self) -> bool:
        """True when nothing is extra and nothing is missed (e.g. a cart equal to the truth cart)."""
        return self.false_pos == 0 and self.missed == 0

    def to_dict(self) -> dict[str, float | int]:
        return {**asdict(self), "precision": self.precision, "recall": self.recall, "f1": self.f1}
