"""Exported classify models run by ONNX Runtime directly (vision.onnx_classify): the probabilities
ultralytics' classify predictor gives for the same export, on crops of any shape; and a run on
exported models that never imports torch, torchvision or ultralytics."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from vision import runtime
from vision.models import load_classify_model, load_model
from vision.onnx_classify import OnnxClassify, resize_and_crop
from walkout.config import PipelineConfig

pytestmark = pytest.mark.skipif(bool(runtime.missing_packages()), reason="the onnx extra is not installed")

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_videos" / "crowded"
CONFIG = PipelineConfig()
SHIPPED = {"reach": (Path(CONFIG.reaching.model_path), CONFIG.reaching.imgsz),
           "held": (Path(CONFIG.held.classifier_path), CONFIG.held.imgsz),
           "detector": (Path(CONFIG.detector.model_path), CONFIG.detector.imgsz),
           "hands": (Path(CONFIG.hand_detector.model_path), CONFIG.hand_detector.imgsz)}


def exported(name: str, tmp: Path) -> Path:
    pt, imgsz = SHIPPED[name]
    if not pt.is_file():
        pytest.skip(f"the shipped {name} model is not at {pt}")
    copy = tmp / pt.name
    shutil.copyfile(pt, copy)
    return runtime.resolve(copy, "onnx", imgsz)


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("exports")
    return {name: exported(name, tmp) for name in SHIPPED}


@pytest.fixture(scope="module")
def crops() -> list[np.ndarray]:
    """80 crops of a shelf view, 8 to 140 px wide and 8 to 110 px high (tall, wide and square ones)."""
    capture = cv2.VideoCapture(str(next((SAMPLE / "videos").glob("*.mp4"))))
    frames = [capture.read()[1] for _ in range(40)]
    capture.release()
    rng = np.random.default_rng(1)
    out = []
    for _ in range(80):
        x, y, w, h = rng.integers(0, 500), rng.integers(0, 250), rng.integers(8, 140), rng.integers(8, 110)
        out.append(frames[rng.integers(len(frames))][y:y + h, x:x + w])
    return out


@pytest.mark.parametrize("name", ["reach", "held"])
def test_crops_of_any_shape_get_the_probabilities_of_ultralytics_predictor(exports, crops, name):
    direct, names = load_classify_model(exports[name], "missing")
    assert isinstance(direct, OnnxClassify)
    reference, reference_names = load_model(exports[name], "classify", "missing")
    assert names == reference_names
    imgsz = SHIPPED[name][1]
    theirs = np.stack([result.probs.data.cpu().numpy()
                       for result in reference.predict(crops, imgsz=imgsz, device="cpu", verbose=False)])
    mine = direct.predict(crops, imgsz)
    assert mine.shape == (len(crops), len(names))
    np.testing.assert_allclose(mine, theirs, atol=1e-6)


def test_the_resize_and_crop_are_torchvisions_on_a_pillow_image(crops):
    from PIL import Image
    from torchvision import transforms

    for side in (64, 96):
        theirs = transforms.Compose([transforms.Resize(side), transforms.CenterCrop(side)])
        for crop in crops[:30]:
            np.testing.assert_array_equal(resize_and_crop(crop, side), np.asarray(theirs(Image.fromarray(crop))))


def test_a_detect_export_is_not_a_classifier_and_no_image_gives_no_rows(exports):
    from vision.runtime import onnx_session

    assert OnnxClassify.open(exports["detector"]) is None
    direct = OnnxClassify(onnx_session(exports["reach"]), {0: "idle", 1: "reaching"}, 1)
    assert direct.predict([], 96).shape == (0, 2)


def test_a_broken_classifier_file_is_an_input_error_naming_it(tmp_path):
    from vision.errors import InputError

    broken = tmp_path / "held.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(InputError, match="held.onnx.*ONNX Runtime"):
        load_classify_model(broken, "missing", what="classifier")


def test_a_run_on_exported_models_imports_no_torch_and_records_the_ultralytics_version(exports, tmp_path):
    """Loading the models and writing a run's versions: torch, torchvision and ultralytics cost seconds
    to import, and exported models need none of them."""
    paths = {name: str(path) for name, path in exports.items()}
    script = f"""
import json, sys
from dataclasses import replace
from walkout.config import PipelineConfig
from walkout.models import Models
from walkout.outputs import versions
paths = json.loads({json.dumps(json.dumps(paths))})
c = PipelineConfig()
c = replace(c, detector=replace(c.detector, model_path=paths["detector"]),
            hand_detector=replace(c.hand_detector, model_path=paths["hands"]),
            held=replace(c.held, classifier_path=paths["held"]), reaching=replace(c.reaching, model_path=paths["reach"]))
models = Models(c)
assert models.runtime == "onnx" and models.classifier is not None and models.reaching is not None
print(json.dumps({{"imported": [m for m in ("torch", "torchvision", "ultralytics", "onnx") if m in sys.modules],
                  "ultralytics": versions()["ultralytics"]}}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["imported"] == []
    assert found["ultralytics"]  # from the installed package's metadata
