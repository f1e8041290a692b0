"""Store geometry: calibrations in OpenCV's convention, shelf boxes, `walkout calibrate` and
`walkout zones project`.

The scene of these tests: a 640 x 360 camera 3 m above the floor at (1, -1.5, 3), looking at a
gondola whose front is the plane y = 0 (x from 0 to 1.2 m), three shelves of four 0.3 m plates.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from formats.errors import FormatError
from formats.store import Box, Calibration, parse_store
from walkout.calibrate import CalibrateConfig, PointPair, calibrate_camera, fit_calibration
from walkout.cli import main
from walkout.geometry import projected_zones
from walkout.recording import load_recording, validate_recording

from .conftest import write_video

WIDTH, HEIGHT = 640, 360
FOCAL = 420.0
EYE = np.array([1.0, -1.5, 3.0])


def look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Rotation store -> camera whose rows are the camera's right, down and forward axes."""
    forward = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    return np.stack([right, np.cross(forward, right), forward])


def calibration(dist=(0.0, 0.0, 0.0, 0.0, 0.0), eye=EYE, target=(0.6, 0.3, 0.6)) -> Calibration:
    R = look_at(np.asarray(eye), np.asarray(target))
    t = -R @ np.asarray(eye)
    K = ((FOCAL, 0.0, WIDTH / 2), (0.0, FOCAL, HEIGHT / 2), (0.0, 0.0, 1.0))
    return Calibration((WIDTH, HEIGHT), K, tuple(dist), tuple(map(tuple, R)), tuple(t))


def shelves_json(levels: int = 3, plates: int = 4) -> list[dict]:
    out = []
    for level in range(1, levels + 1):
        z0 = 0.1 + 0.4 * (level - 1)
        out.append({"shelf": f"A{level}", "center_m": [0.6, 0.25, z0 + 0.18], "size_m": [1.2, 0.5, 0.36],
                    "plates": [{"plate": p, "center_m": [0.3 * p - 0.15, 0.25, z0 + 0.18], "size_m": [0.3, 0.5, 0.36]}
                               for p in range(1, plates + 1)]})
    return out


def write_store(root: Path, *, camera: dict | None = None, shelves: list | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    entry = {"id": "cam0", "video": "videos/cam0.mp4", "start_timestamp": 1700000000.0, "zones": []}
    entry.update(camera or {})
    store = {"version": 2, "name": "geo", "cameras": [entry], "shelves": shelves_json() if shelves is None else shelves}
    (root / "store.json").write_text(json.dumps(store))
    (root / "planogram.csv").write_text("shelf,plate,sku\n" + "".join(
        f"A{level},{p},000{p}\n" for level in (1, 2, 3) for p in (1, 2, 3, 4)))
    (root / "catalog.csv").write_text("sku,name,weight_g\n" + "".join(f"000{p},P{p},100\n" for p in (1, 2, 3, 4)))
    write_video(root / "videos" / "cam0.mp4", size=(WIDTH, HEIGHT))
    return root


# --- the pinhole model ----------------------------------------------------------------------------


@pytest.mark.parametrize("dist", [(0, 0, 0, 0, 0), (-0.28, 0.09, 0.001, -0.002, -0.01)])
def test_projection_matches_opencv_with_and_without_distortion(dist):
    cal = calibration(dist)
    points = np.random.default_rng(3).uniform([0, 0, 0], [1.2, 0.5, 1.4], (50, 3))
    expected, _ = cv2.projectPoints(points, cv2.Rodrigues(cal.rotation)[0], cal.translation, cal.intrinsics,
                                    np.asarray(dist, dtype=float))
    pixels, depth = cal.project(points)
    assert (depth > 0).all()
    np.testing.assert_allclose(pixels, expected.reshape(-1, 2), atol=1e-6)


@pytest.mark.parametrize("dist", [(0, 0, 0, 0, 0), (-0.2, 0.05, 0, 0, 0)])
def test_pixels_go_back_to_the_floor_point_they_came_from(dist):
    cal = calibration(dist)
    floor = np.random.default_rng(4).uniform([0, -1.0, 0], [1.2, 0.0, 0], (20, 3))
    pixels, _ = cal.project(floor)
    np.testing.assert_allclose(cal.pixels_to_floor(pixels), floor[:, :2], atol=1e-5)


def test_a_pixel_above_the_horizon_has_no_floor_point():
    cal = calibration(target=(1.0, 3.0, 2.9))  # looking almost level: the top rows see no floor
    assert np.isnan(cal.pixels_to_floor(np.array([[320.0, 0.0]]))).all()
    assert np.isfinite(cal.pixels_to_floor(np.array([[320.0, 359.0]]))).all()


def test_box_distance_is_zero_inside_and_measured_on_the_floor_for_floor_points():
    box = Box((0.6, 0.25, 0.3), (1.2, 0.5, 0.36))
    assert box.distance_m(np.array([[0.6, 0.25, 0.3]]))[0] == 0.0
    assert box.distance_m(np.array([[0.6, -0.75]]))[0] == pytest.approx(0.75)  # front at y = 0
    turned = Box((0.0, 0.0, 0.5), (2.0, 0.2, 1.0), yaw_deg=90.0)  # long side now along y
    assert turned.distance_m(np.array([[0.0, 0.9]]))[0] == 0.0
    assert turned.distance_m(np.array([[0.5, 0.0]]))[0] == pytest.approx(0.4)


# --- store.json: geometry, units, version 1 ---------------------------------------------------------


def test_a_version_2_store_json_loads_cameras_shelves_and_plates(tmp_path):
    root = write_store(tmp_path / "r", camera={"calibration": calibration().to_dict()})
    store = load_recording(root).store
    assert store.version == 2
    assert store.cameras[0].calibration.image_size_px == (WIDTH, HEIGHT)
    assert [s.shelf for s in store.shelves] == ["A1", "A2", "A3"]
    assert [p for p, _ in store.shelf("A2").plates] == [1, 2, 3, 4]
    np.testing.assert_allclose(store.cameras[0].calibration.position_m, EYE, atol=1e-9)


def test_version_1_files_load_unchanged(recording):
    loaded = load_recording(recording)
    assert loaded.store.version == 1 and loaded.store.shelves == ()
    assert loaded.cameras[0].calibration is None and not loaded.cameras[0].placed


@pytest.mark.parametrize(("change", "message"), [
    (lambda s: s[0].update(size_m=[1200, 500, 360]), "not a plausible shelf or plate size in metres"),
    (lambda s: s[0]["plates"][0].update(center_m=[-0.5, 0.25, 0.28]), "plate A1/1 is not inside its shelf's box"),
    (lambda s: s[1].update(center_m=[0.6, 0.25, 0.3], plates=[]), "shelves A1 and A2 overlap"),
    (lambda s: s[0].update(center_m=[600.0, 250.0, 280.0]), "metres expected"),
])
def test_bad_shelf_boxes_are_named_with_file_field_and_problem(tmp_path, change, message):
    shelves = shelves_json()
    change(shelves)
    root = write_store(tmp_path / "r", shelves=shelves)
    with pytest.raises(FormatError, match=message) as caught:
        load_recording(root)
    assert "store.json" in str(caught.value)


def test_a_calibration_that_is_not_a_rotation_or_in_millimetres_is_refused(tmp_path):
    bad = calibration().to_dict()
    bad["R"] = [[1, 0, 0], [0, 1, 0], [0, 0, 2]]
    with pytest.raises(FormatError, match=r"cameras\[0\].calibration.R.*is not a rotation"):
        load_recording(write_store(tmp_path / "a", camera={"calibration": bad}))
    mm = calibration().to_dict()
    mm["t"] = [v * 1000 for v in mm["t"]]
    with pytest.raises(FormatError, match="millimetres"):
        load_recording(write_store(tmp_path / "b", camera={"calibration": mm}))


# --- walkout calibrate ------------------------------------------------------------------------------


def corners_of_shelves() -> np.ndarray:
    """Shelf-front corners and plate edges of the test gondola: points off one plane (fronts and backs)."""
    xs = np.array([0.0, 0.6, 1.2])
    return np.array([[x, y, z] for x in xs for y in (0.0, 0.5) for z in (0.1, 0.5, 0.9)])


def test_a_pose_with_unknown_focal_length_is_recovered_from_six_or_more_points():
    truth = calibration()
    store = corners_of_shelves()
    pixels, _ = truth.project(store)
    pairs = [PointPair(tuple(p), tuple(s)) for p, s in zip(pixels, store, strict=True)]
    result = fit_calibration(pairs, (WIDTH, HEIGHT))
    assert result.kind == "pose"
    assert result.max_error_px < 0.05
    assert result.calibration.intrinsics[0, 0] == pytest.approx(FOCAL, rel=1e-3)
    np.testing.assert_allclose(result.calibration.position_m, EYE, atol=5e-3)


def test_floor_points_give_a_homography_that_maps_pixels_to_the_floor():
    truth = calibration()
    floor = np.array([[0.0, -1.0, 0.0], [1.2, -1.0, 0.0], [1.2, -0.1, 0.0], [0.0, -0.1, 0.0], [0.6, -0.5, 0.0]])
    pixels, _ = truth.project(floor)
    result = fit_calibration([PointPair(tuple(p), tuple(s)) for p, s in zip(pixels, floor, strict=True)],
                             (WIDTH, HEIGHT))
    assert result.kind == "homography" and result.max_error_px < 1e-3
    probe = truth.project(np.array([[0.3, -0.7, 0.0]]))[0]
    homogeneous = result.homography @ np.array([*probe[0], 1.0])
    np.testing.assert_allclose(homogeneous[:2] / homogeneous[2], [0.3, -0.7], atol=1e-6)


@pytest.mark.parametrize(("store_points", "message"), [
    ([[0, 0, 0], [1, 0, 0], [1, 1, 0]], "3 floor point.*needs at least 4"),
    ([[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 0]], "lie on one line"),
    ([[0, 0, 1], [1, 0, 1], [1, 1, 2], [0, 1, 2], [0.5, 0.5, 1]], "5 point pair.*at least 6"),
    ([[0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1], [0.5, 0.5, 1], [0.2, 0.7, 1]], "lie on one plane"),
])
def test_too_few_or_degenerate_points_are_refused(store_points, message):
    pairs = [PointPair((10.0 * i, 5.0 * i + 1), tuple(map(float, s))) for i, s in enumerate(store_points)]
    with pytest.raises(FormatError, match=message):
        fit_calibration(pairs, (WIDTH, HEIGHT), where="pts.json")


def points_file(path: Path, cal: Calibration, store: np.ndarray, nudge_px: float = 0.0) -> Path:
    pixels, _ = cal.project(store)
    pixels[0] += nudge_px
    path.write_text(json.dumps({"points": [{"image_px": list(map(float, p)), "store_m": list(map(float, s))}
                                           for p, s in zip(pixels, store, strict=True)]}))
    return path


def test_calibrate_writes_the_pose_into_store_json(tmp_path, capsys):
    root = write_store(tmp_path / "r")
    points = points_file(tmp_path / "pts.json", calibration(), corners_of_shelves())
    assert main(["calibrate", str(root), "--camera", "cam0", "--points", str(points)]) == 0
    out = capsys.readouterr().out
    assert "points[0]" in out and "reprojection error: rms" in out
    written = load_recording(root).cameras[0].calibration
    np.testing.assert_allclose(written.position_m, EYE, atol=5e-3)
    assert written.reprojection_error_px < 0.05


def test_calibrate_refuses_a_fit_above_the_limit_and_leaves_store_json_as_it_was(tmp_path, capsys):
    root = write_store(tmp_path / "r")
    before = (root / "store.json").read_bytes()
    points = points_file(tmp_path / "pts.json", calibration(), corners_of_shelves(), nudge_px=40.0)
    assert main(["calibrate", str(root), "--camera", "cam0", "--points", str(points), "--max-error", "2"]) == 2
    assert "above the limit of 2 px: not written" in capsys.readouterr().err
    assert (root / "store.json").read_bytes() == before


def test_calibrate_with_known_intrinsics_needs_only_four_points(tmp_path):
    truth = calibration()
    moved = calibration(eye=np.array([0.5, -1.8, 2.8]))
    root = write_store(tmp_path / "r", camera={"calibration": truth.to_dict()})
    store = corners_of_shelves()[:4]
    result = calibrate_camera(root, "cam0", points_file(tmp_path / "p.json", moved, store), CalibrateConfig())
    assert result.kind == "pose"
    np.testing.assert_allclose(load_recording(root).cameras[0].calibration.position_m, [0.5, -1.8, 2.8], atol=1e-3)


# --- projected zones --------------------------------------------------------------------------------


def test_projected_zones_cover_what_the_camera_sees_of_each_plate(tmp_path):
    cal = calibration()
    store = parse_store(*_store_files(tmp_path, shelves_json()))
    zones, notes = projected_zones(cal, store.shelves)
    assert notes == ()
    assert [(z.shelf, z.plates) for z in zones] == [(f"A{level}", (p,)) for level in (1, 2, 3) for p in (1, 2, 3, 4)]
    for zone in zones:  # each zone lies over its plate's projected box, inside the image
        box = store.shelf(zone.shelf).plate(zone.plates[0])
        hull = cv2.convexHull(cal.project(box.corners())[0].astype(np.float32))
        inside = [cv2.pointPolygonTest(hull, (x, y), True) >= -1.5 for x, y in zone.polygon]
        assert all(inside)
        assert all(0 <= x <= WIDTH and 0 <= y <= HEIGHT for x, y in zone.polygon)


def test_a_plate_hidden_behind_a_nearer_box_or_behind_the_camera_gets_no_zone(tmp_path):
    cal = calibration()
    near = {"shelf": "N1", "center_m": [0.6, -0.6, 0.8], "size_m": [2.5, 0.4, 1.6]}  # a wall between
    behind = {"shelf": "Z1", "center_m": [1.0, -3.0, 1.0], "size_m": [0.5, 0.5, 0.5]}
    store = parse_store(*_store_files(tmp_path, [*shelves_json(levels=1, plates=1), near, behind]))
    zones, notes = projected_zones(cal, store.shelves)
    assert [z.shelf for z in zones] == ["N1"]
    assert sorted(n.split(":")[0] for n in notes) == ["A1/1", "Z1"]


def test_zones_project_writes_every_calibrated_cameras_zones(tmp_path, capsys):
    root = write_store(tmp_path / "r", camera={"calibration": calibration().to_dict()})
    assert main(["zones", "project", str(root)]) == 0
    assert "cam0: 12 zone(s)" in capsys.readouterr().out
    assert len(load_recording(root).cameras[0].zones) == 12
    assert validate_recording(root).ok


def test_zones_project_without_a_calibration_is_a_clear_error(tmp_path, capsys):
    root = write_store(tmp_path / "r")
    assert main(["zones", "project", str(root), "--camera", "cam0"]) == 2
    assert "camera cam0 has no calibration" in capsys.readouterr().err


def _store_files(folder: Path, shelves: list) -> tuple[Path, Path]:
    (folder / "store.json").write_text(json.dumps({"version": 2, "cameras": [], "shelves": shelves}))
    return folder / "store.json", folder



def test_validate_lists_the_geometry_and_its_problems(tmp_path):
    good = write_store(tmp_path / "good", camera={"calibration": calibration().to_dict()})
    report = validate_recording(good)
    assert report.ok, report.describe()
    assert "cameras placed in the store: cam0 (pose)" in report.describe()
    assert "store geometry: 3 shelf box(es), 12 plate box(es)" in report.describe()

    wrong = calibration().to_dict()
    wrong["image_size_px"] = [320, 180]
    wrong["K"] = [[210.0, 0, 160.0], [0, 210.0, 90.0], [0, 0, 1]]
    below = calibration(eye=np.array([1.0, -1.5, -0.5]), target=(0.6, 0.3, -2.0)).to_dict()
    shelves = [*shelves_json(), {"shelf": "Q1", "center_m": [5.0, 5.0, 0.5], "size_m": [1, 0.5, 0.4]}]
    for name, cal, expected in (("size", wrong, "image_size_px [320, 180] is not the video's 640x360"),
                                ("below", below, "above the floor: a ceiling camera is above it")):
        root = write_store(tmp_path / name, camera={"calibration": cal}, shelves=shelves)
        text = validate_recording(root).describe()
        assert expected in text
        assert "shelf 'Q1' is not in the planogram" in text


def test_with_a_known_focal_length_points_on_one_plane_fix_the_pose(tmp_path, capsys):
    root = write_store(tmp_path / "r")
    front = np.array([[x, 0.0, z] for x in (0.0, 0.6, 1.2) for z in (0.1, 0.5, 0.9)])  # the shelf fronts only
    points = points_file(tmp_path / "front.json", calibration(), front)
    assert main(["calibrate", str(root), "--camera", "cam0", "--points", str(points)]) == 2
    assert "lie on one plane" in capsys.readouterr().err
    assert main(["calibrate", str(root), "--camera", "cam0", "--points", str(points), "--focal", str(FOCAL)]) == 0
    np.testing.assert_allclose(load_recording(root).cameras[0].calibration.position_m, EYE, atol=1e-3)


def test_a_pixel_goes_back_to_the_point_of_a_level_plane_it_came_from():
    cal = calibration(dist=(-0.2, 0.05, 0, 0, 0))
    heads = np.random.default_rng(5).uniform([0, -1.0, 1.7], [1.2, 0.0, 1.7], (10, 3))
    pixels, _ = cal.project(heads)
    np.testing.assert_allclose(cal.pixels_to_plane(pixels, 1.7), heads[:, :2], atol=1e-5)
    assert np.isnan(cal.pixels_to_plane(pixels, 3.5)).all()  # above the camera: behind it for these rays
