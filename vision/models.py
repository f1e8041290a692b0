"""Loading an ultralytics model file, with errors that name the file and the problem."""

from __future__ import annotations

from pathlib import Path

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
    path = Path(path)
    if path.suffix == ".onnx" and path.is_file() and task in (None, "detect"):
        from vision.onnx_detect import OnnxDetect

        try:
            direct = OnnxDetect.open(path)
        except Exception as exc:
            raise InputError(path, f"not a {what} ONNX Runtime can load ({type(exc).__name__}: {exc})") from None
        if direct is not None:
            return direct, direct.names
    return load_model(path, task, missing, what)
