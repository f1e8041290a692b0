"""Re-fuse existing vision runs with this checkout's fusion: score a fusion change in a minute.

Fusion (`walkout fuse`) reads a run's events.csv, tracks.csv and reaches.csv and the recording's
weights; it never needs the video again. So a change to the fusion rules or to a ``[fuse]`` config
can be scored on sets already run by ``benchmarks/accuracy.py`` without running the cameras again:
each run folder is copied to a new predictions name, fused there, and the groups pooled.

    python benchmarks/refuse.py runs/acc500 runs/acc600 --from predictions --to candidate
    python benchmarks/refuse.py runs/acc500 --from predictions --to loose --config fuse.toml

The source runs are never changed. A recording whose fusion fails is logged (naming it) and left
out; the others go on. Prints the pooled table of ``benchmarks/pool.py`` for the new name; the reports
and provenance.json (this command, the commit, the date) land in ``--out``.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
from pathlib import Path

# benchmarks/accuracy.py and pool.py: this folder is on sys.path
from accuracy import GROUPS, print_table, write_provenance
from pool import pool_group, set_provenance

from formats.errors import FormatError
from fusion.pipeline import FuseConfig, fuse_recording
from walkout.config import load_fuse_config

log = logging.getLogger("refuse")


def refuse_set(root: Path, source: str, target: str, config: FuseConfig | None = None) -> tuple[int, int]:
    """Copy ``root/<group>/<source>/<recording>`` to ``<target>`` and fuse it there, for every group.
    Returns (fused, failed) recording counts."""
    fused = failed = 0
    for name, *_ in GROUPS:
        runs = root / name / source
        if not runs.is_dir():
            continue
        out = root / name / target
        if out.resolve() == runs.resolve():
            raise SystemExit(f"{out}: --to must differ from --from")
        # Built beside the target and renamed into place: an interrupted copy never passes for a run.
        staging = Path(tempfile.mkdtemp(prefix=f".{target}-", dir=root / name))
        for run in sorted(p for p in runs.iterdir() if p.is_dir()):
            recording = root / name / "recordings" / run.name
            shutil.copytree(run, staging / run.name)
            try:
                fuse_recording(recording, staging / run.name, staging / run.name, config)
                fused += 1
            except (FormatError, OSError, ValueError) as error:
                log.error("%s: fusion failed: %s", recording, error)
                shutil.rmtree(staging / run.name)
                failed += 1
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    return fused, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sets", nargs="+", type=Path, help="OUT folders of benchmarks/accuracy.py")
    parser.add_argument("--from", dest="source", default="predictions", help="the runs to re-fuse (--predictions NAME)")
    parser.add_argument("--to", dest="target", required=True, help="predictions name for the re-fused copies")
    parser.add_argument("--config", type=Path, default=None, help="fuse config (TOML/YAML), as `walkout fuse --config`")
    parser.add_argument("--out", type=Path, default=None, help="where the pooled reports go (empty or new)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    config = load_fuse_config(args.config) if args.config else None
    failed = 0
    for root in args.sets:
        failed += refuse_set(root, args.source, args.target, config)[1]
    out = args.out or Path(tempfile.mkdtemp(prefix="walkout-refuse-"))
    write_provenance(out, predictions=args.target, sets=set_provenance(args.sets, args.source))
    print_table([(name, *pool_group(args.sets, name, args.target, out)) for name, *_ in GROUPS])
    print(f"reports: {out}/<group>/report/")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
