"""Which runtime runs the ultralytics models: PyTorch (the .pt files) or ONNX Runtime (their exports).

``[pipeline] runtime``: ``onnx``, ``torch``, or ``auto`` (the default: ``onnx`` where its packages are
installed, else ``torch``). ``walkout export`` (or the first run with the onnx runtime) exports each
.pt model to ONNX beside it: ``models/walkout-det.pt`` -> ``models/walkout-det.onnx`` (dynamic batch
and image size, so frames are letterboxed exactly as for the .pt and the boxes agree to a thousandth
of a pixel; the detect head's DFL softmax is rewritten to run over the last axis, :func:`last_axis_dfl`). The export carries the fingerprint of the .pt it was made from (sha256 of its bytes, in the
ONNX metadata under ``walkout_source``):

- a run with the onnx runtime uses an export whose fingerprint matches, re-exports one that does not
  (the .pt changed: a stale cache), and exports a missing one; nothing is exported twice;
- an .onnx file named directly (``--model x.onnx``) with a .pt of the same name beside it whose
  fingerprint differs is refused (:class:`StaleExportError`): ``walkout export`` makes it again;
- without the ``onnx`` and ``onnxruntime`` packages (``pip install 'walkout[onnx]'``) the run falls
  back to the .pt models, with a warning naming that extra when ``onnx`` was asked for (an info line
  under ``auto``).

ONNX Runtime's threads follow ``WALKOUT_THREADS`` when it is set (walkout's worker processes set it
to their share of the cores, :func:`walkout.parallel.limit_threads`), else use every core
(:func:`onnx_threads`). Not ``OMP_NUM_THREADS``: importing ultralytics sets that to 1 when it is unset.
"""

from __future__ import annotations

import ast
import contextlib
import contextvars
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from vision.errors import InputError

log = logging.getLogger(__name__)

THREADS_VARIABLE = "WALKOUT_THREADS"  # intra-op threads of the ONNX sessions (set by limit_threads)

RUNTIMES = ("auto", "onnx", "torch")
EXTRA = "onnx"  # pyproject's extra that installs the packages below
PACKAGES = ("onnx", "onnxruntime")
FINGERPRINT_KEY = "walkout_source"
# Threads of the ONNX sessions made in this context (session_threads), overriding onnx_threads()'s rule.
_SESSION_THREADS: contextvars.ContextVar[int | None] = contextvars.ContextVar("walkout_session_threads", default=None)
EXPORT_VERSION = 2  # bump when the export settings change: older exports become stale (2: last_axis_dfl)


class StaleExportError(InputError):
    """An exported model that was not made from the .pt file beside it."""


def missing_packages() -> list[str]:
    """The packages the onnx runtime needs that cannot be used here. onnxruntime is imported (a tenth of a
    second); onnx is only looked for: importing it costs most of a second, and a run needs it only to
    export."""
    from importlib.util import find_spec

    missing = []
    for name in PACKAGES:
        try:
            if name == "onnxruntime":
                __import__(name)
            elif find_spec(name) is None:
                missing.append(name)
        except (ImportError, ValueError):
            missing.append(name)
    return missing


def source_fingerprint(pt: Path) -> str:
    """What an export of ``pt`` records: the sha256 of the .pt's bytes and the export version."""
    digest = hashlib.sha256()
    with open(pt, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()};export:{EXPORT_VERSION}"


def export_path(pt: Path) -> Path:
    return Path(pt).with_suffix(".onnx")


def read_fingerprint(exported: Path) -> str | None:
    """The fingerprint an export carries (None: not made by walkout, or not a readable ONNX file). Read
    through ONNX Runtime (the metadata of a session made without graph optimisations): importing the
    ``onnx`` package costs most of a second, and a run only needs it to export."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    try:
        session = onnxruntime.InferenceSession(str(exported), options, providers=["CPUExecutionProvider"])
    except Exception:  # noqa: BLE001 - a truncated or foreign file is simply not a walkout export
        return None
    return session.get_modelmeta().custom_metadata_map.get(FINGERPRINT_KEY)


def is_current(exported: Path, pt: Path) -> bool:
    return exported.is_file() and read_fingerprint(exported) == source_fingerprint(pt)


def check_export(exported: Path, pt: Path) -> None:
    """StaleExportError when ``exported`` was made from another version of ``pt`` (or not by walkout)."""
    found = read_fingerprint(exported)
    if found != source_fingerprint(pt):
        made = f"from a .pt with fingerprint {found}" if found else "without a walkout fingerprint"
        raise StaleExportError(exported, f"was exported {made}, not from {pt.name} as it is now "
                                         f"({source_fingerprint(pt)}): run `walkout export` to export it again")


def export_onnx(pt: Path, imgsz: int) -> Path:
    """Export ``pt`` to ONNX beside it (atomically: a run in another process never sees half a file)
    and stamp the .pt's fingerprint into it. ``imgsz`` is the size traced; the export takes any size."""
    import onnx
    from ultralytics import YOLO

    pt = Path(pt)
    target = export_path(pt)
    fingerprint = source_fingerprint(pt)
    with tempfile.TemporaryDirectory(prefix=f".{pt.stem}-export-", dir=pt.parent) as tmp:
        copy = Path(tmp) / pt.name
        shutil.copyfile(pt, copy)
        # simplify=False: onnxslim is not a dependency (ultralytics would try to install it).
        made = Path(YOLO(str(copy)).export(format="onnx", imgsz=imgsz, dynamic=True, simplify=False,
                                           device="cpu", verbose=False))
        model = onnx.load(str(made))
        last_axis_dfl(model)
        model.metadata_props.add(key=FINGERPRINT_KEY, value=fingerprint)
        onnx.save(model, str(made))
        os.replace(made, target)
    log.info("exported %s -> %s", pt, target)
    return target


def last_axis_dfl(model) -> bool:
    """Rewrite a YOLO detect head's distribution focal loss decoding (DFL) of an exported ``model`` (onnx
    ModelProto, in place) so its softmax runs over the last axis; True when the pattern was found.

    ultralytics exports DFL as Reshape (b, 4, 16, a) -> Transpose to (b, 16, 4, a) -> Softmax(axis=1)
    -> 1x1 Conv (16 -> 1, the bin indices). ONNX Runtime runs a softmax over a middle axis by
    transposing around it: 11 % of the shipped detector's time. Here: Transpose to (b, 4, a, 16) ->
    Softmax(last axis) -> MatMul with the conv's (16, 1) weights, which gives (b, 4, a, 1), the same
    elements in the same order as the conv's (b, 1, 4, a) for the Reshape after it. The same sums in
    another order: boxes agree with the .pt model's to float rounding (tests/vision/test_vision_onnx_detect.py)."""
    from onnx import helper, numpy_helper

    graph = model.graph
    producers = {output: node for node in graph.node for output in node.output}
    weights = {init.name: init for init in graph.initializer}
    for softmax in graph.node:
        if softmax.op_type != "Softmax" or "/dfl/" not in softmax.name:
            continue
        transpose = producers.get(softmax.input[0])
        conv = next((n for n in graph.node if n.op_type == "Conv" and n.input[0] == softmax.output[0]), None)
        if (transpose is None or transpose.op_type != "Transpose" or conv is None or len(conv.input) != 2
                or conv.input[1] not in weights or any(conv.input[1] in n.input for n in graph.node if n is not conv)):
            return False
        perm = next(a for a in transpose.attribute if a.name == "perm")
        axis = next((a for a in softmax.attribute if a.name == "axis"), None)
        weight = numpy_helper.to_array(weights[conv.input[1]])
        if list(perm.ints) != [0, 2, 1, 3] or axis is None or axis.i != 1 or weight.shape[2:] != (1, 1) or weight.shape[0] != 1:
            return False
        perm.ints[:] = [0, 1, 3, 2]
        axis.i = 3
        graph.initializer.remove(weights[conv.input[1]])
        graph.initializer.append(numpy_helper.from_array(weight.reshape(-1, 1), conv.input[1]))
        index = list(graph.node).index(conv)
        graph.node.remove(conv)
        graph.node.insert(index, helper.make_node("MatMul", [softmax.output[0], conv.input[1]], list(conv.output),
                                                  name=conv.name + "_as_matmul"))
        return True
    return False


def resolve(path: str | Path, runtime: str, imgsz: int) -> Path:
    """The file to load for the model at ``path`` under ``runtime``: the .pt itself (torch; or onnx / auto
    without their packages), or its current ONNX export (made now if missing or stale). A path that is
    not a .pt (an .onnx given directly) is checked against a .pt beside it, if any."""
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    path = Path(path)
    if path.suffix == ".onnx":
        if path.with_suffix(".pt").is_file() and not missing_packages():
            check_export(path, path.with_suffix(".pt"))
        return path
    if runtime == "torch" or path.suffix != ".pt" or not path.is_file():
        return path
    missing = missing_packages()
    if missing:
        say = log.warning if runtime == "onnx" else log.info
        say("runtime '%s': %s not installed, running %s with PyTorch (pip install 'walkout[%s]' for ONNX "
            "Runtime)", runtime, " and ".join(missing), path.name, EXTRA)
        return path
    exported = export_path(path)
    if exported.is_file() and is_current(exported, path):
        return exported
    if exported.is_file():
        log.warning("%s was exported from another version of %s (stale): exporting it again", exported, path.name)
    else:
        log.info("%s: no ONNX export yet, exporting it (once)", path)
    try:
        return export_onnx(path, imgsz)
    except Exception as exc:  # noqa: BLE001 - a read-only folder or an exporter error: the .pt still runs
        log.warning("cannot export %s to ONNX (%s: %s): running it with PyTorch", path, type(exc).__name__, exc)
        return path


@contextlib.contextmanager
def session_threads(count: int | None) -> Iterator[None]:
    """ONNX sessions made inside get ``count`` intra-op threads (None: :func:`onnx_threads`'s rule).
    For model sets that run side by side in threads (walkout.models.Models.camera_sets)."""
    token = _SESSION_THREADS.set(count)
    try:
        yield
    finally:
        _SESSION_THREADS.reset(token)


def onnx_threads() -> int:
    """ONNX Runtime intra-op threads for a session made now: inside :func:`session_threads`, its count;
    else ``WALKOUT_THREADS`` when set (walkout's worker processes set it to their share of the cores),
    else every core this process may use (up to 8): a run in one process has nothing else to do
    meanwhile. ``OMP_NUM_THREADS`` is not read: importing ultralytics sets it to 1 when it is unset,
    which ran every ONNX model of a one-process run on one thread (the detector 1.7x slower on 2 cores)."""
    override = _SESSION_THREADS.get()
    if override:
        return override
    value = os.environ.get(THREADS_VARIABLE, "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    return min(8, available_cores())


def available_cores() -> int:
    """CPU cores this process may use (affinity-aware)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


@contextlib.contextmanager
def quiet_ultralytics() -> Iterator[None]:
    """ultralytics logs each ONNX session it makes at INFO (and resets its level on import): quiet it."""
    logger = logging.getLogger("ultralytics")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def tune_session(model, path: Path) -> None:
    """Give an ultralytics model of an .onnx file an ONNX Runtime session with :func:`onnx_threads`
    threads that sleep when idle: ultralytics' session spins its threads, which on a 2-core machine
    shared with other work (another worker, another process) was measured 1.8x slower on the detector
    than one thread; without spinning, 2 threads ran it 1.6x faster than 1 on an idle machine. ultralytics
    makes its session on the first prediction: one is made on a blank image first."""
    import numpy as np

    with quiet_ultralytics():
        model.predict(np.zeros((32, 32, 3), dtype=np.uint8), device="cpu", verbose=False)
    backend = getattr(getattr(model.predictor, "model", None), "backend", None)
    if getattr(backend, "session", None) is None:  # another ultralytics layout: keep its session
        log.debug("%s: no ONNX Runtime session found to set threads on", path)
        return
    backend.session = onnx_session(path)


class ExportedModel:
    """An ultralytics ``task`` export with dynamic input shapes (what ``walkout export`` makes) in an ONNX
    Runtime session, run without ultralytics (``vision.onnx_detect.OnnxDetect``,
    ``vision.onnx_classify.OnnxClassify``): its session, class names {index: name} and stride."""

    task = ""
    default_stride = 32

    def __init__(self, session, names: dict[int, str], stride: int):
        self.session = session
        self.names = names
        self.stride = stride
        self.input_name = session.get_inputs()[0].name

    @classmethod
    def open(cls, path: str | Path):
        """The model at ``path``, or None when it is another kind of file (another task, an end-to-end or
        static export): the caller runs that through ultralytics. Raises what ONNX Runtime raises for a
        bad file."""
        session = onnx_session(path)
        meta = session.get_modelmeta().custom_metadata_map
        shape = session.get_inputs()[0].shape
        dynamic = len(shape) == 4 and all(isinstance(side, str) for side in (shape[0], shape[2], shape[3]))
        if meta.get("task") != cls.task or meta.get("end2end", "False") != "False" or not dynamic:
            log.debug("%s: not a dynamic %s export (task %s, input %s): ultralytics runs it",
                      path, cls.task, meta.get("task"), shape)
            return None
        try:
            names = {int(k): str(v) for k, v in ast.literal_eval(meta["names"]).items()}
            stride = int(meta.get("stride", cls.default_stride))
        except (KeyError, ValueError, SyntaxError, AttributeError):
            return None
        return cls(session, names, stride)


def onnx_session(path: str | Path):
    """An ONNX Runtime CPU session of ``path`` with :func:`onnx_threads` intra-op threads that sleep when
    idle (see :func:`tune_session` for why). Raises what ONNX Runtime raises for a bad file."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = onnx_threads()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
