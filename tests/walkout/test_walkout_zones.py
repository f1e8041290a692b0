"""Zone tooling: a reference frame to write zones, a checker, a working copy with a zones file,
and the interaction-timing table of the real-camera benchmark.

The ``recording`` fixture (conftest.py) is a 64 x 48 video at 10 fps with one zone A1 plates 1-2,
a planogram A1/1 -> 0001, A1/2 -> 0002 and one truth pick at 1700000001.0 on A1.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from formats.errors import FormatError
from vision.zones import ShelfZone
from walkout.cli import main
from walkout.recording import load_recording
from walkout.zones import (
    ZoneCheckConfig,
    apply_zones,
    check_zones,
    interaction_timing,
    read_frame,
    zone_frame,
    zone_label,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "aifi-cps-test-2"
AIFI_ZONES = Path(__file__).resolve().parents[2] / "benchmarks" / "aifi" / "cam6_zones.json"


def zones_file(path: Path, zones: list[dict], camera: str = "cam0") -> Path:
    path.write_text(json.dumps({"version": 1, "zones": {camera: zones}}))
    return path


def zone(shelf: str = "A1", plates=(1,), polygon=((1, 1), (30, 1), (30, 20), (1, 20))) -> dict:
    return {"shelf": shelf, "plates": list(plates), "polygon": [list(p) for p in polygon]}


# --- check --------------------------------------------------------------------------------------------


def test_the_fixture_zones_have_no_problem(recording):
    assert check_zones(recording) == []


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        (zone(polygon=((1, 1), (70, 1), (70, 20), (1, 20))), "point(s) [70, 1], [70, 20] outside the 64x48 image"),
        (zone(polygon=((1, 1), (10, 10), (20, 20))), "area 0 px^2 < 50 px^2"),  # collinear
        (zone(polygon=((1, 1), (30, 20), (30, 1), (1, 20))), "edges cross each other"),  # a bow tie
        (zone(shelf="Z9"), "shelf 'Z9' is not in the planogram"),
        (zone(plates=(1, 7)), "plate(s) 7 not on shelf A1 in the planogram"),
    ],
)
def test_each_zone_problem_is_named_with_camera_zone_and_shelf(recording, tmp_path, bad, problem):
    problems = check_zones(recording, zones_file(tmp_path / "z.json", [zone(), bad]))
    assert len(problems) == 1
    assert (problems[0].camera, problems[0].zone) == ("cam0", 1)
    assert problem in problems[0].problem


def test_fewer_than_three_points_is_a_format_error_naming_the_field(recording, tmp_path):
    with pytest.raises(FormatError, match=r"zones\.cam0\[0\]\.polygon.*at least 3"):
        check_zones(recording, zones_file(tmp_path / "z.json", [zone(polygon=((1, 1), (30, 1)))]))


def test_zones_file_for_an_unknown_camera_is_an_error(recording, tmp_path):
    with pytest.raises(FormatError, match="camera.*camX"):
        check_zones(recording, zones_file(tmp_path / "z.json", [zone()], camera="camX"))


def test_min_area_is_a_setting(recording, tmp_path):
    small = zone(polygon=((1, 1), (11, 1), (11, 11), (1, 11)))  # 100 px^2
    path = zones_file(tmp_path / "z.json", [small])
    assert check_zones(recording, path, ZoneCheckConfig(min_area_px=50)) == []
    assert len(check_zones(recording, path, ZoneCheckConfig(min_area_px=200))) == 1


# --- frame --------------------------------------------------------------------------------------------


def test_reference_frame_has_the_grid_and_the_zones_drawn_at_scale(recording, tmp_path):
    out = zone_frame(recording, "cam0", 0.2, tmp_path / "ref.png", config=ZoneCheckConfig(grid_px=10, scale=2))
    image = cv2.imread(str(out))
    raw, index = read_frame(load_recording(recording).cameras[0].video, 0.2)
    assert index == 2
    assert image.shape == (96, 128, 3)
    plain = cv2.resize(raw, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    assert not np.array_equal(image[:, 40], plain[:, 40])  # the x = 20 px grid line
    assert np.array_equal(image[70, 110], plain[70, 110])  # between grid lines, clear of zone and labels: untouched


def test_frame_past_the_end_or_unknown_camera_is_a_clear_error(recording, tmp_path):
    with pytest.raises(FormatError, match="past the end"):
        zone_frame(recording, "cam0", 60.0, tmp_path / "x.png")
    with pytest.raises(FormatError, match="no camera 'cam9' \\(cameras: cam0\\)"):
        zone_frame(recording, "cam9", 0.0, tmp_path / "x.png")


@pytest.mark.parametrize(
    ("plates", "label"),
    [((1, 2, 3), "G5S6 1-3"), ((4,), "G5S6 4"), ((1, 4), "G5S6 1,4"), ((), "G5S6")],
)
def test_zone_label(plates, label):
    assert zone_label(ShelfZone("G5S6", plates, ((0, 0), (1, 0), (1, 1)))) == label


# --- apply --------------------------------------------------------------------------------------------


def test_working_copy_links_every_file_and_carries_the_new_zones(recording, tmp_path):
    path = zones_file(tmp_path / "z.json", [zone(plates=(2,)), zone(plates=(1,), polygon=((31, 1), (60, 1), (60, 20)))])
    before = (recording / "store.json").read_text()
    copy = apply_zones(recording, path, tmp_path / "copy")
    assert (copy / "videos").is_symlink() and (copy / "catalog.csv").is_symlink()
    assert not (copy / "store.json").is_symlink()
    assert [(z.shelf, z.plates) for z in load_recording(copy).cameras[0].zones] == [("A1", (2,)), ("A1", (1,))]
    assert (recording / "store.json").read_text() == before
    apply_zones(recording, path, tmp_path / "copy")  # again over its own links: fine


def test_working_copy_refuses_to_overwrite_real_files_or_the_recording(recording, tmp_path):
    path = zones_file(tmp_path / "z.json", [zone()])
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "catalog.csv").write_text("mine")
    with pytest.raises(FormatError, match="not a link"):
        apply_zones(recording, path, tmp_path / "copy")
    with pytest.raises(FormatError, match="another folder"):
        apply_zones(recording, path, recording)


# --- interaction timing -------------------------------------------------------------------------------


def test_interaction_timing_finds_the_nearest_hand_in_the_labelled_shelf(recording):
    loaded = load_recording(recording)  # truth: pick at 1700000001.0 (frame 10 at 10 fps) on A1
    hands = pd.DataFrame({"camera": ["cam0"] * 4, "frame": [3, 12, 13, 40], "zone": [-1, 0, 0, 0]})
    table = interaction_timing(loaded, hands, {"cam0": 10.0}, tolerance_s=0.5)
    assert table[["shelf", "visible", "hit"]].values.tolist() == [["A1", True, True]]
    assert table["nearest_s"][0] == pytest.approx(0.2)  # frame 12 is 0.2 s after the label
    late = interaction_timing(loaded, hands.iloc[[0, 3]], {"cam0": 10.0}, tolerance_s=0.5)
    assert late["nearest_s"][0] == pytest.approx(3.0) and not late["hit"][0]
    nobody = interaction_timing(loaded, hands.iloc[[0]], {"cam0": 10.0}, tolerance_s=0.5)
    assert np.isnan(nobody["nearest_s"][0]) and not nobody["hit"][0]


# --- CLI ----------------------------------------------------------------------------------------------


def test_cli_check_exits_1_listing_problems_and_frame_writes_a_png(recording, tmp_path, capsys):
    assert main(["zones", "check", str(recording)]) == 0
    bad = zones_file(tmp_path / "z.json", [zone(shelf="Z9")])
    assert main(["zones", "check", str(recording), "--zones", str(bad)]) == 1
    assert "camera cam0 zone 0 (Z9): shelf 'Z9' is not in the planogram" in capsys.readouterr().out
    assert main(["zones", "frame", str(recording), "--camera", "cam0", "--at", "0", "--out", str(tmp_path / "f.png")]) == 0
    assert cv2.imread(str(tmp_path / "f.png")).shape == (48, 64, 3)
    assert main(["zones", "apply", str(recording), "--zones", str(bad), "--out", str(tmp_path / "c")]) == 0


# --- the real camera's zone file ----------------------------------------------------------------------


def test_benchmark_zones_of_the_real_aifi_camera_pass_the_check():
    if not SHARED.is_dir():
        pytest.skip(f"real AiFi data not found at {SHARED}")
    problems = check_zones(SHARED, AIFI_ZONES)
    assert problems == []
    shelves = {z["shelf"] for z in json.loads(AIFI_ZONES.read_text())["zones"]["cam6"]}
    assert shelves == {"G2S6"} | {f"G5S{k}" for k in range(1, 7)}
