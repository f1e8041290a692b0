"""Two configurations run on the same recordings: how sure is their difference?

Scores both ``--predictions`` names of one or more ``benchmarks/accuracy.py`` outputs (the same renders,
run twice, e.g. ``--predictions img512`` and ``--predictions candidate --config candidate.toml``) and,
per difficulty group, prints each metric for both, the difference and its paired-bootstrap interval
over recordings (walkout/bench/compare.py): a difference whose interval holds 0 is one luck could make.

    python benchmarks/compare.py runs/held46 runs/held1040 --a img512 --b candidate
    python benchmarks/compare.py runs/dev --a predictions --b candidate --groups store --metrics global_idf1

Nothing is written; the runs are scored in this process.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from accuracy import GROUPS

from walkout.bench.compare import DEFAULT_METRICS, difference_table, paired_bootstrap
from walkout.bench.config import BenchConfig
from walkout.bench.score import score_recordings


def group_results(sets: list[Path], group: str, predictions: str, config: BenchConfig) -> list:
    """The bench's per-recording results of ``predictions`` for every recording of ``group`` in ``sets``."""
    results = []
    for root in sets:
        recordings = sorted((root / group / "recordings").glob("seed*"))
        if recordings:
            results += score_recordings(recordings, root / group / predictions, config)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sets", nargs="+", type=Path, help="OUT folders of benchmarks/accuracy.py")
    parser.add_argument("--a", required=True, help="the --predictions NAME of the baseline run")
    parser.add_argument("--b", required=True, help="the --predictions NAME of the run compared with it")
    parser.add_argument("--groups", nargs="+", default=[g[0] for g in GROUPS], choices=[g[0] for g in GROUPS])
    parser.add_argument("--metrics", nargs="+", default=list(DEFAULT_METRICS))
    parser.add_argument("--samples", type=int, default=1000, help="bootstrap draws")
    parser.add_argument("--level", type=float, default=0.9, help="the interval's coverage")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    config = BenchConfig()
    for group in args.groups:
        a = group_results(args.sets, group, args.a, config)
        b = group_results(args.sets, group, args.b, config)
        if not a or not b:
            print(f"{group}: no recordings with both runs\n")
            continue
        try:
            differences = paired_bootstrap(a, b, args.metrics, config, args.samples, args.level)
        except ValueError as error:
            print(f"{group}: {error}\n")
            continue
        print(f"{group} ({differences[0].recordings if differences else 0} recordings, {args.samples} draws)\n")
        print("\n".join(difference_table(differences, args.a, args.b, args.level)) + "\n")


if __name__ == "__main__":
    main()
