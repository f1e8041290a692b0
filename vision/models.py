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
