"""ONNX exports of the .pt models (vision.runtime): fingerprinted, re-made when stale, and PyTorch when
the runtime is not installed."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from vision import runtime
from vision.runtime import (
    FINGERPRINT_KEY,
    StaleExportError,
    check_export,
    is_current,
    resolve,
    source_fingerprint,
)
from walkout.config import DEFAULT_REACH_MODEL, PipelineConfig
from walkout.pipeline import with_runtime

needs_onnx = pytest.mark.skipif(bool(runtime.missing_packages()), reason="the onnx extra is not installed")


def stamped_onnx(path: Path, fingerprint: str | None) -> Path:
    """A tiny valid ONNX file (one Identity node) carrying ``fingerprint`` as walkout's export would."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    model = helper.make_model(graph)
    if fingerprint is not None:
        model.metadata_props.add(key=FINGERPRINT_KEY, value=fingerprint)
    onnx.save(model, str(path))
    return path


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    pt = tmp_path / "det.pt"
    pt.write_bytes(b"weights v1")
    return pt


@needs_onnx
def test_an_export_of_the_same_pt_is_current(weights):
    exported = stamped_onnx(weights.with_suffix(".onnx"), source_fingerprint(weights))
    assert is_current(exported, weights)
    check_export(exported, weights)  # no error


@needs_onnx
def test_an_export_of_another_pt_is_detected_as_stale(weights):
    exported = stamped_onnx(weights.with_suffix(".onnx"), source_fingerprint(weights))
    weights.write_bytes(b"weights v2: retrained")
    assert not is_current(exported, weights)
    with pytest.raises(StaleExportError, match="walkout export"):
        check_export(exported, weights)


@needs_onnx
def test_an_onnx_file_without_a_walkout_fingerprint_is_not_taken_for_an_export(weights):
    exported = stamped_onnx(weights.with_suffix(".onnx"), None)
    with pytest.raises(StaleExportError, match="without a walkout fingerprint"):
        check_export(exported, weights)


@needs_onnx
def test_a_stale_onnx_named_directly_is_refused(weights):
    exported = stamped_onnx(weights.with_suffix(".onnx"), "sha256:other;export:1")
    with pytest.raises(StaleExportError, match="det.onnx"):
        resolve(exported, "torch", 416)


@needs_onnx
def test_the_onnx_runtime_exports_a_stale_or_missing_export_again(weights, monkeypatch, caplog):
    made = []

    def fake_export(pt: Path, imgsz: int) -> Path:
        made.append(pt)
        return stamped_onnx(pt.with_suffix(".onnx"), source_fingerprint(pt))

    monkeypatch.setattr(runtime, "export_onnx", fake_export)
    assert resolve(weights, "onnx", 416) == weights.with_suffix(".onnx") and len(made) == 1  # missing: made
    assert resolve(weights, "onnx", 416) == weights.with_suffix(".onnx") and len(made) == 1  # current: kept
    weights.write_bytes(b"weights v2")
    with caplog.at_level(logging.WARNING, logger="vision.runtime"):
        assert resolve(weights, "onnx", 416) == weights.with_suffix(".onnx")
    assert len(made) == 2 and "stale" in caplog.text
    assert resolve(weights, "torch", 416) == weights  # the torch runtime runs the .pt
    assert resolve(weights, "auto", 416) == weights.with_suffix(".onnx") and len(made) == 2  # auto: onnx here


def test_without_onnxruntime_the_run_falls_back_to_pytorch_naming_the_extra(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` raises ImportError
    assert "onnxruntime" in runtime.missing_packages()
    config = dataclasses.replace(PipelineConfig(), runtime="onnx")
    with caplog.at_level(logging.WARNING, logger="vision.runtime"):
        resolved = with_runtime(config)
    assert resolved.detector.model_path == config.detector.model_path  # the .pt files
    assert resolved.reaching.model_path.endswith(".pt")
    assert "onnxruntime" in caplog.text and "pip install 'walkout[onnx]'" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vision.runtime"):  # auto, the default: PyTorch, no warning
        resolved = with_runtime(PipelineConfig())
    assert resolved.detector.model_path.endswith(".pt") and not caplog.text


def test_an_unknown_runtime_is_refused():
    with pytest.raises(ValueError, match="runtime must be one of auto, onnx, torch"):
        with_runtime(dataclasses.replace(PipelineConfig(), runtime="tensorrt"))


@needs_onnx
@pytest.mark.skipif(not DEFAULT_REACH_MODEL.is_file(), reason="the shipped reach classifier is not here")
def test_a_real_export_gives_the_pt_models_answers(tmp_path):
    """The smallest shipped model, exported for real (no onnxslim, nothing downloaded), on random crops."""
    pytest.importorskip("onnxruntime")
    from ultralytics import YOLO

    from vision.models import load_model

    pt = tmp_path / DEFAULT_REACH_MODEL.name
    shutil.copyfile(DEFAULT_REACH_MODEL, pt)
    exported = resolve(pt, "onnx", 96)
    assert exported == pt.with_suffix(".onnx") and is_current(exported, pt)
    crops = [np.random.default_rng(seed).integers(0, 255, (120, 80, 3), dtype=np.uint8) for seed in range(6)]
    expected = YOLO(str(pt)).predict(crops, imgsz=96, device="cpu", verbose=False)
    model, names = load_model(exported, "classify", "missing")
    found = model.predict(crops, imgsz=96, device="cpu", verbose=False)
    assert names == {int(k): v for k, v in YOLO(str(pt)).names.items()}
    for a, b in zip(expected, found, strict=True):
        np.testing.assert_allclose(a.probs.data.numpy(), np.asarray(b.probs.data), atol=1e-4)


def test_onnx_sessions_use_every_core_although_ultralytics_set_omp_num_threads_to_one(monkeypatch):
    import ultralytics  # noqa: F401 - importing it sets OMP_NUM_THREADS=1 when unset

    monkeypatch.delenv("WALKOUT_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setattr(runtime.os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert runtime.onnx_threads() == 3


def test_a_worker_thread_limit_sets_the_onnx_sessions_threads(monkeypatch):
    from walkout.parallel import limit_threads

    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "WALKOUT_THREADS"):
        monkeypatch.delenv(variable, raising=False)  # monkeypatch restores them after the test
    import torch

    before = torch.get_num_threads()
    try:
        limit_threads(2)
        assert runtime.onnx_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_sessions_made_inside_session_threads_get_its_count(monkeypatch):
    monkeypatch.setenv("WALKOUT_THREADS", "2")
    with runtime.session_threads(1):
        assert runtime.onnx_threads() == 1
    assert runtime.onnx_threads() == 2
    with runtime.session_threads(None):  # no count: the usual rule
        assert runtime.onnx_threads() == 2
