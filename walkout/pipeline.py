"""`walkout run`: store recordings in, per-shopper cart timelines out.

One recording (:func:`process_recording`): every camera through the vision stages
(walkout.stages.process_camera; several cameras at once in threads, :func:`camera_threads`), cameras
joined into store-level shoppers, events seen by several cameras merged, the outputs written (walkout.outputs: tracks, hands, reaches, shoppers, events,
timeline.json, run.json). Where the rest is:

- walkout.models: which models a run uses (``Models``) and the runtime each is run with;
- walkout.stages: the stages of one camera;
- walkout.outputs: the files of one recording;
- walkout.batch: many recordings (``run_recordings``, ``run_batch``): workers, Ray, manifest, resume.

The names other code imports from here (``__all__``) are re-exported from those modules.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from formats.tables import write_json_atomic
from vision.errors import InputError
from vision.events import PickEvent
from vision.runtime import onnx_threads
from vision.shoppers import ShopperMap, shoppers_table, store_shoppers
from vision.timeline import build_timelines, timelines_document
from walkout.batch import (
    BatchReport,
    RecordingResult,
    RunError,
    RunOptions,
    expand_recordings,
    run_batch,
    run_recordings,
)
from walkout.config import PipelineConfig
from walkout.models import Models, with_runtime
from walkout.outputs import run_info, write_tables
from walkout.recording import Camera, Recording, load_recording
from walkout.stages import CameraResult, process_camera

__all__ = [  # what other code imports from here; the batch engine, models and stages live in their modules
    "BatchReport", "CameraResult", "Models", "RecordingResult", "RunError", "RunOptions", "expand_recordings",
    "merge_camera_events", "process_camera", "process_recording", "run_batch", "run_recordings", "with_runtime",
]


def _with_store_shopper(event: PickEvent, shopper_map: ShopperMap) -> PickEvent:
    return replace(event, shopper=shopper_map.shopper(event.camera, int(event.shopper)))


def merge_camera_events(per_camera: list[list[PickEvent]], window_s: float, *, by_shopper: bool = True) -> list[PickEvent]:
    """One pick seen by several cameras is one event (the most confident): events of other cameras
    within ``window_s`` with the same action and sku, and (``by_shopper``, store-level shoppers) the
    same shopper and shelf. Without store-level shoppers (``by_shopper=False``) the shopper ids of two
    cameras cannot be compared, and any same-sku event is taken for the same one."""
    merged: list[PickEvent] = []
    for event in sorted((e for events in per_camera for e in events), key=lambda e: -e.confidence):
        duplicate = any(
            m.camera != event.camera and m.sku == event.sku and m.action == event.action
            and abs(m.timestamp - event.timestamp) <= window_s
            and (not by_shopper or (m.shopper == event.shopper and m.shelf == event.shelf))
            for m in merged
        )
        if not duplicate:
            merged.append(event)
    return sorted(merged, key=lambda e: e.timestamp)


def process_recording(
    path: Path, out_root: Path, models: Models, config: PipelineConfig, *, baselines: bool = False,
    out: Path | None = None, progress: Callable[[str, int, int], None] | None = None,
    join_shoppers: Callable[..., ShopperMap] = store_shoppers,
    camera_results: list[CameraResult] | None = None,
    keep_cameras: Callable[[Path, list[CameraResult]], None] | None = None,
) -> RecordingResult:
    """Run every camera of one recording and write its outputs under ``out_root/<folder name>/``
    (or into ``out`` when given: the run loop writes into a temporary folder and renames it).

    With ``baselines``, also time decoding alone and ultralytics' plain ``model.track()`` loop on the
    same videos and weights, in this process, for the speed ratios of ``walkout bench``.
    ``progress`` is passed to :func:`process_camera`. ``join_shoppers`` joins the cameras' tracks into
    shoppers (:func:`vision.shoppers.store_shoppers`; benchmarks/oracle_association.py swaps in the truth).
    ``camera_results``: this recording's cameras as an earlier run found them (benchmarks/rejoin.py):
    the cameras are not run again, only the join and what follows it. ``keep_cameras(path, results)`` is
    called with the cameras' results, looks included, before the join (benchmarks/rejoin.py keeps them
    for that; nothing in ``walkout run`` does).
    """
    recording = load_recording(path)
    if not recording.cameras:
        raise InputError(recording.path / "store.json", "no cameras: nothing for vision to run on")
    planogram = {}
    if recording.planogram is not None:
        planogram = {(s, int(p)): k for s, p, k in recording.planogram[["shelf", "plate", "sku"]].itertuples(index=False)}
    started = time.perf_counter()
    if camera_results is None:
        threads = camera_threads(config, len(recording.cameras), models)
        results = _process_cameras(recording, models, config, planogram, progress, threads)
    else:
        threads, results = 0, list(camera_results)
    cameras_s = time.perf_counter() - started
    if keep_cameras is not None:
        keep_cameras(recording.path, results)
    started = time.perf_counter()
    shopper_map = join_shoppers({r.camera: r.tracks for r in results}, {c.id: c for c in recording.cameras},
                                {r.camera: r.fps for r in results}, config.shoppers,
                                looks={r.camera: r.looks for r in results})
    grid_s = config.shoppers.grid_s or 1.0 / max(r.fps for r in results)
    shoppers = shoppers_table(shopper_map, grid_s)
    events = merge_camera_events([[_with_store_shopper(e, shopper_map) for e in r.events] for r in results],
                                 config.merge_window_s, by_shopper=shopper_map.identity == "store")
    association_s = time.perf_counter() - started
    # Looks and box colours stay in this process, never in the result (nor in a worker's or a Ray task's reply).
    results = [replace(r, looks={}, descriptors=None) for r in results]
    out = out if out is not None else out_root / recording.path.name
    timelines = build_timelines(events)
    write_tables(out, results, shopper_map, shoppers, events)
    write_json_atomic(timelines_document(recording.name, timelines), out / "timeline.json")
    measured = _baselines(recording, config) if baselines else {}
    write_json_atomic(run_info(recording, models, config, results, shopper_map, association_s, measured,
                               threads, cameras_s), out / "run.json")
    return RecordingResult(path, out, True, events=len(events), shoppers=len(timelines), cameras=results)


def camera_threads(config: PipelineConfig, cameras: int, models: Models) -> int:
    """How many cameras of a recording run at once: ``[pipeline] camera_threads``, or (0) as many as
    this process's threads (vision.runtime.onnx_threads: a worker's share of the cores, else every
    core), never more than the cameras; 1 for models that cannot be copied (a caller's own set)."""
    if not callable(getattr(models, "camera_sets", None)):
        return 1
    return max(1, min(config.camera_threads or onnx_threads(), cameras))


def _process_cameras(recording: Recording, models: Models, config: PipelineConfig, planogram: dict,
                     progress: Callable[[str, int, int], None] | None, threads: int) -> list[CameraResult]:
    """Every camera's result, in the recording's camera order; ``threads`` cameras at once, each thread
    with its own set of the models (the model runtimes and video decoding release the GIL, so the
    tracking and event code of one camera runs while another camera's detectors do). Measured on a
    6-camera store render on 2 cores: 1.17x the cameras one after another, same outputs."""
    if threads <= 1:
        return [process_camera(recording, camera, models, config, planogram, progress) for camera in recording.cameras]
    free: queue.SimpleQueue[Models] = queue.SimpleQueue()
    for each in models.camera_sets(threads):
        free.put(each)

    def one(camera: Camera) -> CameraResult:
        mine = free.get()
        try:
            return process_camera(recording, camera, mine, config, planogram, progress)
        finally:
            free.put(mine)

    with ThreadPoolExecutor(threads, thread_name_prefix="camera") as pool:
        return list(pool.map(one, recording.cameras))


def _baselines(recording: Recording, config: PipelineConfig) -> dict:
    from walkout.baselines import decode_only, ultralytics_track

    result: dict[str, dict] = {"decode_only": {}, "ultralytics_track": {}}
    for camera in recording.cameras:
        result["decode_only"][camera.id] = decode_only(camera.video)
        result["ultralytics_track"][camera.id] = ultralytics_track(
            camera.video, config.detector.model_path, config.detector.imgsz, config.detector.confidence
        )
    return result

