"""Presence: where every shopper was, for the evidence of who made a weight change
(:mod:`fusion.evidence`).

A hand reaching into a high shelf is often not seen inside its zone (it is hidden by the shelf
above, or the hand detector misses it), yet the shopper's body, tracked in every frame, stands in
front of the plates they take from.

Inputs are the vision run's ``tracks.csv`` (frame, track_id, x1, y1, x2, y2, camera), ``run.json``
(each camera's video frame rate) and, when the run has it, ``hands.csv`` (each hand seen, its owner's
track and the product it holds), and the recording's ``store.json`` (per camera: start_timestamp and
the zone polygons naming a shelf and plates), read by :func:`read_presence`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from formats.errors import FormatError
from formats.store import frame_rate, frame_timestamp, parse_store, run_frame_rates
from formats.tables import REACHING_COLUMN, _read_csv, read_hand_sightings, read_positions
from formats.weight_events import WeightEvent


@dataclass(frozen=True)
class Presence:
    """Shopper positions on the shared clock and the zones' horizontal spans; with calibrated cameras,
    their floor positions (a run's shoppers.csv: timestamp, shopper, x, y) and the shelf boxes.

    positions: camera, shopper (str), frame, timestamp (Unix s), x1, x2 (px), and ``reaching`` (the
        reach classifier's probability, NaN: not classified) when the run has it; one row per track box.
    spans: camera, shelf, plate (-1: a zone over the whole shelf), x_min, x_max (px), one row per
        zone and plate.
    held: shopper (str), timestamp (Unix s), sku (the product in the hand, '' empty or not named), one
        row per hand seen (hands.csv, its owner's track mapped to their shopper); None: the run has none.
    """

    positions: pd.DataFrame
    spans: pd.DataFrame
    floor: pd.DataFrame | None = None
    shelves: tuple = ()
    held: pd.DataFrame | None = None

    @cached_property
    def several_cameras(self) -> bool:
        """Whether shoppers were seen by more than one camera (a store: shoppers joined across cameras)."""
        return self.positions["camera"].nunique() > 1

    def distance_m(self, event: WeightEvent, before_s: float, after_s: float) -> pd.Series:
        """Per shopper: the median floor distance (metres) from their position (shoppers.csv) to the
        changed plates' boxes (store.json) from ``before_s`` before the change to ``after_s`` after it;
        empty without floor positions or shelf boxes."""
        shelf = next((s for s in self.shelves if s.shelf == event.shelf), None)
        if self.floor is None or self.floor.empty or shelf is None:
            return pd.Series(dtype=float)
        boxes = [box for plate, box in shelf.plates if plate in event.plates] or [shelf.box]
        near = self.floor[(self.floor["timestamp"] >= event.start - before_s)
                          & (self.floor["timestamp"] <= event.end + after_s)]
        if near.empty:
            return pd.Series(dtype=float)
        xy = near[["x", "y"]].to_numpy(float)
        distance = np.min([box.distance_m(xy) for box in boxes], axis=0)
        return pd.Series(distance, index=near.index).groupby(near["shopper"]).median()


def read_presence(tracks_path: str | Path, store_path: str | Path, run_path: str | Path | None = None) -> Presence:
    """Read a run's tracks.csv and the recording's store.json; FormatError naming the file on a
    missing column, a bad number, a camera store.json does not know, or a zone without points.

    Frame rates come from the run's run.json (``cameras.<id>.fps``, default: beside tracks.csv), else
    from store.json's optional ``fps``; a camera with neither is an error naming both files."""
    tracks_path, store_path = Path(tracks_path), Path(store_path)
    run_path = Path(run_path) if run_path is not None else tracks_path.with_name("run.json")
    store = parse_store(store_path, store_path.parent)
    cameras = {camera.id: camera for camera in store.cameras}
    spans = []
    for camera in store.cameras:
        for zone in camera.zones:
            xs = [x for x, _ in zone.polygon]
            spans += [(camera.id, zone.shelf, plate, min(xs), max(xs)) for plate in (zone.plates or (-1,))]
    table = _read_csv(tracks_path, ("frame", "track_id", "x1", "x2", "camera"))  # the columns used here
    for column in ("frame", "x1", "x2"):
        values = pd.to_numeric(table[column], errors="coerce")
        if values.isna().any():
            row = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise FormatError(tracks_path, f"{column} is not a number ({table[column].iloc[row]!r})", line=row + 2)
        table[column] = values.astype(float)
    table["camera"] = table["camera"].astype(str)
    unknown = sorted(set(table["camera"]) - set(cameras))
    if unknown:
        raise FormatError(tracks_path, f"camera(s) {', '.join(unknown)} not in {store_path}")
    run_rates = run_frame_rates(_read_run_json(run_path))
    rates = {}
    for camera in set(table["camera"]):
        rates[camera] = frame_rate(cameras[camera], run_rates) or 0.0
        if not rates[camera] > 0:
            raise FormatError(tracks_path, f"no frame rate for camera {camera} in {run_path} nor {store_path}")
    starts = {c: cameras[c].start_timestamp for c in rates}

    def clock(camera: pd.Series, frame: pd.Series) -> pd.Series:
        """Each row's frame on the shared clock (formats.store.frame_timestamp with its camera's start and rate)."""
        return pd.Series(frame_timestamp(camera.map(starts).to_numpy(float), frame.to_numpy(float),
                                         camera.map(rates).to_numpy(float)), index=frame.index)

    positions = pd.DataFrame({
        # The store-level shopper (tracks.csv's ``shopper``) where the run wrote it, else the camera's track.
        "camera": table["camera"],
        "shopper": table["shopper"] if "shopper" in table.columns else table["track_id"].astype(str),
        "frame": table["frame"].astype(int), "timestamp": clock(table["camera"], table["frame"]),
        "x1": table["x1"], "x2": table["x2"],
    })
    if REACHING_COLUMN in table.columns:  # written by the optional reach classifier stage; blank: not classified
        text = table[REACHING_COLUMN]
        reaching = pd.to_numeric(text.where(text != ""), errors="coerce")
        bad = (reaching.isna() & (text != "")) | (reaching < 0) | (reaching > 1)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise FormatError(tracks_path, f"{REACHING_COLUMN} is not a probability in [0, 1] ({text.iloc[row]!r})",
                              line=row + 2)
        positions[REACHING_COLUMN] = reaching.to_numpy(float)
    floor = None
    floor_path = tracks_path.with_name("shoppers.csv")
    if floor_path.is_file() and store.shelves:
        floor = read_positions(floor_path)
    held = None
    hands_path = tracks_path.with_name("hands.csv")
    if hands_path.is_file():
        tracked = pd.DataFrame({"camera": positions["camera"], "track": table["track_id"].str.split(".").str[0],
                                "shopper": positions["shopper"].astype(str)}).drop_duplicates(["camera", "track"])
        owners = {(c, t): s for c, t, s in tracked.itertuples(index=False)}
        held = _held(read_hand_sightings(hands_path), owners, clock)
    return Presence(positions, pd.DataFrame(spans, columns=["camera", "shelf", "plate", "x_min", "x_max"]),
                    floor, store.shelves, held)


def _held(hands: pd.DataFrame, owners: dict[tuple[str, str], str], clock) -> pd.DataFrame:
    """hands.csv rows -> (shopper, timestamp, sku): each hand's owner (camera, track) as its shopper, its
    frame on the shared clock (``clock(camera, frame)``). Hands of no tracked shopper are left out."""
    shopper = pd.Series([owners.get((c, str(o))) for c, o in zip(hands["camera"], hands["owner"], strict=True)],
                        index=hands.index, dtype=object)
    hands, shopper = hands[shopper.notna()], shopper[shopper.notna()]
    return pd.DataFrame({"shopper": shopper.astype(str), "timestamp": clock(hands["camera"], hands["frame"]),
                         "sku": hands["sku"].astype(str)})


def _read_run_json(run_path: Path) -> dict | None:
    """A run's run.json mapping, or None when there is none or it is unreadable."""
    try:
        return json.loads(run_path.read_text())
    except (OSError, ValueError):
        return None
