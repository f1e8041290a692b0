"""Is a receipt line's probability honest, and what does sending lines to review buy?

Scored lines: the counted receipt lines of the fused timeline (:func:`walkout.bench.receipts.receipt_events`:
lines with a product) that carry a ``probability``. A line is *correct* when the event matching of
:mod:`walkout.bench.events` pairs it with a truth event (same action and product, within the time
tolerance) of the right shopper (the line's shopper mapped to a truth id); quantity is not part of
it (the probability is about who made the change). Unmatched lines are wrong.

- Reliability: 10 equal-width probability bins, [0, 0.1), [0.1, 0.2), ..., [0.9, 1.0]: lines, mean
  predicted probability (confidence) and observed accuracy per bin. Expected calibration error
  ECE = sum over bins of (lines in bin / lines) * |accuracy - confidence|.
- Review curve: for a review threshold, the share of lines that would go to review (probability
  below it) and the accuracy of the others; and the same two numbers for the lines fusion itself
  marked ``review``.
- A fixed review budget: the accuracy of the lines left when the ``REVIEW_BUDGET`` share (5 %) of the lines
  with the lowest probability goes to review (ties in the lines' order), whatever fusion's own threshold.

Figures are pooled over lines (of every recording), never averaged over recordings. Undefined
figures (no lines, or no line left unreviewed) are NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from walkout.bench.events import EventMatch, right_shopper

N_BINS = 10
REVIEW_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
REVIEW_BUDGET = 0.05  # the share of lines a store reviews in the fixed-budget figure


@dataclass(frozen=True)
class LineOutcome:
    """One scored receipt line: the model's probability, whether the line was right, and whether
    fusion sent it to review."""

    probability: float
    correct: bool
    review: bool


@dataclass(frozen=True)
class ReliabilityBin:
    """Lines with ``low <= probability < high`` (the last bin includes 1.0); NaN means when empty."""

    low: float
    high: float
    lines: int
    confidence: float
    accuracy: float


@dataclass(frozen=True)
class ReviewPoint:
    """Lines below ``threshold`` go to review: their share, and the accuracy of the rest."""

    threshold: float
    review_rate: float
    unreviewed_accuracy: float


@dataclass(frozen=True)
class Calibration:
    """Pooled calibration and review figures (module docstring)."""

    lines: int
    bins: tuple[ReliabilityBin, ...]
    ece: float
    curve: tuple[ReviewPoint, ...]
    review_rate: float
    unreviewed_accuracy: float
    budget_accuracy: float = math.nan  # the REVIEW_BUDGET least probable lines reviewed: accuracy of the rest

    def to_dict(self) -> dict:
        """JSON-safe (NaN as None)."""

        def clean(value):
            return None if isinstance(value, float) and math.isnan(value) else value

        def row(record) -> dict:
            return {key: clean(value) for key, value in vars(record).items()}

        return {
            "lines": self.lines,
            "ece": clean(self.ece),
            "review_rate": clean(self.review_rate),
            "unreviewed_accuracy": clean(self.unreviewed_accuracy),
            "budget_accuracy": clean(self.budget_accuracy),
            "bins": [row(b) for b in self.bins],
            "curve": [row(p) for p in self.curve],
        }


def right_lines(truth: pd.DataFrame, fused: pd.DataFrame, match: EventMatch) -> np.ndarray:
    """(len(fused),) bool: each fused line (``fused`` from ``receipt_events``, with ``mapped_shopper``) is
    right when ``match`` pairs it with a truth event of the right shopper."""
    correct = np.zeros(len(fused), dtype=bool)
    correct[match.pairs[:, 1]] = right_shopper(truth, fused, match)
    return correct


def line_outcomes(truth: pd.DataFrame, fused: pd.DataFrame, match: EventMatch) -> list[LineOutcome]:
    """The fused lines with a probability, each right or not (:func:`right_lines`)."""
    correct = right_lines(truth, fused, match)
    probability = fused["probability"].to_numpy(float)
    review = (fused["status"] == "review").to_numpy(bool)
    keep = ~np.isnan(probability)
    return [LineOutcome(float(p), bool(c), bool(r))
            for p, c, r in zip(probability[keep], correct[keep], review[keep], strict=True)]


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else math.nan


def reliability(probability: np.ndarray, correct: np.ndarray, n_bins: int = N_BINS) -> tuple[ReliabilityBin, ...]:
    """Equal-width bins over [0, 1]: lines, mean probability, observed accuracy."""
    which = np.minimum((probability * n_bins).astype(int), n_bins - 1)
    return tuple(
        ReliabilityBin(k / n_bins, (k + 1) / n_bins, int((which == k).sum()),
                       _mean(probability[which == k]), _mean(correct[which == k].astype(float)))
        for k in range(n_bins)
    )


def expected_calibration_error(bins: Sequence[ReliabilityBin]) -> float:
    """sum over bins of (n_bin / N) * |accuracy - confidence|; NaN without lines."""
    total = sum(b.lines for b in bins)
    if not total:
        return math.nan
    return float(sum(b.lines / total * abs(b.accuracy - b.confidence) for b in bins if b.lines))


def review_point(review: np.ndarray, correct: np.ndarray, threshold: float = math.nan) -> ReviewPoint:
    """Share of lines in review and accuracy of the others."""
    return ReviewPoint(threshold, _mean(review.astype(float)), _mean(correct[~review].astype(float)))


def review_curve(probability: np.ndarray, correct: np.ndarray,
                 thresholds: Sequence[float] = REVIEW_THRESHOLDS) -> tuple[ReviewPoint, ...]:
    """One :class:`ReviewPoint` per threshold: lines with probability < threshold go to review."""
    return tuple(review_point(probability < t, correct, t) for t in thresholds)


def calibrate(outcomes: Sequence[LineOutcome]) -> Calibration | None:
    """Pool ``outcomes`` (all recordings' lines) into the figures; None when there are none."""
    if not outcomes:
        return None
    probability = np.array([o.probability for o in outcomes], dtype=float)
    correct = np.array([o.correct for o in outcomes], dtype=bool)
    review = np.array([o.review for o in outcomes], dtype=bool)
    bins = reliability(probability, correct)
    actual = review_point(review, correct)
    return Calibration(len(outcomes), bins, expected_calibration_error(bins), review_curve(probability, correct),
                       actual.review_rate, actual.unreviewed_accuracy, budget_accuracy(probability, correct))


def budget_accuracy(probability: np.ndarray, correct: np.ndarray, budget: float = REVIEW_BUDGET) -> float:
    """Accuracy of the lines left when ``budget`` of them (rounded down), those with the lowest probability
    (ties: the earlier lines first), go to review; NaN without lines."""
    if not len(probability):
        return math.nan
    reviewed = np.zeros(len(probability), dtype=bool)
    reviewed[np.argsort(probability, kind="stable")[:int(budget * len(probability))]] = True
    return _mean(np.asarray(correct, dtype=float)[~reviewed])
