"""Evidence of who made a weight change: the candidate shoppers and one feature vector each.

A *take* is one hand's part of a weight event: the whole event, or one step of a change whose hands
took turns (each step a whole number of one product's items, see ``WeightEvent.steps``). Its
candidates are everybody seen near the changed plates around it: tracked bodies whose boxes came
near the plates' zones (``tracks.csv`` via :class:`fusion.presence.Presence`), hands in a zone of the
shelf (``reaches.csv``), the shopper vision named, and (calibrated stores) shoppers on the floor
near the plates' boxes (``shoppers.csv``). Per candidate, :data:`FEATURES`:

- ``offset``: median horizontal distance of their box centre from the plates' zones' centre over
  the overlap bound (0: centred, 1: just touching; the closest camera's view), capped at
  ``MAX_OFFSET``; ``distance_m``: median floor distance to the plates' boxes (capped at ``MAX_DISTANCE_M``);
- ``reaching``: the reach classifier's mean of the three highest probabilities around the take;
  ``reach_off_s``: how far the middle of their nearest reach lies outside the take (capped);
- ``hand_gap_s``: how far their hand's nearest reach into the changed plates' zone lies from the take
  (capped); ``hand_elsewhere``: their hand was only in other plates' zones of the shelf;
- ``claim``: vision's event matched to this weight event names them, ``claim_confidence`` its score;
- ``busy``: vision matched one of their events to another weight event at the same moment;
- ``return_held`` / ``return_not_held``: for a return, whether they hold the product (the receipt
  lines so far);
- ``holding``: the share of their hands seen in the ``HOLD_S`` after a pick (before a return) that
  held the take's product (hands.csv's held-item classifier; 0 when none was seen), ``holding_any``:
  whether any did. The taker walks off with the item in hand (walks up with it for a return), seen
  long after the moment itself, when the reach was hidden;
- ``has_tracks`` / ``has_reaching`` / ``has_floor`` / ``has_hands`` / ``has_held``: which evidence the
  run has at all (a missing kind of evidence is neutral, and the model knows it was missing);
- ``share``: 1 / the number of candidates;
- ``<feature>_lead`` of offset, distance, reaching, reach timing, hand gap and holding: the candidate's
  value minus the best other candidate's (0 alone: a lone candidate leads by nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from formats.tables import REACHING_COLUMN, parse_plates
from formats.weight_events import WeightEvent
from fusion.presence import Presence

FEATURES = (
    "offset", "offset_lead", "distance_m", "distance_lead", "reaching", "reaching_lead", "reach_off_s",
    "reach_off_lead", "hand_gap_s", "hand_gap_lead", "hand_elsewhere", "claim", "claim_confidence", "busy",
    "return_held", "return_not_held", "holding", "holding_lead", "holding_any", "holding_any_lead",
    "has_tracks", "has_reaching", "has_floor", "has_hands", "has_held", "share",
)
# Each ``<name>_lead``: the candidate's value minus the best other candidate's (lower is better for
# distances and times, higher for ``reaching`` and ``holding``): what counts is who was nearest, not how near.
LEADS = {"offset": min, "distance_m": min, "reaching": max, "reach_off_s": min, "hand_gap_s": min, "holding": max,
         "holding_any": max}
BEFORE_S = 1.0  # positions are looked at from this long before a take ...
AFTER_S = 0.5  # ... to this long after it
NEAR_S = 2.0  # reaches and hands are looked for this far around a take
HOLD_S = 5.0  # held items are looked for this long after a pick (before a return)
MAX_OFFSET = 3.0  # candidates' boxes at most this far (in overlap bounds) from the plates
MAX_DISTANCE_M = 2.5  # candidates on the floor at most this far from the plates' boxes
MIN_FRAMES = 2  # a body seen in fewer frames of the window is a passer-by
REACHING_PROBABILITY = 0.5  # a frame counts toward a reach at this reach probability
REACH_GAP_S = 0.25  # gaps of up to this long within a reach are bridged


@dataclass(frozen=True)
class Take:
    """One hand's part of a weight event: ``start``/``end`` (Unix s), the event, the action and the
    product it moved (for a return's holder evidence), and the vision claims matched to the event."""

    event: WeightEvent
    start: float
    end: float
    action: str
    sku: str
    quantity: int
    claims: tuple[tuple[str, float], ...] = ()  # (shopper, confidence) of vision's matched events


def _offsets(take: Take, presence: Presence) -> pd.Series:
    """Per shopper seen in at least ``MIN_FRAMES`` frames around the take: their median offset from
    the changed plates (the closest camera's view); empty when no camera sees the plates then."""
    event = take.event
    spans = presence.spans[presence.spans["shelf"] == event.shelf]
    if event.plates:
        spans = spans[spans["plate"].isin([*event.plates, -1])]
    positions = presence.positions
    window = positions[(positions["timestamp"] >= take.start - BEFORE_S) & (positions["timestamp"] <= take.end + AFTER_S)]
    parts = []
    for camera, own in spans.groupby("camera"):
        here = window[window["camera"] == camera]
        if here.empty:
            continue
        x_min, x_max = float(own["x_min"].min()), float(own["x_max"].max())
        centre = ((here["x1"] + here["x2"]) / 2 - (x_min + x_max) / 2).abs()
        bound = ((here["x2"] - here["x1"]) / 2 + (x_max - x_min) / 2).clip(lower=1e-6)
        per = pd.DataFrame({"shopper": here["shopper"], "offset": centre / bound}).groupby("shopper")["offset"].agg(
            ["median", "size"])
        parts.append(per.loc[per["size"] >= MIN_FRAMES, "median"])
    if not parts:
        return pd.Series(dtype=float)
    offsets = pd.concat(parts)
    return offsets.groupby(level=0).min()


def _reach_features(take: Take, positions: pd.DataFrame) -> pd.DataFrame:
    """Per shopper: ``reaching`` (mean of their three highest probabilities around the take) and
    ``reach_off_s`` (how far the middle of their nearest reach lies outside the take)."""
    near = positions[(positions["timestamp"] >= take.start - NEAR_S) & (positions["timestamp"] <= take.end + NEAR_S)]
    near = near.dropna(subset=[REACHING_COLUMN])
    rows = {}
    for shopper, own in near.groupby("shopper"):
        close = own[(own["timestamp"] >= take.start - 0.5) & (own["timestamp"] <= take.end + 0.5)]
        reaching = float(np.sort(close[REACHING_COLUMN].to_numpy())[-3:].mean()) if len(close) else 0.0
        times = np.unique(own.loc[own[REACHING_COLUMN] >= REACHING_PROBABILITY, "timestamp"].to_numpy(float))
        off = NEAR_S
        if len(times):
            breaks = np.flatnonzero(np.diff(times) > REACH_GAP_S + 1e-6)
            middles = (times[np.r_[0, breaks + 1]] + times[np.r_[breaks, len(times) - 1]]) / 2
            off = float(np.maximum(0.0, np.maximum(take.start - middles, middles - take.end)).min())
        rows[str(shopper)] = (reaching, off)
    return pd.DataFrame.from_dict(rows, orient="index", columns=["reaching", "reach_off_s"], dtype=float)


def _hand_features(take: Take, reaches: pd.DataFrame) -> pd.DataFrame:
    """Per shopper with a hand in a zone of the take's shelf near it: ``hand_gap_s`` (nearest reach
    into the changed plates) and ``hand_elsewhere`` (only other plates' zones)."""
    event = take.event
    near = reaches[(reaches["shelf"] == event.shelf) & (reaches["frames"] >= MIN_FRAMES)]
    gap = np.maximum.reduce([np.zeros(len(near)), near["start"].to_numpy(float) - take.end,
                             take.start - near["end"].to_numpy(float)])
    near = near.assign(gap=gap)[gap <= NEAR_S]
    changed = set(event.plates)
    on_plates = np.array([not changed or not (p := set(parse_plates(text))) or bool(p & changed)
                          for text in near["plates"]], dtype=bool)
    near = near.assign(on_plates=on_plates)
    rows = {}
    for shopper, own in near.groupby("shopper"):
        mine = own[own["on_plates"]]
        rows[str(shopper)] = (float(mine["gap"].min()) if len(mine) else NEAR_S, float(mine.empty))
    return pd.DataFrame.from_dict(rows, orient="index", columns=["hand_gap_s", "hand_elsewhere"], dtype=float)


def _held_features(take: Take, held: pd.DataFrame) -> pd.DataFrame:
    """Per shopper whose hands were seen in the ``HOLD_S`` after a pick (before a return): ``holding``,
    the share of those hands that held the take's product, and ``holding_any``, whether any did."""
    if take.action == "return":
        near = held[(held["timestamp"] >= take.start - HOLD_S) & (held["timestamp"] < take.start)]
    else:
        near = held[(held["timestamp"] > take.end) & (held["timestamp"] <= take.end + HOLD_S)]
    holds = (near["sku"] == take.sku).astype(float).groupby(near["shopper"].astype(str))
    return pd.DataFrame({"holding": holds.mean(), "holding_any": holds.max()}, dtype=float)


def candidate_features(
    take: Take, presence: Presence | None, reaches: pd.DataFrame | None,
    carts: Mapping[str, Mapping[str, int]], busy: set[str] = frozenset(),
) -> pd.DataFrame:
    """The take's candidate shoppers (index, str) and their :data:`FEATURES` (module docstring).
    ``carts``: shopper -> {sku: items held}; ``busy``: shoppers vision saw making another weight
    change at this moment. Empty (no rows) when nobody was seen near."""
    has_tracks = presence is not None and not presence.positions.empty
    has_reaching = has_tracks and REACHING_COLUMN in presence.positions
    has_hands = reaches is not None and not reaches.empty
    offsets = _offsets(take, presence) if has_tracks else pd.Series(dtype=float)
    offsets = offsets[offsets <= MAX_OFFSET]
    distance = presence.distance_m(take.event, BEFORE_S, AFTER_S) if has_tracks else pd.Series(dtype=float)
    has_floor = bool(len(distance))
    distance = distance[distance <= MAX_DISTANCE_M]
    hands = _hand_features(take, reaches) if has_hands else pd.DataFrame(columns=["hand_gap_s", "hand_elsewhere"])
    has_held = has_tracks and presence.held is not None and not presence.held.empty
    claims = dict(take.claims)
    names = sorted({*map(str, offsets.index), *map(str, distance.index), *hands.index, *claims})
    frame = pd.DataFrame(index=pd.Index(names, dtype=object, name="shopper"))
    if not names:
        return frame.reindex(columns=FEATURES)
    offsets.index = offsets.index.astype(str)
    distance.index = distance.index.astype(str)
    frame["offset"] = offsets.reindex(frame.index).fillna(MAX_OFFSET).clip(upper=MAX_OFFSET)
    frame["distance_m"] = distance.reindex(frame.index).fillna(MAX_DISTANCE_M)
    if has_reaching:
        reach = _reach_features(take, presence.positions).reindex(frame.index)
        frame["reaching"] = reach["reaching"].fillna(0.0)
        frame["reach_off_s"] = reach["reach_off_s"].fillna(NEAR_S)
    else:
        frame["reaching"], frame["reach_off_s"] = 0.0, NEAR_S
    hands = hands.reindex(frame.index)
    frame["hand_gap_s"] = hands["hand_gap_s"].fillna(NEAR_S).astype(float)
    frame["hand_elsewhere"] = hands["hand_elsewhere"].fillna(0.0).astype(float)
    frame["claim"] = [float(name in claims) for name in frame.index]
    frame["claim_confidence"] = [claims.get(name, 0.0) for name in frame.index]
    frame["busy"] = [float(name in busy) for name in frame.index]
    held = np.array([carts.get(name, {}).get(take.sku, 0) >= take.quantity for name in frame.index])
    is_return = take.action == "return"
    frame["return_held"] = (is_return & held).astype(float)
    frame["return_not_held"] = (is_return & ~held).astype(float)
    holding = _held_features(take, presence.held).reindex(frame.index) if has_held else None
    for name in ("holding", "holding_any"):
        frame[name] = holding[name].fillna(0.0).astype(float) if holding is not None else 0.0
    frame["has_tracks"], frame["has_reaching"] = float(has_tracks), float(has_reaching)
    frame["has_floor"], frame["has_hands"], frame["has_held"] = float(has_floor), float(has_hands), float(has_held)
    frame["share"] = 1.0 / len(frame)
    for name, best in LEADS.items():
        values = frame[name].to_numpy(float)
        others = [best(np.delete(values, k)) if len(values) > 1 else values[k] for k in range(len(values))]
        frame[name.removesuffix("_s").removesuffix("_m") + "_lead"] = values - np.array(others)
    return frame[list(FEATURES)].astype(float)
