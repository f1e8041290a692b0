"""Vision events x weight events -> what was taken: receipt lines for each weight change.

Vision events are matched one-to-one to weight events of the same shelf, close in time and of the
same sign (a pick takes weight away), by an optimal assignment
(``scipy.optimize.linear_sum_assignment``) over a cost of time distance plus weight misfit; a pair
costing more than ``unmatched_cost`` is not made. A further vision event on the same shelf and time
whose product makes a matched weight event fit better joins it (two items seen as two events). Then,
weight event by weight event in time order (so the live planogram learns from returns before later
picks), :func:`fusion.identify.identify` explains the change:

- vision's products and quantities explain it -> ``confirmed`` lines;
- another product or quantity explains it -> ``corrected`` lines, with the reason;
- nothing explains it -> vision's claim kept as ``unverified``;
- no vision event -> the best explanation, ``reached`` when somebody was seen there, else
  ``unattributed`` (sku '' when nothing fits).

The lines' shoppers are vision's until :mod:`fusion.reconcile` gives every line to the shopper the
attribution model favours.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from formats.receipts import ReceiptLine
from formats.weight_events import WeightEvent
from fusion.identify import Candidate, IdentifyConfig, LivePlanogram, fits


@dataclass(frozen=True)
class ReconcileConfig:
    """Thresholds of matching vision events to weight events.

    window_s: a vision event may lie this far outside a weight event's [start, end] interval.
    confirm_fit: vision's items confirm a weight event when their fit (likelihood) is at least this.
    vision_prior: factor favouring weight candidates that contain a product vision named.
    weight_cost: weight of the misfit (1 - fit) against time distance (in windows) in the cost.
    other_shelf_cost: added when vision named another shelf than the weight event's, allowed only
        when vision's product is stocked on the weight event's shelf (a ceiling camera sees stacked
        shelves overlap: the product is a better witness of the shelf than the hand's position).
    unstocked_cost: added when a pick's product is planned on none of the changed plates nor next to
        them (such a pair is still allowed: a product returned to the wrong plate may be picked again).
    miscount_factor: in matching, a vision event's product fits a weight change at another quantity
        at this factor per item miscounted (two items in one grab often look like one).
    unmatched_cost: a vision event is left unmatched rather than paired at a higher cost than this
        (then a ``vision_only`` line, and the weight change goes to who was seen there): a pick
        seen 3 s away (cost 1), whose product does not fit the change (1) and on another shelf
        (0.5) did not cause it, though nothing closer was seen. 0: every feasible pair is matched.
    """

    window_s: float = 3.0
    confirm_fit: float = 0.05
    vision_prior: float = 3.0
    weight_cost: float = 1.0
    other_shelf_cost: float = 0.5
    unstocked_cost: float = 1.0
    miscount_factor: float = 0.7
    unmatched_cost: float = 1.5


_INFEASIBLE = 1e6


def vision_dict(row: pd.Series) -> dict:
    """One row of events.csv as the plain dict a receipt line keeps as its vision event."""
    return {
        "timestamp": float(row["timestamp"]),
        "shopper": str(row["shopper"]),
        "action": str(row["action"]),
        "sku": str(row["sku"]),
        "quantity": int(row["quantity"]),
        "shelf": str(row["shelf"]),
        "plates": str(row.get("plates", "") or ""),
        "confidence": float(row.get("confidence", 1.0)),
    }


def _time_distance_s(t: float, event: WeightEvent) -> float:
    return max(0.0, event.start - t, t - event.end)


def _sign(action: str) -> int:
    return -1 if action == "pick" else 1


def _counted_fit(
    event: WeightEvent, sku: str, quantity: int, catalog: pd.DataFrame, config: ReconcileConfig,
    id_config: IdentifyConfig,
) -> float:
    """Fit of ``sku`` to the event at vision's quantity or, discounted per item miscounted, another."""
    return max(
        fits(event, [(sku, q)], catalog, id_config) * config.miscount_factor ** abs(q - quantity)
        for q in range(1, max(quantity, id_config.max_quantity) + 1)
    )


def match_events(
    vision: list[dict], weight_events: list[WeightEvent], catalog: pd.DataFrame,
    config: ReconcileConfig, id_config: IdentifyConfig,
    stocked: set[tuple[str, str]] | None = None,
    plate_stock: dict[tuple[str, int], str] | None = None,
) -> dict[int, list[int]]:
    """Weight-event index -> indices of the vision events matched to it (optimal assignment + joins).

    stocked: (shelf, sku) pairs of the planogram; plate_stock: (shelf, plate) -> sku planned there."""
    n_v, n_w = len(vision), len(weight_events)
    matched: dict[int, list[int]] = {}
    if n_v == 0 or n_w == 0:
        return matched
    cost = np.full((n_v, n_w), _INFEASIBLE)
    for i, v in enumerate(vision):
        for j, w in enumerate(weight_events):
            same_shelf = w.shelf == v["shelf"]
            if not same_shelf and (stocked is None or (w.shelf, v["sku"]) not in stocked):
                continue
            if np.sign(w.delta_g) != _sign(v["action"]):
                continue
            distance = _time_distance_s(v["timestamp"], w)
            if distance > config.window_s:
                continue
            fit = _counted_fit(w, v["sku"], v["quantity"], catalog, config, id_config)
            unstocked = plate_stock is not None and v["action"] == "pick" and v["sku"] not in {
                plate_stock.get((w.shelf, p + k)) for p in w.plates for k in (-1, 0, 1)}
            cost[i, j] = (distance / config.window_s + config.weight_cost * (1.0 - fit)
                          + (0.0 if same_shelf else config.other_shelf_cost)
                          + (config.unstocked_cost if unstocked else 0.0))
    if config.unmatched_cost > 0:
        dummy = np.full((n_v, n_v), _INFEASIBLE)
        np.fill_diagonal(dummy, config.unmatched_cost)
        cost = np.hstack([cost, dummy])
    rows, cols = linear_sum_assignment(cost)
    used = set()
    for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
        if j < n_w and cost[i, j] < _INFEASIBLE:
            matched.setdefault(j, []).append(i)
            used.add(i)
    # Join leftover vision events to a feasible matched weight event when that improves its fit to
    # one that confirms (not from 1e-80 to 1e-10: the joint claim must fit the change).
    for i in range(n_v):
        if i in used:
            continue
        best_j, best_gain = None, 0.0
        for j in np.flatnonzero(cost[i, :n_w] < _INFEASIBLE).tolist():
            if j not in matched:
                continue
            items = [(vision[k]["sku"], vision[k]["quantity"]) for k in matched[j]]
            before = fits(weight_events[j], items, catalog, id_config)
            after = fits(weight_events[j], [*items, (vision[i]["sku"], vision[i]["quantity"])], catalog, id_config)
            if after >= config.confirm_fit and after - before > best_gain:
                best_j, best_gain = j, after - before
        if best_j is not None:
            matched[best_j].append(i)
    return matched


def product_names(catalog: pd.DataFrame) -> dict[str, str]:
    """sku -> product name."""
    return dict(zip(catalog["sku"], catalog["name"], strict=True))


def _describe_items(items: list[tuple[str, int]], names: dict[str, str], weight: dict[str, float]) -> str:
    parts = [f"{q} x {names.get(s, s)} ({s})" for s, q in items]
    total = sum(q * weight.get(s, math.nan) for s, q in items)
    return f"{' + '.join(parts)} = {total:.1f} g"


def explain_unmatched(
    event: WeightEvent, candidates: list[Candidate], action: str, names: dict[str, str], weight: dict[str, float],
) -> list[ReceiptLine]:
    """Lines of a weight event no vision event explains (``unattributed`` until somebody is given them):
    the best explanation, or one line without a product (not counted) when nothing fits."""
    verb = "taken" if action == "pick" else "put back"
    where = f"{event.delta_g:+.1f} g {verb} on {event.shelf} plates {_plate_text(event)}"
    if not candidates:
        return [ReceiptLine("unattributed", "", 1, action, event.start, event.shelf, event.plates, event.delta_g, None,
                            event.id, f"{where}; no product fits", counted=False)]
    best = candidates[0]
    reason = f"{where} fits {_describe_items(list(best.items), names, weight)} (score {best.score:.2f}); vision saw no {action}"
    return [ReceiptLine("unattributed", sku, qty, action, event.start, event.shelf, event.plates, event.delta_g, None,
                        event.id, reason) for sku, qty in best.items]


def learn_event(live: LivePlanogram, event: WeightEvent, lines: list[ReceiptLine], weight: dict[str, float]) -> None:
    """Teach the live planogram what one weight event moved: each product once, with all its items
    over the event's lines (several when the items were shared between shoppers), each item weighing
    its share of the measured change (in proportion to catalog weights when products were mixed)."""
    moved: Counter = Counter()
    for line in lines:
        if line.sku:
            moved[(line.sku, line.action)] += line.quantity
    expected = sum(quantity * weight.get(sku, 0.0) for (sku, _), quantity in moved.items())
    for (sku, action), quantity in moved.items():
        share = weight.get(sku, 0.0) / expected if expected > 0 else 1.0 / sum(moved.values())
        live.learn(event, sku, quantity, action, abs(event.delta_g) * share)


def _plate_text(event: WeightEvent) -> str:
    return ",".join(str(p) for p in event.plates)


def explain_matched(
    event: WeightEvent,
    own: list[dict],
    candidates: list[Candidate],
    action: str,
    names: dict[str, str],
    weight: dict[str, float],
    catalog: pd.DataFrame,
    config: ReconcileConfig,
    id_config: IdentifyConfig,
) -> list[ReceiptLine]:
    """Lines of a weight event that vision events were matched to: vision's items ``confirmed`` when
    the weight fits them, ``corrected`` to the explanation that fits far better, else ``unverified``."""
    claimed: dict[str, int] = {}
    for v in own:
        claimed[v["sku"]] = claimed.get(v["sku"], 0) + v["quantity"]
    claimed_items = sorted(claimed.items())
    fit = fits(event, claimed_items, catalog, id_config)
    # A pick takes what the plates hold: a product stocked on none of them (nor next to them) cannot
    # be confirmed by its weight alone (a 1 kg rice bag weighs about what a 1 L water bottle does).
    on_plates = {sku for c in candidates for sku, _ in c.items}
    stocked = action == "return" or not candidates or set(claimed) <= on_plates
    # Vision's claim is a prior (x vision_prior), not a verdict: another explanation that fits the
    # weight far better (two 48 g packs, not one 110 g box, for a 96 g change) corrects it.
    # When the claim is itself a candidate, its score (fit x prior x where the grams left) meets every
    # other explanation's, those sharing a product included: 2 waters (2080 g) claimed for -2040 g
    # lose to a water + 2 pasta packs when plate 1, stocking pasta, lost 1010 g of it.
    rival = max((c.score for c in candidates if not set(claimed) & {s for s, _ in c.items}), default=0.0)
    claim = next((c for c in candidates if c.items == tuple(claimed_items)), None)
    support = fit
    if claim is not None:
        support = claim.score
        rival = max((c.score for c in candidates if c is not claim), default=0.0)
    if fit >= config.confirm_fit and stocked and support * config.vision_prior >= rival:
        reason = f"weight {event.delta_g:+.1f} g fits {_describe_items(claimed_items, names, weight)}"
        return [
            ReceiptLine(
                "confirmed", v["sku"], v["quantity"], v["action"], event.start, event.shelf, event.plates,
                event.delta_g, v, event.id, reason, shopper=v["shopper"],
            )
            for v in own
        ]
    lead = own[0]
    if not candidates:
        reason = (
            f"weight {event.delta_g:+.1f} g fits no catalog product near {event.shelf} plates {_plate_text(event)}, "
            f"nor vision's {_describe_items(claimed_items, names, weight)}: vision's claim kept"
        )
        return [
            ReceiptLine(
                "unverified", v["sku"], v["quantity"], v["action"], event.start, event.shelf, event.plates,
                event.delta_g, v, event.id, reason, shopper=v["shopper"],
            )
            for v in own
        ]
    # Vision's products are evidence: favour explanations that contain them.
    best = max(
        candidates,
        key=lambda c: c.score * (config.vision_prior if any(s in claimed for s, _ in c.items) else 1.0),
    )
    said = _describe_items(claimed_items, names, weight)
    got = _describe_items(list(best.items), names, weight)
    if {s for s, _ in best.items} == set(claimed):
        why = "another quantity"
    elif set(claimed) & {s for s, _ in best.items}:
        why = "other products too"
    else:
        why = "another product"
    reason = f"weight {event.delta_g:+.1f} g fits {got}, not vision's {said} ({why})"
    return [
        ReceiptLine(
            "corrected", sku, qty, action, event.start, event.shelf, event.plates, event.delta_g, lead,
            event.id, reason, shopper=lead["shopper"],
        )
        for sku, qty in best.items
    ]
