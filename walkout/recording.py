"""Load and validate a store recording folder (docs/FORMAT.md).

``load_recording`` returns a :class:`Recording` or raises :class:`FormatError` on the first problem;
``validate_recording`` collects every problem it can find and describes what is there.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from formats.errors import FormatError
from formats.store import Calibration, Camera, Shelf, Store, Zone, parse_store
from formats.tables import read_catalog, read_events, read_planogram

__all__ = ["Calibration", "Camera", "Recording", "Shelf", "Zone", "load_recording", "probe_video", "validate_recording"]
WEIGHT_FILES = ("weights.csv.gz", "weights.csv", "weights.parquet")


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
    """A parsed store recording. Tables are pandas DataFrames as read by ``formats.tables``."""

    path: Path
    name: str
    cameras: tuple[Camera, ...]
    store: Store | None = None
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
    store = parse_store(root / "store.json", root, problems)
    cameras = store.cameras
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
    return Recording(root, store.name, cameras, store, catalog, planogram, _find_weights(root), truth, tracks)


def _guard(read, problems: list[FormatError] | None):
    """Run a reader; in collecting mode a file-level error becomes a problem and the table None."""
    try:
        return read()
    except FormatError as exc:
        _report(problems, exc)
        return None


def frames_at(video: Path, indices) -> Iterator[tuple[int, np.ndarray]]:
    """(index, BGR frame) of each 0-based frame of ``video`` in ``indices``, in order, decoding up to the
    last of them; stops early where the video ends or a frame does not decode."""
    import cv2

    wanted = set(int(i) for i in indices)
    if not wanted:
        return
    capture = cv2.VideoCapture(str(video))
    try:
        index, last = 0, max(wanted)
        while index <= last:
            ok, frame = capture.read()
            if not ok or frame is None:
                return
            if index in wanted:
                yield index, frame
            index += 1
    finally:
        capture.release()


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
    if recording.store is not None:
        found.extend(_check_geometry(recording, plates, problems, warnings))
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


# A stored calibration whose reprojection error is above this (pixels) is not trusted.
MAX_REPROJECTION_ERROR_PX = 5.0


def _check_geometry(recording: Recording, plates: set | None, problems: list[FormatError],
                    warnings: list[str]) -> list[str]:
    """Calibrations sane (image size, above the floor, reprojection error), shelves and plates in the
    planogram and seen by some calibrated camera. Box units, plates inside shelves and overlapping
    shelves are checked when store.json is parsed."""
    store_path = recording.path / "store.json"
    found: list[str] = []
    placed = []
    for camera in recording.cameras:
        where = f"cameras[{camera.id}]"
        calibration = camera.calibration
        if calibration is not None:
            error = calibration.reprojection_error_px
            placed.append(f"{camera.id} (pose" + (f", reprojection {error:.2f} px)" if error is not None else ")"))
            if calibration.position_m[2] <= 0:
                problems.append(FormatError(store_path, f"puts the camera {calibration.position_m[2]:.2f} m above the "
                                            "floor: a ceiling camera is above it (is z up?)", field=f"{where}.calibration.t"))
            if error is not None and error > MAX_REPROJECTION_ERROR_PX:
                problems.append(FormatError(store_path, f"reprojection error {error:.2f} px is above "
                                            f"{MAX_REPROJECTION_ERROR_PX:g} px: recalibrate", field=f"{where}.calibration"))
            if camera.video.is_file():
                try:
                    info = probe_video(camera.video)
                except FormatError:
                    info = None
                if info is not None and calibration.image_size_px != (info.width_px, info.height_px):
                    problems.append(FormatError(store_path, f"image_size_px {list(calibration.image_size_px)} is not "
                                                f"the video's {info.width_px}x{info.height_px}",
                                                field=f"{where}.calibration.image_size_px"))
        elif camera.floor_homography is not None:
            placed.append(f"{camera.id} (floor homography)")
    if placed:
        found.append(f"cameras placed in the store: {', '.join(placed)}")
    shelves = recording.store.shelves
    if not shelves:
        return found
    found.append(f"store geometry: {len(shelves)} shelf box(es), {sum(len(s.plates) for s in shelves)} plate box(es)")
    calibrated = [c.calibration for c in recording.cameras if c.calibration is not None]
    for shelf in shelves:
        if plates is not None:
            shelf_plates = {p for s, p in plates if s == shelf.shelf}
            if not shelf_plates:
                problems.append(FormatError(store_path, f"shelf {shelf.shelf!r} is not in the planogram", field="shelves"))
            for number, _ in shelf.plates:
                if shelf_plates and number not in shelf_plates:
                    problems.append(FormatError(store_path, f"plate {shelf.shelf}/{number} is not in the planogram",
                                                field="shelves"))
        if calibrated and not any(_seen(c, shelf.box) for c in calibrated):
            warnings.append(f"{store_path}: shelf {shelf.shelf} is outside every calibrated camera's image (or behind)")
    return found


def _seen(calibration: Calibration, box) -> bool:
    """True when some corner of ``box`` is in front of the camera and inside its image."""
    pixels, depth = calibration.project(box.corners())
    width, height = calibration.image_size_px
    inside = (depth > 0) & (pixels[:, 0] >= 0) & (pixels[:, 0] <= width) & (pixels[:, 1] >= 0) & (pixels[:, 1] <= height)
    return bool(inside.any())
