"""The batch engine of `walkout run` and `walkout fuse`: recordings in, one task each, run locally (in
this process or N worker processes) or on Ray; every recording written atomically into OUT/<name>/, its
entry in OUT/manifest.json, so a second run redoes only what changed or failed (``--force``: everything).

A task is vision (walkout.pipeline.process_recording), fusion of the run folder (walkout.fuse_step), or
vision then fusion. Fusion never outlives the vision outputs it was made from silently: when vision
replaces a run folder that was fused, the new folder is fused again (with ``RunOptions.fuse``, else with
the settings of its last fusion, from the manifest)."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import logging
import os
import re
import shutil
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from formats.errors import FormatError
from formats.tables import write_json_atomic
from vision.errors import InputError
from walkout.config import PipelineConfig
from walkout.fuse_step import (
    FUSE_FAILED,
    FUSED_FILES,
    fuse_config_fingerprint,
    fuse_inputs,
    fuse_run_folder,
    fuse_stale_because,
    fused_outputs,
    has_fused_files,
    recorded_fuse_config,
)
from walkout.manifest import (
    MANIFEST_NAME,
    STATUS_DONE,
    STATUS_FAILED,
    RecordingEntry,
    config_fingerprint,
    fingerprint_file,
    load_manifest,
    output_files,
    package_versions,
    recording_inputs,
    run_lock,
    write_manifest,
)
from walkout.models import Models
from walkout.parallel import (
    LocalPool,
    RayEngine,
    SerialEngine,
    WorkerSetup,
    auto_workers,
    limit_threads,
    threads_per_worker,
    torch_threads,
)
from walkout.stages import CameraResult

log = logging.getLogger(__name__)


@dataclass
class RecordingResult:
    recording: Path
    out_dir: Path | None
    ok: bool
    error: str = ""
    events: int = 0
    shoppers: int = 0
    cameras: list[CameraResult] = field(default_factory=list)


def run_recordings(
    paths: Sequence[str | Path],
    out_dir: str | Path,
    config: PipelineConfig | None = None,
    *,
    fail_fast: bool = False,
    baselines: bool = False,
    options: RunOptions | None = None,
    process: Callable | None = None,
    load_models: Callable | None = None,
) -> list[RecordingResult]:
    """Run the pipeline over recordings (a folder holding recordings counts as all of them).

    Resumable: recordings the manifest of ``out_dir`` lists as complete (same inputs, model and
    config) are skipped; see :func:`run_batch` for the options and the guarantees. Returns one result
    per recording attempted or skipped (those not reached after ``fail_fast`` are left out).
    """
    options = dataclasses.replace(
        options or RunOptions(), fail_fast=fail_fast or (options is not None and options.fail_fast),
        baselines=baselines or (options is not None and options.baselines),
    )
    report = run_batch(paths, out_dir, config, options, process=process, load_models=load_models)
    return [r.to_result() for r in report.recordings if r.status != STATUS_CANCELLED]


def expand_recordings(paths: Sequence[str | Path]) -> list[Path]:
    """A path with a store.json is a recording; a folder without one holds recordings (one level).
    A recording named twice (directly and through its folder) is run once."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if (path / "store.json").is_file() or not path.is_dir():
            found.append(path)
        else:
            children = sorted(p for p in path.iterdir() if (p / "store.json").is_file())
            if not children:
                found.append(path)  # reported as a bad recording by the loader
            found.extend(children)
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


# --- the batch run loop: tasks, workers, manifest -------------------------------------------------

STATUS_SKIPPED = "skipped"
STATUS_CANCELLED = "cancelled"
ENGINES = ("local", "ray")
# Leftovers of an interrupted run: a recording's folder being written, or an older one being replaced.
LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>partial|old)-(?P<pid>\d+)$")


class RunError(ValueError):
    """The whole run cannot go on (the models do not load, another run holds the output folder)."""


@dataclass(frozen=True)
class RunOptions:
    """How a batch runs.

    workers: 1 runs in this process; N > 1 runs N worker processes (``engine="local"``) or N Ray
        actors; 0 chooses: locally min(cores, recordings to run, memory_gb / worker_memory_gb), on
        Ray one worker per cluster CPU.
    engine: ``local`` or ``ray``; address: the Ray cluster (None starts a local instance, ``auto``
        joins the one ``ray start`` made on this machine).
    max_tasks_per_worker: a worker process is replaced after this many recordings (bounds memory).
    retries: times a recording whose worker process died is retried in a fresh worker (input
        errors are not retried: they would fail again).
    fail_fast: stop at the first failed recording; force: redo recordings the manifest has as complete.
    baselines: also time decode-only and ultralytics' ``model.track()`` (for ``walkout bench``).
    annotate: call ``walkout.annotate.annotate_recording`` on each recording's outputs.
    anonymize: the annotated pictures hide faces (PRIVACY.md); False only for a store's own secured
        review: logged, and recorded in run.json (``pictures.anonymized``) and the manifest.
    progress: tqdm bars (overall and per recording); worker_memory_gb: memory one worker needs, GB.
    fuse: a ``fusion.pipeline.FuseConfig``: fuse each recording's run folder after its vision (a folder
        fused already with this config and unchanged inputs is skipped); None: fusion only where vision
        replaces a folder that was fused (with its last settings).
    vision: False fuses existing run folders only (``walkout fuse RUNS``); needs ``fuse``.
    """

    workers: int = 1
    engine: str = "local"
    address: str | None = None
    max_tasks_per_worker: int = 8
    retries: int = 1
    fail_fast: bool = False
    force: bool = False
    baselines: bool = False
    annotate: bool = False
    anonymize: bool = True
    progress: bool = False
    worker_memory_gb: float = 2.0
    fuse: object | None = None
    vision: bool = True


@dataclass(frozen=True)
class RecordingTask:
    """One recording to run, as sent to a worker. ``process`` / ``load_models`` default (None) to
    :func:`process_recording` and :class:`Models`, looked up when the task runs. ``vision``: run the
    vision stages (False: the run folder is there, fuse it only); ``fuse``: the FuseConfig to fuse the
    run folder with afterwards (None: no fusion)."""

    recording: Path
    name: str
    out_root: Path
    config: PipelineConfig
    baselines: bool = False
    annotate: bool = False
    process: Callable | None = None
    load_models: Callable | None = None
    anonymize: bool = True
    vision: bool = True
    fuse: object | None = None


@dataclass(frozen=True)
class TaskOutcome:
    """What a worker reports back for one recording (small: the tables stay on disk).

    outputs: files of ``OUT/<name>/`` ({relative path: {"bytes", "mtime_ns"}}); started / finished:
    Unix s; seconds: wall time; fatal: the models did not load, so no recording can run;
    fused: the manifest record of the fusion (walkout.fuse_step; {} when not fused).
    """

    name: str
    ok: bool
    error: str = ""
    shoppers: int = 0
    events: int = 0
    outputs: dict = field(default_factory=dict)
    started: float = 0.0
    finished: float = 0.0
    seconds: float = 0.0
    host: str = ""
    pid: int = 0
    threads: int | None = None
    versions: dict = field(default_factory=dict)
    annotated: bool = False
    warnings: tuple[str, ...] = ()
    fatal: bool = False
    fused: dict = field(default_factory=dict)


@dataclass
class WorkerState:
    """A worker's models, loaded on its first task and kept for the next ones; ``threads``: its
    torch/OpenCV thread limit (None: the libraries' defaults)."""

    threads: int | None = None
    models: object | None = None


def new_worker_state(threads: int | None = None) -> WorkerState:
    return WorkerState(threads)


def _load_models(state: WorkerState, task: RecordingTask) -> None:
    """Load the models once per worker. With a thread limit, detect on one blank frame first:
    ultralytics sets torch's threads to (cores - 1) when it first predicts, and the limit must win."""
    state.models = (task.load_models or Models)(task.config)
    if state.threads is not None:
        with contextlib.suppress(Exception):
            state.models.detector.detect([np.zeros((32, 32, 3), dtype=np.uint8)])
        limit_threads(state.threads)


def execute_task(
    state: WorkerState, task: RecordingTask, progress: Callable[..., None] | None = None
) -> TaskOutcome:
    """Run one recording into ``OUT/.<name>.partial-<pid>/``, annotate it if asked, fuse it if asked,
    then swap it in as ``OUT/<name>/`` (without vision: fuse ``OUT/<name>/`` in place). Never raises for
    a bad recording: the error is in the outcome (a failed fusion in ``fused``; the vision outputs stand)."""
    started, clock = time.time(), time.perf_counter()
    where = {"host": socket.gethostname(), "pid": os.getpid(), "started": started, "versions": package_versions()}

    def outcome(ok: bool, **fields) -> TaskOutcome:
        return TaskOutcome(task.name, ok, finished=time.time(), seconds=time.perf_counter() - clock,
                           threads=torch_threads(), **where, **fields)

    final = task.out_root / task.name
    if not task.vision:
        fused = fuse_run_folder(task.recording, final, task.fuse)
        fused["outputs"] = fused_outputs(final)
        return outcome(True, fused=fused)
    try:
        if state.models is None:
            _load_models(state, task)
    except Exception as exc:  # noqa: BLE001 - any failure to load is fatal for the run, said once
        return outcome(False, error=f"cannot load the models: {exc}", fatal=True)
    partial = task.out_root / f".{task.name}.partial-{os.getpid()}"
    try:
        shutil.rmtree(partial, ignore_errors=True)
        from walkout.pipeline import process_recording  # here: walkout.pipeline imports this module

        result = (task.process or process_recording)(
            task.recording, task.out_root, state.models, task.config,
            baselines=task.baselines, out=partial, progress=progress,
        )
        annotated, warnings = _annotate(task.recording, partial, task.anonymize) if task.annotate else (False, ())
        outputs = output_files(partial)  # vision's: fusion's files have their own record
        fused = fuse_run_folder(task.recording, partial, task.fuse) if task.fuse is not None else {}
        _swap_in(partial, final)
        if fused:
            fused["outputs"] = fused_outputs(final)
    except (InputError, FormatError) as exc:
        error = str(exc)
    except Exception as exc:  # noqa: BLE001 - a bug or a library error fails this recording only
        log.error("%s: unexpected error", task.recording, exc_info=True)
        error = f"{type(exc).__name__}: {exc}"
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    else:
        return outcome(True, shoppers=result.shoppers, events=result.events, outputs=outputs,
                       annotated=annotated, warnings=warnings, fused=fused)
    shutil.rmtree(partial, ignore_errors=True)
    return outcome(False, error=error)


def _swap_in(partial: Path, final: Path) -> None:
    """Rename a finished folder into place; an older one is renamed away first and deleted after.
    Owner-only files (atomic writers make them with mkstemp) get the mode ``open()`` would give, so
    a shared output folder is readable by everyone the umask allows."""
    umask = os.umask(0o022)
    os.umask(umask)
    for path in partial.rglob("*"):
        if path.is_file() and not path.stat().st_mode & 0o077:
            path.chmod(0o666 & ~umask)
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        os.rename(final, old)
    os.rename(partial, final)
    shutil.rmtree(old, ignore_errors=True)


def _annotate(recording: Path, run_dir: Path, anonymize: bool = True) -> tuple[bool, tuple[str, ...]]:
    """The annotation hook (another module): (made, warnings). Its failure does not fail the recording.
    Whether the pictures hide faces is recorded in run.json: ``pictures: {anonymized, files}``."""
    try:
        from walkout.annotate import annotate_recording
    except ImportError as exc:
        if exc.name != "walkout.annotate":
            raise
        return False, ("annotation skipped: walkout.annotate is not available",)
    try:
        # Anonymised is annotate_recording's default: the flag is passed only to turn it off.
        extra = {} if anonymize else {"anonymize": False}
        made = annotate_recording(Path(recording), Path(run_dir), **extra)
    except Exception as exc:  # noqa: BLE001 - the vision outputs stand without the annotation
        log.warning("%s: annotation failed: %s: %s", recording, type(exc).__name__, exc)
        return False, (f"annotation failed: {type(exc).__name__}: {exc}",)
    log.info("%s: %d annotated file(s)", recording, len(made))
    info_path = Path(run_dir) / "run.json"
    if info_path.is_file():
        info = json.loads(info_path.read_text())
        info["pictures"] = {"anonymized": anonymize, "files": [Path(p).relative_to(run_dir).as_posix() for p in made]}
        write_json_atomic(info, info_path)
    if not anonymize:
        return True, ("pictures NOT anonymised (--no-anonymize): faces are visible",)
    return True, ()


@dataclass(frozen=True)
class RecordingReport:
    """One recording's line of a batch: ``status`` is done, skipped (complete already), failed or
    cancelled (not reached after a failure with fail_fast); ``seconds``: wall time of this attempt.
    ``fused``: what became of its fusion: done, skipped (current already), failed (then ``status`` is
    failed too, and ``error`` says ``fusion failed: ...``; the vision outputs stand) or '' (not fused)."""

    name: str
    recording: Path
    status: str
    out_dir: Path | None = None
    error: str = ""
    shoppers: int = 0
    events: int = 0
    seconds: float = 0.0
    attempts: int = 0
    warnings: tuple[str, ...] = ()
    fused: str = ""

    @property
    def ok(self) -> bool:
        return self.status in (STATUS_DONE, STATUS_SKIPPED)

    def to_result(self) -> RecordingResult:
        return RecordingResult(self.recording, self.out_dir if self.ok else None, self.ok, self.error,
                               events=self.events, shoppers=self.shoppers)


@dataclass(frozen=True)
class BatchReport:
    """A whole run: every recording's report, in input order, and how it ran."""

    recordings: tuple[RecordingReport, ...]
    out_dir: Path
    seconds: float
    engine: str
    workers: int

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.recordings)

    @property
    def failed(self) -> list[RecordingReport]:
        return [r for r in self.recordings if r.status == STATUS_FAILED]


def run_batch(
    paths: Sequence[str | Path],
    out_dir: str | Path,
    config: PipelineConfig | None = None,
    options: RunOptions | None = None,
    *,
    process: Callable | None = None,
    load_models: Callable | None = None,
) -> BatchReport:
    """Run recordings into ``out_dir``: resumable, atomic, in parallel, failures reported.

    - Each recording is written into ``OUT/.<name>.partial-<pid>/`` and renamed to ``OUT/<name>/``
      when all its files are there; then its entry in ``OUT/manifest.json`` (walkout.manifest) is
      written (atomically). A run killed at any moment leaves complete folders or none; leftovers of
      an interrupted run are removed (or an older complete folder restored) by the next run.
    - Recordings whose entry says done with unchanged inputs, model and config are skipped, unless
      ``options.force``. One run at a time per output folder (a lock file).
    - A failing recording gets its error in the manifest and the report; the others go on. Raises
      RunError if the models do not load (then nothing can run).

    ``process`` / ``load_models`` replace :func:`process_recording` / :class:`Models` (tests); for
    worker processes they must be importable module-level callables.
    """
    clock = time.perf_counter()
    config = config or PipelineConfig()
    options = options or RunOptions()
    if options.engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {options.engine!r}")
    if not options.vision and options.fuse is None:
        raise ValueError("a batch without vision fuses run folders: it needs options.fuse")
    out_root = Path(out_dir)
    out_root.mkdir(parents=True, exist_ok=True)
    recordings = expand_recordings(paths)
    busy = RunError(f"{out_root}: another walkout run is writing into this folder; "
                    "wait for it to finish or choose another --out")
    with run_lock(out_root, busy):
        _tidy_leftovers(out_root)
        manifest = load_manifest(out_root)
        annotate = options.annotate and _annotation_available()
        # Pictures made with --no-anonymize are redone when anonymised ones are asked for.
        wanted = {"baselines": options.baselines, "annotate": annotate, "anonymized": annotate and options.anonymize}
        model = _model_fingerprints(config) if options.vision else {}
        config_fp = config_fingerprint(_config_payload(config)) if options.vision else ""
        reports: dict[int, RecordingReport] = {}
        tasks: list[RecordingTask] = []
        plan: list[tuple[int, Path, dict[str, str], tuple[str, ...]]] = []
        names: dict[str, Path] = {}
        for position, path in enumerate(recordings):
            name = path.resolve().name
            if name in names:
                error = f"{path}: another recording has the folder name {name!r} ({names[name]}); outputs would collide"
                log.error("%s", error)
                reports[position] = RecordingReport(name, path, STATUS_FAILED, error=error)
                continue
            names[name] = path
            entry = manifest.recordings.get(name)
            inputs, reason = {}, ""
            if options.vision:
                inputs = recording_inputs(path)
                if options.force:
                    reason = "forced"
                elif entry is None:
                    reason = "new"
                else:
                    reason = entry.stale_because(inputs, model, config_fp, wanted, out_root / name)
            elif entry is None or entry.status != STATUS_DONE or not (out_root / name).is_dir():
                error = (f"{out_root / name}: no complete `walkout run` output of {path} to fuse; "
                         f"run `walkout run {path} --out {out_root}` first")
                log.error("%s", error)
                reports[position] = RecordingReport(name, path, STATUS_FAILED, error=error)
                continue
            fuse, fuse_reason, warnings = _plan_fusion(options, entry, path, out_root / name, bool(reason))
            if not reason and fuse is None:
                log.info("%s: complete in %s, skipped", name, out_root / name)
                reports[position] = RecordingReport(name, path, STATUS_SKIPPED, out_root / name,
                                                    shoppers=entry.shoppers, events=entry.events,
                                                    fused=STATUS_SKIPPED if options.fuse is not None else "")
                continue
            log.info("%s: to %s (%s)", name, "run" if reason else "fuse",
                     "; ".join(filter(None, [reason, fuse_reason and f"fusion: {fuse_reason}"])))
            # Absolute paths: a Ray worker on another node does not share this process's directory.
            tasks.append(RecordingTask(path.resolve(), name, out_root.resolve(), config, options.baselines, annotate,
                                       process, load_models, anonymize=options.anonymize, vision=bool(reason),
                                       fuse=fuse))
            plan.append((position, path, inputs, warnings))
        engine, workers = _engine(options, len(tasks))
        log.info("%d recording(s): %d to run, %d complete already; %s engine, %d worker(s)", len(recordings),
                 len(tasks), sum(r.status == STATUS_SKIPPED for r in reports.values()), options.engine, workers)
        bars = _Bars(options.progress, [t.name for t in tasks])
        outcomes = engine.run(tasks, execute_task, bars.note) if tasks else iter(())
        try:
            for finished in outcomes:
                position, path, inputs, warnings = plan[finished.index]
                task = tasks[finished.index]
                previous = manifest.recordings.get(task.name)
                result = finished.result
                if result is None:  # the worker died, or execute_task itself failed
                    error = finished.error.strip().splitlines()[-1] if finished.error.strip() else "worker failed"
                    result = TaskOutcome(task.name, False, error=f"{error} (attempt {finished.attempts})")
                if result.fatal:
                    raise RunError(result.error)
                fused = result.fused or (previous.fuse if previous is not None else {})
                if not task.vision:
                    entry = dataclasses.replace(previous, fuse=fused)
                else:
                    entry = RecordingEntry(
                        name=task.name, recording=str(path),
                        status=STATUS_DONE if result.ok else STATUS_FAILED, error=result.error,
                        inputs=inputs, model=model, config=config_fp,
                        options={"baselines": task.baselines, "annotate": result.annotated,
                                 "anonymized": result.annotated and task.anonymize},
                        versions=result.versions, outputs=result.outputs,
                        timings={"started": result.started, "finished": result.finished,
                                 "seconds": round(result.seconds, 3), "attempts": finished.attempts},
                        worker={"host": result.host, "pid": result.pid, "torch_threads": result.threads},
                        shoppers=result.shoppers, events=result.events, warnings=result.warnings, fuse=fused,
                    )
                manifest = manifest.with_entry(entry)
                write_manifest(out_root, manifest)
                bars.finish(finished.index)
                fuse_failed = result.fused.get("status") == FUSE_FAILED
                error = result.error or (f"fusion failed: {result.fused['error']}" if fuse_failed else "")
                reports[position] = RecordingReport(
                    task.name, path, STATUS_FAILED if error else STATUS_DONE,
                    out_root / task.name if result.ok else None, error, entry.shoppers, entry.events,
                    result.seconds, finished.attempts, (*warnings, *result.warnings), result.fused.get("status", ""),
                )
                if not error:
                    log.info("%s: done in %.1f s (%d shopper(s), %d event(s)%s)", task.name, result.seconds,
                             entry.shoppers, entry.events, ", fused" if result.fused else "")
                else:
                    log.error("%s: failed: %s", task.name, error)
                    if options.fail_fast:
                        log.warning("stopping at the first failure (fail-fast)")
                        break
        finally:
            if hasattr(outcomes, "close"):
                outcomes.close()  # stops running tasks after a fail-fast break or an abort
            bars.close()
    for position, path in enumerate(recordings):
        if position not in reports:
            reports[position] = RecordingReport(path.resolve().name, path, STATUS_CANCELLED)
    ordered = tuple(reports[position] for position in range(len(recordings)))
    return BatchReport(ordered, out_root, time.perf_counter() - clock, options.engine, workers)


def _plan_fusion(options: RunOptions, entry: RecordingEntry | None, recording: Path, run_dir: Path,
                 vision: bool) -> tuple[object | None, str, tuple[str, ...]]:
    """Whether a recording's run folder is fused in this batch: (FuseConfig or None, why, warnings).

    When vision is redone, the new folder is fused if ``options.fuse`` asks for it, or if the folder it
    replaces was fused: with the settings of its last fusion (the manifest's), or, for fused files the
    manifest has no record of (``walkout fuse RECORDING --out`` into the folder), with the default fuse
    config and a warning. Without vision, the folder is fused when ``options.fuse`` is given and its
    fusion is not current (or ``options.force``)."""
    from fusion.pipeline import FuseConfig

    record = entry.fuse if entry is not None else {}
    if vision:
        if options.fuse is not None:
            return options.fuse, "asked", ()
        if record.get("settings"):
            try:
                return recorded_fuse_config(record, run_dir.parent / MANIFEST_NAME), "fused before: same settings", ()
            except FormatError as exc:
                warning = f"the settings of its last fusion are unusable ({exc}): fused again with the default fuse config"
                log.warning("%s: %s", run_dir.name, warning)
                return FuseConfig(), "fused before", (warning,)
        if has_fused_files(run_dir):
            warning = (f"{run_dir} had {', '.join(FUSED_FILES)} from a fusion the manifest has no record of: fused again "
                       f"with the default fuse config (to use yours: walkout fuse {run_dir.parent} --config FILE)")
            log.warning("%s", warning)
            return FuseConfig(), "fused before", (warning,)
        return None, "", ()
    if options.fuse is None:
        return None, "", ()
    if options.force:
        return options.fuse, "forced", ()
    reason = fuse_stale_because(record, fuse_inputs(recording, run_dir, options.fuse),
                                fuse_config_fingerprint(options.fuse), run_dir)
    return (options.fuse if reason else None), reason, ()


def _tidy_leftovers(out_root: Path) -> None:
    """Remove what an interrupted run left (we hold the lock, so no run is writing them): partial
    folders are deleted; an older complete folder renamed away but not yet replaced is restored."""
    for child in sorted(out_root.iterdir()):
        match = LEFTOVER.match(child.name)
        if child.name.startswith(f".{MANIFEST_NAME}.") and child.name.endswith(".tmp"):
            child.unlink(missing_ok=True)
        elif match is None:
            continue
        elif match["kind"] == "old" and not (out_root / match["name"]).exists():
            os.rename(child, out_root / match["name"])
            log.warning("%s: restored from %s (a run was stopped while replacing it)", out_root / match["name"], child.name)
        else:
            shutil.rmtree(child, ignore_errors=True)
            log.info("removed %s, left by an interrupted run", child)


def _annotation_available() -> bool:
    if importlib.util.find_spec("walkout.annotate") is None:
        log.warning("--annotate: walkout.annotate is not available; recordings are not annotated")
        return False
    return True


def _model_fingerprints(config: PipelineConfig) -> dict[str, str | None]:
    """Fingerprints of the detector, hand model and classifier files (None when none is configured)."""
    paths = {"detector": config.detector.model_path, "hand_model": config.hand_detector.model_path,
             "classifier": config.held.classifier_path,
             "reach_model": config.reaching.model_path}
    return {role: fingerprint_file(Path(path)) if path else None for role, path in paths.items()}


def _config_payload(config: PipelineConfig) -> dict:
    """The config as hashed for the manifest: model paths are left out (the model files are hashed)."""
    payload = config.to_dict()
    payload["detector"].pop("model_path", None)
    payload["held"].pop("classifier_path", None)
    payload["hand_detector"].pop("model_path", None)
    payload["reaching"].pop("model_path", None)
    return payload


def _engine(options: RunOptions, n_tasks: int) -> tuple[SerialEngine | LocalPool | RayEngine, int]:
    """The engine for ``n_tasks`` recordings and its number of workers."""
    level = logging.getLogger().getEffectiveLevel()
    level = max(level, logging.WARNING) if options.progress else level
    if options.engine == "ray":  # one CPU per actor (Ray's default), so one thread each
        setup = WorkerSetup(new_worker_state, 1, threads=1, log_level=level)
        return RayEngine(setup, options.workers or None, options.address, options.max_tasks_per_worker,
                         options.retries), options.workers
    workers = options.workers or auto_workers(n_tasks, options.worker_memory_gb)
    workers = max(1, min(workers, n_tasks))
    if workers == 1:
        return SerialEngine(WorkerSetup(new_worker_state, log_level=level)), 1
    threads = threads_per_worker(workers)
    setup = WorkerSetup(new_worker_state, threads, threads=threads, log_level=level)
    return LocalPool(setup, workers, options.max_tasks_per_worker, options.retries), workers


class _Bars:
    """tqdm bars: recordings done overall, and frames of each running recording (local engines)."""

    def __init__(self, enabled: bool, names: list[str]):
        from tqdm import tqdm

        self.enabled = enabled
        self.names = names
        self.tqdm = tqdm
        self.overall = tqdm(total=len(names), desc="recordings", unit="rec", disable=not enabled, dynamic_ncols=True)
        self.running: dict[int, tuple[str, object]] = {}
        self.redirect = contextlib.ExitStack()
        if enabled:
            from tqdm.contrib.logging import logging_redirect_tqdm

            self.redirect.enter_context(logging_redirect_tqdm())

    def note(self, index: int, payload: tuple) -> None:
        if not self.enabled:
            return
        camera, done, claimed = payload
        current = self.running.get(index)
        if current is None or current[0] != camera:
            if current is not None:
                current[1].close()
            bar = self.tqdm(total=claimed or None, desc=f"{self.names[index]}/{camera}", unit="frame",
                            leave=False, dynamic_ncols=True)
            self.running[index] = current = (camera, bar)
        current[1].update(done - current[1].n)

    def finish(self, index: int) -> None:
        current = self.running.pop(index, None)
        if current is not None:
            current[1].close()
        self.overall.update(1)

    def close(self) -> None:
        for _, bar in self.running.values():
            bar.close()
        self.overall.close()
        self.redirect.close()
