"""Score several `benchmarks/accuracy.py` outputs together: one table over all their recordings.

Each set of 22 recordings is too small to tell a real change from luck (one receipt is 4-12 points
of receipt accuracy). This scores the same predictions of several sets as one, per difficulty group:
counts are summed over all recordings by the bench, never averaged over sets (and the receipt lines'
attribution probabilities are pooled line by line for review_rate, unreviewed_accuracy and ece).

    python benchmarks/pool.py --predictions predictions runs/acc500 runs/acc600 runs/acc700

Recording folder names must be unique across the sets (accuracy.py names them by seed). The pooled
reports land in ``--out`` (default: a temporary folder), with provenance.json (this command, the commit,
the date, and the provenance of each set: benchmarks/results.py reads them for docs/RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from pathlib import Path

# benchmarks/accuracy.py and pool.py: this folder is on sys.path
from accuracy import GROUPS, print_table, write_provenance

from walkout.bench import run_bench


def pool_group(sets: list[Path], group: str, predictions: str, out: Path) -> tuple[int, dict]:
    """Link every recording of ``group`` (and its predictions) from ``sets`` into ``out``; bench them."""
    recordings = []
    for root in sets:
        for recording in sorted((root / group / "recordings").glob("seed*")):
            predicted = root / group / predictions / recording.name
            if not predicted.is_dir():
                logging.warning("%s: no predictions in %s", recording, predicted.parent)
                continue
            for sub, target in (("recordings", recording), ("predictions", predicted)):
                link = out / group / sub / recording.name
                if link.exists() or link.is_symlink():
                    raise SystemExit(f"{link}: recording name used twice across the sets")
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(target.resolve())
            recordings.append(out / group / "recordings" / recording.name)
    if not recordings:
        return 0, {}
    report = run_bench(recordings, out / group / "predictions", out / group / "report")
    return len(recordings), report.metrics()


def set_provenance(sets: list[Path], predictions: str | None = None) -> dict[str, dict]:
    """Each set's provenance (the command that rendered and ran it), by folder; {} when it has none: its
    provenance-<predictions>.json when there is one (several runs share the renders), else provenance.json."""
    out = {}
    for root in sets:
        path = root / f"provenance-{predictions}.json"
        if predictions is None or not path.is_file():
            path = root / "provenance.json"
        try:
            out[str(root)] = json.loads(path.read_text()) if path.is_file() else {}
        except ValueError:
            out[str(root)] = {}
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sets", nargs="+", type=Path, help="OUT folders of benchmarks/accuracy.py")
    parser.add_argument("--predictions", default="predictions", help="the --predictions NAME of those runs")
    parser.add_argument("--out", type=Path, default=None, help="where the pooled reports go (empty or new)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    out = args.out or Path(tempfile.mkdtemp(prefix="walkout-pool-"))
    write_provenance(out, predictions=args.predictions, sets=set_provenance(args.sets, args.predictions))
    print_table([(name, *pool_group(args.sets, name, args.predictions, out)) for name, *_ in GROUPS])
    print(f"reports: {out}/<group>/report/")


if __name__ == "__main__":
    main()
