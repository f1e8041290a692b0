"""weight_events.csv: the settled weight changes fusion found, one row per event.

Columns: ``id, start, end, shelf, plates, delta_g, plate_deltas_g, confidence, steps``. start/end in
Unix s; plates ``;``-separated ascending; plate_deltas_g the plates' changes in the same order;
steps ``time:grams`` of each hand's step, ``;``-separated (times in Unix s). Negative grams: taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from formats.tables import _read_csv, floats

WEIGHT_EVENT_COLUMNS = ("id", "start", "end", "shelf", "plates", "delta_g", "plate_deltas_g", "confidence", "steps")


@dataclass(frozen=True)
class WeightEvent:
    """A settled weight change on one shelf (one or more plates). Negative delta = taken.

    start/end: Unix seconds of the last stable reading before and the first stable reading after.
    plates: the plates that changed, ascending; plate_deltas_g: their changes (same order).
    confidence: in [0, 1], 0.5 when |delta| is at the detection threshold, -> 1 far above it.
    steps: ((time, grams), ...) in time order: when each hand's part of the change happened (the
        steepest moment of the step, when an item left or met the plate) and how heavy it was. One
        step for one grab; several when hands took turns (brief plateaus, or changes of adjacent
        plates or of one plate merged into this event). Empty when not known.
    """

    id: str
    shelf: str
    plates: tuple[int, ...]
    start: float
    end: float
    delta_g: float
    plate_deltas_g: tuple[float, ...]
    confidence: float
    steps: tuple[tuple[float, float], ...] = ()

    @property
    def timestamp(self) -> float:
        return 0.5 * (self.start + self.end)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "shelf": self.shelf,
            "plates": list(self.plates),
            "start": self.start,
            "end": self.end,
            "delta_g": self.delta_g,
            "plate_deltas_g": list(self.plate_deltas_g),
            "confidence": self.confidence,
            "steps": [list(step) for step in self.steps],
        }

    @classmethod
    def from_dict(cls, data: dict) -> WeightEvent:
        return cls(
            id=str(data["id"]),
            shelf=str(data["shelf"]),
            plates=tuple(int(p) for p in data["plates"]),
            start=float(data["start"]),
            end=float(data["end"]),
            delta_g=float(data["delta_g"]),
            plate_deltas_g=tuple(float(d) for d in data["plate_deltas_g"]),
            confidence=float(data["confidence"]),
            steps=tuple((float(t), float(g)) for t, g in data.get("steps", ())),
        )


def weight_events_frame(events: list[WeightEvent]) -> pd.DataFrame:
    """Weight events as the weight_events.csv table (columns :data:`WEIGHT_EVENT_COLUMNS`)."""
    rows = [
        {
            "id": e.id,
            "start": round(e.start, 3),
            "end": round(e.end, 3),
            "shelf": e.shelf,
            "plates": ";".join(str(p) for p in e.plates),
            "delta_g": e.delta_g,
            "plate_deltas_g": ";".join(f"{d:g}" for d in e.plate_deltas_g),
            "confidence": e.confidence,
            "steps": ";".join(f"{t:.3f}:{g:g}" for t, g in e.steps),
        }
        for e in events
    ]
    return pd.DataFrame(rows, columns=list(WEIGHT_EVENT_COLUMNS))


def read_weight_events(path: str | Path) -> pd.DataFrame:
    """weight_events.csv as a table: text columns stay text, start, end, delta_g and confidence are
    floats (``steps`` '' in files written before it existed). FormatError naming the file, line and column on a missing column or a bad number."""
    path = Path(path)
    frame = _read_csv(path, tuple(c for c in WEIGHT_EVENT_COLUMNS if c != "steps"))
    if "steps" not in frame.columns:  # written before fusion timed each hand's step
        frame["steps"] = ""
    return floats(frame, ("start", "end", "delta_g", "confidence"), path)
