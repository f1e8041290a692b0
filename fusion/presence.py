"""Presence: which shopper stood in front of a shelf's plates when their weight changed.

A hand reaching into a high shelf is often not seen inside its zone (it is hidden by the shelf
above, or the hand detector misses it), yet the shopper's body, tracked in every frame, stands in
front of the plates they take from. :func:`in_front` gives a weight change to the tracked shopper
whose box stood closest, horizontally, to the changed plates' zones while the weight was changing.

Inputs are the vision run's ``tracks.csv`` (frame, track_id, x1, y1, x2, y2, camera) and
``run.json`` (each camera's video frame rate), and the recording's ``store.json`` (per camera:
start_timestamp and the zone polygons naming a shelf and plates), read by :func:`read_presence`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from formats.errors import FormatError
from formats.store import frame_rate, parse_store, run_frame_rates
from formats.tables import REACHING_COLUMN, _read_csv, read_positions
from formats.weight_events import WeightEvent
from fusion.reaches import Attribution
from fusion.settings import settings_from_dict

REACH_SPAN_S = 2.0  # reaches are looked for this long around a weight change


@dataclass(frozen=True)
class PresenceConfig:
    """How the shopper in front of a weight change is found.

    before_s / after_s: positions are taken from this long before the change starts to this long
        after it ends (the shopper steps up to the shelf before the weight moves, and lingers).
    min_frames: a shopper seen in fewer frames of that window is ignored (a passer-by).
    max_offset: the shopper's box must overlap the plates horizontally: the median distance from the
        box centre to the plates' centre may be at most ``max_offset`` x (half the box width + half
        the plates' width); 1.0 = just touching.
    checks_vision: a weight change matched to a vision event whose shopper was not in front of the
        changed plates goes to the shopper who was (with shoppers side by side, a hand is sometimes
        attached to the wrong shopper; a shopper nowhere near the plates did not take from them).
    reaching_window_s / min_reaching / reaching_frames: with the reach classifier's ``reaching`` column
        in tracks.csv, a shopper in front counts as *reaching* when the mean of their
        ``reaching_frames`` highest probabilities, from ``reaching_window_s`` before the change starts
        to as long after it ends, is at least ``min_reaching``; reaching shoppers come first.
    reach_timing_s / reach_gap_s: a *reach* is a run of frames with probability >= ``min_reaching``
        (gaps of up to ``reach_gap_s`` bridged). The hand is at the product in the middle of a reach,
        which is when the weight changes: a shopper whose reach has its middle within the change, or
        at most ``reach_timing_s`` from it, comes before the other reaching shoppers (with two
        shoppers reaching one after the other, the window above counts both; their timing tells them
        apart). Negative: off.
    beside_offset: when nobody in front reached as the weight changed, a shopper just beside the
        plates (offset up to ``beside_offset``, over ``max_offset``) whose reach was timed with the
        change joins the table, first (a long reach from beside the plates).
    step_reach_s: a change whose hands took turns (see ``WeightEvent.steps``) gives each step's items
        to the shopper in front whose reach had its middle nearest the step, at most this far (s).
    step_gap_s: steps closer than this in time are one hand's (a product spanning two plates).
    """

    before_s: float = 1.0
    after_s: float = 0.5
    min_frames: int = 2
    max_offset: float = 1.0
    checks_vision: bool = True
    reaching_window_s: float = 0.5
    min_reaching: float = 0.5
    reaching_frames: int = 3
    reach_timing_s: float = 0.2
    reach_gap_s: float = 0.25
    beside_offset: float = 1.5
    step_reach_s: float = 0.4
    step_gap_s: float = 0.3

    @classmethod
    def from_dict(cls, data: dict) -> PresenceConfig:
        return settings_from_dict(cls, data, "presence")


@dataclass(frozen=True)
class Presence:
    """Shopper positions on the shared clock and the zones' horizontal spans; with calibrated cameras,
    their floor positions (a run's shoppers.csv: timestamp, shopper, x, y) and the shelf boxes.

    positions: camera, shopper (str), timestamp (Unix s), x1, x2 (px), one row per track box.
    spans: camera, shelf, plate (-1: a zone over the whole shelf), x_min, x_max (px), one row per
        zone and plate.
    """

    positions: pd.DataFrame
    spans: pd.DataFrame
    floor: pd.DataFrame | None = None
    shelves: tuple = ()

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
    start = table["camera"].map({c: cameras[c].start_timestamp for c in set(table["camera"])}).astype(float)
    fps = table["camera"].map(rates).astype(float)
    positions = pd.DataFrame({
        # The store-level shopper (tracks.csv's ``shopper``) where the run wrote it, else the camera's track.
        "camera": table["camera"],
        "shopper": table["shopper"] if "shopper" in table.columns else table["track_id"].astype(str),
        "timestamp": start + table["frame"] / fps, "x1": table["x1"], "x2": table["x2"],
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
    return Presence(positions, pd.DataFrame(spans, columns=["camera", "shelf", "plate", "x_min", "x_max"]),
                    floor, store.shelves)


def _read_run_json(run_path: Path) -> dict | None:
    """A run's run.json mapping, or None when there is none or it is unreadable."""
    try:
        return json.loads(run_path.read_text())
    except (OSError, ValueError):
        return None


def shoppers_in_front(event: WeightEvent, presence: Presence | None,
                      config: PresenceConfig | None = None) -> pd.DataFrame:
    """The tracked shoppers whose boxes overlapped the changed plates' zones horizontally (median over
    the change, see :class:`PresenceConfig`), closest first: index shopper, columns ``offset`` (median
    distance to the plates' centre over the overlap bound) and ``px`` (that distance in pixels). A
    shopper seen by several cameras counts by their closest view. With the reach classifier's column
    in tracks.csv, also ``reaching`` (NaN: not classified), ``reach_off_s`` (how far the middle of
    their reach lies outside the change; NaN: no reach near it) and ``reach_tier``, the order: 0 the
    shoppers whose reach was timed with the change, 1 the others reaching during it, 2 the rest;
    closest first within each. Empty without positions."""
    config = config or PresenceConfig()
    standing = pd.DataFrame({"offset": pd.Series(dtype=float), "px": pd.Series(dtype=float)})
    if presence is None or presence.positions.empty:
        return standing
    spans = presence.spans[presence.spans["shelf"] == event.shelf]
    if event.plates:
        spans = spans[spans["plate"].isin([*event.plates, -1])]
    positions = presence.positions
    window = positions[(positions["timestamp"] >= event.start - config.before_s)
                       & (positions["timestamp"] <= event.end + config.after_s)]
    # With reach probabilities, shoppers just beside the plates are looked at too (kept below only
    # when they alone reached as the weight changed).
    bound = max(config.max_offset, config.beside_offset) if REACHING_COLUMN in positions else config.max_offset
    parts = []
    for camera, own_spans in spans.groupby("camera"):
        x_min, x_max = float(own_spans["x_min"].min()), float(own_spans["x_max"].max())
        here = window[window["camera"] == camera]
        if here.empty:
            continue
        centre = ((here["x1"] + here["x2"]) / 2 - (x_min + x_max) / 2).abs()
        reach = (here["x2"] - here["x1"]) / 2 + (x_max - x_min) / 2
        per = pd.DataFrame({"shopper": here["shopper"], "offset": centre / reach.clip(lower=1e-6),
                            "px": centre}).groupby("shopper").agg(offset=("offset", "median"), px=("px", "median"),
                                                                  frames=("px", "size"))
        parts.append(per[(per["frames"] >= config.min_frames) & (per["offset"] <= bound)])
    if parts:
        standing = pd.concat(parts)[["offset", "px"]].sort_values("offset", kind="stable")
        standing = standing[~standing.index.duplicated()]
        distance = presence.distance_m(event, config.before_s, config.after_s)
        if len(distance):  # calibrated cameras: how far each stood from the plates, in metres (evidence)
            standing["distance_m"] = distance.reindex(standing.index)
        if REACHING_COLUMN in positions:
            standing["reaching"] = _reaching(event, positions, config).reindex(standing.index)
            standing["reach_off_s"] = _reach_timing(event, positions, config).reindex(standing.index)
            reaching = (standing["reaching"] >= config.min_reaching).to_numpy()
            timed = reaching & (standing["reach_off_s"] <= config.reach_timing_s).to_numpy()
            standing["reach_tier"] = np.where(timed, 0, np.where(reaching, 1, 2))
            front = (standing["offset"] <= config.max_offset).to_numpy()
            beside_timed = ~front & timed & ~(front & timed).any()
            standing = standing[front | beside_timed].sort_values("reach_tier", kind="stable")
    return standing


def _reaching(event: WeightEvent, positions: pd.DataFrame, config: PresenceConfig) -> pd.Series:
    """Per shopper: the mean of their ``reaching_frames`` highest reach probabilities around the change."""
    near = positions[(positions["timestamp"] >= event.start - config.reaching_window_s)
                     & (positions["timestamp"] <= event.end + config.reaching_window_s)].dropna(subset=[REACHING_COLUMN])
    return near.groupby("shopper")[REACHING_COLUMN].agg(lambda p: float(np.sort(p.to_numpy())[-config.reaching_frames:].mean()))


def _reach_timing(event: WeightEvent, positions: pd.DataFrame, config: PresenceConfig) -> pd.Series:
    """Per shopper: how far (s) the middle of their reach nearest the change lies outside the change
    (0: within it); shoppers not reaching near it are left out. Reaches are looked for from
    ``REACH_SPAN_S`` before the change to as long after it (a reach lasts about a second)."""
    if config.reach_timing_s < 0:
        return pd.Series(dtype=float)
    off = {shopper: float(np.maximum(0.0, np.maximum(event.start - middles, middles - event.end)).min())
           for shopper, middles in _reach_middles(event, positions, config).items()}
    return pd.Series(off, dtype=float)


def _reach_middles(event: WeightEvent, positions: pd.DataFrame, config: PresenceConfig) -> dict:
    """Per shopper: the middle times of their reaches (runs of frames reaching, short gaps bridged)
    from ``REACH_SPAN_S`` before the change to as long after it."""
    near = positions[(positions["timestamp"] >= event.start - REACH_SPAN_S)
                     & (positions["timestamp"] <= event.end + REACH_SPAN_S)
                     & (positions[REACHING_COLUMN] >= config.min_reaching)]
    middles = {}
    for shopper, rows in near.groupby("shopper"):
        times = np.unique(rows["timestamp"].to_numpy(float))
        breaks = np.flatnonzero(np.diff(times) > config.reach_gap_s + 1e-6)
        middles[shopper] = (times[np.r_[0, breaks + 1]] + times[np.r_[breaks, len(times) - 1]]) / 2
    return middles


def reach_middles(event: WeightEvent, presence: Presence | None,
                  config: PresenceConfig | None = None) -> dict[str, np.ndarray]:
    """Per shopper seen reaching around the change: the middle times of their reaches (empty without
    the reach classifier's column)."""
    config = config or PresenceConfig()
    if presence is None or REACHING_COLUMN not in presence.positions:
        return {}
    return {str(shopper): middles for shopper, middles in _reach_middles(event, presence.positions, config).items()}


def timed_reaches(event: WeightEvent, presence: Presence | None, config: PresenceConfig | None = None) -> set[str]:
    """The shoppers, standing in front of the plates or not, whose reach had its middle within the
    change or at most ``reach_timing_s`` from it (empty without the reach classifier's column)."""
    config = config or PresenceConfig()
    if presence is None or REACHING_COLUMN not in presence.positions:
        return set()
    off = _reach_timing(event, presence.positions, config)
    return set(off.index[off <= config.reach_timing_s])


def closest_in_front(event: WeightEvent, standing: pd.DataFrame) -> Attribution | None:
    """The first of :func:`shoppers_in_front`'s table (the closest), with the others named in the
    reason; None when the table is empty."""
    if standing.empty:
        return None
    shopper, px = str(standing.index[0]), float(standing["px"].iloc[0])
    plates = ",".join(str(p) for p in event.plates) or "all"
    reason = f"shopper {shopper} stood in front of {event.shelf} plates {plates} ({px:.0f} px off their centre)"
    if "reaching" in standing and np.isfinite(standing["reaching"].iloc[0]):
        reason += ", " + _reaching_words(standing.iloc[0])
    others = sorted(str(s) for s in standing.index[1:])
    if others:
        reason += f", the closest of {', '.join([shopper, *others])}"
    return Attribution(shopper, reason)


def _reaching_words(row: pd.Series) -> str:
    """What the reach classifier said of one row of :func:`shoppers_in_front`'s table."""
    p, tier = float(row["reaching"]), int(row["reach_tier"])
    if tier == 0:
        off = float(row["reach_off_s"])
        return f"reaching as the weight changed (p {p:.2f})" if off == 0 else \
            f"reaching as the weight changed (p {p:.2f}, the middle of the reach {off:.2f} s off)"
    return f"reaching (p {p:.2f})" if tier == 1 else f"probability of reaching {p:.2f}"


def in_front(event: WeightEvent, presence: Presence | None, config: PresenceConfig | None = None,
             among: set[str] | None = None) -> Attribution | None:
    """The tracked shopper standing closest (horizontally, median over the change) to the changed
    plates' zones, among ``among`` when given; None when nobody's box overlaps them."""
    standing = shoppers_in_front(event, presence, config)
    if among is not None:
        standing = standing[standing.index.isin(list(among))]
    return closest_in_front(event, standing)
