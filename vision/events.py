"""Hand-to-product events: changes in what a shopper holds, located at the shelf zone their hand reached.

Input is the per-video table of attached hands (one row per hand per frame, see ``HAND_COLUMNS``):
where the hand is (which shelf zone, -1 for none) and what it holds (sku, count). Per shopper:

1. the *held series*: per observed frame, sku -> count summed over their hands (frames where none
   of their hands is seen are missing, not empty: an occluded hand is no evidence);
2. the series is debounced: a value must last ``min_state_s`` (of observed frames) to count, so a
   product flickering in and out of view is no event;
3. each change of a debounced count is a candidate event: more of a sku is a pick, less a return,
   the difference the quantity (two items in one grab -> quantity 2);
4. a candidate is kept only if a hand of that shopper was inside a shelf zone within
   ``reach_window_s`` before the change (items leave shelves through hands in zones); the
   zone decides shelf and plates: among the zones touched, one whose plates hold the sku (from a
   ceiling camera, stacked shelves overlap in the image), else the most touched (a return to the
   wrong plate). The event time is the last frame that hand was in the zone before the change.

A hand that only passes over a zone changes nothing it holds, so it makes no event. When the
held-item source cannot name the product, the sku is the planogram's for the zone reached.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from formats.tables import REACH_COLUMNS
from vision.zones import ShelfZone, points_in_polygon

UNKNOWN_SKU = "?"


def seconds_to_frames(seconds: float, fps: float) -> int:
    """A duration in whole frames at ``fps``, to the nearest frame (0.3 s at 10 fps is 3 frames: ``round``,
    not ``int``, of 2.9999999999999996)."""
    return round(seconds * fps)


@dataclass(frozen=True)
class EventConfig:
    """Durations are seconds, turned into frames at each camera's own rate (a 30 fps camera waits as
    long as a 10 fps one). Held counts are judged over *observed* frames: frames where none of a
    shopper's hands is seen are missing, so a duration is a number of observed frames at that rate.

    label_rises: also take a product newly seen in the hands right after a reach as a pick when the
        count did not change (a hand already holding an item shows only one product).
    border_margin_px: an item lost while the shopper's hands are this close to the image edge left the
        picture, it was not put back (no return is made of it).
    """

    min_state_s: float = 0.6
    """how long (observed frames) a held count must last to count (debounce)"""
    min_drop_s: float = 2.0
    """how long (observed frames) a *lower* count must last: held items are often hidden for a while
    (turned away, another shopper in front); a return must stay gone"""
    merge_s: float = 1.2
    """changes of one sku by one shopper this close are one event with the net quantity (two items seen
    one after the other; a count dipping and recovering nets to nothing)"""
    evidence_window_s: float = 1.5
    """a held count is decided over a centred window of observed frames this long (at least one frame)"""
    min_seen_share: float = 0.25
    """a shopper holds k items when at least this share of the window's observed frames show k or more
    (held items are often hidden by the hand or body: absence in one frame is weak evidence)"""
    reach_window_s: float = 2.5
    """how long before a change a hand must have been in a zone"""
    max_gap_s: float = 1.2
    """in `find_visits`, gaps bridged inside one visit (a hand hidden in the shelf)"""
    min_visit_s: float = 0.2
    """a hand in a shelf zone for less than this (observed frames) passed over it: no visit"""
    border_margin_px: float = 40.0
    min_sku_confidence: float = 0.5
    """below it, a held item counts as an unnamed product"""
    sku_window_s: float = 1.5
    """time before and after a change over which the products held are compared"""
    label_rises: bool = True

    def __post_init__(self) -> None:
        negative = [f"{name} = {value}" for name, value in dataclasses.asdict(self).items()
                    if name.endswith("_s") and value < 0]
        if negative:
            raise ValueError(f"durations cannot be negative: {', '.join(negative)}")


@dataclass(frozen=True)
class Visit:
    """A shopper's hand in shelf zones over frames [start_frame, end_frame] (for inspection);
    ``zones`` are the zone indices touched, most frames first."""

    owner: int
    zones: tuple[int, ...]
    start_frame: int
    end_frame: int  # inclusive


@dataclass(frozen=True)
class PickEvent:
    """One pick or return by a tracked shopper, on the shared clock (Unix seconds)."""

    timestamp: float
    shopper: str
    action: str
    sku: str
    quantity: int
    shelf: str
    plates: str
    camera: str
    frame: int
    confidence: float
    version: int = 1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PickEvent:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def frame_runs(frames: np.ndarray, max_gap: int, min_frames: int = 1) -> list[tuple[int, int]]:
    """Runs of sorted unique frame numbers, as (first, last) positions in ``frames`` (inclusive): gaps of
    up to ``max_gap`` missing frames bridged, runs of fewer than ``min_frames`` frames seen dropped."""
    breaks = np.flatnonzero(np.diff(frames) > max_gap + 1)
    return [(int(s), int(e)) for s, e in zip(np.r_[0, breaks + 1], np.r_[breaks, len(frames) - 1], strict=True)
            if e - s + 1 >= min_frames]


def _frame_runs(frames: np.ndarray, config: EventConfig, fps: float) -> list[tuple[int, int, int]]:
    """Sorted unique frames -> runs (first, last, frames seen) with the visit settings (:func:`frame_runs`)."""
    max_gap, min_visit = seconds_to_frames(config.max_gap_s, fps), seconds_to_frames(config.min_visit_s, fps)
    return [(int(frames[s]), int(frames[e]), e - s + 1) for s, e in frame_runs(frames, max_gap, min_visit)]


def find_visits(hands: pd.DataFrame, config: EventConfig, fps: float) -> list[Visit]:
    """Runs of frames where some hand of one owner is inside some zone. hands: HAND_COLUMNS table;
    fps: the camera's frame rate (the durations of ``config`` in its frames)."""
    inside = hands[(hands["zone"] >= 0) & (hands["owner"] >= 0)]
    visits: list[Visit] = []
    for owner, group in inside.groupby("owner", sort=True):
        for first, last, _ in _frame_runs(np.unique(group["frame"].to_numpy()), config, fps):
            touched = group[(group["frame"] >= first) & (group["frame"] <= last)]["zone"]
            zones = tuple(int(z) for z, _ in Counter(touched.tolist()).most_common())
            visits.append(Visit(int(owner), zones, first, last))
    return sorted(visits, key=lambda v: (v.start_frame, v.owner))



def find_reaches(
    hands: pd.DataFrame, zones: tuple[ShelfZone, ...], *, camera: str, start_timestamp: float, fps: float,
    config: EventConfig | None = None,
) -> pd.DataFrame:
    """Who reached where and when: one row per run of frames in which a shopper's hand is inside a
    shelf zone (gaps bridged as in :func:`find_visits`), on the shared clock (Unix seconds).

    Every zone containing the hand counts, not only the one the hand table names: seen from above,
    stacked shelves overlap in the image, and which of them the hand was in is for the shelf's
    weight sensors to say. Whatever the held-item evidence says, this is the witness of *who* was
    at a shelf: fusion gives a weight change no vision event explains to the shopper reaching there.
    Columns ``REACH_COLUMNS``; plates ';'-joined (empty: the whole shelf); frames = frames seen.
    """
    config = config or EventConfig()
    located = hands[(hands["owner"] >= 0) & hands["x"].notna() & hands["y"].notna()]
    located = located.drop_duplicates(["frame", "owner", "x", "y"])
    points = located[["x", "y"]].to_numpy(float)
    rows = []
    for index, zone in enumerate(zones):
        inside = located[points_in_polygon(points, np.asarray(zone.polygon_px))] if len(points) else located
        for owner, group in inside.groupby("owner", sort=True):
            for first, last, seen in _frame_runs(np.unique(group["frame"].to_numpy()), config, fps):
                rows.append((camera, str(int(owner)), zone.shelf, ";".join(str(p) for p in zone.plates),
                             round(start_timestamp + first / fps, 3), round(start_timestamp + last / fps, 3), seen,
                             index))
    table = pd.DataFrame(rows, columns=[*REACH_COLUMNS, "zone"])
    return table.sort_values(["start", "shopper", "zone"], kind="stable", ignore_index=True)[list(REACH_COLUMNS)]


def held_series(hands: pd.DataFrame, owner: int, config: EventConfig) -> pd.DataFrame:
    """Frames (index, observed frames only) x skus (columns): how many of each the owner holds."""
    rows = hands[hands["owner"] == owner]
    frames = np.unique(rows["frame"].to_numpy())
    held = rows[rows["count"] > 0]
    sku = np.where(held["sku_confidence"] >= config.min_sku_confidence, held["sku"], UNKNOWN_SKU)
    counts = held.assign(sku=sku).pivot_table(index="frame", columns="sku", values="count", aggfunc="sum")
    return counts.reindex(frames).fillna(0).astype(int)


def changed_sku(series: pd.DataFrame, change: int, delta: int, config: EventConfig, fps: float) -> str:
    """Which product a change of ``delta`` items at frame ``change`` was: the sku whose mean held count
    rose most (a pick) or fell most (a return) between the windows before and after the change."""
    window = seconds_to_frames(config.sku_window_s, fps)
    frames = series.index.to_numpy()
    before = series[(frames < change) & (frames >= change - window)]
    after = series[(frames >= change) & (frames <= change + window)]
    mean_before = before.mean() if len(before) else series.iloc[:0].sum()
    mean_after = after.mean() if len(after) else series.iloc[:0].sum()
    rise = (mean_after - mean_before).drop(UNKNOWN_SKU, errors="ignore")
    if rise.empty:
        return UNKNOWN_SKU
    best = rise.idxmax() if delta > 0 else rise.idxmin()
    return str(best) if (rise[best] > 0 if delta > 0 else rise[best] < 0) else UNKNOWN_SKU


def _evidence_window(config: EventConfig, fps: float) -> int:
    """The held-count evidence window in frames (at least one)."""
    return max(1, seconds_to_frames(config.evidence_window_s, fps))


def held_counts(observed: np.ndarray, config: EventConfig, fps: float) -> np.ndarray:
    """Observed counts (N,) over observed frames -> evidence-based held counts (N,)."""
    if not len(observed):
        return observed
    window = _evidence_window(config, fps)
    held = np.zeros_like(observed)
    for k in range(1, int(observed.max()) + 1):
        seen = pd.Series((observed >= k).astype(float)).rolling(window, center=True, min_periods=1).mean()
        held += (seen.to_numpy() >= config.min_seen_share).astype(observed.dtype)
    return held


def debounce(values: np.ndarray, min_frames: int, min_drop_frames: int | None = None) -> np.ndarray:
    """Replace runs shorter than ``min_frames`` by the preceding stable value (the first stable run
    back-fills the start). A run *lower* than the stable value before it must last
    ``min_drop_frames`` (default ``min_frames``): an item hidden for a while is not yet put back.
    values: (N,) ints over observed frames."""
    out = values.copy()
    if not len(out):
        return out
    min_drop_frames = min_frames if min_drop_frames is None else min_drop_frames
    change = np.flatnonzero(np.diff(out)) + 1
    starts = np.r_[0, change]
    ends = np.r_[change, len(out)]
    stable = (ends - starts) >= min_frames
    if not stable.any():
        return np.full_like(out, int(np.bincount(out - out.min()).argmax() + out.min()))
    current = out[starts[np.argmax(stable)]]
    for start, end, keep in zip(starts, ends, stable, strict=True):
        lower = out[start] < current
        # The last run may end with the track: a drop then is only trusted if long enough too.
        if keep and (not lower or end - start >= min_drop_frames):
            current = out[start]
        else:
            out[start:end] = current
    return out


def _held_changes(observed: np.ndarray, config: EventConfig, fps: float) -> np.ndarray:
    """Observed counts (N,) -> the held counts whose changes are candidate events (evidence, then debounce)."""
    return debounce(held_counts(observed, config, fps), seconds_to_frames(config.min_state_s, fps),
                    seconds_to_frames(config.min_drop_s, fps))


def _near_change(zone_frames: np.ndarray, change: int, config: EventConfig, fps: float) -> np.ndarray:
    """Which of a shopper's in-zone frames are within the reach window before frame ``change`` (the
    evidence window can move a change up to half a window early, so a little after it too)."""
    latest = change + _evidence_window(config, fps) // 2
    return (zone_frames <= latest) & (zone_frames >= change - seconds_to_frames(config.reach_window_s, fps))


def _zone_skus(zone: ShelfZone, planogram: dict[tuple[str, int], str]) -> list[str]:
    plates = zone.plates or tuple(p for (shelf, p) in planogram if shelf == zone.shelf)
    return [planogram[(zone.shelf, p)] for p in plates if (zone.shelf, p) in planogram]


def choose_zone(touched: tuple[int, ...], sku: str, zones: tuple[ShelfZone, ...],
                planogram: dict[tuple[str, int], str]) -> int:
    """Of the zones touched (most touched first), one whose plates hold ``sku``, else the most touched."""
    for index in touched:
        if sku in _zone_skus(zones[index], planogram):
            return index
    return touched[0]


def _planogram_sku(zone: ShelfZone, planogram: dict[tuple[str, int], str]) -> str:
    """Unknown product: the most common sku on the zone's plates."""
    skus = _zone_skus(zone, planogram)
    return Counter(skus).most_common(1)[0][0] if skus else UNKNOWN_SKU


def decide_events(
    hands: pd.DataFrame,
    zones: tuple[ShelfZone, ...],
    *,
    camera: str,
    start_timestamp: float,
    fps: float,
    planogram: dict[tuple[str, int], str] | None = None,
    config: EventConfig | None = None,
    image_size_px: tuple[int, int] | None = None,
) -> tuple[list[PickEvent], list[Visit]]:
    """Turn a video's hand table into pick/return events. Returns (events, visits for inspection).

    image_size_px: (width, height); with it, items lost at the image edge are not returns.
    """
    config = config or EventConfig()
    planogram = planogram or {}
    events: list[PickEvent] = []
    owned = hands[hands["owner"] >= 0]
    for owner in np.unique(owned["owner"].to_numpy()):
        series = held_series(owned, int(owner), config)
        if series.empty or not series.shape[1]:
            continue
        frames = series.index.to_numpy()
        own = owned[owned["owner"] == owner]
        mine = own[own["zone"] >= 0]
        zone_frames, zone_ids = mine["frame"].to_numpy(), mine["zone"].to_numpy()
        # How many items the shopper holds, whatever they are: robust to a classifier that hesitates
        # between two products; which product changed is voted on afterwards.
        counts = _held_changes(series.sum(axis=1).to_numpy(), config, fps)
        for i in np.flatnonzero(np.diff(counts)) + 1:
            delta = int(counts[i] - counts[i - 1])
            change = int(frames[i])
            near = _near_change(zone_frames, change, config, fps)
            if not near.any():
                continue  # held items changed away from any shelf: occlusion or hand-to-hand, not an event
            if delta < 0 and image_size_px is not None and _at_border(own, change, image_size_px, config, fps):
                continue
            sku = changed_sku(series, change, delta, config, fps)
            touched = tuple(int(z) for z, _ in Counter(zone_ids[near].tolist()).most_common())
            named = sku if sku != UNKNOWN_SKU else _planogram_sku(zones[touched[0]], planogram)
            index = choose_zone(touched, named, zones, planogram)
            # The time is the end of the reach (the hand's last frame in any zone before the change):
            # the zone only names the shelf, and a hand may have passed over the chosen zone earlier.
            frame = int(zone_frames[near].max())
            zone = zones[index]
            events.append(PickEvent(
                timestamp=round(start_timestamp + frame / fps, 3),
                shopper=str(int(owner)),
                action="pick" if delta > 0 else "return",
                sku=named,
                quantity=abs(delta),
                shelf=zone.shelf,
                plates=";".join(str(p) for p in zone.plates),
                camera=camera,
                frame=frame,
                confidence=0.9 if sku != UNKNOWN_SKU else 0.5,
            ))
        if config.label_rises:
            events += _label_rises(series, own, zone_frames, zone_ids, zones, planogram, events, camera,
                                   start_timestamp, fps, int(owner), config)
    return merge_changes(events, seconds_to_frames(config.merge_s, fps)), find_visits(hands, config, fps)


def _label_rises(series, own, zone_frames, zone_ids, zones, planogram, found, camera, start_timestamp, fps,
                 owner, config) -> list[PickEvent]:
    """Picks the count cannot show: a hand already holding an item comes back from a shelf with a new
    product on top (the classifier names one product per hand, so the count stays the same). A
    product whose own debounced count rises right after a reach, unexplained by a pick found from
    the count, is a pick of that product."""
    extra: list[PickEvent] = []
    frames = series.index.to_numpy()
    explained = [(e.sku, e.frame) for e in found if e.shopper == str(owner) and e.action == "pick"]
    reach_window = seconds_to_frames(config.reach_window_s, fps)
    for sku in series.columns:
        if sku == UNKNOWN_SKU:
            continue
        counts = _held_changes(series[sku].to_numpy(), config, fps)
        for i in np.flatnonzero(np.diff(counts) > 0) + 1:
            change = int(frames[i])
            if any(k == sku and abs(f - change) <= reach_window for k, f in explained):
                continue
            near = _near_change(zone_frames, change, config, fps)
            if not near.any():
                continue
            touched = tuple(int(z) for z, _ in Counter(zone_ids[near].tolist()).most_common())
            index = choose_zone(touched, sku, zones, planogram)
            if sku not in _zone_skus(zones[index], planogram):
                continue  # the product is not stocked where the hand was: a classifier slip, not a pick
            frame = int(zone_frames[near & (zone_ids == index)].max())
            zone = zones[index]
            extra.append(PickEvent(
                timestamp=round(start_timestamp + frame / fps, 3), shopper=str(owner), action="pick", sku=str(sku),
                quantity=int(counts[i] - counts[i - 1]), shelf=zone.shelf,
                plates=";".join(str(p) for p in zone.plates), camera=camera, frame=frame, confidence=0.7,
            ))
    return extra


def _at_border(own: pd.DataFrame, frame: int, image_size_px: tuple[int, int], config: EventConfig,
               fps: float) -> bool:
    """Is any of the owner's hands near the image edge around ``frame`` (the last frame it was seen)?"""
    seen = own[(own["frame"] <= frame + _evidence_window(config, fps) // 2) & own["x"].notna()]
    if seen.empty:
        return False
    last = seen[seen["frame"] == seen["frame"].max()]
    width, height = image_size_px
    x, y = last["x"].to_numpy(float), last["y"].to_numpy(float)
    margin = config.border_margin_px
    return bool(((x < margin) | (x > width - margin) | (y < margin) | (y > height - margin)).any())


def merge_changes(events: list[PickEvent], merge_frames: int) -> list[PickEvent]:
    """Net the changes of one sku by one shopper that follow each other within ``merge_frames``."""
    merged: list[PickEvent] = []
    groups: dict[tuple[str, str, str], list[PickEvent]] = {}
    for event in sorted(events, key=lambda e: e.frame):
        groups.setdefault((event.camera, event.shopper, event.sku), []).append(event)
    for chain in groups.values():
        run = [chain[0]]
        for event in chain[1:] + [None]:
            if event is not None and event.frame - run[-1].frame <= merge_frames:
                run.append(event)
                continue
            net = sum(e.quantity if e.action == "pick" else -e.quantity for e in run)
            if net:
                first = run[0]
                merged.append(PickEvent(**{**first.to_dict(), "action": "pick" if net > 0 else "return",
                                           "quantity": abs(net)}))
            run = [event]
    return sorted(merged, key=lambda e: (e.timestamp, e.shopper))
