"""Accuracy of `walkout run` on freshly rendered recordings the models never saw, by difficulty.

Renders (or reuses) recordings with seeds the training never used, runs the pipeline (and fusion),
and scores each difficulty group with the bench: attributed event F1, receipt accuracy, HOTA, IDF1,
the attribution probability's review rate, unreviewed accuracy and calibration error (ECE; review_rate
and ece: lower is better), the share of truth events lost to each cause of error (fused_wrong_*, the
wrong shopper by identity, association or attribution, and fused_shared_takes; lower is better), where
a store run's identities go wrong (identity_*: shares of matched boxes lost by the camera's tracker or by
the join across cameras; lower is better), and the speed figures. Prints one table; the per-group
reports land in OUT/<group>/report/.

    python benchmarks/accuracy.py --out runs/accuracy            # 8 + 8 + 6 + 8 recordings
    python benchmarks/accuracy.py --out runs/accuracy --per-group 2   # a quick look
    python benchmarks/accuracy.py --out runs/accuracy --groups store  # the multi-camera stores only
    python benchmarks/accuracy.py --out runs/accuracy --config candidate.toml  # other models or settings

With ``--predictions NAME`` the pipeline's outputs go to OUT/<group>/NAME (reports to NAME-report), so
several configurations can be scored on the same renders. OUT/provenance.json records the command, the
commit and the date (benchmarks/results.py puts them beside the figures in docs/RESULTS.md).
"""

from __future__ import annotations

import argparse
import logging
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from formats.tables import write_json_atomic
from walkout.bench import run_bench
from walkout.bench.groups import GROUPS, SIZES, render_and_run
from walkout.config import load_config

METRICS = ("product_f1", "attributed_f1", "receipt_accuracy", "fused_product_f1", "fused_attributed_f1",
           "fused_receipt_accuracy", "fused_unsplit_receipt_accuracy", "fused_split_receipts", "fused_cart_f1",
           "store_f1", "hota", "idf1", "visible_idf1", "global_idf1", "global_visible_idf1", "floor_idf1",
           "review_rate", "unreviewed_accuracy", "ece", "fused_wrong_identity", "fused_wrong_association",
           "fused_wrong_attribution", "fused_shared_takes", "identity_switched", "identity_wrong_join",
           "identity_split_join", "realtime_factor")


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
    write_provenance(args.out, predictions=args.predictions)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    seed = args.first_seed
    rows = []
    for name, *_ in GROUPS:
        size = args.per_group or SIZES[name]
        if name not in args.groups:
            seed += size
            continue
        group = args.out / name
        recordings, predictions = render_and_run(group, name, seed, size, args.duration, config, args.predictions)
        seed += size
        report = run_bench(recordings, predictions, group / ("report" if args.predictions == "predictions" else
                                                            f"{args.predictions}-report"))
        metrics = report.metrics()
        rows.append((name, len(recordings), metrics))
        print(f"{name}: done ({len(recordings)} recordings)", flush=True)
    print_table(rows)


def write_provenance(out: Path, command: str | None = None, **extra) -> Path:
    """OUT/provenance.json: the command line that writes OUT (default: ``python`` + this process's
    arguments), the checkout's commit and whether it had uncommitted changes, and the date (UTC):
    benchmarks/results.py names them beside each figure of docs/RESULTS.md. With ``predictions``, also
    OUT/provenance-<predictions>.json, which a later run into the same OUT with other predictions leaves."""
    root = Path(__file__).resolve().parents[1]
    if command is None:
        argv = list(sys.argv)
        script = Path(argv[0]).resolve() if argv else None
        if script is not None and script.is_relative_to(root):
            argv[0] = str(script.relative_to(root))
        command = shlex.join(["python", *argv])

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    payload = {
        "command": command,
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_changes": bool(git("status", "--porcelain", "--untracked-files=no")),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        **extra,
    }
    out = Path(out)
    if extra.get("predictions"):  # a later run with other --predictions on the same renders keeps this one's
        write_json_atomic(payload, out / f"provenance-{extra['predictions']}.json")
    return write_json_atomic(payload, out / "provenance.json")


def print_table(rows: list[tuple[str, int, dict]]) -> None:
    """One markdown table: a row per (group, recordings, metrics), the METRICS columns ('–': not measured)."""
    print(f"| group | recordings | {' | '.join(METRICS)} |")
    print("|" + "---|" * (len(METRICS) + 2))
    for name, count, metrics in rows:
        cells = " | ".join(f"{metrics[m]:.3f}" if metrics.get(m) is not None else "–" for m in METRICS)
        print(f"| {name} | {count} | {cells} |")


if __name__ == "__main__":
    main()
