"""Vision events x weight events -> verified receipt lines: what was taken, and who took it.

What was taken comes from :mod:`fusion.matching` (vision events paired with weight changes, each
change explained by :func:`fusion.identify.identify`: ``confirmed``, ``corrected``, ``unverified`` or
``unattributed`` lines), weight event by weight event in time order, so that the live planogram learns
from returns before later picks.

Who: every line (or, for a change whose hands took turns, every step of it) is a *take*; its
candidate shoppers and their evidence come from :mod:`fusion.evidence`, the attribution model
(:mod:`fusion.attribution`) gives each a probability, and the takes of one moment are assigned
jointly. A return can only be made by somebody holding the product: when no candidate holds it, the
line becomes a product a candidate holds that the weight fits, else a discrepancy that does not count;
with shoppers tracked but nobody near, a return of a product no shopper holds does not count either
(a plate's wobble). A change far lighter than the items billed for it (a pick under 0.4, a return
under 0.75 of their weight) is noise and does not count. A line whose shopper's take probability (among
the candidates) is below ``review_below`` gets status ``review``: a person looking at the frames can tell
the candidates apart. The line's ``probability`` is that take probability calibrated into the
probability that the line is right (:mod:`fusion.confidence`).

A vision event with no weight event is ``vision_only``: on a shelf with sensors it is likely a false
pick and does not count toward the cart; on a shelf without sensors it counts.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from formats.receipts import ReceiptLine
from formats.tables import parse_plates
from formats.weight_events import WeightEvent
from fusion import matching
from fusion.attribution import AttributionConfig, AttributionModel, NearestShopper, assign, resolve_model
from fusion.confidence import ConfidenceModel, Uncalibrated, resolve_confidence
from fusion.evidence import AFTER_S, BEFORE_S, Take, candidate_features
from fusion.identify import IdentifyConfig, LivePlanogram, fits, identify, steps_by_product
from fusion.matching import ReconcileConfig
from fusion.presence import Presence

log = logging.getLogger(__name__)

MOMENT_GAP_S = 0.5  # weight events closer than this in time are one moment (assigned together)
STEP_GAP_S = 0.3  # steps of a change closer than this are one hand's (a product spanning two plates)
STEP_HALF_S = 0.3  # a step's take lasts this long either side of the step
PICK_FLOOR = 0.4  # a pick lighter than this share of its items' weight is noise
RETURN_FLOOR = 0.75  # a return lighter than this share of its items' weight is noise

# One weight event of a moment: the event, the vision events matched to it, and its draft lines.
Draft = tuple[WeightEvent, list[dict], list[ReceiptLine]]


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
    presence: Presence | None = None,
    attribution: AttributionConfig | None = None,
    model: AttributionModel | NearestShopper | None = None,
    collect: Callable[[Take, pd.DataFrame], None] | None = None,
) -> list[ReceiptLine]:
    """Receipt lines for every weight event and vision event (see the module docstring).

    weight_events: from :func:`fusion.weight_events.detect_weight_events`; vision_events: a table as
    read by :func:`formats.tables.read_events` (None or empty: weight only); weighted_shelves: the
    shelves with sensors in the log (default: the shelves of the weight events and the planogram);
    reaches: a table as read by :func:`fusion.reaches.read_reaches` (None: no hands seen);
    presence: shopper positions and zone spans from :func:`fusion.presence.read_presence` (None: none);
    model: the attribution model (default: the configured or shipped one, see
    :func:`fusion.attribution.resolve_model`; lines of a model passed here are not calibrated by
    :mod:`fusion.confidence`); collect: called with every take and its candidates' features.
    """
    config = config or ReconcileConfig()
    id_config = id_config or IdentifyConfig()
    attribution = attribution or AttributionConfig()
    resolved, model = model is None, model if model is not None else resolve_model(attribution)
    confidence = resolve_confidence(attribution, model) if resolved else None  # a model passed in: no calibration
    names = matching.product_names(catalog)
    weight = dict(zip(catalog["sku"], catalog["weight_g"].astype(float), strict=True))
    if weighted_shelves is None:
        weighted_shelves = {w.shelf for w in weight_events} | {str(s) for s in planogram["shelf"]}
    vision = [] if vision_events is None else [matching.vision_dict(r) for _, r in vision_events.iterrows()]
    stocked = {(str(shelf), str(sku)) for shelf, sku in zip(planogram["shelf"], planogram["sku"], strict=True)}
    plate_stock = {(str(shelf), int(plate)): str(sku)
                   for shelf, plate, sku in zip(planogram["shelf"], planogram["plate"], planogram["sku"], strict=True)}
    matched = matching.match_events(vision, weight_events, catalog, config, id_config, stocked, plate_stock)
    live = LivePlanogram.from_planogram(planogram)
    lines: list[ReceiptLine] = []
    carts: dict[str, Counter] = {}
    order = sorted(range(len(weight_events)), key=lambda k: weight_events[k].start)
    for moment in _moments([weight_events[j] for j in order], order):
        drafts = []
        for j in moment:
            event = weight_events[j]
            action = "pick" if event.delta_g < 0 else "return"
            candidates = identify(event, catalog, live, id_config)
            own = [vision[i] for i in matched.get(j, [])]
            new = (matching.explain_matched(event, own, candidates, action, names, weight, catalog, config, id_config)
                   if own else matching.explain_unmatched(event, candidates, action, names, weight))
            drafts.append((event, own, new))
        new_lines = _attribute_moment(drafts, presence, reaches, carts, model, attribution, catalog, id_config, collect,
                                      plate_stock, weight, confidence)
        for event, _, _ in drafts:
            mine = merge_same([line for line in new_lines if line.weight_event == event.id])
            matching.learn_event(live, event, mine, weight)
            for line in mine:
                if line.sku and line.counted and line.shopper is not None:
                    carts.setdefault(line.shopper, Counter())[line.sku] += (1 if line.action == "pick" else -1) * line.quantity
            lines.extend(mine)
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


def _moments(events: list[WeightEvent], indices: list[int]) -> list[list[int]]:
    """Indices of weight events (sorted by start) grouped into moments: overlapping in time, or
    closer than ``MOMENT_GAP_S``."""
    moments: list[list[int]] = []
    end = -math.inf
    for event, j in zip(events, indices, strict=True):
        if moments and event.start <= end + MOMENT_GAP_S:
            moments[-1].append(j)
        else:
            moments.append([j])
        end = max(end, event.end) if len(moments[-1]) > 1 else event.end
    return moments


def _takes(event: WeightEvent, lines: list[ReceiptLine], weight: dict[str, float],
           plate_stock: dict[tuple[str, int], str], id_config: IdentifyConfig) -> list[tuple[ReceiptLine, Take]]:
    """A line per take. A take is one hand's part of the change: its time and its plates.

    - a change that came in two or more steps, each step whole items of one of its products
      (:func:`fusion.identify.steps_by_product`): a take per step (its items, timed at the step; with
      several products, on the plates stocking the step's);
    - one product over several plates, each plate's change whole items of it: a take per plate;
    - several products otherwise: a take per product, on the plates stocking it (two shoppers side by side);
    - else the whole event."""
    counted = [line for line in lines if line.counted and line.sku]

    def take(line: ReceiptLine, start: float, end: float, plates: tuple[int, ...], quantity: int,
             claims: tuple[tuple[str, float], ...] | None = None) -> Take:
        """By default the line's own vision event is its claim (two shoppers' events on one change: one each)."""
        part = replace(event, plates=plates) if plates else event
        return Take(part, start, end, line.action, line.sku, quantity, _claim(line) if claims is None else claims)

    def step_takes(mine: list[ReceiptLine], steps: list[tuple[float, int]], plates: tuple[int, ...]) -> list:
        """A take per (time, items) step of one product's lines ``mine``. Vision's events are timed:
        each claims the step nearest its time, not every step."""
        nearest = {id(line): int(np.argmin([abs(t - line.vision["timestamp"]) for t, _ in steps]))
                   for line in mine if line.vision is not None}
        out = []
        for k, (t, n) in enumerate(steps):
            seen = [line for line in mine if nearest.get(id(line)) == k]
            claims = tuple(c for line in seen for c in _claim(line))
            # A step no vision event saw is the weights' alone: ``reached``, without vision's claim.
            template = seen[0] if seen else replace(mine[0], vision=None, status="reached")
            out.append((replace(template, quantity=n, timestamp=t),
                        take(template, t - STEP_HALF_S, t + STEP_HALF_S, plates, n, claims)))
        return out

    def stocking(sku: str) -> tuple[int, ...]:
        return tuple(p for p in event.plates if plate_stock.get((event.shelf, p)) == sku)

    skus = sorted({line.sku for line in lines})
    if counted and len(counted) == len(lines):
        totals = {sku: sum(line.quantity for line in lines if line.sku == sku) for sku in skus}
        steps = steps_by_product(event, totals, weight, plate_stock, id_config, STEP_GAP_S)
        if steps is not None:  # one product's steps keep the whole event's plates
            return [pair for sku in skus for pair in step_takes(
                [line for line in lines if line.sku == sku], [(t, n) for t, s, n in steps if s == sku],
                event.plates if len(skus) == 1 else stocking(sku))]
        if len(skus) == 1:
            first, total = lines[0], totals[skus[0]]
            unit = weight.get(first.sku, math.nan)
            counts = [round(abs(delta) / unit) if unit > 0 else 0 for delta in event.plate_deltas_g]
            if len(lines) == 1 and len(event.plates) >= 2 and min(counts) >= 0 and sum(counts) == total \
                    and sum(c > 0 for c in counts) >= 2:
                return [(replace(first, quantity=n), take(first, event.start, event.end, (plate,), n))
                        for plate, n in zip(event.plates, counts, strict=True) if n > 0]
    out = []
    for line in lines:
        out.append((line, take(line, event.start, event.end, stocking(line.sku) if len(counted) > 1 else (),
                               line.quantity)))
    return out


def _claim(line: ReceiptLine) -> tuple[tuple[str, float], ...]:
    """The line's vision event as a claim: ((shopper, confidence),), or () without one."""
    if line.vision is None:
        return ()
    return ((str(line.vision["shopper"]), float(line.vision.get("confidence", 1.0))),)


def _attribute_moment(
    drafts: list[Draft], presence: Presence | None,
    reaches: pd.DataFrame | None, carts: dict[str, Counter], model: AttributionModel | NearestShopper,
    attribution: AttributionConfig, catalog: pd.DataFrame, id_config: IdentifyConfig,
    collect: Callable[[Take, pd.DataFrame], None] | None, plate_stock: dict[tuple[str, int], str],
    weight: dict[str, float], confidence: ConfidenceModel | Uncalibrated | None = None,
) -> list[ReceiptLine]:
    """Give every line of one moment's weight events its shopper (module docstring)."""
    claimed = {event.id: {v["shopper"] for v in own} for event, own, _ in drafts}
    takes, fixed = [], []
    for event, _, new in drafts:
        busy = set().union(*(c for other, c in claimed.items() if other != event.id)) if len(drafts) > 1 else set()
        for line, take in _takes(event, new, weight, plate_stock, id_config):
            if not line.counted or not line.sku:
                fixed.append(line)  # nothing to bill: nobody to pick
                continue
            if _too_light(line, new, weight):
                fixed.append(replace(line, counted=False, reason=line.reason + f"; {abs(line.delta_g):.1f} g is far "
                                     f"below {line.quantity} x {weight[line.sku]:g} g: noise, not billed"))
                continue
            frame = candidate_features(take, presence, reaches, carts, busy)
            if collect is not None:
                collect(take, frame)
            if take.action == "return" and len(frame):
                held = _held_return(line, take, frame, carts, catalog, id_config, presence, reaches, busy)
                if held is None:
                    fixed.append(replace(line, status="unattributed", shopper=None, counted=False, reason=line.reason
                                         + f"; a return of {line.sku} that nobody seen near holds: not billed"))
                    continue
                line, take, frame = held
            elif take.action == "return" and presence is not None and not any(
                    cart[take.sku] >= take.quantity for cart in carts.values()):
                # Nobody seen near, and no shopper in the store holds the product: a wobble, not a return.
                fixed.append(replace(line, status="unattributed", shopper=None, counted=False, reason=line.reason
                                     + f"; a return of {line.sku} that no shopper holds: not billed"))
                continue
            takes.append((line, take, frame))
    options = [(list(frame.index), model.probabilities(frame)) for _, _, frame in takes]
    chosen = assign(options, attribution.second_take, [(take.start + take.end) / 2 for _, take, _ in takes],
                    attribution.one_reach_s, STEP_GAP_S)
    out = list(fixed)
    for (line, take, frame), (names, p), k in zip(takes, options, chosen, strict=True):
        out.append(_decided(line, take, frame, names, p, k, model, attribution, presence, confidence))
    return out


def _too_light(line: ReceiptLine, lines: list[ReceiptLine], weight: dict[str, float]) -> bool:
    """A weight event's only line whose grams are far below its items' weight (a pick under
    ``PICK_FLOOR``, a return under ``RETURN_FLOOR`` of it: the 2020 AutoCheckout winner's bounds)."""
    if line.delta_g is None or len(lines) != 1 or weight.get(line.sku, 0.0) <= 0:
        return False
    floor = PICK_FLOOR if line.action == "pick" else RETURN_FLOOR
    return abs(line.delta_g) < floor * line.quantity * weight[line.sku]


def _held_return(
    line: ReceiptLine, take: Take, frame: pd.DataFrame, carts: dict[str, Counter], catalog: pd.DataFrame,
    id_config: IdentifyConfig, presence: Presence | None, reaches: pd.DataFrame | None, busy: set[str],
) -> tuple[ReceiptLine, Take, pd.DataFrame] | None:
    """A return goes to a candidate holding its product. When none does: the product a candidate
    holds that the weight fits best (at least ``min_fit``) instead (a can put back that weighs about
    what another does); None when no candidate holds anything that fits."""
    if frame["return_held"].any():
        return line, take, frame[frame["return_held"] > 0]
    options = sorted(((fits(take.event, [(sku, line.quantity)], catalog, id_config), sku)
                      for name in frame.index for sku, count in carts.get(name, {}).items()
                      if count >= line.quantity and sku != line.sku), reverse=True)
    if not options or options[0][0] < id_config.min_fit:
        return None
    sku = options[0][1]
    line = replace(line, sku=sku, reason=line.reason + f"; nobody near held {line.sku}, but {sku}, which the weight "
                   "fits too, was held")
    take = replace(take, sku=sku)
    frame = candidate_features(take, presence, reaches, carts, busy)
    return line, take, frame[frame["return_held"] > 0]


def _decided(line: ReceiptLine, take: Take, frame: pd.DataFrame, names: list[str], p: np.ndarray, k: int | None,
             model: AttributionModel | NearestShopper, attribution: AttributionConfig,
             presence: Presence | None, confidence: ConfidenceModel | Uncalibrated | None = None) -> ReceiptLine:
    """The line given to candidate ``k`` (None: nobody seen), with its probability (the take's, calibrated
    by ``confidence`` when given), every candidate's take probability, evidence and status."""
    if k is None:
        return replace(line, status="unattributed", shopper=None, reason=line.reason + "; no shopper was seen")
    shopper = names[k]
    fallback = isinstance(model, NearestShopper)
    candidates = () if fallback else tuple((n, round(float(q), 4)) for n, q in zip(names, p, strict=True))
    probability = None if fallback else float(p[k])
    vision_shopper = None if line.vision is None else str(line.vision["shopper"])
    if confidence is not None:
        several = presence is not None and presence.several_cameras
        probability, said = confidence.line(dict(candidates), shopper, vision_shopper, line.action, several)
    others = ", ".join(f"{n} {q:.2f}" for n, q in sorted(zip(names, p, strict=True), key=lambda x: -x[1]) if n != shopper)
    if fallback:
        who = f"shopper {shopper} stood nearest (no attribution model: nearest shopper)"
    else:
        who = (f"shopper {shopper} with probability {p[k]:.2f} among the candidates"
               + (f" (others: {others})" if others else ""))
        if confidence is not None:
            who += f"; {said}"
    if vision_shopper is not None and vision_shopper != shopper:
        who += f"; vision said shopper {vision_shopper}"
    status = "reached" if line.status == "unattributed" else line.status
    if not fallback and p[k] < (attribution.review_below or model.review_below):
        status = "review"
    return replace(line, shopper=shopper, status=status, probability=probability, candidates=candidates,
                   evidence=model.evidence(frame, k),
                   reason=line.reason + "; " + who, look_at=_look_at(take, names, presence))


def _look_at(take: Take, names: list[str], presence: Presence | None) -> tuple[tuple[str, int, int], ...]:
    """Per camera that saw a candidate around the take: its first and last frame then."""
    if presence is None or presence.positions.empty or "frame" not in presence.positions:
        return ()
    positions = presence.positions
    near = positions[(positions["timestamp"] >= take.start - BEFORE_S) & (positions["timestamp"] <= take.end + AFTER_S)
                     & positions["shopper"].isin(names)]
    return tuple((str(camera), int(rows["frame"].min()), int(rows["frame"].max()))
                 for camera, rows in near.groupby("camera"))


def merge_same(lines: list[ReceiptLine]) -> list[ReceiptLine]:
    """Lines of one take of a weight change for the same shopper, product and action are one line,
    quantities summed (vision saw two picks of one bag each, or a line moved to the shopper who already
    had one). The first line stays, its reason noting the merge. The change's steps (lines timed at
    their own step) stay apart: each is one take, with its own time, probability and frames to look at."""
    groups: dict[tuple, list[ReceiptLine]] = {}
    for line in lines:
        groups.setdefault((line.shopper, line.sku, line.action, line.counted, line.timestamp), []).append(line)
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

