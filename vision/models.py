"""Loading an ultralytics model file, with errors that name the file and the problem (and running a
classify one, exported or not)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vision.errors import InputError


def load_model(path: str | Path, task: str | None, missing: str, what: str = "model"):
    """An ultralytics ``YOLO`` from ``path`` (a .pt file, or an exported ONNX file / OpenVINO folder)
    for ``task`` (None: ultralytics guesses) and its class names {index: name}. InputError naming the
    file: ``missing`` when there is nothing at ``path``, "not a <what> ultralytics can load (...)" when
    ultralytics cannot read it (it raises many exception types for a file that is not a model)."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, missing)
    from ultralytics import YOLO

    from vision.runtime import quiet_ultralytics, tune_session

    try:
        with quiet_ultralytics():  # it logs every ONNX session it opens
            model = YOLO(str(path), task=task)
            names = {int(k): str(v) for k, v in model.names.items()}
            if path.suffix == ".onnx":
                tune_session(model, path)
    except Exception as exc:
        raise InputError(path, f"not a {what} ultralytics can load ({type(exc).__name__}: {exc})") from None
    return model, names


def load_detect_model(path: str | Path, task: str | None, missing: str, what: str = "model"):
    """Like :func:`load_model`, but a detect model exported to ONNX with dynamic shapes comes back as a
    ``vision.onnx_detect.OnnxDetect`` (run by ONNX Runtime without ultralytics' predictor around it; same
    boxes). Callers tell the two apart with ``isinstance``."""
    if task in (None, "detect"):
        from vision.onnx_detect import OnnxDetect

        direct = _open_direct(OnnxDetect, path, what)
        if direct is not None:
            return direct, direct.names
    return load_model(path, task, missing, what)


def load_classify_model(path: str | Path, missing: str, what: str = "model"):
    """Like :func:`load_model` for a classify model, but one exported to ONNX with dynamic shapes comes back
    as a ``vision.onnx_classify.OnnxClassify`` (ONNX Runtime, no torch; same probabilities). Callers tell
    the two apart with ``isinstance``."""
    from vision.onnx_classify import OnnxClassify

    direct = _open_direct(OnnxClassify, path, what)
    if direct is not None:
        return direct, direct.names
    return load_model(path, "classify", missing, what)


def _open_direct(kind, path: str | Path, what: str):
    """``kind.open(path)`` for an .onnx file (None: not one ``kind`` runs, or not an .onnx file), InputError
    naming the file when ONNX Runtime cannot read it."""
    path = Path(path)
    if path.suffix != ".onnx" or not path.is_file():
        return None
    try:
        return kind.open(path)
    except Exception as exc:
        raise InputError(path, f"not a {what} ONNX Runtime can load ({type(exc).__name__}: {exc})") from None


def classify_probabilities(model, images: list[np.ndarray], imgsz: int) -> np.ndarray:
    """(N, classes) probabilities of a classify model from :func:`load_classify_model` (``OnnxClassify``
    or ultralytics) for N BGR images; the two give the same numbers for the same export."""
    from vision.onnx_classify import OnnxClassify

    if isinstance(model, OnnxClassify):
        return model.predict(images, imgsz)
    results = model.predict(images, imgsz=imgsz, device="cpu", verbose=False)
    return np.stack([result.probs.data.cpu().numpy() for result in results])
