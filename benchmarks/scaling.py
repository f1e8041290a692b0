"""Scaling of `walkout run`: recordings per minute with 1 and N local workers and with Ray on one machine.

Renders (or reuses) 8 recordings (`walkout simulate --seed 100..107 --duration 20 --shoppers 2`) into
``--data``, then times ``run_batch`` over all of them, each configuration into a fresh output folder:
one process, N local worker processes, and Ray (a local instance with N CPUs; its start-up is timed
apart). Wall times include loading the models in every worker, as a real run does.
Prints one row per configuration (wall s, recordings/min, speed-up over one process) and Ray's
overhead over local processes. Run:

    python benchmarks/scaling.py [--data runs/scaling/recordings] [--model PATH] [--workers 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import shutil
import time
from pathlib import Path

from walkout.batch import BatchReport, RunOptions, run_batch
from walkout.cli import main as walkout
from walkout.config import PipelineConfig

SEEDS = range(100, 108)


def render(data: Path, duration_s: float, shoppers: int) -> list[Path]:
    """The benchmark recordings, rendered once and reused."""
    paths = []
    for seed in SEEDS:
        path = data / f"seed{seed}"
        if not (path / "store.json").is_file():
            code = walkout(["-q", "simulate", str(path), "--seed", str(seed), "--duration", str(duration_s),
                            "--shoppers", str(shoppers)])
            if code:
                raise SystemExit(f"walkout simulate failed for seed {seed}")
        paths.append(path)
    return paths


def timed(recordings: list[Path], out: Path, config: PipelineConfig, options: RunOptions) -> BatchReport:
    shutil.rmtree(out, ignore_errors=True)
    report = run_batch(recordings, out, config, dataclasses.replace(options, force=True))
    failed = [f"{r.name}: {r.error}" for r in report.recordings if not r.ok]
    if failed:
        raise SystemExit("recordings failed:\n" + "\n".join(failed))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("runs/scaling/recordings"))
    parser.add_argument("--out", type=Path, default=Path("runs/scaling/out"))
    parser.add_argument("--model", type=Path, help="detector weights (default: the shipped model)")
    parser.add_argument("--workers", type=int, default=2, help="local workers and Ray CPUs")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per recording")
    parser.add_argument("--shoppers", type=int, default=2)
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    recordings = render(args.data, args.duration, args.shoppers)
    config = PipelineConfig()
    if args.model is not None:
        config = dataclasses.replace(config, detector=dataclasses.replace(config.detector, model_path=str(args.model)))
    print(f"{len(recordings)} recordings of {args.duration:g} s, {args.shoppers} shoppers; model "
          f"{config.detector.model_path}; {os.cpu_count()} CPU(s)")

    rows: list[tuple[str, float]] = []
    one = timed(recordings, args.out / "one", config, RunOptions(workers=1))
    rows.append(("1 process", one.seconds))
    local = timed(recordings, args.out / "local", config, RunOptions(workers=args.workers))
    rows.append((f"{args.workers} local workers", local.seconds))
    ray_start_s = None
    if not args.no_ray:
        import ray

        started = time.perf_counter()
        ray.init(num_cpus=args.workers, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
        ray_start_s = time.perf_counter() - started
        try:
            remote = timed(recordings, args.out / "ray", config, RunOptions(workers=args.workers, engine="ray"))
        finally:
            ray.shutdown()
        rows.append((f"Ray, {args.workers} workers", remote.seconds))

    print(f"{'configuration':<22} {'wall_s':>8} {'rec/min':>8} {'speed-up':>9}")
    for name, seconds in rows:
        print(f"{name:<22} {seconds:8.1f} {len(recordings) / seconds * 60:8.2f} {one.seconds / seconds:8.2f}x")
    if ray_start_s is not None:
        ray_s = rows[-1][1]
        print(f"Ray over local processes: {ray_s / local.seconds - 1:+.1%} wall time "
              f"({ray_s - local.seconds:+.1f} s), plus {ray_start_s:.1f} s to start the local Ray instance")


if __name__ == "__main__":
    main()
