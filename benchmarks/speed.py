"""Speed of `walkout run` by stage of the speed work, against decoding alone and `model.track()`.

In one process, on the same videos, in turn (so a busy machine slows every row alike): decoding
alone; ultralytics' own ``model.track()`` loop with the shipped .pt detector in PyTorch (the naive
route a user tries first: ultralytics gives torch cores - 1 threads), and the same loop with torch on
every core, for reference (the ratios are against the first); and walkout end to end (every camera,
writing its outputs) with PyTorch or ONNX Runtime, with and without skipping idle frames
(vision.motion). Each row gives frames/s, the ratios against decode-only and against
``model.track()``, the share of frames whose detectors were skipped, and "x real time" the recordings' seconds over wall seconds (a recording of several
cameras counts its duration once: >= 1 keeps up with all its cameras). For recordings of several
cameras a row runs them one at a time (`[pipeline] camera_threads = 1`) beside the default (at once).
A last line prices an idle frame: walkout's frames/s on an empty aisle (no shopper,
skipping on) over its frames/s on the shopper recordings without skipping. One more row runs the
``walkout run`` command in a new process per recording, as a user does (default runtime and workers,
``--config`` when given): its time counts the process's start, the imports and the models' loading.

    python benchmarks/speed.py --out runs/speed                    # 4 one-shopper renders + an empty aisle
    python benchmarks/speed.py --out runs/speed --recordings REC ...  # your own recordings instead
    python benchmarks/speed.py --out runs/speed --config real.toml --no-track   # e.g. the MediaPipe backend
    python benchmarks/speed.py --out runs/store6 --recordings STORE... --no-track --runtimes onnx --repeats 1

Renders go to OUT/recordings (reused when there), outputs to a temporary folder; the table also goes to
OUT/speed.json (rows, the idle-frame line's figures and the command). Model loading and the ONNX export
(made once, cached beside the .pt) are not timed, except in the new-process row (the export is made
before it, by the rows in this process).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from accuracy import write_provenance

from walkout.baselines import decode_only, ultralytics_track
from walkout.bench.groups import GROUPS, render
from walkout.bench.speed import read_speed
from walkout.config import PipelineConfig, load_config
from walkout.models import Models
from walkout.parallel import available_cores
from walkout.pipeline import camera_threads, process_recording
from walkout.recording import load_recording

RUNTIMES = ("torch", "onnx")  # rows of the table, in this order
BEFORE = "walkout mediapipe as before the speed work (skip idle off, pose then hands)"
COMMAND = "walkout run command, a new process (start-up and model loading counted)"


def mediapipe_as_before(config: PipelineConfig) -> Models:
    """The MediaPipe backend's models with the pose and hand graphs run one after the other per frame."""
    from vision.mediapipe_hands import MediaPipeDetector

    models = Models(config)
    models.detector.close()  # the concurrent detector Models made
    models.detector = MediaPipeDetector(config.detector, concurrent=False)
    return models


@dataclass
class Row:
    """Frames and wall seconds of one configuration, summed over recordings and repeats."""

    name: str
    frames: int = 0
    seconds: float = 0.0
    cpu_s: float = 0.0
    skipped: int = 0
    video_s: float = 0.0  # recording seconds (a recording of several cameras counts its duration once)

    def add(self, frames: int, seconds: float, cpu_s: float, skipped: int = 0, video_s: float = 0.0) -> None:
        self.frames, self.seconds = self.frames + frames, self.seconds + seconds
        self.cpu_s, self.skipped = self.cpu_s + cpu_s, self.skipped + skipped
        self.video_s += video_s

    @property
    def realtime(self) -> float:
        """Recording seconds per wall second: >= 1 keeps up with every camera of the recordings."""
        return self.video_s / self.seconds if self.seconds else float("nan")

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else float("nan")

    @property
    def cpu_fps(self) -> float:
        """Frames per CPU second of this process."""
        return self.frames / self.cpu_s if self.cpu_s else float("nan")


def add_timing(row: Row, timing: dict, count_duration: bool) -> None:
    """A baseline's timing record (walkout.baselines) of one video; its duration when ``count_duration``."""
    row.add(timing["frames"], timing["total_s"], timing["cpu_s"], 0, timing["video_s"] if count_duration else 0.0)


def renders(out: Path, count: int, first_seed: int, duration_s: float) -> tuple[list[Path], Path]:
    """The one-shopper group's recordings (as benchmarks/accuracy.py renders them) and an empty aisle."""
    _, shoppers, options, _ = next(g for g in GROUPS if g[0] == "single")
    recordings = [render(out / "recordings", seed, shoppers, options, duration_s)
                  for seed in range(first_seed, first_seed + count)]
    empty = render(out / "recordings", first_seed + 100, 0, [], duration_s)
    return recordings, empty


def walkout_run(path: Path, models: Models, config: PipelineConfig, scratch: Path
                ) -> tuple[int, float, float, int, float]:
    """(frames, wall seconds, CPU seconds, skipped frames, recording seconds) of one recording, outputs
    written into ``scratch``."""
    started, cpu = time.perf_counter(), time.process_time()
    result = process_recording(path, scratch, models, config, out=scratch / path.name)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    video_s = max(c.frames / c.fps for c in result.cameras)
    return sum(c.frames for c in result.cameras), seconds, cpu, sum(c.skipped for c in result.cameras), video_s


def walkout_command(path: Path, config: Path | None, scratch: Path) -> tuple[int, float, float, int, float]:
    """Like :func:`walkout_run`, but the ``walkout run`` command in a new process: its wall and CPU seconds
    from start to exit; frames, skipped frames and the recording's seconds from its run.json."""
    out = scratch / f"command-{path.name}"
    command = [sys.executable, "-m", "walkout.cli", "-q", "run", str(path), "--out", str(out)]
    if config is not None:
        command += ["--config", str(config)]
    started, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    run_json = out / path.name / "run.json"
    speed = read_speed(json.loads(run_json.read_text()), run_json)
    return (speed.total.frames, seconds, after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime,
            speed.total.skipped, speed.recording_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--recordings", type=Path, nargs="*", help="recordings to time (default: renders)")
    parser.add_argument("--count", type=int, default=4, help="one-shopper renders (default 4)")
    parser.add_argument("--first-seed", type=int, default=41000)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=2, help="rounds over all recordings and configurations")
    parser.add_argument("--config", type=Path, help="pipeline config TOML (as `walkout run --config`)")
    parser.add_argument("--runtimes", nargs="+", default=list(RUNTIMES), choices=RUNTIMES)
    parser.add_argument("--no-track", action="store_true", help="leave out the model.track() baseline")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("ultralytics").setLevel(logging.WARNING)
    base = load_config(args.config)
    if args.recordings:
        recordings, empty = list(args.recordings), None
    else:
        recordings, empty = renders(args.out, args.count, args.first_seed, args.duration)
    videos = {path: [camera.video for camera in load_recording(path).cameras] for path in recordings}

    configs: dict[str, tuple[Models, PipelineConfig]] = {}
    for runtime in args.runtimes:
        with_runtime = dataclasses.replace(base, runtime=runtime)
        models = Models(with_runtime)
        if models.runtime not in (runtime, "mediapipe"):
            logging.warning("runtime %s is not available here: its rows run %s", runtime, models.runtime)
        if models.runtime == "mediapipe" and BEFORE not in configs:
            configs[BEFORE] = (mediapipe_as_before(with_runtime), dataclasses.replace(
                with_runtime, motion=dataclasses.replace(base.motion, enabled=False), camera_threads=1))
        for skip in (False, True):
            config = dataclasses.replace(with_runtime, motion=dataclasses.replace(base.motion, enabled=skip))
            configs[f"walkout {models.runtime}, skip idle {'on' if skip else 'off'}"] = (models, config)
        if any(len(cameras) > 1 for cameras in videos.values()):  # what running the cameras at once gives
            configs[f"walkout {models.runtime}, skip idle on, cameras one at a time"] = (
                models, dataclasses.replace(config, camera_threads=1))
    most_cameras = max(len(cameras) for cameras in videos.values())
    for models, config in configs.values():  # the model sets of cameras run at once, loaded before timing
        threads = camera_threads(config, most_cameras, models)
        if threads > 1:
            models.camera_sets(threads)
    every_core = f"model.track() .pt, torch on {available_cores()} threads"
    tracks = [] if args.no_track else ["model.track() .pt", every_core]
    rows = {name: Row(name) for name in ["decode only", *tracks, *configs, COMMAND]}
    idle = Row("empty aisle")
    idle_with = next(name for name in reversed(configs) if name.endswith("skip idle on"))  # the last runtime
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        for _ in range(args.repeats):
            for cameras in videos.values():  # the baselines take a recording's cameras one after another
                for camera, video in enumerate(cameras):
                    first = camera == 0  # a recording's duration counts once
                    timing = decode_only(video)
                    add_timing(rows["decode only"], timing, first)
                    if not args.no_track:
                        add_timing(rows["model.track() .pt"], ultralytics_track(
                            video, base.detector.model_path, base.detector.imgsz, base.detector.confidence), first)
                        add_timing(rows[every_core], ultralytics_track(
                            video, base.detector.model_path, base.detector.imgsz, base.detector.confidence,
                            threads=available_cores()), first)
            for path in recordings:
                for name, (models, config) in configs.items():
                    rows[name].add(*walkout_run(path, models, config, scratch))
                rows[COMMAND].add(*walkout_command(path, args.config, scratch))
            if empty is not None:
                idle.add(*walkout_run(empty, *configs[idle_with], scratch))
    busy = rows[idle_with.replace("skip idle on", "skip idle off")]
    write_provenance(args.out)  # OUT/provenance.json: command, commit, date (benchmarks/results.py --speed)
    (args.out / "speed.json").write_text(json.dumps({
        "command": shlex.join(["python", *sys.argv]), "recordings": [str(p) for p in recordings],
        "repeats": args.repeats, "rows": [asdict(r) for r in rows.values()],
        "empty_aisle": asdict(idle) if empty is not None else None, "idle_compared_with": busy.name,
    }, indent=1))
    print_table(list(rows.values()), (idle, busy) if empty is not None else None, len(recordings), args.repeats)
    if BEFORE in rows:
        now = rows[idle_with]
        print(f"MediaPipe: {now.name} at {now.realtime:.2f}x real time, {now.realtime / rows[BEFORE].realtime:.2f}x "
              f"the backend as before the speed work ({rows[BEFORE].realtime:.2f}x real time)")


def print_table(rows: list[Row], idle: tuple[Row, Row] | None, recordings: int, repeats: int) -> None:
    """The table; ``idle``: (the empty aisle with skipping, the same runtime on the shopper recordings
    without skipping), for the price of an idle frame."""
    decode = rows[0]
    track = next((r for r in rows if r.name.startswith("model.track")), None)
    print(f"{recordings} recording(s) x {repeats} round(s), in one process; wall-clock frames/s and frames per "
          "CPU second of the process (steadier when other work shares the machine)")
    print("| run | frames | frames/s | x real time | x decode-only | x model.track() | frames/CPU-s "
          "| x model.track() (CPU) | idle skipped |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        versus = f"{row.fps / track.fps:.2f}" if track else "–"
        versus_cpu = f"{row.cpu_fps / track.cpu_fps:.2f}" if track else "–"
        skipped = f"{row.skipped / row.frames:.0%}" if row.name.startswith("walkout") and row.frames else "–"
        print(f"| {row.name} | {row.frames} | {row.fps:.1f} | {row.realtime:.2f} | {row.fps / decode.fps:.3f} "
              f"| {versus} | {row.cpu_fps:.1f} | {versus_cpu} | {skipped} |")
    if idle is not None and idle[0].frames:
        idle, busy = idle
        print(f"empty aisle: {idle.fps:.1f} frames/s ({idle.cpu_fps:.1f} per CPU-s) with skipping "
              f"({idle.skipped / idle.frames:.0%} skipped): {idle.fps / busy.fps:.1f}x ({idle.cpu_fps / busy.cpu_fps:.1f}x "
              f"per CPU-s) the shopper recordings without skipping ({busy.name}: {busy.fps:.1f}, {busy.cpu_fps:.1f})")


if __name__ == "__main__":
    main()
