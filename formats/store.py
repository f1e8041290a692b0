"""store.json: the cameras of a recording (videos, clocks, zones, calibrations) and the store's shelves.

The one parser and writer of store.json (docs/FORMAT.md). Version 1 files (cameras and hand-drawn
zones) load unchanged; version 2 adds geometry in store coordinates (metres, floor at z = 0, z up):

- per camera an optional ``calibration`` in OpenCV's pinhole convention (intrinsics ``K``,
  distortion ``dist``, pose ``R``, ``t`` from store to camera: ``x_cam = R @ X + t``), or an optional
  ``floor_homography`` (image pixels -> floor metres) for a camera known only by points on the floor;
- ``shelves``: each shelf of the planogram as a box, with its plates as boxes inside it.

One clock: frame ``i`` of a camera is at ``frame_timestamp(start_timestamp, i, fps)`` =
``start_timestamp + i / fps``, ``fps`` being the video's own frame rate.

numpy only (no cv2): fusion reads the geometry too. The pinhole projection with OpenCV's distortion
model (k1, k2, p1, p2[, k3[, k4, k5, k6]]) is written out here in numpy.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from formats.errors import FormatError
from formats.tables import MAX_UNIX_SECONDS

VERSIONS = (1, 2)
CAMERA_ID = re.compile(r"^[A-Za-z0-9_-]+$")
# A shelf or plate side longer than this is not metres (millimetres or inches?).
MAX_BOX_SIDE_M = 10.0
MAX_STORE_EXTENT_M = 500.0


def frame_timestamp(start_timestamp: np.ndarray | float, frame: np.ndarray | float,
                    fps: np.ndarray | float) -> np.ndarray | float:
    """The one frame-to-time rule: frame ``i`` (0-based) of a camera is at ``start + i / fps`` (Unix s).
    ``start_timestamp`` and ``fps`` may be arrays beside ``frame`` (rows of several cameras)."""
    if np.ndim(frame) or np.ndim(start_timestamp) or np.ndim(fps):
        return np.asarray(start_timestamp, dtype=float) + np.asarray(frame, dtype=float) / np.asarray(fps, dtype=float)
    return start_timestamp + float(frame) / fps


def run_frame_rates(run_info: dict | None) -> dict[str, float]:
    """camera -> the frame rate a run read from its video, from the run's run.json mapping
    (``cameras.<id>.fps``, else ``timings.<id>`` frames / video_s); cameras it says nothing of are left out."""
    rates: dict[str, float] = {}
    if not isinstance(run_info, dict):
        return rates
    for key, field_of in (("timings", lambda v: float(v["frames"]) / float(v["video_s"])),
                          ("cameras", lambda v: float(v["fps"]))):
        entries = run_info.get(key)
        if not isinstance(entries, dict):
            continue
        for camera, value in entries.items():
            try:
                rate = field_of(value)
            except (KeyError, TypeError, ValueError, ZeroDivisionError):
                continue
            if math.isfinite(rate) and rate > 0:
                rates[str(camera)] = rate
    return rates


def frame_rate(camera: Camera, run_rates: dict[str, float] | None = None,
               video_fps: Callable[[Path], float | None] | None = None) -> float | None:
    """The one frame-rate rule: the rate the run read from the camera's video (run.json), else the
    video's own (``video_fps(path)``, where the caller can read videos), else store.json's ``fps``;
    None when nothing says."""
    rate = (run_rates or {}).get(camera.id)
    if rate is None and video_fps is not None and camera.video.is_file():
        rate = video_fps(camera.video)
    if rate is None:
        rate = camera.fps
    return float(rate) if rate else None


@dataclass(frozen=True)
class Zone:
    """A shelf region in one camera's image: the shelf, the plates it covers, a polygon in pixels."""

    shelf: str
    plates: tuple[int, ...]
    polygon: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Calibration:
    """A camera in OpenCV's pinhole convention; store coordinates in metres, floor at z = 0.

    ``K`` (3, 3) pixels, ``dist`` OpenCV's distortion coefficients (4, 5 or 8 of them), ``R`` (3, 3)
    and ``t`` (3,) metres take a store point X to camera coordinates ``R @ X + t`` (x right, y down,
    z forward).
    """

    image_size_px: tuple[int, int]
    K: tuple[tuple[float, ...], ...]
    dist: tuple[float, ...]
    R: tuple[tuple[float, ...], ...]
    t: tuple[float, ...]
    reprojection_error_px: float | None = None
    source: str = ""

    @property
    def intrinsics(self) -> np.ndarray:
        return np.asarray(self.K, dtype=float)

    @property
    def rotation(self) -> np.ndarray:
        return np.asarray(self.R, dtype=float)

    @property
    def translation(self) -> np.ndarray:
        return np.asarray(self.t, dtype=float)

    @property
    def position_m(self) -> np.ndarray:
        """(3,) the camera centre in store coordinates."""
        return -self.rotation.T @ self.translation

    def to_camera(self, points_m: np.ndarray) -> np.ndarray:
        """(N, 3) store points -> (N, 3) camera coordinates (metres; z is the depth)."""
        return np.asarray(points_m, dtype=float).reshape(-1, 3) @ self.rotation.T + self.translation

    def project(self, points_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 3) store points -> ((N, 2) pixels, (N,) depth in metres); depth <= 0 is behind the camera
        (its pixels are meaningless). Applies the distortion, as cv2.projectPoints does."""
        cam = self.to_camera(points_m)
        return self.camera_to_pixels(cam), cam[:, 2]

    def camera_to_pixels(self, cam_points: np.ndarray) -> np.ndarray:
        """(N, 3) camera coordinates -> (N, 2) pixels, distortion applied (meaningless for depth <= 0)."""
        depth = cam_points[:, 2]
        safe = np.where(np.abs(depth) < 1e-9, 1e-9, depth)
        return self._normalised_to_pixels(distort(cam_points[:, :2] / safe[:, None], self.dist))

    def _normalised_to_pixels(self, xy: np.ndarray) -> np.ndarray:
        K = self.intrinsics
        return np.column_stack([K[0, 0] * xy[:, 0] + K[0, 1] * xy[:, 1] + K[0, 2], K[1, 1] * xy[:, 1] + K[1, 2]])

    def floor_homography(self) -> np.ndarray:
        """(3, 3) undistorted image pixels -> floor (x, y) metres, from the pose (the z = 0 plane)."""
        to_image = self.intrinsics @ np.column_stack([self.rotation[:, 0], self.rotation[:, 1], self.translation])
        return np.linalg.inv(to_image)

    def undistort_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """(N, 2) pixels -> (N, 2) the pixels an ideal (distortion-free) camera with the same K sees."""
        pixels = np.asarray(pixels, dtype=float).reshape(-1, 2)
        if not np.any(self.dist):
            return pixels
        K = self.intrinsics
        y = (pixels[:, 1] - K[1, 2]) / K[1, 1]
        x = (pixels[:, 0] - K[0, 2] - K[0, 1] * y) / K[0, 0]
        return self._normalised_to_pixels(undistort(np.column_stack([x, y]), self.dist))

    def pixels_to_floor(self, pixels: np.ndarray) -> np.ndarray:
        """(N, 2) image pixels -> (N, 2) floor points (metres) where their rays meet z = 0; NaN for a
        ray that never reaches the floor (at or above the horizon)."""
        return apply_homography(self.floor_homography(), self.undistort_pixels(pixels), self)

    def pixels_to_plane(self, pixels: np.ndarray, z_m: float) -> np.ndarray:
        """(N, 2) image pixels -> (N, 2) the (x, y) where their rays meet the level plane z = ``z_m``
        in front of the camera; NaN where they do not (a ray parallel to it, or meeting it behind)."""
        ideal = self.undistort_pixels(pixels)
        rays = np.column_stack([ideal, np.ones(len(ideal))]) @ np.linalg.inv(self.intrinsics).T @ self.rotation
        eye = self.position_m
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = (z_m - eye[2]) / rays[:, 2]
        points = eye[:2] + scale[:, None] * rays[:, :2]
        points[~(scale > 0)] = np.nan
        return points

    def to_dict(self) -> dict:
        out = {"image_size_px": list(self.image_size_px), "K": [list(r) for r in self.K], "dist": list(self.dist),
               "R": [list(r) for r in self.R], "t": list(self.t)}
        if self.reprojection_error_px is not None:
            out["reprojection_error_px"] = self.reprojection_error_px
        if self.source:
            out["source"] = self.source
        return out


def distort(xy: np.ndarray, dist: tuple[float, ...]) -> np.ndarray:
    """(N, 2) ideal normalised image points -> distorted ones (OpenCV's radial + tangential model)."""
    if not np.any(dist):
        return xy
    d = list(dist) + [0.0] * (8 - len(dist))
    k1, k2, p1, p2, k3, k4, k5, k6 = d[:8]
    x, y = xy[:, 0], xy[:, 1]
    r2 = x * x + y * y
    radial = (1 + k1 * r2 + k2 * r2**2 + k3 * r2**3) / (1 + k4 * r2 + k5 * r2**2 + k6 * r2**3)
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.column_stack([xd, yd])


def undistort(xy: np.ndarray, dist: tuple[float, ...], iterations: int = 20) -> np.ndarray:
    """Inverse of :func:`distort` by fixed-point iteration (as cv2.undistortPoints does)."""
    ideal = xy.copy()
    for _ in range(iterations):
        ideal = ideal + (xy - distort(ideal, dist))
    return ideal


def apply_homography(H: np.ndarray, pixels: np.ndarray, calibration: Calibration | None = None) -> np.ndarray:
    """(N, 2) pixels -> (N, 2) floor metres through the (3, 3) homography ``H``. With a
    ``calibration``, points whose ray does not go down to the floor in front of the camera are NaN."""
    pixels = np.asarray(pixels, dtype=float).reshape(-1, 2)
    homogeneous = np.column_stack([pixels, np.ones(len(pixels))]) @ np.asarray(H, dtype=float).T
    w = homogeneous[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        floor = homogeneous[:, :2] / w[:, None]
    bad = ~np.isfinite(floor).all(axis=1)
    if calibration is not None and len(floor):
        depth = calibration.to_camera(np.column_stack([floor, np.zeros(len(floor))]))[:, 2]
        bad |= ~(depth > 0)
    floor[bad] = np.nan
    return floor


@dataclass(frozen=True)
class Box:
    """A box in store coordinates: centre (x, y, z) and size (along its own x, y, z) in metres, turned
    ``yaw_deg`` about the vertical through its centre (counter-clockwise seen from above)."""

    center_m: tuple[float, float, float]
    size_m: tuple[float, float, float]
    yaw_deg: float = 0.0

    def corners(self) -> np.ndarray:
        """(8, 3) corners; index bits: x (4), y (2), z (1) from the low side."""
        half = np.asarray(self.size_m, dtype=float) / 2
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=float)
        local = signs * half
        return local @ self._rotation().T + np.asarray(self.center_m, dtype=float)

    def footprint(self) -> np.ndarray:
        """(4, 2) the box's outline on the floor, counter-clockwise."""
        c = self.corners()
        return c[[0, 4, 6, 2], :2]

    @property
    def z_range_m(self) -> tuple[float, float]:
        return self.center_m[2] - self.size_m[2] / 2, self.center_m[2] + self.size_m[2] / 2

    def _rotation(self) -> np.ndarray:
        a = math.radians(self.yaw_deg)
        return np.array([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])

    def to_local(self, points_m: np.ndarray) -> np.ndarray:
        """(N, 3) store points -> (N, 3) in the box's own axes, origin at its centre."""
        return (np.asarray(points_m, dtype=float).reshape(-1, 3) - np.asarray(self.center_m)) @ self._rotation()

    def distance_m(self, points_m: np.ndarray) -> np.ndarray:
        """(N, 3) or (N, 2) points -> (N,) Euclidean distance to the box (0 inside); (N, 2) floor points
        are measured in the floor plane (to the box's footprint)."""
        points = np.asarray(points_m, dtype=float)
        flat = points.ndim == 2 and points.shape[1] == 2
        if flat:
            points = np.column_stack([points, np.full(len(points), self.center_m[2])])
        local = self.to_local(points)
        outside = np.maximum(np.abs(local) - np.asarray(self.size_m) / 2, 0.0)
        if flat:
            outside[:, 2] = 0.0
        return np.linalg.norm(outside, axis=1)

    def contains(self, other: Box, tolerance_m: float = 0.01) -> bool:
        local = self.to_local(other.corners())
        return bool((np.abs(local) <= np.asarray(self.size_m) / 2 + tolerance_m).all())

    def overlaps(self, other: Box, tolerance_m: float = 0.01) -> bool:
        """True when the two boxes share a volume thicker than ``tolerance_m`` (separating axes)."""
        z0, z1 = self.z_range_m
        o0, o1 = other.z_range_m
        if min(z1, o1) - max(z0, o0) <= tolerance_m:
            return False
        a, b = self.footprint(), other.footprint()
        for poly in (a, b):
            for i in range(4):
                edge = poly[(i + 1) % 4] - poly[i]
                axis = np.array([-edge[1], edge[0]])
                norm = np.linalg.norm(axis)
                if norm < 1e-12:
                    continue
                axis /= norm
                pa, pb = a @ axis, b @ axis
                if min(pa.max(), pb.max()) - max(pa.min(), pb.min()) <= tolerance_m:
                    return False
        return True

    def to_dict(self) -> dict:
        return {"center_m": list(self.center_m), "size_m": list(self.size_m), "yaw_deg": self.yaw_deg}


@dataclass(frozen=True)
class Shelf:
    """A shelf of the planogram in store coordinates: its box and its plates' boxes."""

    shelf: str
    box: Box
    plates: tuple[tuple[int, Box], ...] = ()

    def plate(self, plate: int) -> Box:
        for number, box in self.plates:
            if number == plate:
                return box
        raise KeyError(f"shelf {self.shelf} has no plate {plate}")


@dataclass(frozen=True)
class Camera:
    """One camera of a recording: video, clock, zones and (optionally) where it is in the store.

    ``fps`` is store.json's optional frame rate (the video's own rate wins where the video is read).
    """

    id: str
    video: Path
    start_timestamp: float
    zones: tuple[Zone, ...] = ()
    calibration: Calibration | None = None
    floor_homography: tuple[tuple[float, ...], ...] | None = None
    fps: float | None = None

    @property
    def placed(self) -> bool:
        """True when image points can be put on the store floor (a calibration or a homography)."""
        return self.calibration is not None or self.floor_homography is not None

    def pixels_to_floor(self, pixels: np.ndarray) -> np.ndarray:
        """(N, 2) pixels -> (N, 2) floor metres (NaN where the ray misses the floor); ValueError when
        the camera is not placed."""
        if self.calibration is not None:
            return self.calibration.pixels_to_floor(pixels)
        if self.floor_homography is not None:
            return apply_homography(np.asarray(self.floor_homography), pixels)
        raise ValueError(f"camera {self.id} has no calibration and no floor homography")


@dataclass(frozen=True)
class Store:
    """A parsed store.json."""

    version: int
    name: str
    cameras: tuple[Camera, ...]
    shelves: tuple[Shelf, ...] = ()
    floor: tuple[tuple[float, float], tuple[float, float]] | None = None

    def shelf(self, shelf: str) -> Shelf:
        for entry in self.shelves:
            if entry.shelf == shelf:
                return entry
        raise KeyError(f"no shelf {shelf!r} in store.json")


# ------------------------------------------------------------------------------------------ parsing


def _report(problems: list[FormatError] | None, error: FormatError) -> None:
    if problems is None:
        raise error
    problems.append(error)


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _matrix(value: object, rows: int, cols: int) -> tuple[tuple[float, ...], ...] | None:
    if not isinstance(value, list) or len(value) != rows:
        return None
    if not all(isinstance(r, list) and len(r) == cols and all(_number(v) for v in r) for r in value):
        return None
    return tuple(tuple(float(v) for v in r) for r in value)


def _vector(value: object, length: int) -> tuple[float, ...] | None:
    if not isinstance(value, list) or len(value) != length or not all(_number(v) for v in value):
        return None
    return tuple(float(v) for v in value)


def parse_zone(raw: object, where: str, path: Path, problems: list[FormatError] | None) -> Zone | None:
    """One zone object -> :class:`Zone`, or None after reporting what is wrong with it."""
    if not isinstance(raw, dict):
        _report(problems, FormatError(path, "zone must be an object", field=where))
        return None
    shelf = raw.get("shelf")
    plates = raw.get("plates", [])
    polygon = raw.get("polygon")
    ok = True
    if not isinstance(shelf, str) or not shelf:
        _report(problems, FormatError(path, f"shelf must be a non-empty string, got {shelf!r}", field=f"{where}.shelf"))
        ok = False
    if not isinstance(plates, list) or not all(isinstance(p, int) and not isinstance(p, bool) for p in plates):
        _report(problems, FormatError(path, f"plates must be a list of integers, got {plates!r}", field=f"{where}.plates"))
        ok = False
    if not isinstance(polygon, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(_number(v) for v in p) for p in polygon
    ):
        _report(problems, FormatError(path, "polygon must be a list of [x, y] number pairs", field=f"{where}.polygon"))
        return None
    if len(polygon) < 3:
        _report(problems, FormatError(path, f"polygon has {len(polygon)} point(s); a zone needs at least 3", field=f"{where}.polygon"))
        ok = False
    if not ok:
        return None
    return Zone(shelf, tuple(plates), tuple((float(x), float(y)) for x, y in polygon))


def parse_calibration(raw: object, where: str, path: Path, problems: list[FormatError] | None) -> Calibration | None:
    """A ``calibration`` object -> :class:`Calibration`; every malformed or implausible field reported."""
    if not isinstance(raw, dict):
        _report(problems, FormatError(path, "calibration must be an object", field=where))
        return None
    errors_before = len(problems) if problems is not None else 0

    def bad(key: str, problem: str) -> None:
        _report(problems, FormatError(path, problem, field=f"{where}.{key}"))

    size = raw.get("image_size_px")
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                                               for v in size)):
        bad("image_size_px", f"must be [width, height] in pixels (positive integers), got {size!r}")
        size = None
    K = _matrix(raw.get("K"), 3, 3)
    if K is None:
        bad("K", f"must be a 3x3 matrix of numbers, got {raw.get('K')!r}")
    elif not (K[0][0] > 0 and K[1][1] > 0 and K[1][0] == 0 and K[2] == (0.0, 0.0, 1.0)):
        bad("K", "must be [[fx, s, cx], [0, fy, cy], [0, 0, 1]] with focal lengths fx, fy > 0 (pixels)")
    elif size is not None and not (0 <= K[0][2] <= size[0] and 0 <= K[1][2] <= size[1]):
        bad("K", f"principal point ({K[0][2]:g}, {K[1][2]:g}) lies outside the {size[0]}x{size[1]} image")
    dist_raw = raw.get("dist", [])
    dist = None
    if isinstance(dist_raw, list) and len(dist_raw) in (0, 4, 5, 8) and all(_number(v) for v in dist_raw):
        dist = tuple(float(v) for v in dist_raw)
    else:
        bad("dist", f"must be 4, 5 or 8 numbers (OpenCV's k1, k2, p1, p2[, k3[, k4, k5, k6]]), got {dist_raw!r}")
    R = _matrix(raw.get("R"), 3, 3)
    if R is None:
        bad("R", f"must be a 3x3 rotation matrix (store -> camera), got {raw.get('R')!r}")
    else:
        array = np.asarray(R)
        if not np.allclose(array @ array.T, np.eye(3), atol=1e-3) or not abs(np.linalg.det(array) - 1) < 1e-3:
            bad("R", "is not a rotation (R @ R.T must be the identity and det(R) = +1)")
    t = _vector(raw.get("t"), 3)
    if t is None:
        bad("t", f"must be 3 numbers (metres: x_cam = R @ X + t), got {raw.get('t')!r}")
    error = raw.get("reprojection_error_px")
    if error is not None and not (_number(error) and error >= 0):
        bad("reprojection_error_px", f"must be a number >= 0, got {error!r}")
    source = raw.get("source", "")
    if problems is not None and len(problems) > errors_before:
        return None
    if None in (size, K, dist, R, t):
        return None
    calibration = Calibration(tuple(size), K, dist, R, t, None if error is None else float(error), str(source))
    if np.abs(calibration.position_m).max() > MAX_STORE_EXTENT_M:
        bad("t", f"puts the camera {np.abs(calibration.position_m).max():.0f} m from the store origin: metres "
                 "expected (millimetres?)")
        return None
    return calibration


def _parse_box(raw: object, where: str, path: Path, problems: list[FormatError] | None) -> Box | None:
    if not isinstance(raw, dict):
        _report(problems, FormatError(path, "must be an object with center_m and size_m", field=where))
        return None
    center, size = _vector(raw.get("center_m"), 3), _vector(raw.get("size_m"), 3)
    yaw = raw.get("yaw_deg", 0.0)
    ok = True
    if center is None:
        _report(problems, FormatError(path, f"center_m must be 3 numbers (metres), got {raw.get('center_m')!r}",
                                      field=f"{where}.center_m"))
        ok = False
    if size is None or min(size) <= 0:
        _report(problems, FormatError(path, f"size_m must be 3 positive numbers (metres), got {raw.get('size_m')!r}",
                                      field=f"{where}.size_m"))
        ok = False
    elif max(size) > MAX_BOX_SIDE_M:
        _report(problems, FormatError(path, f"size {max(size):g} is not a plausible shelf or plate size in metres "
                                      "(millimetres or inches?)", field=f"{where}.size_m"))
        ok = False
    if not _number(yaw):
        _report(problems, FormatError(path, f"yaw_deg must be a number (degrees), got {yaw!r}", field=f"{where}.yaw_deg"))
        ok = False
    if ok and center is not None and max(abs(v) for v in center) > MAX_STORE_EXTENT_M:
        _report(problems, FormatError(path, f"center {list(center)} is over {MAX_STORE_EXTENT_M:g} m from the origin: "
                                      "metres expected (millimetres?)", field=f"{where}.center_m"))
        ok = False
    return Box(center, size, float(yaw)) if ok else None


def parse_shelves(raw: object, path: Path, problems: list[FormatError] | None) -> tuple[Shelf, ...]:
    """The ``shelves`` list -> shelves with plate boxes; a plate outside its shelf is a problem."""
    if not isinstance(raw, list):
        _report(problems, FormatError(path, "shelves must be a list", field="shelves"))
        return ()
    shelves: list[Shelf] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw):
        where = f"shelves[{i}]"
        if not isinstance(entry, dict):
            _report(problems, FormatError(path, "shelf must be an object", field=where))
            continue
        name = entry.get("shelf")
        if not isinstance(name, str) or not name:
            _report(problems, FormatError(path, f"shelf must be a non-empty string, got {name!r}", field=f"{where}.shelf"))
            continue
        if name in seen:
            _report(problems, FormatError(path, f"shelf {name!r} appears twice", field=f"{where}.shelf"))
            continue
        seen.add(name)
        box = _parse_box(entry, where, path, problems)
        plates: list[tuple[int, Box]] = []
        raw_plates = entry.get("plates", [])
        if not isinstance(raw_plates, list):
            _report(problems, FormatError(path, "plates must be a list", field=f"{where}.plates"))
            raw_plates = []
        numbers: set[int] = set()
        for j, plate in enumerate(raw_plates):
            pwhere = f"{where}.plates[{j}]"
            number = plate.get("plate") if isinstance(plate, dict) else None
            if not isinstance(number, int) or isinstance(number, bool):
                _report(problems, FormatError(path, f"plate must be an integer, got {number!r}", field=f"{pwhere}.plate"))
                continue
            if number in numbers:
                _report(problems, FormatError(path, f"plate {name}/{number} appears twice", field=f"{pwhere}.plate"))
                continue
            numbers.add(number)
            plate_box = _parse_box(plate, pwhere, path, problems)
            if plate_box is None:
                continue
            if box is not None and not box.contains(plate_box):
                _report(problems, FormatError(path, f"plate {name}/{number} is not inside its shelf's box",
                                              field=pwhere))
                continue
            plates.append((number, plate_box))
        if box is not None:
            shelves.append(Shelf(name, box, tuple(sorted(plates))))
    return tuple(shelves)


def parse_store(path: Path, root: Path, problems: list[FormatError] | None = None) -> Store:
    """Read and validate ``store.json``; video paths are resolved against ``root``.

    With ``problems=None`` the first problem raises :class:`FormatError`; with a list, problems are
    collected and what could be read is returned.
    """
    if not path.is_file():
        raise FormatError(path, "file not found (every recording needs a store.json)")
    try:
        store = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FormatError(path, f"not valid JSON: {exc}") from None
    except RecursionError:
        raise FormatError(path, "not valid JSON: nested too deeply") from None
    if not isinstance(store, dict):
        raise FormatError(path, "top level must be a JSON object")
    version = store.get("version")
    if version not in VERSIONS:
        _report(problems, FormatError(path, f"unsupported version {version!r}; expected 1 or 2", field="version"))
        version = 1
    name = store.get("name", root.name)
    if not isinstance(name, str):
        _report(problems, FormatError(path, f"name must be a string, got {name!r}", field="name"))
        name = root.name
    cameras = _parse_cameras(store.get("cameras", []), path, root, problems)
    shelves = parse_shelves(store["shelves"], path, problems) if "shelves" in store else ()
    for i, a in enumerate(shelves):
        for b in shelves[i + 1:]:
            if a.box.overlaps(b.box):
                _report(problems, FormatError(path, f"shelves {a.shelf} and {b.shelf} overlap", field="shelves"))
    floor = None
    if "floor" in store:
        raw = store["floor"]
        lo = _vector(raw.get("min_m"), 2) if isinstance(raw, dict) else None
        hi = _vector(raw.get("max_m"), 2) if isinstance(raw, dict) else None
        if lo is None or hi is None or not (lo[0] < hi[0] and lo[1] < hi[1]):
            _report(problems, FormatError(path, "floor must be {\"min_m\": [x, y], \"max_m\": [x, y]} with min < max",
                                          field="floor"))
        else:
            floor = (lo, hi)
    return Store(int(version), name, cameras, shelves, floor)


def _parse_cameras(raw_cameras: object, path: Path, root: Path, problems: list[FormatError] | None) -> tuple[Camera, ...]:
    if not isinstance(raw_cameras, list):
        _report(problems, FormatError(path, "cameras must be a list", field="cameras"))
        raw_cameras = []
    cameras: list[Camera] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_cameras):
        where = f"cameras[{i}]"
        if not isinstance(raw, dict):
            _report(problems, FormatError(path, "camera must be an object", field=where))
            continue
        camera_id, video, start = raw.get("id"), raw.get("video"), raw.get("start_timestamp")
        ok = True
        if not isinstance(camera_id, str) or not CAMERA_ID.match(camera_id):
            _report(problems, FormatError(path, f"id must match [A-Za-z0-9_-]+, got {camera_id!r}", field=f"{where}.id"))
            ok = False
        elif camera_id in seen:
            _report(problems, FormatError(path, f"camera id {camera_id!r} appears twice", field=f"{where}.id"))
            ok = False
        if not isinstance(video, str) or not video:
            _report(problems, FormatError(path, f"video must be a relative path string, got {video!r}", field=f"{where}.video"))
            ok = False
        if not _number(start):
            _report(problems, FormatError(path, f"start_timestamp must be a number (Unix seconds), got {start!r}", field=f"{where}.start_timestamp"))
            ok = False
        elif start > MAX_UNIX_SECONDS:
            _report(problems, FormatError(path, "start_timestamp looks like milliseconds; Unix seconds expected", field=f"{where}.start_timestamp"))
            ok = False
        raw_zones = raw.get("zones", [])
        if not isinstance(raw_zones, list):
            _report(problems, FormatError(path, "zones must be a list", field=f"{where}.zones"))
            raw_zones = []
        zones = [parse_zone(z, f"{where}.zones[{j}]", path, problems) for j, z in enumerate(raw_zones)]
        calibration = None
        if raw.get("calibration") is not None:
            calibration = parse_calibration(raw["calibration"], f"{where}.calibration", path, problems)
        homography = None
        if raw.get("floor_homography") is not None:
            homography = _matrix(raw["floor_homography"], 3, 3)
            if homography is None or abs(np.linalg.det(np.asarray(homography))) < 1e-12:
                _report(problems, FormatError(path, "floor_homography must be an invertible 3x3 matrix (image pixels "
                                              "-> floor metres)", field=f"{where}.floor_homography"))
                homography = None
        fps = raw.get("fps")
        if fps is not None and not (_number(fps) and fps > 0):
            _report(problems, FormatError(path, f"fps must be a number > 0, got {fps!r}", field=f"{where}.fps"))
            fps = None
        if not ok:
            continue
        seen.add(camera_id)
        cameras.append(Camera(camera_id, root / video, float(start), tuple(z for z in zones if z is not None),
                              calibration, homography, None if fps is None else float(fps)))
    return tuple(cameras)


# ------------------------------------------------------------------------------------------ writing


def read_store_json(path: Path) -> dict:
    """The raw store.json mapping (for edits that keep every key the file has)."""
    parse_store(path, path.parent)  # refuse to edit a file that does not load
    return json.loads(path.read_text())


def write_store_json(path: Path, store: dict) -> None:
    """Write a store.json mapping atomically (a temporary file renamed over it), after checking that
    it loads: a file that would not load is refused and the old one kept."""
    text = json.dumps(store, indent=2) + "\n"
    handle, tmp = tempfile.mkstemp(prefix=".store.json.", dir=path.parent)
    umask = os.umask(0o022)
    os.umask(umask)
    os.fchmod(handle, 0o666 & ~umask)  # as open() would make it, not mkstemp's owner-only 0600
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        try:
            parse_store(Path(tmp), path.parent)
        except FormatError as exc:
            raise FormatError(path, f"not written: {exc.problem}", field=exc.field) from None
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
