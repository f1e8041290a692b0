"""Hand-to-product events: hand visits to shelf zones, decided as pick, return or nothing.

Input is the per-video table of attached hands (one row per hand per frame, see ``HAND_COLUMNS``).
A *visit* is a run of frames in which a hand of one shopper is inside one shelf zone (gaps up to
``max_gap_frames`` are bridged, runs shorter than ``min_visit_frames`` are a hand passing over and
are dropped). What the shopper holds just before the visit is compared with what they hold just
after it: an item more is a pick, an item less a return. The product comes from the hand-crop
classifier; when the hand holds something the classifier cannot name, from the planogram of the
zone's plates.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from vision.zones import ShelfZone

HAND_COLUMNS = ("frame", "owner", "x", "y", "zone", "sku", "count", "sku_confidence")
UNKNOWN_SKU = "?"


@dataclass(frozen=True)
class EventConfig:
    """Frame counts are at the video's own rate; ``min_held_share`` is a share of observed frames."""

    min_visit_frames: int = 3
    max_gap_frames: int = 3
    window_frames: int = 8
    min_window_frames: int = 2
    min_held_share: float = 0.5
    min_sku_confidence: float = 0.5


@dataclass(frozen=True)
class Visit:
    owner: int
    zone: int
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


def find_visits(hands: pd.DataFrame, config: EventConfig) -> list[Visit]:
    """Runs of frames where some hand of one owner is inside one zone. hands: HAND_COLUMNS table."""
    inside = hands[(hands["zone"] >= 0) & (hands["owner"] >= 0)]
    visits: list[Visit] = []
    for (owner, zone), group in inside.groupby(["owner", "zone"], sort=True):
        frames = np.unique(group["frame"].to_numpy())
        breaks = np.flatnonzero(np.diff(frames) > config.max_gap_frames + 1)
        starts = np.r_[0, breaks + 1]
        ends = np.r_[breaks, len(frames) - 1]
        for s, e in zip(starts, ends, strict=True):
            if e - s + 1 >= config.min_visit_frames:
                visits.append(Visit(int(owner), int(zone), int(frames[s]), int(frames[e])))
    return sorted(visits, key=lambda v: (v.start_frame, v.owner))


def held_state(hands: pd.DataFrame, owner: int, first: int, last: int, config: EventConfig) -> Counter | None:
    """What ``owner`` holds over frames [first, last]: sku -> count, by majority over observed frames.

    A frame's holding is the sum over the owner's hands. Returns None when fewer than
    ``min_window_frames`` frames observe any hand of the owner (no evidence either way).
    """
    rows = hands[(hands["owner"] == owner) & (hands["frame"] >= first) & (hands["frame"] <= last)]
    observed = rows["frame"].nunique()
    if observed < config.min_window_frames:
        return None
    held = rows[(rows["count"] > 0)]
    sku = np.where(held["sku_confidence"] >= config.min_sku_confidence, held["sku"], UNKNOWN_SKU)
    per_frame = held.assign(sku=sku).groupby(["frame", "sku"])["count"].sum().reset_index()
    state: Counter = Counter()
    for sku_name, group in per_frame.groupby("sku"):
        if len(group) >= config.min_held_share * observed:
            # Counts seen in at least half the observed frames; the typical count among them.
            state[sku_name] = int(np.round(np.median(group["count"])))
    return state


def _zone_sku(zone: ShelfZone, planogram: dict[tuple[str, int], str]) -> str:
    skus = [planogram[(zone.shelf, p)] for p in zone.plates if (zone.shelf, p) in planogram]
    if not skus:
        skus = [sku for (shelf, _), sku in planogram.items() if shelf == zone.shelf]
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
) -> tuple[list[PickEvent], list[Visit]]:
    """Turn a video's hand table into pick/return events. Returns (events, all visits)."""
    config = config or EventConfig()
    planogram = planogram or {}
    visits = find_visits(hands, config)
    events: list[PickEvent] = []
    by_owner: dict[int, list[Visit]] = {}
    for visit in visits:
        by_owner.setdefault(visit.owner, []).append(visit)
    for owner, own in by_owner.items():
        for i, visit in enumerate(own):
            previous_end = own[i - 1].end_frame if i > 0 else -(10**9)
            next_start = own[i + 1].start_frame if i + 1 < len(own) else 10**9
            before = held_state(hands, owner, max(visit.start_frame - config.window_frames, previous_end + 1),
                                visit.start_frame - 1, config)
            after = held_state(hands, owner, visit.end_frame + 1,
                               min(visit.end_frame + config.window_frames, next_start - 1), config)
            if before is None and after is None:
                continue
            before, after = before or Counter(), after or Counter()
            zone = zones[visit.zone]
            for sku in sorted(set(before) | set(after)):
                delta = after[sku] - before[sku]
                if delta == 0:
                    continue
                action = "pick" if delta > 0 else "return"
                named = sku if sku != UNKNOWN_SKU else _zone_sku(zone, planogram)
                confidence = 0.9 if sku != UNKNOWN_SKU else 0.5
                middle = (visit.start_frame + visit.end_frame) // 2
                events.append(PickEvent(
                    timestamp=round(start_timestamp + middle / fps, 3),
                    shopper=str(owner),
                    action=action,
                    sku=named,
                    quantity=abs(delta),
                    shelf=zone.shelf,
                    plates=";".join(str(p) for p in zone.plates),
                    camera=camera,
                    frame=middle,
                    confidence=confidence,
                ))
    return sorted(events, key=lambda e: (e.timestamp, e.shopper)), visits
