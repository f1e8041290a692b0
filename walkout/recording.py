"""Load and validate a store recording folder (docs/FORMAT.md).

``load_recording`` returns a :class:`Recording` or raises :class:`FormatError` on the first problem;
``validate_recording`` collects every problem it can find and describes what is there.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fusion.errors import FormatError
from fusion.tables import MAX_UNIX_SECONDS, read_catalog, read_events, read_planogram

CAMERA_ID = re.compile(r"^[A-Za-z0-9_-]+$")
WEIGHT_FILES = ("weights.csv.gz", "weights.csv", "weights.parquet")


@dataclass(frozen=True)
class Zone:
    """A shelf region in one camera's image: the shelf, the plates it covers, a polygon in pixels."""

    shelf: str
    plates: tuple[int, ...]
    polygon: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Camera:
    id: str
    video: Path
    start_timestamp: float
    zones: tuple[Zone, ...] = ()


@dataclass(frozen=True)
class VideoInfo:
    """What the video container says about itself (frames as reported, fps, size in pixels)."""

    frames: int
    fps: float
    width_px: int
    height_px: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps if self.fps > 0 else 0.0


@dataclass(frozen=True)
class Recording:
    """A parsed store recording. Tables are pandas DataFrames as read by ``fusion.tables``."""

    path: Path
    name: str
    cameras: tuple[Camera, ...]
    catalog: pd.DataFrame | None = None
    planogram: pd.DataFrame | None = None
    weights_path: Path | None = None
    truth_events: pd.DataFrame | None = None
    truth_tracks: dict[str, Path] = field(default_factory=dict)

    def camera(self, camera_id: str) -> Camera:
        for camera in self.cameras:
            if camera.id == camera_id:
                return camera
        raise KeyError(f"{self.path}: no camera {camera_id!r}")


def _report(problems: list[FormatError] | None, error: FormatError) -> None:
    if problems is None:
        raise error
    problems.append(error)


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _parse_zone(raw: object, where: str, path: Path, problems: list[FormatError] | None) -> Zone | None:
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


def _parse_store(path: Path, root: Path, problems: list[FormatError] | None) -> tuple[str, tuple[Camera, ...]]:
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
    if store.get("version") != 1:
        _report(problems, FormatError(path, f"unsupported version {store.get('version')!r}; expected 1", field="version"))
    name = store.get("name", root.name)
    if not isinstance(name, str):
        _report(problems, FormatError(path, f"name must be a string, got {name!r}", field="name"))
        name = root.name
    raw_cameras = store.get("cameras", [])
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
        zones = [_parse_zone(z, f"{where}.zones[{j}]", path, problems) for j, z in enumerate(raw_zones)]
        if not ok:
            continue
        seen.add(camera_id)
        cameras.append(Camera(camera_id, root / video, float(start), tuple(z for z in zones if z is not None)))
    return name, tuple(cameras)


def _find_weights(root: Path) -> Path | None:
    for name in WEIGHT_FILES:
        if (root / name).is_file():
            return root / name
    return None


def load_recording(path: str | Path, problems: list[FormatError] | None = None) -> Recording:
    """Parse a recording folder: store.json, catalog, planogram, truth. Videos and weights are not read.

    With ``problems=None`` the first problem raises; with a list, problems are collected.
    """
    root = Path(path)
    if not root.is_dir():
        raise FormatError(root, "not a folder (a store recording is a folder with a store.json)")
    name, cameras = _parse_store(root / "store.json", root, problems)
    catalog = planogram = truth = None
    if (root / "catalog.csv").is_file():
        catalog = _guard(lambda: read_catalog(root / "catalog.csv", problems), problems)
    if (root / "planogram.csv").is_file():
        planogram = _guard(lambda: read_planogram(root / "planogram.csv", catalog, problems), problems)
    elif catalog is not None:
        _report(problems, FormatError(root / "planogram.csv", "file not found (catalog.csv is there; fusion needs both)"))
    if (root / "truth" / "events.csv").is_file():
        truth = _guard(lambda: read_events(root / "truth" / "events.csv", problems), problems)
    tracks = {
        camera.id: root / "truth" / "tracks" / f"{camera.id}.txt"
        for camera in cameras
        if (root / "truth" / "tracks" / f"{camera.id}.txt").is_file()
    }
    return Recording(root, name, cameras, catalog, planogram, _find_weights(root), truth, tracks)


def _guard(read, problems: list[FormatError] | None):
    """Run a reader; in collecting mode a file-level error becomes a problem and the table None."""
    try:
        return read()
    except FormatError as exc:
        _report(problems, exc)
        return None


def probe_video(path: Path) -> VideoInfo:
    """Open a video and read its header and first frame; FormatError if it is missing or unreadable."""
    import cv2

    if not path.is_file():
        raise FormatError(path, "video file not found")
    if path.stat().st_size == 0:
        raise FormatError(path, "video file is empty (0 bytes)")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise FormatError(path, "cannot open video (corrupt file or unsupported codec)")
        ok, frame = capture.read()
        if not ok or frame is None:
            raise FormatError(path, "video has no decodable frames")
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        if not fps > 0:
            raise FormatError(path, f"video reports no frame rate ({fps})")
        frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        if frames <= 1:  # FFmpeg opens an image as a one-frame "video" without a frame count
            if not capture.read()[0]:
                raise FormatError(path, "a single still image, not a video")
            frames = max(frames, 0)  # the header does not say
        return VideoInfo(
            frames=frames,
            fps=fps,
            width_px=frame.shape[1],
            height_px=frame.shape[0],
        )
    finally:
        capture.release()


@dataclass(frozen=True)
class ValidationReport:
    path: Path
    found: tuple[str, ...]
    problems: tuple[FormatError, ...]
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        lines = [f"{self.path}: {'OK' if self.ok else f'{len(self.problems)} problem(s)'}"]
        lines += [f"  {item}" for item in self.found]
        lines += [f"  warning: {warning}" for warning in self.warnings]
        lines += [f"  PROBLEM {problem}" for problem in self.problems]
        return "\n".join(lines)


def _point_in_image(x: float, y: float, info: VideoInfo) -> bool:
    return 0 <= x <= info.width_px and 0 <= y <= info.height_px


def validate_recording(path: str | Path) -> ValidationReport:
    """Check everything in a recording and describe it; never raises for bad content."""
    root = Path(path)
    problems: list[FormatError] = []
    warnings: list[str] = []
    found: list[str] = []
    try:
        recording = load_recording(root, problems)
    except FormatError as exc:
        return ValidationReport(root, (), (exc,))
    found.append(f"name {recording.name}, {len(recording.cameras)} camera(s)")
    if recording.catalog is not None:
        unweighed = int((recording.catalog["weight_g"] == 0).sum())
        found.append(
            f"catalog.csv: {len(recording.catalog)} product(s)"
            + (f", {unweighed} with unknown weight (0 g)" if unweighed else "")
        )
    if recording.planogram is not None:
        planogram = recording.planogram
        found.append(f"planogram.csv: {len(planogram)} plate(s) on {planogram['shelf'].nunique()} shelf/shelves")
    plates = (
        set(zip(recording.planogram["shelf"], recording.planogram["plate"], strict=True))
        if recording.planogram is not None
        else None
    )
    for camera in recording.cameras:
        try:
            info = probe_video(camera.video)
        except FormatError as exc:
            problems.append(exc)
            info = None
        if info is not None:
            found.append(
                f"camera {camera.id}: {camera.video.relative_to(root)} {info.width_px}x{info.height_px} "
                f"{info.fps:g} fps, {info.frames} frames ({info.duration_s:.1f} s), {len(camera.zones)} zone(s)"
            )
        for j, zone in enumerate(camera.zones):
            where = f"cameras[{camera.id}].zones[{j}]"
            if plates is not None:
                shelf_plates = {p for s, p in plates if s == zone.shelf}
                if not shelf_plates:
                    problems.append(FormatError(root / "store.json", f"shelf {zone.shelf!r} is not in the planogram", field=where))
                for plate in zone.plates:
                    if shelf_plates and plate not in shelf_plates:
                        problems.append(FormatError(root / "store.json", f"plate {zone.shelf}/{plate} is not in the planogram", field=where))
            if info is not None and not all(_point_in_image(x, y, info) for x, y in zone.polygon):
                problems.append(
                    FormatError(root / "store.json", f"polygon leaves the {info.width_px}x{info.height_px} image", field=where)
                )
    if recording.weights_path is not None:
        found.append(_check_weights(recording, problems, warnings))
    if recording.truth_events is not None:
        events = recording.truth_events
        found.append(f"truth/events.csv: {len(events)} event(s) by {events['shopper'].nunique()} shopper(s)")
        if recording.catalog is not None:
            unknown = sorted(set(events["sku"]) - set(recording.catalog["sku"]))
            if unknown:
                problems.append(FormatError(root / "truth" / "events.csv", f"sku(s) not in the catalog: {', '.join(unknown)}", field="sku"))
    for camera_id, track_path in recording.truth_tracks.items():
        found.append(f"truth/tracks/{camera_id}.txt: {_count_lines(track_path)} box(es)")
    return ValidationReport(root, tuple(found), tuple(problems), tuple(warnings))


def _count_lines(path: Path) -> int:
    with path.open() as stream:
        return sum(1 for line in stream if line.strip())


def _check_weights(recording: Recording, problems: list[FormatError], warnings: list[str]) -> str:
    """Load the weight log with fusion's loader: unusable input is a problem, what it repaired a warning."""
    from fusion.weights import load_weights

    try:
        log = load_weights(recording.weights_path, catalog=recording.catalog, planogram=recording.planogram)
    except FormatError as exc:
        problems.append(exc)
        return f"{recording.weights_path.name}: unusable"
    warnings.extend(problem.describe() for problem in log.problems)
    plates = log.bounds[["shelf", "plate"]].drop_duplicates()
    if log.n_samples:
        t = log.frame["timestamp"].to_numpy()
        span = f", {t.min():.3f} .. {t.max():.3f} ({t.max() - t.min():.1f} s)"
    else:
        span = ""
    return f"{recording.weights_path.name}: {log.n_samples} reading(s) of {len(plates)} plate(s){span}"
