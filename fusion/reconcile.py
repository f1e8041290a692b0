"""Vision events x weight events -> verified receipt lines.

Vision events (any events.csv, see docs/FORMAT.md) are matched one-to-one to weight events of the
same shelf, close in time and of the same sign (a pick takes weight away), by an optimal assignment
(``scipy.optimize.linear_sum_assignment``) over a cost of time distance plus weight misfit; a pair
costing more than ``unmatched_cost`` is not made (that vision event stays unmatched). A
further vision event on the same shelf and time whose product makes a matched weight event fit
better joins it (a shopper taking two items seen as two events). Then, weight event by weight event
in time order (so the live planogram learns from returns before later picks):

- vision's products and quantities explain the weight change -> every line ``confirmed``;
- another product or quantity explains it -> ``corrected`` lines, with the reason;
- nothing explains it -> vision's claim kept as ``unverified``;
- no vision event, but a shopper was seen there -> ``reached`` lines: the best explanation, given to
  that shopper (:func:`who_changed`: their hand in the changed plates' zone during the change,
  ``reaches.csv`` of :mod:`fusion.reaches`; else their body in front of the plates, ``tracks.csv`` of
  :mod:`fusion.presence`; else their hand in a zone of that shelf near the change);
- no vision event and nobody seen there -> ``unattributed`` lines (the best explanation, or sku '' if
  none).

Shoppers' tracked bodies (:mod:`fusion.presence`) check who: a line whose shopper was not in front
of the changed plates goes to the shopper who was; a change over several plates explained by several
products, or by one product with each plate's items whole, with a different shopper in front of
each plate, is split between them. A return goes to a
shopper holding the product: a returned product is given to another shopper when the one named
holds none of it and somebody else does (the only holder, or the holder standing in front).

A vision event with no weight event is ``vision_only``: on a shelf with sensors it is likely a false
pick and does not count toward the cart; on a shelf without sensors it counts.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from formats.receipts import ReceiptLine
from formats.tables import parse_plates
from formats.weight_events import WeightEvent
from fusion.identify import Candidate, IdentifyConfig, LivePlanogram, fits, identify
from fusion.presence import (
    Presence,
    PresenceConfig,
    closest_in_front,
    in_front,
    reach_middles,
    shoppers_in_front,
    timed_reaches,
)
from fusion.reaches import Attribution, ReachConfig, attribute, reaching_shoppers
from fusion.settings import settings_from_dict

log = logging.getLogger(__name__)


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
    one_grab_s: a weight change of several items that took longer than this to settle is more than
        one grab: with several shoppers standing in front of the plates, its items are shared
        among them (as among shoppers seen reaching there). One grab settles within a few tenths
        of a second.
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
    one_grab_s: float = 0.5
    miscount_factor: float = 0.7
    unmatched_cost: float = 1.5

    @classmethod
    def from_dict(cls, data: dict) -> ReconcileConfig:
        return settings_from_dict(cls, data, "reconcile")


_INFEASIBLE = 1e6


def _vision_dict(row: pd.Series) -> dict:
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


def _names(catalog: pd.DataFrame) -> dict[str, str]:
    return dict(zip(catalog["sku"], catalog["name"], strict=True))


def _describe_items(items: list[tuple[str, int]], names: dict[str, str], weight: dict[str, float]) -> str:
    parts = [f"{q} x {names.get(s, s)} ({s})" for s, q in items]
    total = sum(q * weight.get(s, math.nan) for s, q in items)
    return f"{' + '.join(parts)} = {total:.1f} g"


def reconcile(
    weight_events: list[WeightEvent],
    vision_events: pd.DataFrame | None,
    catalog: pd.DataFrame,
    planogram: pd.DataFrame,
    *,
    weighted_shelves: set[str] | None = None,
    config: ReconcileConfig | None = None,
    id_config: IdentifyConfig | None = None,
    reaches: pd.DataFrame | None = None,
    reach_config: ReachConfig | None = None,
    presence: Presence | None = None,
    presence_config: PresenceConfig | None = None,
) -> list[ReceiptLine]:
    """Receipt lines for every weight event and vision event (see the module docstring).

    weight_events: from :func:`fusion.weight_events.detect_weight_events`; vision_events: a table as
    read by :func:`formats.tables.read_events` (None or empty: weight only); weighted_shelves: the
    shelves with sensors in the log (default: the shelves of the weight events and the planogram);
    reaches: a table as read by :func:`fusion.reaches.read_reaches` (None: nobody is seen reaching);
    presence: shopper positions and zone spans from :func:`fusion.presence.read_presence` (None: none).
    """
    config = config or ReconcileConfig()
    id_config = id_config or IdentifyConfig()
    names = _names(catalog)
    weight = dict(zip(catalog["sku"], catalog["weight_g"].astype(float), strict=True))
    if weighted_shelves is None:
        weighted_shelves = {w.shelf for w in weight_events} | {str(s) for s in planogram["shelf"]}
    vision = [] if vision_events is None else [_vision_dict(r) for _, r in vision_events.iterrows()]
    stocked = {(str(shelf), str(sku)) for shelf, sku in zip(planogram["shelf"], planogram["sku"], strict=True)}
    plate_stock = {(str(shelf), int(plate)): str(sku)
                   for shelf, plate, sku in zip(planogram["shelf"], planogram["plate"], planogram["sku"], strict=True)}
    matched = match_events(vision, weight_events, catalog, config, id_config, stocked, plate_stock)
    live = LivePlanogram.from_planogram(planogram)
    lines: list[ReceiptLine] = []
    carts: dict[str, Counter] = {}
    for j in sorted(range(len(weight_events)), key=lambda k: weight_events[k].start):
        event = weight_events[j]
        action = "pick" if event.delta_g < 0 else "return"
        candidates = identify(event, catalog, live, id_config)
        own = [vision[i] for i in matched.get(j, [])]
        if own:
            new = _reconcile_matched(event, own, candidates, action, names, weight, catalog, config, id_config)
            if (presence_config or PresenceConfig()).checks_vision:
                new = check_shopper_in_front(new, event, presence, presence_config)
        else:
            who = who_changed(event, reaches, presence, reach_config, presence_config)
            new = _unattributed(event, candidates, action, names, weight, who)
        sharing = reaching_shoppers(event, reaches, reach_config)
        if len(sharing) < 2 and event.end - event.start > config.one_grab_s:
            sharing = [str(s) for s in shoppers_in_front(event, presence, presence_config).index]
        by_steps = split_by_steps(new, event, presence, weight, presence_config)
        if by_steps != new:
            new = by_steps
        else:
            by_plate = split_product_by_plate(new, event, presence, weight, presence_config)
            new = by_plate if by_plate != new else split_between_reaching(new, sharing)
        new = split_by_plate(new, event, presence, plate_stock, presence_config)
        new = give_returns_to_holders(new, carts, event, presence, presence_config, catalog, id_config)
        new = merge_same(new)
        learn_event(live, event, new, weight)
        for line in new:
            if line.sku and line.counted and line.shopper is not None:
                sign = 1 if line.action == "pick" else -1
                carts.setdefault(line.shopper, Counter())[line.sku] += sign * line.quantity
        lines.extend(new)
    used = {i for members in matched.values() for i in members}
    for i, v in enumerate(vision):
        if i in used:
            continue
        weighted = v["shelf"] in weighted_shelves
        reason = (
            f"no settled weight change on shelf {v['shelf']} within {config.window_s:g} s: likely a false {v['action']}"
            if weighted
            else f"shelf {v['shelf']} has no weight sensors: vision's claim kept"
        )
        lines.append(
            ReceiptLine(
                "vision_only", v["sku"], v["quantity"], v["action"], v["timestamp"], v["shelf"],
                parse_plates(v["plates"]), None, v, None, reason, shopper=v["shopper"], counted=not weighted,
            )
        )
    return sorted(lines, key=lambda x: (x.timestamp, x.shelf, x.sku))


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


def who_changed(
    event: WeightEvent, reaches: pd.DataFrame | None, presence: Presence | None,
    reach_config: ReachConfig | None = None, presence_config: PresenceConfig | None = None,
) -> Attribution | None:
    """Who caused a weight change vision saw no event for, strongest evidence first: the one shopper
    whose hand was in the changed plates' zone during the change (unless the reach classifier says
    that shopper, standing in front, was not reaching as the weight changed and another in front
    was: a hand is sometimes attached to the wrong one of two shoppers side by side); else the
    shopper standing in front of the plates; else the shopper whose hand was in a zone of that shelf
    nearest in time."""
    if len(reaching_shoppers(event, reaches, reach_config)) == 1:
        found = attribute(event, reaches, reach_config)
        standing = shoppers_in_front(event, presence, presence_config)
        if found is None or "reach_tier" not in standing or found.shopper not in standing.index:
            return found
        tiers = standing["reach_tier"]
        if tiers[found.shopper] == 0 or not (tiers == 0).any():
            return found
        timed = closest_in_front(event, standing)
        return Attribution(timed.shopper, f"{timed.reason}; shopper {found.shopper}'s hand was seen there, "
                                          "but they were not reaching as the weight changed")
    return in_front(event, presence, presence_config) or attribute(event, reaches, reach_config)


def split_by_plate(
    lines: list[ReceiptLine], event: WeightEvent, presence: Presence | None,
    plate_stock: dict[tuple[str, int], str], presence_config: PresenceConfig | None = None,
) -> list[ReceiptLine]:
    """A weight change over several plates explained by several products, with a different shopper in
    front of each product's plates (two shoppers side by side taking at once): each line goes to the
    shopper in front of the plates stocking its product. Kept when one shopper stood at all of them."""
    if presence is None or len(event.plates) < 2 or len({line.sku for line in lines if line.sku}) < 2:
        return lines
    owners = {}
    for sku in {line.sku for line in lines if line.sku}:
        plates = tuple(p for p in event.plates if plate_stock.get((event.shelf, p)) == sku)
        found = in_front(replace(event, plates=plates), presence, presence_config) if plates else None
        if found is not None:
            owners[sku] = found
    if len({found.shopper for found in owners.values()}) < 2:
        return lines
    return [line if line.sku not in owners or owners[line.sku].shopper == line.shopper else
            _given_to(line, owners[line.sku].shopper, f"; {owners[line.sku].reason}")
            for line in lines]


def split_product_by_plate(
    lines: list[ReceiptLine], event: WeightEvent, presence: Presence | None, weight: dict[str, float],
    presence_config: PresenceConfig | None = None,
) -> list[ReceiptLine]:
    """A line of several items of one product taken from (or put on) several plates, with a different
    shopper in front of each plate (two shoppers side by side taking the same product): each plate's
    items, by its own weight change, go to the shopper in front of that plate. Kept when the plates'
    changes are not whole items adding up to the line's quantity, or one shopper stood at all of them."""
    if presence is None or len(event.plates) < 2:
        return lines
    out: list[ReceiptLine] = []
    for line in lines:
        unit = weight.get(line.sku, 0.0)
        if line.quantity < 2 or not line.counted or unit <= 0:
            out.append(line)
            continue
        sign = -1 if line.action == "pick" else 1
        counts = [round(sign * delta / unit) for delta in event.plate_deltas_g]
        owners: dict[str, int] = {}
        for plate, count in zip(event.plates, counts, strict=True):
            if count <= 0:
                continue
            found = in_front(replace(event, plates=(plate,)), presence, presence_config)
            if found is None:
                owners = {}
                break
            owners[found.shopper] = owners.get(found.shopper, 0) + count
        if min(counts) < 0 or sum(counts) != line.quantity or len(owners) < 2:
            out.append(line)
            continue
        note = "; by plate: " + ", ".join(f"{n} to shopper {s}" for s, n in owners.items()) + ", each in front of their plates"
        for shopper, n in owners.items():
            if shopper == line.shopper:
                out.append(_given_to(line, shopper, note, quantity=n))
            else:  # vision did not see this shopper's part
                out.append(_given_to(line, shopper, note, quantity=n, status="reached", vision=None))
    return out


def check_shopper_in_front(
    lines: list[ReceiptLine], event: WeightEvent, presence: Presence | None,
    presence_config: PresenceConfig | None = None,
) -> list[ReceiptLine]:
    """Lines of a weight event whose shopper was not standing in front of the changed plates go to
    the shopper who was (the reason names vision's shopper). Kept when vision's shopper was there,
    when nobody was, without positions, or when the reach classifier says vision's shopper reached
    as the weight changed and the one in front did not (a long reach from beside the plates).
    With the reach classifier, a line whose shopper stood in front but did not reach as the weight
    changed goes to the one other shopper in front who did (when exactly one did)."""
    standing = shoppers_in_front(event, presence, presence_config)
    found = closest_in_front(event, standing)
    timed: set[str] | None = None  # worked out only for a line whose shopper was not in front
    out = []
    for line in lines:
        if found is not None and line.shopper is not None and _untimed_beside_one_timed(line.shopper, standing):
            out.append(_given_to(line, found.shopper, f"; {found.reason}; shopper {line.shopper} (vision's) "
                                                      "stood there too but did not reach as the weight changed"))
            continue
        if found is None or line.shopper is None or line.shopper in standing.index:
            out.append(line)
            continue
        timed = timed_reaches(event, presence, presence_config) if timed is None else timed
        if line.shopper in timed and found.shopper not in timed:
            out.append(line)
            continue
        out.append(_given_to(line, found.shopper, f"; {found.reason}, shopper {line.shopper} (vision's) was not there"))
    return out


def _untimed_beside_one_timed(shopper: str, standing: pd.DataFrame) -> bool:
    """``shopper`` stood in front but did not reach as the weight changed, and exactly one other
    shopper in front did (the reach timing of :func:`fusion.presence.shoppers_in_front`)."""
    if "reach_tier" not in standing or shopper not in standing.index:
        return False
    tiers = standing["reach_tier"]
    return int(tiers[shopper]) > 0 and int((tiers == 0).sum()) == 1


def give_returns_to_holders(
    lines: list[ReceiptLine], carts: dict[str, Counter], event: WeightEvent, presence: Presence | None,
    presence_config: PresenceConfig | None = None, catalog: pd.DataFrame | None = None,
    id_config: IdentifyConfig | None = None,
) -> list[ReceiptLine]:
    """A counted return whose shopper holds none of the product (by the lines so far, ``carts``)
    goes to the shopper who does: the only holder, or the holder standing in front of the plates.
    Kept as it is when nobody, or the named shopper, holds it, or several do and none stands there.

    Except (with ``catalog``): when the line's shopper stood in front of the plates, no holder of the
    product did, and the line's shopper holds another product the weight fits about as well (at least
    half the line's own fit), they put that back (two cans of nearly one weight, the product told
    wrong): the line becomes that product."""
    out = []
    for line in lines:
        holders = sorted(s for s, cart in carts.items() if cart[line.sku] >= line.quantity)
        if line.action != "return" or not line.counted or not line.sku or not holders or line.shopper in holders:
            out.append(line)
            continue
        held = _held_alternative(line, holders, carts, event, presence, presence_config, catalog, id_config)
        if held is not None:
            out.append(replace(line, sku=held, reason=line.reason + f"; shopper {line.shopper}, in front of the "
                               f"plates, held no {line.sku} but held {held}, which the weight fits as well"))
            continue
        if len(holders) == 1:
            holder = holders[0]
        else:
            found = in_front(event, presence, presence_config, among=set(holders))
            holder = found.shopper if found else None
        if holder is None:
            out.append(line)
            continue
        had = "nobody was seen" if line.shopper is None else f"shopper {line.shopper} held none"
        out.append(_given_to(line, holder, f"; given to shopper {holder}, who held {line.sku} ({had})"))
    return out


def _held_alternative(
    line: ReceiptLine, holders: list[str], carts: dict[str, Counter], event: WeightEvent, presence: Presence | None,
    presence_config: PresenceConfig | None, catalog: pd.DataFrame | None, id_config: IdentifyConfig | None,
) -> str | None:
    """Another product the line's shopper holds and the weight fits at least half as well as the
    line's own, when they stood in front of the changed plates and none of the ``holders`` of the
    line's product did (see give_returns_to_holders)."""
    if catalog is None or line.shopper is None or line.shopper not in carts:
        return None
    standing = shoppers_in_front(event, presence, presence_config).index
    if line.shopper not in standing or standing.isin(holders).any():
        return None
    own = fits(event, [(line.sku, line.quantity)], catalog, id_config)
    options = [(fits(event, [(sku, line.quantity)], catalog, id_config), sku)
               for sku, count in sorted(carts[line.shopper].items()) if count >= line.quantity and sku != line.sku]
    best = max(options, default=(0.0, None))
    return best[1] if best[1] is not None and best[0] >= max(own / 2, (id_config or IdentifyConfig()).min_fit) else None


def step_clusters(event: WeightEvent, gap_s: float) -> list[tuple[float, float]]:
    """The event's steps, those closer than ``gap_s`` joined (one hand on two plates): [(time of the
    heaviest, summed grams)] in time order."""
    clusters: list[list[tuple[float, float]]] = []
    for t, grams in event.steps:
        if clusters and t - clusters[-1][-1][0] < gap_s:
            clusters[-1].append((t, grams))
        else:
            clusters.append([(t, grams)])
    return [(max(c, key=lambda s: abs(s[1]))[0], sum(g for _, g in c)) for c in clusters]


def split_by_steps(
    lines: list[ReceiptLine], event: WeightEvent, presence: Presence | None, weight: dict[str, float],
    config: PresenceConfig | None = None,
) -> list[ReceiptLine]:
    """A change of one product whose hands took turns (two or more steps, each a whole number of its
    items) is shared by who reached at each step: each step's items go to the shopper in front whose
    reach had its middle nearest the step (within ``step_reach_s``), stamped with the step's time.
    Kept as it is when a step has no such shopper, or one shopper made every step."""
    config = config or PresenceConfig()
    clusters = step_clusters(event, config.step_gap_s)
    counted = [line for line in lines if line.counted and line.sku]
    if len(clusters) < 2 or not counted or len({line.sku for line in counted}) != 1:
        return lines
    unit = weight.get(counted[0].sku, math.nan)
    counts = [round(abs(grams) / unit) if unit > 0 else 0 for _, grams in clusters]
    if min(counts) < 1 or sum(counts) != sum(line.quantity for line in counted):
        return lines
    standing = {str(s) for s in shoppers_in_front(event, presence, config).index}
    middles = {s: m for s, m in reach_middles(event, presence, config).items() if s in standing}
    owners = []
    for t, _ in clusters:
        off, shopper = min(((float(np.abs(m - t).min()), s) for s, m in middles.items()), default=(math.inf, None))
        if off > config.step_reach_s:
            return lines
        owners.append(shopper)
    if len(set(owners)) < 2:
        return lines
    template = next((line for line in counted if line.shopper in owners), counted[0])
    steps = ", ".join(f"{n} at {t - event.start:+.2f} s by shopper {s}" for (t, _), n, s in zip(clusters, counts, owners, strict=True))
    note = f"; the weight changed in steps ({steps}), each shopper reaching then"
    out = [line for line in lines if line not in counted]
    for shopper in dict.fromkeys(owners):
        mine = [(t, n) for (t, _), n, s in zip(clusters, counts, owners, strict=True) if s == shopper]
        own = shopper == template.shopper
        out.append(_given_to(template, shopper, note, quantity=sum(n for _, n in mine), timestamp=mine[0][0],
                             **({} if own else {"status": "reached", "vision": None})))
    return out


def split_between_reaching(lines: list[ReceiptLine], shoppers: list[str]) -> list[ReceiptLine]:
    """A line of several items of one weight change, while several shoppers reached the changed
    plates, is split as evenly as the items allow (a grab takes one or two items: four items of two
    shoppers are two each), the odd ones to the line's own shopper (the first to reach when the line
    has none). Lines of one item, or with one shopper reaching, are kept as they are."""
    if len(shoppers) < 2:
        return lines
    out: list[ReceiptLine] = []
    for line in lines:
        if line.quantity < 2 or not line.counted:
            out.append(line)
            continue
        owner = line.shopper if line.shopper is not None else shoppers[0]
        others = [s for s in shoppers if s != owner][: line.quantity - 1]
        if not others:
            out.append(line)
            continue
        each = line.quantity // (len(others) + 1)
        note = f"; {line.quantity} items split between shoppers {', '.join([owner, *others])}, all reaching there"
        out.append(_given_to(line, owner, note, quantity=line.quantity - each * len(others)))
        out.extend(_given_to(line, other, note, quantity=each, status="reached", vision=None) for other in others)
    return out


def _given_to(line: ReceiptLine, shopper: str, note: str, **changes) -> ReceiptLine:
    """``line`` given to ``shopper`` with ``note`` added to its reason; an ``unattributed`` line becomes
    ``reached`` (``changes`` may set other fields, or the status, outright)."""
    status = "reached" if line.status == "unattributed" else line.status
    return replace(line, **{"shopper": shopper, "status": status, "reason": line.reason + note, **changes})


def _unattributed(
    event: WeightEvent, candidates: list[Candidate], action: str, names: dict[str, str], weight: dict[str, float],
    reached: Attribution | None = None,
) -> list[ReceiptLine]:
    """Lines of a weight event no vision event explains: ``reached`` when a shopper was seen reaching
    there (their cart gets the best explanation), else ``unattributed``."""
    verb = "taken" if action == "pick" else "put back"
    if not candidates:
        who = f"; {reached.reason}, but nothing to bill" if reached else "; no shopper was seen"
        return [
            ReceiptLine(
                "unattributed", "", 1, action, event.start, event.shelf, event.plates, event.delta_g, None,
                event.id, f"{event.delta_g:+.1f} g {verb} on {event.shelf} plates {_plate_text(event)}; "
                f"no product fits{who}", counted=False,
            )
        ]
    best = candidates[0]
    reason = (
        f"{event.delta_g:+.1f} g {verb} on {event.shelf} plates {_plate_text(event)} fits "
        f"{_describe_items(list(best.items), names, weight)} (score {best.score:.2f}); "
        + (f"vision saw no {action}, but {reached.reason}" if reached else "no shopper was seen")
    )
    status, shopper = ("reached", reached.shopper) if reached else ("unattributed", None)
    return [
        ReceiptLine(status, sku, qty, action, event.start, event.shelf, event.plates, event.delta_g, None, event.id,
                    reason, shopper=shopper)
        for sku, qty in best.items
    ]


def _plate_text(event: WeightEvent) -> str:
    return ",".join(str(p) for p in event.plates)


def merge_same(lines: list[ReceiptLine]) -> list[ReceiptLine]:
    """Lines of one weight change for the same shopper, product and action are one line, quantities
    summed (vision saw two picks of one bag each, or a line moved to the shopper who already had
    one). The first line stays, its reason noting the merge."""
    groups: dict[tuple, list[ReceiptLine]] = {}
    for line in lines:
        groups.setdefault((line.shopper, line.sku, line.action, line.counted), []).append(line)
    out = []
    for same in groups.values():
        first = same[0]
        if len(same) > 1 and first.sku:
            note = f"; {len(same)} lines of this change for shopper {first.shopper} merged"
            first = replace(first, quantity=sum(line.quantity for line in same), reason=first.reason + note)
            out.append(first)
        else:
            out.extend(same)
    return out


def _reconcile_matched(
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
