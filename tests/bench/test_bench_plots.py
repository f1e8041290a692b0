"""Bench report pictures: PNGs next to report.md, linked by relative paths, each with its data."""

from __future__ import annotations

import re

import pytest

from walkout.bench import run_bench
from walkout.bench.plots import PLOT_FILES, errors_figure, f1_figure, speed_figure

from .conftest import make_recording, two_shopper_tracks

TRUTH = [(0.5, 1, "pick", "a", 1), (2.0, 2, "pick", "b", 2), (4.0, 1, "pick", "c", 1)]
# a right, b with quantity 1 instead of 2, c missed, d extra.
PRED = [(0.7, 7, "pick", "a", 1, "cam0", 7), (2.1, 9, "pick", "b", 1, "cam0", 21), (5.0, 9, "pick", "d", 1, "cam0", 50)]
TIMINGS = {
    "timings": {"cam0": {"frames": 100, "video_s": 10.0, "total_s": 4.0,
                         "stages_s": {"decode": 0.5, "detect": 3.0, "track": 0.3, "events": 0.2}}},
    "baselines": {"decode_only": {"cam0": {"frames": 100, "video_s": 10.0, "total_s": 0.5}}},
}


def gids(fig, gid):
    return [a for ax in fig.axes for a in ax.findobj() if a.get_gid() == gid]


@pytest.fixture
def report(tmp_path):
    kwargs = {"truth_tracks": two_shopper_tracks((1, 2)), "pred_tracks": two_shopper_tracks((7, 9))}
    make_recording(tmp_path, "shop1", TRUTH, PRED, run_info=TIMINGS, **kwargs)
    make_recording(tmp_path, "shop2", TRUTH, PRED[:2] + [(4.1, 7, "pick", "c", 1, "cam0", 41)], run_info=TIMINGS, **kwargs)
    out = tmp_path / "report"
    return run_bench([tmp_path / "recordings"], tmp_path / "predictions", out), out


def test_report_md_links_pngs_that_exist(report):
    _, out = report
    markdown = (out / "report.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    no_probabilities = {"calibration"}  # no receipts.json here: no review curve
    assert sorted(links) == sorted(f for key, f in PLOT_FILES.items() if key not in no_probabilities)
    for link in links:
        assert (out / link).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Each picture sits in its section.
    events, speed = markdown.index("## Events"), markdown.index("## Speed")
    assert events < markdown.index(PLOT_FILES["f1"]) < markdown.index("## Receipts")
    assert speed < markdown.index(PLOT_FILES["speed"])


def test_f1_bars_per_recording_and_overall(report):
    bench, _ = report
    fig = f1_figure(bench)
    bars = gids(fig, "f1_bar")
    assert len(bars) == (2 + 1) * 2  # (shop1, shop2, all) x (product F1, attributed F1); no receipts
    widths = sorted({round(b.get_width(), 6) for b in bars})
    # shop1: 2 matched, 1 extra, 1 missed -> F1 2/3; shop2: all 3 matched -> 1; all: 5 of 6 -> 5/6
    assert widths == [round(2 / 3, 6), round(5 / 6, 6), 1.0]


def test_errors_timeline_has_a_marker_per_error(report):
    bench, _ = report
    fig = errors_figure(bench)
    markers = gids(fig, "error")
    assert len(markers) == sum(len(r.confusion) for r in bench.scored)
    # shop1: c missed at 4.0 s, d extra at 5.0 s, b quantity at 2.1 s; shop2: b quantity only.
    assert sorted(round(float(m.get_xdata()[0]), 3) for m in markers) == [2.1, 2.1, 4.0, 5.0]


def test_speed_bars_per_stage(report):
    bench, _ = report
    fig = speed_figure(bench)
    stages = gids(fig, "stage_bar")
    assert len(stages) == 4 * (2 + 1)  # four stages x (shop1, shop2, all)
    detect_ms = 1000 * 3.0 / 100
    assert sorted({round(b.get_width(), 6) for b in stages}) == sorted(
        round(1000 * s / 100, 6) for s in (0.5, 3.0, 0.3, 0.2)
    )
    assert any(round(b.get_width(), 6) == detect_ms for b in stages)
    assert len(gids(fig, "baseline_bar")) == 1


def test_nothing_to_show_writes_no_plot_and_no_link(tmp_path):
    make_recording(tmp_path, "shop1", TRUTH, None)  # no predicted events, no timings
    out = tmp_path / "report"
    bench = run_bench([tmp_path / "recordings"], tmp_path / "predictions", out)
    assert bench.failed  # no events.csv: this recording fails, nothing is scored
    assert not list(out.glob("*.png"))
    assert ".png" not in (out / "report.md").read_text()
