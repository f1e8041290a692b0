"""`walkout bench`: score predictions against labelled store recordings.

Library entry point :func:`run_bench`; the CLI (``walkout/commands/bench.py``) is a thin shell.
Parts: :mod:`.events` (event matching and counts), :mod:`.receipts` (carts), :mod:`.tracking`
(HOTA / MOTA / IDF1 through ``trackers.eval``), :mod:`.speed` (run.json timings),
:mod:`.calibration` (the receipt lines' attribution probability: reliability, ECE, review curve),
:mod:`.report` (report.json / report.md / confusion.csv).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from walkout.bench.config import REPORT_VERSION, BenchConfig
from walkout.bench.counts import Counts
from walkout.bench.report import METRICS, BenchReport, write_report
from walkout.bench.score import RecordingResult, score_recording, score_recordings

log = logging.getLogger(__name__)

__all__ = [
    "METRICS",
    "REPORT_VERSION",
    "BenchConfig",
    "BenchReport",
    "Counts",
    "RecordingResult",
    "run_bench",
    "score_recording",
]


def run_bench(
    recordings: Sequence[str | Path],
    predictions_dir: str | Path,
    out_dir: str | Path | None = None,
    config: BenchConfig | None = None,
) -> BenchReport:
    """Score ``predictions_dir/<recording folder name>/`` against each recording's truth.

    Writes ``report.json``, ``report.md`` and ``confusion.csv`` into ``out_dir`` when given.
    A recording that cannot be scored is in ``report.failed`` (and logged); the others go on.
    """
    config = config or BenchConfig()
    report = BenchReport(
        score_recordings([Path(r) for r in recordings], Path(predictions_dir), config), config
    )
    if out_dir is not None:
        paths = write_report(report, Path(out_dir))
        log.info("report written: %s", ", ".join(str(p) for p in paths.values()))
    return report
