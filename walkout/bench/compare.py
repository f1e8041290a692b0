"""Two runs of the same recordings, compared with a paired bootstrap over recordings: how sure is a
difference?

Sets of 8 recordings differ a lot by luck (six held-out sets of 8 stores, one configuration: 0.38 to
0.68 of receipts right), so a setting that gains 0.05 on one set can lose it on the next. The paired
bootstrap draws the recordings with replacement many times; each draw pools both runs over the same
recordings the way the bench pools (counts summed, never ratios averaged) and takes the difference.
The spread of those differences is how much of it luck could make.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from walkout.bench.config import BenchConfig
from walkout.bench.report import LOWER_IS_BETTER, BenchReport
from walkout.bench.score import RecordingResult

# Metrics that need the tracking scores (slow to pool); the others are pooled without them.
TRACKING_PREFIXES = ("hota", "mota", "idf1", "visible_", "global_", "floor_")
# Lower is better for these (the bench's LOWER_IS_BETTER, and the share of shoppers split across receipts).
LOWER = frozenset(LOWER_IS_BETTER) | {"fused_split_receipts"}
DEFAULT_METRICS = ("fused_attributed_f1", "fused_receipt_accuracy", "fused_unsplit_receipt_accuracy",
                   "fused_split_receipts", "review_rate", "unreviewed_accuracy")


@dataclass(frozen=True)
class Difference:
    """One metric of runs ``a`` and ``b`` pooled over the same recordings, and the paired bootstrap's
    interval of ``b - a`` (``low``, ``high``: the central ``level`` share of the draws); ``b_better``:
    the share of draws in which ``b`` is better (higher, or lower for :data:`LOWER` metrics)."""

    metric: str
    a: float
    b: float
    low: float
    high: float
    b_better: float
    recordings: int

    @property
    def difference(self) -> float:
        return self.b - self.a


def _light(result: RecordingResult) -> RecordingResult:
    """The result without its tracking scores (pooling them is most of the time of a draw)."""
    return replace(result, tracking={}, visible_tracking={}, global_tracking=None, global_visible_tracking=None,
                   floor_tracking=None)


def paired_bootstrap(
    a: Sequence[RecordingResult], b: Sequence[RecordingResult], metrics: Sequence[str] = DEFAULT_METRICS,
    config: BenchConfig | None = None, samples: int = 1000, level: float = 0.9, seed: int = 0,
) -> list[Difference]:
    """Compare two runs' results of the same recordings (paired by name; recordings only one of them
    scored are left out). ValueError when they share no scored recording. A metric either run did not
    measure is left out."""
    config = config or BenchConfig()
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    by_name = {r.name: r for r in b if r.ok}
    pairs = [(r, by_name[r.name]) for r in a if r.ok and r.name in by_name]
    if not pairs:
        raise ValueError("the two runs share no scored recording")
    if not any(m.startswith(TRACKING_PREFIXES) for m in metrics):
        pairs = [(_light(x), _light(y)) for x, y in pairs]
    left, right = [x for x, _ in pairs], [y for _, y in pairs]
    whole_a, whole_b = BenchReport(left, config).metrics(), BenchReport(right, config).metrics()
    names = [m for m in metrics if m in whole_a and m in whole_b]
    rng = np.random.default_rng(seed)
    draws = np.full((samples, len(names)), np.nan)
    for k in range(samples):
        pick = rng.integers(0, len(pairs), len(pairs))
        got_a = BenchReport([left[i] for i in pick], config).metrics()
        got_b = BenchReport([right[i] for i in pick], config).metrics()
        draws[k] = [got_b.get(m, math.nan) - got_a.get(m, math.nan) for m in names]
    tail = (1 - level) / 2
    out = []
    for j, name in enumerate(names):
        values = draws[:, j][~np.isnan(draws[:, j])]
        better = values < 0 if name in LOWER else values > 0
        low, high = (np.quantile(values, [tail, 1 - tail]) if len(values) else (math.nan, math.nan))
        out.append(Difference(name, whole_a[name], whole_b[name], float(low), float(high),
                              float(better.mean()) if len(values) else math.nan, len(pairs)))
    return out


def difference_table(differences: Sequence[Difference], a: str, b: str, level: float = 0.9) -> list[str]:
    """Markdown lines: metric, both runs, the difference, its interval and how often b was better."""
    lines = [f"| metric | {a} | {b} | {b} - {a} | {level:.0%} interval | {b} better in |", "|---|---|---|---|---|---|"]
    for d in differences:
        lines.append(f"| {d.metric} | {d.a:.3f} | {d.b:.3f} | {d.difference:+.3f} | {d.low:+.3f} to {d.high:+.3f} "
                     f"| {d.b_better:.0%} of draws |")
    return lines
