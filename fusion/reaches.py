"""Reaches: who had a hand at which shelf, when (``reaches.csv`` of a vision run).

A weight change that no vision event explains still happened through somebody's hand. Vision may
miss *what* a shopper took (a product hidden in a full hand), yet still see *that* their hand was in
the shelf's zone at the time. :func:`attribute` gives such a weight change to the shopper whose
reach best fits it in time and place.

reaches.csv (written by ``walkout run``; one row per run of frames a hand of a shopper spent inside
one shelf zone)::

    camera,shopper,shelf,plates,start,end,frames
    cam0,2,B1,3,1700000008.4,1700000009.3,9

plates are ';'-joined (empty: the zone covers the whole shelf); start/end Unix seconds; frames the
number of frames the hand was seen inside.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from formats.errors import FormatError
from formats.tables import REACH_COLUMNS, _read_csv, parse_plates
from formats.weight_events import WeightEvent
from fusion.settings import settings_from_dict


@dataclass(frozen=True)
class ReachConfig:
    """How a weight change is given to a reaching shopper.

    window_s: a reach may end this long before the weight change starts, or start this long after
        it ends (the scale settles after the hand has left; clocks of camera and scale differ a little).
    other_plate_s: penalty, in seconds of time distance, for a reach into another plate of the shelf
        than the one that changed (zones of neighbouring plates touch in the image).
    other_shelf_s: penalty for a reach into another shelf's zone, taken only when nobody reached the
        shelf that changed (seen from above, a hand reaching into a high shelf is drawn over the
        zones of the shelves below it).
    min_frames: reaches seen in fewer frames are ignored (a hand passing over a zone's corner).
    during_s: a shopper reaching the changed plates this close to the change took part in it: a
        change of several items with several such shoppers is split between them (two shoppers
        taking one item each from one plate within a second settle as one weight change).
    """

    window_s: float = 1.5
    other_plate_s: float = 0.5
    other_shelf_s: float = 1.0
    min_frames: int = 2
    during_s: float = 0.3

    @classmethod
    def from_dict(cls, data: dict) -> ReachConfig:
        return settings_from_dict(cls, data, "reach")


@dataclass(frozen=True)
class Attribution:
    """The shopper a weight change is given to, and why (for the receipt line's reason)."""

    shopper: str
    reason: str


def read_reaches(path: str | Path) -> pd.DataFrame:
    """Read a reaches.csv; FormatError naming the file on a missing column or a bad value."""
    path = Path(path)
    table = _read_csv(path, REACH_COLUMNS)
    for column in ("start", "end", "frames"):
        values = pd.to_numeric(table[column], errors="coerce")
        bad = values.isna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise FormatError(path, f"{column} is not a number ({table[column].iloc[row]!r})", line=row + 2)
        table[column] = values.astype(float)
    if (table["end"] < table["start"]).any():
        row = int(np.flatnonzero((table["end"] < table["start"]).to_numpy())[0])
        raise FormatError(path, "reach ends before it starts", line=row + 2)
    table["shopper"] = table["shopper"].astype(str)
    table["shelf"] = table["shelf"].astype(str)
    table["plates"] = table["plates"].fillna("").astype(str)
    return table


def attribute(event: WeightEvent, reaches: pd.DataFrame | None, config: ReachConfig | None = None) -> Attribution | None:
    """The shopper whose hand reached the weight event's shelf closest in time (plates that changed
    preferred; another shelf's zone only when nobody reached this one), or None when no reach lies
    within ``window_s`` of the change."""
    config = config or ReachConfig()
    if reaches is None or reaches.empty:
        return None
    near = reaches[reaches["frames"] >= config.min_frames]
    start, end = near["start"].to_numpy(float), near["end"].to_numpy(float)
    gap = np.maximum.reduce([np.zeros(len(near)), start - event.end, event.start - end])
    inside = gap <= config.window_s
    same_shelf = (near["shelf"] == event.shelf).to_numpy()
    if (inside & same_shelf).any():
        inside &= same_shelf
    if not inside.any():
        return None
    changed = set(event.plates)
    other_plate = np.array([bool(changed) and bool(p := set(parse_plates(text))) and not (p & changed)
                            for text in near["plates"]], dtype=bool)
    cost = gap + config.other_plate_s * (other_plate & same_shelf) + config.other_shelf_s * ~same_shelf
    cost = np.where(inside, cost, np.inf)
    best = int(np.argmin(cost))
    shopper = str(near["shopper"].iloc[best])
    rivals = sorted({str(s) for s, c in zip(near["shopper"], cost, strict=True) if np.isfinite(c) and str(s) != shopper})
    where = f"{near['shelf'].iloc[best]} plates {near['plates'].iloc[best] or 'all'}"
    when = "during the change" if gap[best] == 0 else f"{gap[best]:.1f} s from the change"
    reason = f"shopper {shopper}'s hand was in {where} {when}"
    if rivals:
        reason += f" (the closest of the shoppers reaching there; also {', '.join(rivals)})"
    return Attribution(shopper, reason)


def reaching_shoppers(event: WeightEvent, reaches: pd.DataFrame | None, config: ReachConfig | None = None) -> list[str]:
    """Shoppers whose hands were in a zone of the changed plates while the weight was changing
    (within ``during_s`` of the change), in the order their reaches began."""
    config = config or ReachConfig()
    if reaches is None or reaches.empty:
        return []
    near = reaches[(reaches["shelf"] == event.shelf) & (reaches["frames"] >= config.min_frames)]
    changed = set(event.plates)
    if changed:
        near = near[np.array([not (p := set(parse_plates(text))) or bool(p & changed) for text in near["plates"]], dtype=bool)]
    gap = np.maximum.reduce([np.zeros(len(near)), near["start"].to_numpy(float) - event.end,
                             event.start - near["end"].to_numpy(float)])
    during = near[gap <= config.during_s].sort_values("start", kind="stable")
    return list(dict.fromkeys(during["shopper"].astype(str)))
