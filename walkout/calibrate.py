"""`walkout calibrate`: a camera's place in the store from points seen in its image.

Two ways, chosen by the points (docs/FORMAT.md, "Calibration"):

- **Floor homography**: >= 4 points on the floor (store z = 0 for all, no two-dimensional spread
  lost to collinearity): image pixels <-> floor metres, ``cv2.findHomography``. Enough to put feet on
  the floor; not enough to project shelves.
- **Full pose**: >= 6 image <-> store point pairs not all on one plane (or >= 4 when the camera's
  intrinsics are already known): ``cv2.solvePnP``. Unknown intrinsics are estimated as one focal
  length (square pixels, principal point at the image centre, no distortion) by minimising the
  reprojection error over the focal length.

Every point's reprojection error is reported; a fit whose worst point is above
``CalibrateConfig.max_error_px`` is refused and store.json is left as it was. Otherwise the camera's
entry in store.json is replaced atomically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from formats.errors import FormatError
from formats.store import Calibration, read_store_json, write_store_json
from walkout.recording import Camera, load_recording, probe_video
from walkout.zones import camera_of


@dataclass(frozen=True)
class CalibrateConfig:
    """``max_error_px``: the largest reprojection error accepted for any point (pixels).
    ``focal_range``: the focal lengths searched when the intrinsics are unknown, as multiples of the
    image width (0.2 to 5: from a fisheye-like 136 degree to a 11 degree horizontal field of view).
    ``min_spread_m``: points closer than this to a line (or, for a pose, to a plane) are degenerate."""

    max_error_px: float = 5.0
    focal_range: tuple[float, float] = (0.2, 5.0)
    min_spread_m: float = 0.05


@dataclass(frozen=True)
class PointPair:
    image_px: tuple[float, float]
    store_m: tuple[float, float, float]


@dataclass(frozen=True)
class CalibrationResult:
    """What a fit gives: the kind (``homography`` or ``pose``), the matrix or calibration, and the
    reprojection error of each point in pixels (of ``pairs``, the points fitted, when known)."""

    kind: str
    errors_px: tuple[float, ...]
    calibration: Calibration | None = None
    homography: np.ndarray | None = None
    pairs: tuple[PointPair, ...] = ()

    @property
    def max_error_px(self) -> float:
        return max(self.errors_px) if self.errors_px else 0.0

    @property
    def rms_error_px(self) -> float:
        return float(np.sqrt(np.mean(np.square(self.errors_px)))) if self.errors_px else 0.0


def read_points(path: str | Path) -> list[PointPair]:
    """A points file -> pairs. JSON ``{"points": [{"image_px": [u, v], "store_m": [x, y, z]}, ...]}``
    (``store_m`` may have 2 numbers: a floor point) or CSV ``u,v,x,y[,z]``."""
    path = Path(path)
    if not path.is_file():
        raise FormatError(path, "points file not found")
    pairs: list[PointPair] = []
    if path.suffix.lower() == ".csv":
        try:
            frame = pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise FormatError(path, f"not a readable CSV: {exc}") from None
        missing = [c for c in ("u", "v", "x", "y") if c not in frame.columns]
        if missing:
            raise FormatError(path, f"missing column(s) {', '.join(missing)}; expected u,v,x,y[,z]", line=1)
        if "z" not in frame.columns:
            frame["z"] = 0.0
        for i, row in enumerate(frame[["u", "v", "x", "y", "z"]].itertuples(index=False)):
            values = pd.to_numeric(pd.Series(row), errors="coerce")
            if values.isna().any() or not np.isfinite(values).all():
                raise FormatError(path, f"not 5 numbers: {list(row)}", line=i + 2)
            u, v, x, y, z = (float(value) for value in values)
            pairs.append(PointPair((u, v), (x, y, z)))
        return pairs
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FormatError(path, f"not valid JSON: {exc}") from None
    points = raw.get("points") if isinstance(raw, dict) else None
    if not isinstance(points, list):
        raise FormatError(path, "expected {\"points\": [{\"image_px\": [u, v], \"store_m\": [x, y, z]}, ...]}",
                          field="points")
    for i, point in enumerate(points):
        where = f"points[{i}]"
        image = point.get("image_px") if isinstance(point, dict) else None
        store = point.get("store_m") if isinstance(point, dict) else None
        if not _numbers(image, (2,)):
            raise FormatError(path, f"image_px must be [u, v] pixels, got {image!r}", field=f"{where}.image_px")
        if not _numbers(store, (2, 3)):
            raise FormatError(path, f"store_m must be [x, y] or [x, y, z] metres, got {store!r}", field=f"{where}.store_m")
        xyz = [float(v) for v in store] + ([0.0] if len(store) == 2 else [])
        pairs.append(PointPair((float(image[0]), float(image[1])), tuple(xyz)))
    return pairs


def _numbers(value: object, lengths: tuple[int, ...]) -> bool:
    return (isinstance(value, list) and len(value) in lengths
            and all(isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v) for v in value))


def _spread(points: np.ndarray) -> np.ndarray:
    """Singular values of the centred points: how far they spread along their principal axes."""
    centred = points - points.mean(axis=0)
    return np.linalg.svd(centred, compute_uv=False) / np.sqrt(max(len(points), 1))


def fit_calibration(pairs: list[PointPair], image_size_px: tuple[int, int], *, known: Calibration | None = None,
                    config: CalibrateConfig | None = None, source: str = "", where: str = "points") -> CalibrationResult:
    """Fit a floor homography or a full pose to ``pairs``; FormatError (naming ``where``) when the
    points cannot determine one. Does not check the error limit (see :func:`calibrate_camera`)."""
    config = config or CalibrateConfig()
    image = np.array([p.image_px for p in pairs], dtype=np.float64).reshape(-1, 2)
    store = np.array([p.store_m for p in pairs], dtype=np.float64).reshape(-1, 3)
    on_floor = bool(len(store)) and bool(np.all(np.abs(store[:, 2]) < 1e-9))
    spread = _spread(store) if len(store) else np.zeros(3)
    if known is not None and len(pairs) >= 4:
        if spread[1] < config.min_spread_m:
            raise FormatError(where, f"the {len(pairs)} points lie on one line: they cannot fix a pose")
        return _fit_pose(image, store, known.intrinsics, np.asarray(known.dist), image_size_px, source, config)
    if on_floor:
        if len(pairs) < 4:
            raise FormatError(where, f"{len(pairs)} floor point(s): a floor homography needs at least 4")
        if spread[1] < config.min_spread_m:
            raise FormatError(where, f"the {len(pairs)} floor points lie on one line: they cannot fix a homography")
        return _fit_homography(image, store[:, :2])
    if len(pairs) < 6:
        raise FormatError(where, f"{len(pairs)} point pair(s): a pose needs at least 6 image<->store pairs "
                                 "(or at least 4 floor points, z = 0, for a floor homography)")
    if spread[2] < config.min_spread_m:
        raise FormatError(where, f"the {len(pairs)} points lie on one plane: with unknown intrinsics a pose needs "
                                 "points off that plane (or give floor points only, for a floor homography)")
    return _fit_unknown_focal(image, store, image_size_px, source, config)


def _fit_homography(image: np.ndarray, floor: np.ndarray) -> CalibrationResult:
    H, _ = cv2.findHomography(image, floor, 0)
    if H is None or abs(np.linalg.det(H)) < 1e-12:
        raise FormatError("points", "no homography fits these floor points (degenerate layout)")
    back = cv2.perspectiveTransform(floor.reshape(-1, 1, 2), np.linalg.inv(H)).reshape(-1, 2)
    errors = np.linalg.norm(back - image, axis=1)
    return CalibrationResult("homography", tuple(float(e) for e in errors), homography=H / H[2, 2])


def _fit_pose(image: np.ndarray, store: np.ndarray, K: np.ndarray, dist: np.ndarray, size: tuple[int, int],
              source: str, config: CalibrateConfig) -> CalibrationResult:
    planar = _spread(store)[2] < config.min_spread_m
    flags = cv2.SOLVEPNP_IPPE if planar and len(store) >= 4 else cv2.SOLVEPNP_ITERATIVE
    ok, rvec, tvec = cv2.solvePnP(store, image, K, dist, flags=flags)
    if not ok:
        raise FormatError("points", "cv2.solvePnP found no pose for these points")
    if flags != cv2.SOLVEPNP_ITERATIVE:
        rvec, tvec = cv2.solvePnPRefineLM(store, image, K, dist, rvec, tvec)
    R, _ = cv2.Rodrigues(rvec)
    calibration = Calibration(
        (int(size[0]), int(size[1])), tuple(tuple(float(v) for v in row) for row in K),
        tuple(float(v) for v in np.ravel(dist)), tuple(tuple(float(v) for v in row) for row in R),
        tuple(float(v) for v in np.ravel(tvec)), None, source)
    projected, depth = calibration.project(store)
    errors = np.linalg.norm(projected - image, axis=1)
    errors[depth <= 0] = np.inf  # a point behind the camera is not a fit
    rounded = tuple(float(e) for e in errors)
    calibration = Calibration(calibration.image_size_px, calibration.K, calibration.dist, calibration.R,
                              calibration.t, round(float(np.sqrt(np.mean(errors**2))), 4), source)
    return CalibrationResult("pose", rounded, calibration=calibration)


def _fit_unknown_focal(image: np.ndarray, store: np.ndarray, size: tuple[int, int], source: str,
                       config: CalibrateConfig) -> CalibrationResult:
    from scipy.optimize import minimize_scalar

    width, height = size

    def intrinsics_of(focal: float) -> np.ndarray:
        return np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]], dtype=np.float64)

    def rms(log_focal: float) -> float:
        try:
            result = _fit_pose(image, store, intrinsics_of(float(np.exp(log_focal))), np.zeros(5), size, source, config)
        except FormatError:
            return 1e9
        errors = np.asarray(result.errors_px)
        return float(np.sqrt(np.mean(errors**2))) if np.isfinite(errors).all() else 1e9

    lo, hi = (np.log(f * width) for f in config.focal_range)
    grid = np.linspace(lo, hi, 25)
    best = grid[int(np.argmin([rms(g) for g in grid]))]
    step = grid[1] - grid[0]
    found = minimize_scalar(rms, bounds=(max(lo, best - step), min(hi, best + step)), method="bounded")
    return _fit_pose(image, store, intrinsics_of(float(np.exp(found.x))), np.zeros(5), size, source, config)


def pinhole(focal_px: float, image_size_px: tuple[int, int]) -> Calibration:
    """Intrinsics of a known focal length: square pixels, principal point at the centre, no
    distortion (the pose is a placeholder until fitted)."""
    width, height = image_size_px
    K = ((float(focal_px), 0.0, width / 2), (0.0, float(focal_px), height / 2), (0.0, 0.0, 1.0))
    eye = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
    return Calibration((int(width), int(height)), K, (0.0, 0.0, 0.0, 0.0, 0.0), eye, (0.0, 0.0, 0.0))


def calibrate_camera(recording: str | Path, camera_id: str, points_path: str | Path,
                     config: CalibrateConfig | None = None, focal_px: float | None = None) -> CalibrationResult:
    """Fit camera ``camera_id`` of ``recording`` to the points of ``points_path`` and, when every
    point's reprojection error is within ``config.max_error_px``, write the result into its
    store.json entry (atomically; a homography replaces ``floor_homography``, a pose ``calibration``).
    Refused (FormatError, store.json untouched) above the limit. With ``focal_px`` the intrinsics are
    that focal length (see :func:`pinhole`) and 4 points fix the pose, on one plane or not; else the
    camera's own intrinsics when it has a calibration."""
    config = config or CalibrateConfig()
    loaded = load_recording(recording)
    camera = camera_of(loaded, camera_id)
    pairs = read_points(points_path)
    size = _image_size(camera)
    source = f"walkout calibrate --points {Path(points_path).name}"
    known = pinhole(focal_px, size) if focal_px is not None else camera.calibration
    result = replace(fit_calibration(pairs, size, known=known, config=config, source=source, where=str(points_path)),
                     pairs=tuple(pairs))
    if not result.max_error_px <= config.max_error_px:
        worst = int(np.argmax(result.errors_px))
        raise FormatError(points_path, f"reprojection error {result.max_error_px:.2f} px at points[{worst}] is above "
                                       f"the limit of {config.max_error_px:g} px: not written (check that point, or "
                                       "add points)")
    store_path = loaded.path / "store.json"
    raw = read_store_json(store_path)
    entry = next(c for c in raw["cameras"] if c.get("id") == camera_id)
    if result.kind == "homography":
        entry["floor_homography"] = [[round(float(v), 10) for v in row] for row in result.homography]
    else:
        entry["calibration"] = result.calibration.to_dict()
    raw["version"] = max(int(raw.get("version", 1)), 2)
    write_store_json(store_path, raw)
    return result


def _image_size(camera: Camera) -> tuple[int, int]:
    if camera.calibration is not None:
        return camera.calibration.image_size_px
    info = probe_video(camera.video)
    return info.width_px, info.height_px
