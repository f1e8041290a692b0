"""Accuracy of `walkout run` on freshly rendered recordings the models never saw, by difficulty.

Renders (or reuses) recordings with seeds the training never used, runs the pipeline (and fusion),
and scores each difficulty group with the bench: attributed event F1, receipt accuracy, HOTA, IDF1,
and the speed figures. Prints one table; the per-group reports land in OUT/<group>/report/.

    python benchmarks/accuracy.py --out runs/accuracy            # 8 + 8 + 6 + 8 recordings
    python benchmarks/accuracy.py --out runs/accuracy --per-group 2   # a quick look
    python benchmarks/accuracy.py --out runs/accuracy --groups store  # the multi-camera stores only
    python benchmarks/accuracy.py --out runs/accuracy --config candidate.toml  # other models or settings

With ``--predictions NAME`` the pipeline's outputs go to OUT/<group>/NAME (reports to NAME-report), so
several configurations can be scored on the same renders.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from fusion.pipeline import fuse_recording
from walkout.bench import run_bench
from walkout.cli import main as walkout
from walkout.config import load_config
from walkout.pipeline import run_recordings

# Difficulty groups: (name, shoppers, extra `walkout simulate` options, duration (s): 0 for --duration).
# Seeds 500+ are never used by `walkout train` (its renders use seeds of 1e9 and up) nor by the
# sample scenarios. The store group: a multi-aisle store, 4-6 calibrated cameras and 4-6 shoppers by
# seed (see store_options), 60 s.
GROUPS = (
    ("single", 1, ["--returns", "0.2", "--double-pick", "0.3"], 0.0),
    ("two", 2, ["--returns", "0.25", "--same-shelf", "0.3", "--pixel-noise", "3"], 0.0),
    ("crowded", 3, ["--same-shelf", "0.6", "--crossing", "0.8", "--wrong-return", "0.5", "--lighting-change", "0.3",
                    "--motion-blur", "3", "--jpeg-quality", "60"], 0.0),
    ("store", 0, ["--layout", "store"], 60.0),
)
SIZES = {"single": 8, "two": 8, "crowded": 6, "store": 8}
METRICS = ("product_f1", "attributed_f1", "receipt_accuracy", "fused_product_f1", "fused_attributed_f1",
           "fused_receipt_accuracy", "fused_split_receipts", "fused_cart_f1", "store_f1", "hota", "idf1",
           "global_idf1", "floor_idf1", "realtime_factor")


def store_options(seed: int) -> tuple[int, list[str]]:
    """A store render's shoppers and cameras, 4-6 each, set by its seed."""
    return 4 + (seed // 3) % 3, ["--cameras", str(4 + seed % 3)]


def render(out: Path, seed: int, shoppers: int, options: list[str], duration_s: float) -> Path:
    path = out / f"seed{seed:04d}"
    if not (path / "store.json").is_file():
        code = walkout(["-q", "simulate", str(path), "--seed", str(seed), "--shoppers", str(shoppers),
                        "--duration", str(duration_s), *options])
        if code:
            raise SystemExit(f"rendering {path} failed")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--per-group", type=int, default=0, help="recordings per group (default 8, 8, 6, 8)")
    parser.add_argument("--groups", nargs="+", default=[g[0] for g in GROUPS], choices=[g[0] for g in GROUPS])
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--first-seed", type=int, default=500)
    parser.add_argument("--config", type=Path, default=None, help="pipeline config TOML (as `walkout run --config`)")
    parser.add_argument("--predictions", default="predictions", help="name of the output folder in each group")
    args = parser.parse_args()
    config = load_config(args.config)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    seed = args.first_seed
    rows = []
    for name, shoppers, options, duration_s in GROUPS:
        size = args.per_group or SIZES[name]
        if name not in args.groups:
            seed += size
            continue
        group = args.out / name
        recordings = []
        for _ in range(size):
            count, extra = store_options(seed) if name == "store" else (shoppers, [])
            recordings.append(render(group / "recordings", seed, count, [*options, *extra], duration_s or args.duration))
            seed += 1
        predictions = group / args.predictions
        results = run_recordings(recordings, predictions, config, baselines=(name == "single"))
        for result in results:
            if result.ok:
                fuse_recording(result.recording, result.out_dir, result.out_dir)
        report = run_bench(recordings, predictions, group / ("report" if args.predictions == "predictions" else
                                                            f"{args.predictions}-report"))
        metrics = report.metrics()
        rows.append((name, len(recordings), metrics))
        print(f"{name}: done ({len(recordings)} recordings)", flush=True)
    print_table(rows)


def print_table(rows: list[tuple[str, int, dict]]) -> None:
    """One markdown table: a row per (group, recordings, metrics), the METRICS columns ('–': not measured)."""
    print(f"| group | recordings | {' | '.join(METRICS)} |")
    print("|" + "---|" * (len(METRICS) + 2))
    for name, count, metrics in rows:
        cells = " | ".join(f"{metrics[m]:.3f}" if metrics.get(m) is not None else "–" for m in METRICS)
        print(f"| {name} | {count} | {cells} |")


if __name__ == "__main__":
    main()
