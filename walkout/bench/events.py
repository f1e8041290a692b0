"""Event scoring: one-to-one optimal matching of predicted to truth pick/return events.

Matching rule. A predicted event may match a truth event only if ``action`` and ``sku`` agree and
``|t_pred - t_truth| <= tolerance_s`` (inclusive). Among the allowed pairs, the Hungarian algorithm
(``scipy.optimize.linear_sum_assignment``) picks the assignment that, in strict priority,
1. matches as many events as possible,
2. among those, has as many pairs with the right shopper as possible (predicted shopper mapped to
   a truth id, see :mod:`walkout.bench.tracking`),
3. among those, has the smallest total time difference.
The priorities are made strict by cost tiers: a forbidden pair costs more than any full set of
allowed pairs, and a wrong-shopper pair costs more than any total of time differences.

Quantity. Events are matched as events, whatever their quantity; a matched pair whose quantities
differ is a separate listed error (``quantity`` in the confusion list, counted in
``quantity_mismatches``). Quantities count fully in the receipt (cart) scores, which are over units.

Counts. Product level (shopper ignored): matched / false_pos (extra predictions) / missed (truth
events not found). Attributed: a matched pair counts as matched only with the right shopper;
a wrong-shopper pair counts as one false positive and one miss.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from walkout.bench.config import BenchConfig
from walkout.bench.counts import Counts

log = logging.getLogger(__name__)

# Locates a moment for the confusion list: (timestamp Unix s, camera or "") -> (camera, frame, video_s).
Locator = Callable[[float, str], tuple[str, int | None, float | None]]


@dataclass(frozen=True)
class EventMatch:
    """Index pairs into the truth / predicted tables (row positions, not labels)."""

    pairs: np.ndarray  # (K, 2) int: truth row, predicted row
    missed: np.ndarray  # (M,) truth rows without a match
    extra: np.ndarray  # (E,) predicted rows without a match


@dataclass(frozen=True)
class EventScore:
    """Counts of one recording (or a sum of recordings)."""

    product: Counts = Counts()
    attributed: Counts = Counts()
    quantity_mismatches: int = 0

    def __add__(self, other: EventScore) -> EventScore:
        return EventScore(
            self.product + other.product,
            self.attributed + other.attributed,
            self.quantity_mismatches + other.quantity_mismatches,
        )

    def to_dict(self) -> dict:
        return {
            "product": self.product.to_dict(),
            "attributed": self.attributed.to_dict(),
            "quantity_mismatches": self.quantity_mismatches,
        }


def _match_group(
    truth_t: np.ndarray, pred_t: np.ndarray, same_shopper: np.ndarray, config: BenchConfig
) -> np.ndarray:
    """Optimal pairs within one (action, sku) group. truth_t (N,), pred_t (M,) Unix s;
    same_shopper (N, M) bool. Returns (K, 2) positions into the group."""
    limit_s = config.tolerance_s + config.time_epsilon_s
    dt = np.abs(truth_t[:, None] - pred_t[None, :])
    allowed = dt <= limit_s
    if not allowed.any():
        return np.empty((0, 2), dtype=int)
    k = min(dt.shape)
    wrong_shopper_cost = (k + 1) * limit_s + 1.0
    forbidden_cost = (k + 1) * (wrong_shopper_cost + limit_s) + 1.0
    cost = np.where(allowed, dt + wrong_shopper_cost * ~same_shopper, forbidden_cost)
    rows, cols = linear_sum_assignment(cost)
    keep = allowed[rows, cols]
    return np.stack([rows[keep], cols[keep]], axis=1)


def match_events(truth: pd.DataFrame, predicted: pd.DataFrame, config: BenchConfig) -> EventMatch:
    """Match predicted to truth events (module docstring has the rule).

    truth, predicted: tables from ``formats.tables.read_events``; ``predicted`` may carry a
    ``mapped_shopper`` column (predicted shopper as a truth id, "" if unknown); without it the raw
    ``shopper`` is compared.
    """
    truth = truth.reset_index(drop=True)
    predicted = predicted.reset_index(drop=True)
    pred_shopper = predicted["mapped_shopper"] if "mapped_shopper" in predicted else predicted["shopper"]
    pairs: list[np.ndarray] = []
    truth_groups = truth.groupby(["action", "sku"], sort=False).indices
    pred_groups = predicted.groupby(["action", "sku"], sort=False).indices
    for key, t_rows in truth_groups.items():
        p_rows = pred_groups.get(key)
        if p_rows is None:
            continue
        same = truth["shopper"].to_numpy()[t_rows][:, None] == pred_shopper.to_numpy()[p_rows][None, :]
        local = _match_group(
            truth["timestamp"].to_numpy(float)[t_rows],
            predicted["timestamp"].to_numpy(float)[p_rows],
            same,
            config,
        )
        pairs.append(np.stack([t_rows[local[:, 0]], p_rows[local[:, 1]]], axis=1))
    matched = np.concatenate(pairs) if pairs else np.empty((0, 2), dtype=int)
    matched = matched[np.argsort(matched[:, 0], kind="stable")]
    return EventMatch(
        pairs=matched,
        missed=np.setdiff1d(np.arange(len(truth)), matched[:, 0]),
        extra=np.setdiff1d(np.arange(len(predicted)), matched[:, 1]),
    )


def right_shopper(truth: pd.DataFrame, predicted: pd.DataFrame, match: EventMatch) -> np.ndarray:
    """(K,) bool, one per matched pair: the predicted shopper (``mapped_shopper`` when there is one)
    is the truth event's shopper."""
    pred_shopper = predicted["mapped_shopper"] if "mapped_shopper" in predicted else predicted["shopper"]
    return truth["shopper"].to_numpy()[match.pairs[:, 0]] == pred_shopper.to_numpy()[match.pairs[:, 1]]


def score_events(truth: pd.DataFrame, predicted: pd.DataFrame, match: EventMatch) -> EventScore:
    """Counts from a match (see module docstring)."""
    t, p = match.pairs[:, 0], match.pairs[:, 1]
    right = right_shopper(truth, predicted, match)
    qty_wrong = truth["quantity"].to_numpy()[t] != predicted["quantity"].to_numpy()[p]
    n_pairs, n_right = len(t), int(right.sum())
    return EventScore(
        product=Counts(n_pairs, len(match.extra), len(match.missed)),
        attributed=Counts(
            n_right, len(match.extra) + n_pairs - n_right, len(match.missed) + n_pairs - n_right
        ),
        quantity_mismatches=int(qty_wrong.sum()),
    )


def confusion(truth: pd.DataFrame, predicted: pd.DataFrame, match: EventMatch, locate: Locator) -> list[dict]:
    """Every error as a row a user can jump to, sorted by time.

    ``kind``: ``missed`` (truth event not predicted), ``extra`` (prediction matching no truth),
    ``misattributed`` (matched, wrong shopper), ``quantity`` (matched, quantities differ; a pair
    can be both misattributed and quantity). Each row has ``timestamp`` (Unix s), ``camera``,
    ``frame`` (0-based, None if the frame rate is unknown) and ``video_s`` (seconds from that
    camera's start), taken from the prediction when there is one.
    """
    pred_shopper = predicted["mapped_shopper"] if "mapped_shopper" in predicted else predicted["shopper"]
    rows: list[dict] = []

    def row(kind: str, t: int | None, p: int | None) -> dict:
        source = predicted.iloc[p] if p is not None else truth.iloc[t]
        camera = str(source.get("camera", "") or "") if p is not None else ""
        frame_in_file = int(source["frame"]) if p is not None and int(source["frame"]) >= 0 else None
        camera, frame, video_s = locate(float(source["timestamp"]), camera)
        return {
            "kind": kind,
            "timestamp": float(source["timestamp"]),
            "action": str(source["action"]),
            "sku": str(source["sku"]),
            "truth_shopper": None if t is None else str(truth["shopper"].iloc[t]),
            "pred_shopper": None if p is None else str(predicted["shopper"].iloc[p]),
            "pred_shopper_as_truth": None if p is None else str(pred_shopper.iloc[p]),
            "truth_quantity": None if t is None else int(truth["quantity"].iloc[t]),
            "pred_quantity": None if p is None else int(predicted["quantity"].iloc[p]),
            "dt_s": None
            if t is None or p is None
            else float(predicted["timestamp"].iloc[p] - truth["timestamp"].iloc[t]),
            "camera": camera,
            "frame": frame_in_file if frame_in_file is not None else frame,
            "video_s": video_s,
        }

    for t in match.missed:
        rows.append(row("missed", int(t), None))
    for p in match.extra:
        rows.append(row("extra", None, int(p)))
    for t, p in match.pairs:
        if str(truth["shopper"].iloc[t]) != str(pred_shopper.iloc[p]):
            rows.append(row("misattributed", int(t), int(p)))
        if int(truth["quantity"].iloc[t]) != int(predicted["quantity"].iloc[p]):
            rows.append(row("quantity", int(t), int(p)))
    rows.sort(key=lambda r: (r["timestamp"], r["kind"]))
    return rows


def one_weight_change_causes(rows: list[dict], tolerance_s: float) -> list[dict]:
    """Confusion rows (:func:`confusion`, with ``cause``) with the causes of quantity errors that come in
    pairs around one change of one product:

    - ``shared``: a truth event missed, and at most ``tolerance_s`` from it another shopper's event of
      the same product and action matched with more units than they moved: several shoppers' units
      went to one of them (one weight change, several hands);
    - ``divided``: a predicted line matching no truth event, and at most ``tolerance_s`` from it a truth
      event of the same product and action matched with fewer units than it moved, of another shopper:
      one shopper's units were divided among several.

    Both rows of a pair get the cause; rows that already have one keep it."""
    quantity = [r for r in rows if r["kind"] == "quantity"]
    for row in rows:
        if row["kind"] not in ("missed", "extra") or row.get("cause"):
            continue
        for q in quantity:
            if (q["sku"], q["action"]) != (row["sku"], row["action"]) or abs(q["timestamp"] - row["timestamp"]) > tolerance_s:
                continue
            if row["kind"] == "missed" and q["pred_quantity"] > q["truth_quantity"] \
                    and q["truth_shopper"] != row["truth_shopper"]:
                row["cause"] = q["cause"] = "shared"
                break
            if row["kind"] == "extra" and q["pred_quantity"] < q["truth_quantity"] \
                    and q["truth_shopper"] != row["pred_shopper_as_truth"]:
                row["cause"] = q["cause"] = "divided"
                break
    return rows

