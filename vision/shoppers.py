"""Store-level shoppers: one id per shopper per visit across every camera, from floor positions.

Each camera's tracks become tracklets on the store floor: a box's foot point (bottom centre) goes to
the floor through the camera's calibration or floor homography, at the time of its frame. Tracklets
are then joined into shoppers, most certain first (a constrained agglomerative clustering):

- two tracklets seen at the same time (by two cameras) whose floor paths stay within
  ``link_m`` of each other (median over the time they share) are one shopper; further apart than
  ``apart_m`` they are two, and never join (two people are not in one place, nor one in two);
- a tracklet that starts within ``max_gap_s`` after another ended, near where it ended (no faster
  than ``max_speed_m_s``), continues it (a shopper who left every view for a moment);
- two tracklets of one camera that overlap in time are two shoppers;
- a join that would put two tracklets that must stay apart into one shopper is skipped.

Appearance is not used: who is who follows from where and when, so shoppers in the same colours are
told apart by where they are, and nothing that describes a person's look is kept.

A one-camera recording keeps its track ids as shoppers (as before; a placed camera still gets its
shoppers' floor positions). Several cameras not all placed (no calibration, no homography) get
``<camera>-<track id>`` ids, never passed off as store-level shoppers (:attr:`ShopperMap.identity`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from formats.store import Camera, frame_timestamp
from formats.tables import SHOPPER_COLUMNS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShopperConfig:
    """How camera tracks become store-level shoppers (metres, seconds).

    link_m: two tracklets seen at once whose floor paths are within this (median) are one shopper.
    apart_m: seen at once further apart than this (median), they are two and never join.
    min_shared_s: tracklets must be seen together at least this long to be compared.
    max_gap_s, max_speed_m_s, gap_slack_m: a tracklet starting at most ``max_gap_s`` after another
        ended, no further from its end than ``gap_slack_m + max_speed_m_s * gap``, continues it.
    head_height_m: with a calibration, a shopper is placed where the top of their box (the top of the
        head, seen from the ceiling over shelves and other shoppers that hide the feet) meets this
        height; with a floor homography only, by the foot point (the box's bottom centre).
    edge_margin_px: a box this close to an edge of the image is cut off there (its top, its sides,
        or for a foot point its bottom): it is not used.
    grid_s: shoppers.csv has one row per shopper per ``grid_s`` (0: the fastest camera's frame period).
    """

    head_height_m: float = 1.7
    link_m: float = 0.6
    apart_m: float = 1.2
    min_shared_s: float = 0.3
    max_gap_s: float = 6.0
    max_speed_m_s: float = 1.5
    gap_slack_m: float = 0.5
    edge_margin_px: float = 2.0
    grid_s: float = 0.0


@dataclass(frozen=True)
class Tracklet:
    """One camera's track on the floor: times (Unix s) and floor points (metres), (N,) and (N, 2)."""

    camera: str
    track_id: int
    t: np.ndarray = field(repr=False)
    xy: np.ndarray = field(repr=False)

    @property
    def start(self) -> float:
        return float(self.t[0])

    @property
    def end(self) -> float:
        return float(self.t[-1])


@dataclass(frozen=True)
class ShopperMap:
    """Each camera's track -> its store-level shopper id. ``identity`` is ``store`` (joined across
    cameras on the floor), ``camera`` (one uncalibrated camera: the track id is the shopper) or
    ``per-camera`` (several cameras, not placed: ids are ``<camera>-<track>`` and cannot be shared)."""

    identity: str
    shopper_of: dict[tuple[str, int], str]
    tracklets: tuple[Tracklet, ...] = ()

    def shopper(self, camera: str, track_id: int) -> str:
        default = str(int(track_id)) if self.identity == "camera" else f"{camera}-{int(track_id)}"
        return self.shopper_of.get((camera, int(track_id)), default)

    def to_dict(self) -> dict:
        """run.json's ``shoppers``: the identity mode and, per camera, track id -> shopper."""
        by_camera: dict[str, dict[str, str]] = {}
        for (camera, track), shopper in sorted(self.shopper_of.items()):
            by_camera.setdefault(camera, {})[str(track)] = shopper
        return {"identity": self.identity, "tracks": by_camera}


def floor_tracklets(tracks: pd.DataFrame, camera: Camera, fps: float,
                    config: ShopperConfig | None = None) -> list[Tracklet]:
    """A placed camera's tracks (``frame, track_id, x1, y1, x2, y2``) -> tracklets on the floor:
    with a calibration the head point (top centre) at ``head_height_m``, boxes cut off at the image's
    top or sides left out; with a floor homography the foot point, boxes cut off at the bottom left out."""
    config = config or ShopperConfig()
    if tracks.empty:
        return []
    x1, y1, x2, y2 = (tracks[c].to_numpy(float) for c in ("x1", "y1", "x2", "y2"))
    centre = (x1 + x2) / 2
    margin = config.edge_margin_px
    if camera.calibration is not None:
        width, _ = camera.calibration.image_size_px
        keep = (y1 > margin) & (x1 > margin) & (x2 < width - margin)
        floor = camera.calibration.pixels_to_plane(np.column_stack([centre, y1]), config.head_height_m)
    else:
        keep = np.ones(len(tracks), dtype=bool)
        floor = camera.pixels_to_floor(np.column_stack([centre, y2]))
    keep &= np.isfinite(floor).all(axis=1)
    times = frame_timestamp(camera.start_timestamp, tracks["frame"].to_numpy(float), fps)
    ids = tracks["track_id"].to_numpy(int)
    out = []
    for track_id in np.unique(ids):
        rows = np.flatnonzero((ids == track_id) & keep)
        if len(rows) == 0:
            continue
        order = rows[np.argsort(times[rows], kind="stable")]
        out.append(Tracklet(camera.id, int(track_id), times[order], floor[order]))
    return out


def _shared_distance(a: Tracklet, b: Tracklet, min_shared_s: float) -> float | None:
    """Median floor distance over the time both are seen (b interpolated at a's times), or None when
    they share less than ``min_shared_s``."""
    lo, hi = max(a.start, b.start), min(a.end, b.end)
    if hi - lo < min_shared_s:
        return None
    inside = (a.t >= lo) & (a.t <= hi)
    bx = np.interp(a.t[inside], b.t, b.xy[:, 0])
    by = np.interp(a.t[inside], b.t, b.xy[:, 1])
    return float(np.median(np.hypot(a.xy[inside, 0] - bx, a.xy[inside, 1] - by)))


def associate(tracklets: list[Tracklet], config: ShopperConfig | None = None) -> list[list[int]]:
    """Group tracklets into shoppers: lists of indices into ``tracklets``, in order of first sight."""
    config = config or ShopperConfig()
    n = len(tracklets)
    apart: set[tuple[int, int]] = set()
    links: list[tuple[float, int, int]] = []
    for i in range(n):
        a = tracklets[i]
        for j in range(i + 1, n):
            b = tracklets[j]
            overlap = min(a.end, b.end) - max(a.start, b.start)
            if a.camera == b.camera and overlap >= 0:
                apart.add((i, j))
                continue
            shared = _shared_distance(a, b, config.min_shared_s) if overlap >= config.min_shared_s else None
            if shared is not None:
                if shared > config.apart_m:
                    apart.add((i, j))
                elif shared <= config.link_m:
                    links.append((shared, i, j))
                continue
            if overlap > 0:  # seen together only briefly: nothing either way
                continue
            first, then = (a, b) if a.end <= b.start else (b, a)
            gap = then.start - first.end
            if gap > config.max_gap_s:
                continue
            step = float(np.hypot(*(then.xy[0] - first.xy[-1])))
            if step <= config.gap_slack_m + config.max_speed_m_s * gap:
                # Ranked after every link seen at once (those are surer): cost 10 + distance.
                links.append((10.0 + step, i, j))
    cluster_of = list(range(n))
    members: dict[int, list[int]] = {i: [i] for i in range(n)}
    for _, i, j in sorted(links):
        ci, cj = cluster_of[i], cluster_of[j]
        if ci == cj:
            continue
        if any((min(p, q), max(p, q)) in apart for p in members[ci] for q in members[cj]):
            continue
        for k in members[cj]:
            cluster_of[k] = ci
        members[ci] += members.pop(cj)
    groups = sorted(members.values(), key=lambda g: min(tracklets[k].start for k in g))
    return [sorted(g) for g in groups]


def store_shoppers(tracks_by_camera: dict[str, pd.DataFrame], cameras: dict[str, Camera], fps: dict[str, float],
                   config: ShopperConfig | None = None) -> ShopperMap:
    """Every camera's tracks -> one store-level shopper id per person per visit (``"1"``, ``"2"``...
    in order of first sight), or per-camera ids when the cameras are not placed."""
    config = config or ShopperConfig()
    placed = [c for c in tracks_by_camera if cameras[c].placed]
    tracklets = [t for c in placed for t in floor_tracklets(tracks_by_camera[c], cameras[c], fps[c], config)]
    all_tracks = [(c, int(t)) for c, table in tracks_by_camera.items() for t in np.unique(table["track_id"].to_numpy(int))]
    if len(tracks_by_camera) == 1:  # one camera: its track ids are the shoppers, as always
        return ShopperMap("camera", {key: str(key[1]) for key in all_tracks}, tuple(tracklets))
    if len(placed) < len(tracks_by_camera):
        log.warning("%d cameras, %s placed in the store (calibration or floor homography): identities cannot be "
                    "shared across cameras; shoppers are <camera>-<track>", len(tracks_by_camera),
                    "none" if not placed else f"only {len(placed)}")
        return ShopperMap("per-camera", {key: f"{key[0]}-{key[1]}" for key in all_tracks})
    groups = associate(tracklets, config)
    shopper_of = {(tracklets[k].camera, tracklets[k].track_id): str(n) for n, group in enumerate(groups, start=1)
                  for k in group}
    for key in all_tracks:  # no usable foot point (always cut off, off the floor): a per-camera id
        shopper_of.setdefault(key, f"{key[0]}-{key[1]}")
    return ShopperMap("store", shopper_of, tuple(tracklets))


def shoppers_table(shopper_map: ShopperMap, grid_s: float) -> pd.DataFrame:
    """shoppers.csv: per shopper, per ``grid_s`` step, the mean floor point of the cameras that saw
    them then (``cameras`` ';'-joined). Empty (header only) without store-level identities."""
    rows = []
    for tracklet in shopper_map.tracklets:
        shopper = shopper_map.shopper(tracklet.camera, tracklet.track_id)
        rows.append(pd.DataFrame({"step": np.round(tracklet.t / grid_s).astype(np.int64), "shopper": shopper,
                                  "x": tracklet.xy[:, 0], "y": tracklet.xy[:, 1], "camera": tracklet.camera}))
    if not rows:
        return pd.DataFrame(columns=list(SHOPPER_COLUMNS))
    table = pd.concat(rows, ignore_index=True)
    grouped = table.groupby(["shopper", "step"], sort=False).agg(
        x=("x", "mean"), y=("y", "mean"), cameras=("camera", lambda c: ";".join(sorted(set(c)))))
    grouped = grouped.reset_index()
    grouped["timestamp"] = grouped["step"] * grid_s
    grouped = grouped.sort_values(["timestamp", "shopper"], kind="stable")
    return grouped[list(SHOPPER_COLUMNS)].reset_index(drop=True)
