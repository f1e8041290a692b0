"""Exported detect models run by ONNX Runtime directly (vision.onnx_detect): the boxes ultralytics'
predictor gives for the same export, on whole frames (one shape: a rectangular letterbox) and on
shopper crops (mixed shapes: a square one); any other model goes through ultralytics."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from vision import runtime
from vision.models import load_detect_model, load_model
from vision.onnx_detect import OnnxDetect, letterbox, nms
from walkout.config import DEFAULT_REACH_MODEL, PipelineConfig

pytestmark = pytest.mark.skipif(bool(runtime.missing_packages()), reason="the onnx extra is not installed")

SAMPLE = Path(__file__).resolve().parents[2] / "sample_videos" / "two_shoppers_return"
DETECTOR = Path(PipelineConfig().detector.model_path)


def exported(pt: Path, tmp: Path, imgsz: int) -> Path:
    copy = tmp / pt.name
    shutil.copyfile(pt, copy)
    return runtime.resolve(copy, "onnx", imgsz)


@pytest.fixture(scope="module")
def detector_onnx(tmp_path_factory) -> Path:
    if not DETECTOR.is_file():
        pytest.skip(f"the shipped detector is not at {DETECTOR}")
    return exported(DETECTOR, tmp_path_factory.mktemp("det"), 416)


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    video = next((SAMPLE / "videos").glob("*.mp4"))
    capture = cv2.VideoCapture(str(video))
    read = [capture.read()[1] for _ in range(40)]
    capture.release()
    return read[::5]  # 8 frames with shoppers at the shelf and walking


def ultralytics_tables(model, images, imgsz, conf, iou) -> list[np.ndarray]:
    results = model.predict(images, imgsz=imgsz, conf=conf, iou=iou, device="cpu", verbose=False)
    return [result.boxes.data.cpu().numpy()[:, :6] for result in results]


def assert_same_boxes(found: list[np.ndarray], expected: list[np.ndarray]) -> None:
    assert sum(len(t) for t in expected) > 0
    for mine, theirs in zip(found, expected, strict=True):
        assert mine.shape == theirs.shape
        np.testing.assert_allclose(mine, theirs, atol=1e-3)


def test_whole_frames_give_the_boxes_of_ultralytics_predictor(detector_onnx, frames):
    direct, names = load_detect_model(detector_onnx, "detect", "missing")
    assert isinstance(direct, OnnxDetect)
    reference, reference_names = load_model(detector_onnx, "detect", "missing")
    assert names == reference_names
    assert_same_boxes(direct.predict(frames, 416, 0.25, 0.6), ultralytics_tables(reference, frames, 416, 0.25, 0.6))


def test_crops_of_mixed_sizes_give_the_boxes_of_ultralytics_predictor(detector_onnx, frames):
    """Crops of several shapes are letterboxed to a square, as ultralytics does for mixed shapes."""
    crops = [frame[y:y + h, x:x + w] for frame, (x, y, w, h) in
             zip(frames, [(0, 0, 320, 360), (100, 50, 200, 250), (300, 0, 340, 200), (0, 100, 640, 160)], strict=False)]
    direct, _ = load_detect_model(detector_onnx, "detect", "missing")
    reference, _ = load_model(detector_onnx, "detect", "missing")
    for imgsz in (224, 416):
        assert_same_boxes(direct.predict(crops, imgsz, 0.25, 0.6), ultralytics_tables(reference, crops, imgsz, 0.25, 0.6))


def test_no_image_gives_no_tables_and_a_blank_image_no_boxes(detector_onnx):
    direct, _ = load_detect_model(detector_onnx, "detect", "missing")
    assert direct.predict([], 416, 0.25, 0.6) == []
    (table,) = direct.predict([np.full((90, 160, 3), 127, dtype=np.uint8)], 416, 0.9, 0.6)
    assert table.shape == (0, 6)


def test_the_letterbox_is_ultralytics_letterbox():
    from ultralytics.data.augment import LetterBox

    image = np.random.default_rng(0).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    for side, stride in ((416, 32), (416, None), (192, None)):
        padded, gain, (left, top) = letterbox(image, side, stride)
        theirs = LetterBox((side, side), auto=stride is not None, stride=stride or 32)(image=image)
        np.testing.assert_array_equal(padded, theirs)
        assert padded.shape[0] % 32 == 0 and padded.shape[1] % 32 == 0
        assert gain[0] == pytest.approx(side / 640, rel=1e-2) and top >= left == 0


def test_a_classify_export_is_not_run_as_a_detect_model(tmp_path):
    if not DEFAULT_REACH_MODEL.is_file():
        pytest.skip("the shipped reach classifier is not here")
    path = exported(DEFAULT_REACH_MODEL, tmp_path, 96)
    assert OnnxDetect.open(path) is None
    model, _ = load_detect_model(path, "classify", "missing")
    assert not isinstance(model, OnnxDetect) and model.task == "classify"


def test_a_broken_onnx_file_is_an_input_error_naming_it(tmp_path):
    from vision.errors import InputError

    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(InputError, match="broken.onnx.*ONNX Runtime"):
        load_detect_model(broken, "detect", "missing")


def test_the_export_gives_the_pt_models_boxes(detector_onnx, frames):
    """The export's DFL runs its softmax over the last axis (vision.runtime.last_axis_dfl): the same sums
    in another order, so the boxes of the .pt model to float rounding."""
    import onnx
    from ultralytics import YOLO

    softmax = [n for n in onnx.load(str(detector_onnx)).graph.node if n.op_type == "Softmax"]
    assert softmax and all(a.i == 3 for n in softmax for a in n.attribute if a.name == "axis")
    direct, _ = load_detect_model(detector_onnx, "detect", "missing")
    expected = ultralytics_tables(YOLO(str(DETECTOR)), frames, 416, 0.25, 0.6)
    for mine, theirs in zip(direct.predict(frames, 416, 0.25, 0.6), expected, strict=True):
        assert mine.shape == theirs.shape
        np.testing.assert_allclose(mine[:, :4], theirs[:, :4], atol=0.05)  # pixels
        np.testing.assert_allclose(mine[:, 4:], theirs[:, 4:], atol=1e-4)  # confidence, class


def test_last_axis_dfl_leaves_a_graph_without_the_pattern_alone():
    from onnx import TensorProto, helper

    from vision.runtime import last_axis_dfl

    graph = helper.make_graph([helper.make_node("Softmax", ["x"], ["y"], name="/model.22/dfl/Softmax", axis=1)], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 4, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, 4, 8])])
    model = helper.make_model(graph)
    before = model.SerializeToString()
    assert not last_axis_dfl(model)  # no Transpose before it, no Conv after it
    assert model.SerializeToString() == before


def test_nms_keeps_the_boxes_torchvision_keeps_ties_in_score_included():
    import torch
    import torchvision

    rng = np.random.default_rng(0)
    for _ in range(500):
        n = int(rng.integers(1, 60))
        corner = rng.uniform(0, 100, (n, 2))
        boxes = np.column_stack([corner, corner + rng.uniform(1, 40, (n, 2))]).astype(np.float32)
        scores = rng.choice([0.3, 0.5, 0.7, 0.9], n).astype(np.float32)  # many ties
        for threshold in (0.45, 0.7):
            expected = torchvision.ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), threshold).numpy()
            np.testing.assert_array_equal(nms(boxes, scores, threshold), expected)
