"""walkout.annotate: annotated videos and the events contact sheet, and `walkout annotate`."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from formats.errors import FormatError
from walkout.annotate import AnnotateConfig, FrameAnnotator, annotate_recording
from walkout.cli import main
from walkout.inspect import load_run, read_frame

from .inspect_fixture import FPS, FRAMES, HEIGHT, WIDTH, write_recording, write_run


@pytest.fixture
def recording(tmp_path):
    return write_recording(tmp_path)


@pytest.fixture
def run_dir(tmp_path, recording):
    return write_run(tmp_path, recording)


def read_video(path):
    """(frames decoded, fps, (width, height)) of a video file."""
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened(), path
    fps = capture.get(cv2.CAP_PROP_FPS)
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count, fps, size


def test_annotate_recording_writes_a_video_per_camera_and_a_contact_sheet(recording, run_dir):
    written = annotate_recording(recording, run_dir)
    assert written == [run_dir / "annotated" / "cam0.mp4", run_dir / "events_contact_sheet.png"]
    assert read_video(written[0]) == (FRAMES, FPS, (WIDTH, HEIGHT))  # every frame, same rate and size
    sheet = cv2.imread(str(written[1]))
    assert sheet is not None
    assert sheet.shape[1] == 3 * AnnotateConfig().tile_width_px  # before, during, after
    assert not list(run_dir.glob("**/.*"))  # no temporary files left behind


def test_contact_sheet_has_a_row_per_event(recording, run_dir):
    one = cv2.imread(str(annotate_recording(recording, run_dir)[-1]))
    events = (run_dir / "events.csv").read_text().splitlines()
    (run_dir / "events.csv").write_text("\n".join(events[:2]) + "\n")  # keep only the first event
    single = cv2.imread(str(annotate_recording(recording, run_dir)[-1]))
    gap = 6  # white pixels between rows
    assert one.shape[0] == 2 * single.shape[0] + gap


def test_contact_sheet_without_events_says_so(recording, run_dir):
    header = (run_dir / "events.csv").read_text().splitlines()[0]
    (run_dir / "events.csv").write_text(header + "\n")
    sheet = cv2.imread(str(annotate_recording(recording, run_dir)[-1]))
    assert sheet is not None and sheet.shape[0] < 60  # one line of text


def test_frames_are_drawn_on_copies(recording, run_dir):
    run = load_run(run_dir, recording)
    annotator = FrameAnnotator(run, "cam0")
    frame = read_frame(run.camera("cam0").video, 9)
    before = frame.copy()
    drawn = annotator.draw(frame, 9)
    assert np.array_equal(frame, before)
    assert drawn.shape == frame.shape and drawn.dtype == np.uint8
    assert (drawn != frame).any()


def test_hand_boxes_scale_with_their_shopper_and_held_items_get_a_region(recording, run_dir):
    annotator = FrameAnnotator(load_run(run_dir, recording), "cam0")
    hands = annotator.hand_detections(10)  # shopper 1 (box 70 px tall) holds a Tea
    side = max(AnnotateConfig().hand_box_min_px, 0.12 * 70)
    assert hands.xyxy.tolist() == [[40 - side / 2, 70 - side / 2, 40 + side / 2, 70 + side / 2]]
    assert hands.tracker_id.tolist() == [1]
    held = hands.data["held_xyxy"][0]
    assert held[2] - held[0] == pytest.approx(side * 1.8)  # run.json: held.hand_box_scale
    assert len(annotator.hand_detections(0)) == 0  # no hands in frame 0


def test_event_banners_show_around_the_event_frame(recording, run_dir):
    annotator = FrameAnnotator(load_run(run_dir, recording), "cam0")
    window = int(AnnotateConfig().event_window_s * FPS)
    assert annotator.active_events(9)["sku"].tolist() == ["0001"]
    assert annotator.active_events(9 - window)["sku"].tolist() == ["0001"]
    assert annotator.active_events(15)["sku"].tolist() == ["0001", "0002"]  # 6 and 5 frames away
    assert annotator.active_events(9 - window - 1).empty


def test_annotate_needs_the_recording(tmp_path, run_dir):
    with pytest.raises(FormatError):
        annotate_recording(tmp_path / "nowhere", run_dir)


def test_annotate_command(recording, run_dir, capsys):
    assert main(["annotate", str(recording), str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "cam0.mp4" in out and "events_contact_sheet.png" in out
    assert (run_dir / "annotated" / "cam0.mp4").is_file()


def test_annotate_command_names_a_bad_run_dir(recording, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["annotate", str(recording), str(tmp_path / "empty")]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_pictures_hide_the_heads_of_the_tracked_shoppers(recording, run_dir):
    from walkout.anonymize import head_boxes, hidden_mask

    annotator = FrameAnnotator(load_run(run_dir, recording), "cam0")
    frame = read_frame(annotator.camera.video, 12)  # shoppers 1 and 2 both tracked
    hidden = annotator.hide(frame, 12)
    heads = hidden_mask(head_boxes(annotator.person_boxes(12)), frame.shape)
    assert len(annotator.person_boxes(12)) == 2
    assert np.array_equal(hidden[~heads], frame[~heads])  # the fixture video has no face
    assert (hidden[heads] != frame[heads]).mean() > 0.5


def test_no_anonymize_draws_on_the_recorded_frame_and_warns(recording, run_dir, caplog):
    with caplog.at_level("WARNING"):
        annotator = FrameAnnotator(load_run(run_dir, recording), "cam0", anonymize=False)
    frame = read_frame(annotator.camera.video, 12)
    assert np.array_equal(annotator.hide(frame, 12), frame)
    assert "anonymisation is OFF" in caplog.text


def test_contact_sheet_is_anonymised_unless_asked_not_to(recording, run_dir):
    hidden = cv2.imread(str(annotate_recording(recording, run_dir)[-1]))
    shown = cv2.imread(str(annotate_recording(recording, run_dir, anonymize=False)[-1]))
    assert hidden.shape == shown.shape and (hidden != shown).any()


def test_annotate_command_no_anonymize_says_so(recording, run_dir, capsys):
    assert main(["annotate", str(recording), str(run_dir), "--no-anonymize"]) == 0
    assert "anonymisation is OFF" in capsys.readouterr().err
