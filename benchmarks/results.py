"""docs/RESULTS.md from benchmark outputs on disk: accuracy per difficulty group, speed and real footage,
each figure beside the command, commit and seeds that produced it.

    python benchmarks/results.py --out docs/RESULTS.md --set H --set S --aifi runs/aifi
    python benchmarks/results.py --out docs/RESULTS.md --quick runs/quick    # also run the quick benchmarks

Nothing is re-run by default: hours of rendering and running are read back from what they wrote.

- ``--set DIR`` (repeat; the first is the headline): an OUT folder of ``benchmarks/accuracy.py``, or the
  ``--out`` of ``benchmarks/pool.py`` / ``benchmarks/refuse.py``: ``DIR/<group>/report/report.json`` per
  difficulty group and ``DIR/provenance.json`` (the command, commit and date; those scripts write it).
  ``LABEL=DIR`` names the set (default: its provenance's ``label``, else the folder name).
- ``--aifi DIR``: the OUT folder of ``bash benchmarks/aifi/run.sh`` (the real ceiling camera).
- ``--speed [LABEL=]DIR`` (repeat): the OUT folder of ``benchmarks/speed.py`` (its speed.json and provenance.json).
- ``--headline-store N``: the headline's store row comes from the N-th ``--set`` (1-based) instead of the
  first (a change that only stores can see, scored on stores alone, with the one-camera rows kept).
- ``--readme README.md``: also write the speed runs' short table (one line per ``--speed`` run) into the
  README, between its speed table markers.
- ``--archive DIR`` (docs/results): first copy what the command reads (each report's metrics, recordings
  and speed; provenance.json; speed.json; the AiFi events) into DIR, one folder per input, and read it
  from there: the command written at the top then names only the copies, so the file can be made again
  on any checkout after the scratch folders are gone.
- ``--quick OUT``: first runs ``benchmarks/accuracy.py --out OUT/accuracy --per-group 2`` (2 recordings per
  group, about 20 minutes on 2 cores) and, when the AiFi data is there, ``benchmarks/aifi/run.sh OUT/aifi``,
  and includes them.

The command written at the top of the file is this one, with its arguments as given.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from formats.tables import write_json_atomic, write_text_atomic  # noqa: E402
from walkout.bench.groups import GROUPS  # noqa: E402
from walkout.bench.report import LOWER_IS_BETTER, METRICS  # noqa: E402

# Columns of the accuracy tables: (metric, header). A column none of a table's rows has is left out.
ACCURACY_COLUMNS = (
    ("product_f1", "vision: product F1"),
    ("attributed_f1", "vision: attributed F1"),
    ("fused_product_f1", "fused: product F1"),
    ("fused_attributed_f1", "fused: attributed F1"),
    ("fused_receipt_accuracy", "fused: receipt accuracy"),
    ("fused_unsplit_receipt_accuracy", "fused: receipt accuracy, split = wrong"),
    ("fused_cart_f1", "fused: cart F1"),
    ("review_rate", "review rate"),
    ("unreviewed_accuracy", "unreviewed accuracy"),
    ("budget_unreviewed_accuracy", "unreviewed accuracy, 5 % least probable reviewed"),
    ("ece", "ECE"),
    ("fused_wrong_identity", "wrong shopper: identity"),
    ("fused_wrong_association", "wrong shopper: association"),
    ("fused_wrong_attribution", "wrong shopper: attribution"),
    ("fused_shared_takes", "missed: shared take"),
    ("hota", "HOTA"),
    ("idf1", "IDF1"),
    ("visible_idf1", "IDF1 of visible boxes"),
    ("global_idf1", "global IDF1"),
    ("global_visible_idf1", "global IDF1 of visible boxes"),
    ("floor_idf1", "floor IDF1"),
    ("identity_switched", "boxes lost: camera track switched"),
    ("identity_wrong_join", "boxes lost: wrong join"),
    ("identity_split_join", "boxes lost: split join"),
)
HEADLINE_COLUMNS = (
    ("fused_attributed_f1", "attributed F1"),
    ("fused_receipt_accuracy", "receipt accuracy"),
    ("review_rate", "sent to review"),
    ("idf1", "IDF1"),
)
GROUP_TEXT = {
    "single": "one shopper",
    "two": "two shoppers, some at the same shelf, returns, pixel noise",
    "crowded": "three shoppers at one shelf, crossing paths, wrong-plate returns, lighting change, blur, JPEG",
    "store": "a multi-aisle store: 4-6 calibrated ceiling cameras, 4-6 shoppers, 60 s",
}


@dataclass
class GroupResult:
    """One difficulty group of a set: its report.json's metrics, recordings and speed."""

    name: str
    recordings: list[str]
    metrics: dict[str, float]
    speed: dict = field(default_factory=dict)


@dataclass
class ResultSet:
    """One benchmark output folder: label, provenance and its groups in GROUPS order."""

    label: str
    path: Path
    provenance: dict
    groups: list[GroupResult]


# ------------------------------------------------------------------------------------------- reading


def read_report(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"{path}: not a readable report.json ({exc})") from None


def read_provenance(folder: Path) -> dict:
    """FOLDER/provenance.json (the command, commit and date a benchmark script wrote), or {} without one."""
    path = folder / "provenance.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def group_result(name: str, report: dict) -> GroupResult:
    recordings = [r.get("name", "") for r in report.get("recordings", []) if r.get("status", "ok") != "failed"]
    speed = (report.get("overall") or {}).get("speed") or {}
    return GroupResult(name, recordings, report.get("metrics") or {}, speed)


def read_set(spec: str) -> ResultSet:
    """``DIR`` or ``LABEL=DIR``: the groups with a report (DIR/<group>/report/report.json) and provenance."""
    label, _, where = spec.rpartition("=") if "=" in spec else ("", "", spec)
    path = Path(where)
    if not path.is_dir():
        raise SystemExit(f"{path}: no such folder (give an OUT of benchmarks/accuracy.py, pool.py or refuse.py)")
    provenance = read_provenance(path)
    groups = []
    for name, *_ in GROUPS:
        report = path / name / "report" / "report.json"
        if report.is_file():
            result = group_result(name, read_report(report))
            if result.recordings:
                groups.append(result)
    if not groups:
        raise SystemExit(f"{path}: no <group>/report/report.json with scored recordings")
    return ResultSet(label or provenance.get("label") or path.name, path, provenance, groups)


def seed_ranges(names: list[str]) -> str:
    """``seed31000`` ... names as ranges: ``31000-31007, 31010``; other names listed as they are."""
    seeds = sorted(int(m[1]) for n in names if (m := re.fullmatch(r"seed(\d+)", n)))
    others = sorted(n for n in names if not re.fullmatch(r"seed\d+", n))
    ranges: list[str] = []
    for seed in seeds:
        if ranges and seed == int(ranges[-1].split("-")[-1]) + 1:
            ranges[-1] = f"{ranges[-1].split('-')[0]}-{seed}"
        else:
            ranges.append(str(seed))
    return ", ".join(ranges + others)


# ------------------------------------------------------------------------------------------- writing


def fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(row) + " |" for row in rows)]


def provenance_lines(result: ResultSet) -> list[str]:
    """How a set was made: its command(s), commit and date, and the seeds of each group."""
    p = result.provenance
    out = []
    for source, made in (p.get("sets") or {}).items():
        if made.get("command"):
            out.append(f"- rendered and run by `{made['command']}` ({_commit(made)}), as `{source}`")
    if p.get("made_by"):
        out += [f"- {line}" for line in p["made_by"]]
    if p.get("command"):
        out.append(f"- {'then ' if p.get('made_by') or p.get('sets') else 'made by '}`{p['command']}` ({_commit(p)})")
    else:
        out.append(f"- read from `{result.path}` (no provenance.json: the command was not recorded)")
    seeds = "; ".join(f"{g.name} {seed_ranges(g.recordings)}" for g in result.groups)
    out.append(f"- seeds: {seeds}")
    if p.get("note"):
        out.append(f"- {p['note']}")
    return out


def _commit(p: dict) -> str:
    commit = p.get("commit") or "commit unknown"
    dirty = " with uncommitted changes" if p.get("uncommitted_changes") else ""
    return f"commit {commit}{dirty}, {p.get('date', 'date unknown')}"


def accuracy_section(sets: list[ResultSet]) -> list[str]:
    out = ["## Accuracy on the mock store", "",
           "*Vision* scores `events.csv` (the cameras alone); *fused* scores `receipts.json` (vision checked "
           "against the shelf weights: what a store would bill). Counts are pooled over all recordings of a "
           "group, never averaged over sets.", ""]
    for result in sets:
        columns = [(m, h) for m, h in ACCURACY_COLUMNS if any(m in g.metrics for g in result.groups)]
        rows = [[g.name, str(len(g.recordings)), *(fmt(g.metrics.get(m)) for m, _ in columns)] for g in result.groups]
        out += [f"### {result.label}", "", *provenance_lines(result), ""]
        out += table(["group", "recordings", *(h for _, h in columns)], rows) + [""]
    return out


def headline_section(sets: list[ResultSet], store: ResultSet | None) -> list[str]:
    first = sets[0]
    groups = list(first.groups)
    if store is not None and store is not first:
        stores = [g for g in store.groups if g.name == "store"]
        groups = [g for g in groups if g.name != "store"] + stores
    rows = [[g.name, str(len(g.recordings)), *(fmt(g.metrics.get(m)) for m, _ in HEADLINE_COLUMNS)] for g in groups]
    out = ["## Headline", "",
           f"Fused receipts (vision + shelf weights) with today's defaults, from \"{first.label}\""
           + (f" (the store row from \"{store.label}\")" if store is not None and store is not first else "")
           + " below.", ""]
    return out + table(["group", "recordings", *(h for _, h in HEADLINE_COLUMNS)], rows) + [""]


def speed_section(sets: list[ResultSet]) -> list[str]:
    out = ["## Speed", ""]
    measured = [(s, g) for s in sets for g in s.groups if g.speed.get("measured") and g.speed.get("baselines")]
    if not measured:
        return out + ["No set here was run with `--baselines` (accuracy.py runs the single group with them).", ""]
    out += ["`walkout run` on 2 CPU cores, no GPU, timed inside the run (run.json) with ultralytics' own "
            "`model.track()` loop over the same videos and detector, in the same process, as the baseline. "
            "Wall-clock figures move with the machine's load (other jobs shared it); the ratio to "
            "`model.track()`, measured alongside, moves less; a quiet-machine figure is under \"Earlier measurements\".", ""]
    rows = []
    stage_times: list[tuple[str, int, dict]] = []
    seen = set()
    for result, group in measured:
        total = group.speed.get("total") or {}
        if (total.get("frames"), total.get("total_s")) in seen:  # the same vision runs, re-fused
            continue
        seen.add((total.get("frames"), total.get("total_s")))
        track = (group.speed.get("baselines") or {}).get("ultralytics_track") or {}
        ratio = total.get("fps") / track["fps"] if total.get("fps") and track.get("fps") else None
        rows.append([f"{result.label}: {group.name}", str(total.get("frames", "–")), fmt(total.get("fps"), 1),
                     fmt(total.get("realtime_factor"), 2), fmt(track.get("fps"), 1), fmt(ratio, 2)])
        frames = total.get("frames") or 0
        if frames:
            stage_times.append((f"{result.label}: {group.name}", frames, total.get("stages_s") or {}))
    out += table(["set: group", "frames", "frames/s", "× real time (10 fps camera)", "`model.track()` frames/s",
                  "ours / `model.track()`"], rows) + [""]
    stages = present_stages([times for _, _, times in stage_times])
    stage_rows = [[label, *(fmt(1000 * times[s] / frames, 2) if s in times else "–" for s in stages)]
                  for label, frames, times in stage_times]
    out += ["Milliseconds per frame by stage:", ""]
    out += table(["set: group", *stages], stage_rows) + [""]
    return out


def read_speed_run(spec: str) -> tuple[str, dict, dict]:
    """(label, speed.json, provenance.json or {}) of a ``[LABEL=]DIR`` of ``benchmarks/speed.py``."""
    label, _, folder = spec.rpartition("=")
    path = Path(folder)
    data = json.loads((path / "speed.json").read_text())
    return label, data, read_provenance(path)


def row_speed(row: dict | None) -> tuple[float | None, float | None]:
    """(frames/s, x real time) of a speed.json row."""
    if not row or not row.get("seconds"):
        return None, None
    return row["frames"] / row["seconds"], (row["video_s"] / row["seconds"] if row.get("video_s") else None)


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


@dataclass(frozen=True)
class SpeedRows:
    """The rows of a speed.json the summaries compare (None where the run did not measure them): walkout
    as it runs by default (the last "skip idle on" row), ``model.track()``, the backend as before the
    speed work, the empty aisle and the shopper recordings it is compared with, and the ``walkout run``
    command in a new process (start-up counted)."""

    now: dict | None
    track: dict | None
    before: dict | None
    idle: dict | None
    busy: dict | None
    command: dict | None

    @classmethod
    def of(cls, data: dict) -> SpeedRows:
        rows = data.get("rows", [])
        return cls(now=next((r for r in reversed(rows) if r["name"].endswith("skip idle on")), None),
                   track=next((r for r in rows if r["name"] == "model.track() .pt"), None),
                   before=next((r for r in rows if "as before the speed work" in r["name"]), None),
                   idle=data.get("empty_aisle"),
                   busy=next((r for r in rows if r["name"] == data.get("idle_compared_with")), None),
                   command=next((r for r in rows if r["name"].startswith("walkout run command")), None))

    @property
    def idle_ratio(self) -> float | None:
        """An empty aisle's frames/s over the shopper recordings' (without skipping)."""
        return ratio(row_speed(self.idle)[0], row_speed(self.busy)[0])


def speed_headline(specs: list[str]) -> list[str]:
    """One line per ``benchmarks/speed.py`` run: walkout as it runs by default (the last "skip idle on"
    row), its x real time, the ``walkout run`` command's x real time in a new process (start-up counted),
    and its ratios to `model.track()`, to the backend as before the speed work and (an empty aisle) to its
    frames with shoppers, where the run measured them."""
    rows_out = []
    for spec in specs:
        label, data, _ = read_speed_run(spec)
        named = SpeedRows.of(data)
        fps, realtime = row_speed(named.now)
        idle = named.idle_ratio
        rows_out.append([label or ", ".join(Path(r).name for r in data.get("recordings", [])), fmt(fps, 1),
                         fmt(realtime, 2), fmt(row_speed(named.command)[1], 2), fmt(ratio(fps, row_speed(named.track)[0]), 2),
                         fmt(ratio(realtime, row_speed(named.before)[1]), 2),
                         f"{idle:.1f}x cheaper" if idle else "–"])
    return table(["recordings (2 cores, one process)", "frames/s", "× real time", "× real time, a new process",
                  "× `model.track()`",
                  "× as before the speed work", "an idle frame"], rows_out)


def speed_runs_section(specs: list[str]) -> list[str]:
    """The tables of ``benchmarks/speed.py`` runs (``[LABEL=]DIR``: DIR/speed.json and DIR/provenance.json):
    every row's frames/s, real-time factor and ratio to ``model.track()``, measured in one process."""
    if not specs:
        return []
    out = ["### Speed by stage of the speed work (`benchmarks/speed.py`)", "",
           "In one process, in turn on the same recordings: decoding alone, ultralytics' `model.track()` "
           "with the .pt detector in PyTorch (as a user runs it: ultralytics gives torch cores - 1 threads; a "
           "second row with torch on every core, for reference), and `walkout run` end to end with idle-frame "
           "skipping off or on, and the `walkout run` command in a new process per recording (its start, imports "
           "and model loading counted). × real time: the recordings' seconds over wall seconds (a recording of several "
           "cameras counts its duration once, so >= 1 keeps up with all its cameras). Ratios against "
           "`model.track()` as a user runs it. In short (README.md shows this table):", ""]
    out += speed_headline(specs) + [""]
    for spec in specs:
        label, data, provenance = read_speed_run(spec)
        recordings = [Path(r).name for r in data.get("recordings", [])]
        made = f"`{provenance.get('command') or data.get('command')}`"
        if provenance.get("commit"):
            made += f" (commit {provenance['commit']}, {provenance.get('date', '')})"
        out += [f"- {label + ': ' if label else ''}made by {made}: {', '.join(recordings)}, "
                f"{data.get('repeats')} round(s)", ""]
        named = SpeedRows.of(data)
        track_fps, _ = row_speed(named.track)
        table_rows = []
        for row in data.get("rows", []):
            fps, realtime = row_speed(row)
            skipped = f"{row['skipped'] / row['frames']:.0%}" if row["name"].startswith("walkout") and row["frames"] else "–"
            table_rows.append([row["name"], str(row["frames"]), fmt(fps, 1), fmt(realtime, 2),
                               fmt(ratio(fps, track_fps), 2), skipped])
        out += table(["run", "frames", "frames/s", "× real time", "× `model.track()`", "idle frames skipped"],
                     table_rows) + [""]
        if named.idle_ratio:
            out += [f"An empty aisle (nobody in view) runs {named.idle_ratio:.1f}x as fast as the shopper recordings "
                    f"without skipping ({named.busy['name']}).", ""]
        (_, then), (_, today) = row_speed(named.before), row_speed(named.now)
        if then and today:
            out += [f"{named.now['name']}: {today:.2f}x real time, {today / then:.2f}x {named.before['name']} "
                    f"({then:.2f}x real time).", ""]
    return out


README_SPEED = ("<!-- speed table: benchmarks/results.py --readme -->", "<!-- end of speed table -->")


def update_readme(path: Path, specs: list[str]) -> None:
    """Replace the README's speed table (between the :data:`README_SPEED` markers) by :func:`speed_headline`."""
    text = path.read_text()
    start, end = README_SPEED
    if start not in text or end not in text:
        raise SystemExit(f"{path}: no speed table markers ({start} ... {end}) to write between")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    block = [start, *speed_headline(specs), "",
             "Made by `benchmarks/results.py --readme README.md` with the command at the top of "
             "[docs/RESULTS.md](docs/RESULTS.md), which gives each run's own command, commit and recordings.", end]
    path.write_text(head + "\n".join(block) + tail)


# The stages of run.json's stages_s in the order a camera runs them: decode, motion, detect, track,
# hands and events always; hand_model (after detect), reaching, reid, held (after track) and classify
# (before hands) when they run.
STAGE_ORDER = ("decode", "motion", "detect", "hand_model", "track", "reaching", "reid", "held", "classify", "hands", "events")


def present_stages(timings: list[dict]) -> list[str]:
    """The stages any of these ``stages_s`` has, in :data:`STAGE_ORDER` (a stage it does not know after)."""
    present = {stage for times in timings for stage in times}
    return [s for s in STAGE_ORDER if s in present] + sorted(present - set(STAGE_ORDER))


def aifi_section(path: Path | None) -> list[str]:
    out = ["## Real footage (AiFi)", ""]
    if path is None:
        return out + ["Not included in this run of the command (`--aifi DIR`, the OUT of "
                      "`bash benchmarks/aifi/run.sh`).", ""]
    report = read_report(path / "report" / "report.json")
    metrics = report.get("metrics") or {}
    provenance = read_provenance(path)
    events = sorted((path / "run").glob("*/events.csv"))
    speed = ((report.get("overall") or {}).get("speed") or {}).get("total") or {}
    out += ["The AiFi ceiling camera cam6 of `aifi-cps-test-2` (`../shared/data`), 393 frames at 10 fps, with the "
            "offline MediaPipe backend, the zones of `benchmarks/aifi/cam6_zones.json` and "
            "`benchmarks/aifi/walkout.toml` (held items from the reach: an assumption, not a measurement).", "",
            f"- made by `{provenance.get('command', 'bash benchmarks/aifi/run.sh OUT')}`"
            + (f" ({_commit(provenance)})" if provenance else f" (read from `{path}`)"), ""]
    out += table(["product precision", "product recall", "product F1", "attributed F1", "frames/s"],
                 [[fmt(metrics.get("product_precision")), fmt(metrics.get("product_recall")),
                   fmt(metrics.get("product_f1")), fmt(metrics.get("attributed_f1")), fmt(speed.get("fps"), 1)]])
    out.append("")
    for csv in events:
        lines = csv.read_text().strip().splitlines()[1:]
        out.append(f"Predicted events ({len(lines)}):")
        out.append("")
        out += [f"- `{line}`" for line in lines] + [""]
    out += ["Of the three labelled picks only the first (Kettle Chips Jalapeno, G2S6 plates 8-9, at 16.0 s) is in "
            "this camera's view; the other two are out of view, so recall cannot exceed 1/3. Attributed scores are "
            "0 because the recording has no truth tracks to map shopper ids to. One visible pick found at the right "
            "product, shelf, plates and time shows the wiring works on real footage; it is not an accuracy figure.", ""]
    return out


def groups_section() -> list[str]:
    out = ["## The difficulty groups", "",
           "Rendered by the mock store (`walkout.bench.groups`; `walkout simulate` options as listed), 20 s each "
           "unless said; seeds 500 and up are never used by `walkout train` for the vision models (its renders use "
           "seeds of 1e9 and up); the attribution model's training seeds are listed in models/attribution.md and "
           "are none of the held-out seeds here.", ""]
    rows = [[name, str(shoppers) if shoppers else "4-6", f"`{' '.join(options)}`", f"{duration or 20:g} s",
             GROUP_TEXT.get(name, "")] for name, shoppers, options, duration in GROUPS]
    return out + table(["group", "shoppers", "options", "duration", "what"], rows) + [""]


def metrics_section() -> list[str]:
    out = ["## What the metrics mean", "",
           "From `walkout bench` (`walkout/bench/report.py`); an event matches a truth event of the same action and "
           "product within 1.5 s.", ""]
    names = [m for m, _ in ACCURACY_COLUMNS] + ["product_f1", "receipt_accuracy", "fused_split_receipts",
                                                 "realtime_factor"]
    described = {**METRICS, **LOWER_IS_BETTER}
    rows = [[f"`{n}`", described[n] + (" (lower is better)" if n in LOWER_IS_BETTER else "")]
            for n in dict.fromkeys(names) if n in described]
    return out + table(["metric", "meaning"], rows) + [""]


EARLIER = """## Earlier measurements still in force

Measured on earlier releases, with the detector at imgsz 416 (the default until session 24) and the other
vision stages unchanged since (the fusion figures of the rule chain that the attribution model replaced are in
the git history of README.md, not repeated here):

- **Earlier tables.** The held-out tables of earlier sessions (one-camera seeds 31000-35021, stores 9400-9507,
  the detector-confidence and attribution-refit trials, the speed runs before session 19) are in the git history
  of this file (up to commit e2aa19a); their benchmark folders were not kept, so they are not re-made here. The
  per-set tables of sessions 19-23 (one-camera 36000-40021, stores 9600-10007, at imgsz 416) are in its history
  up to commit 0774c05 and pooled below.
- **Sets are small.** One set of 22 recordings is too small to tell a change from luck: one receipt moves
  receipt accuracy by 4-17 points. Compare configurations on the same renders (`accuracy.py --predictions
  NAME`, `refuse.py`) and pool several sets (`pool.py`).
- **Vision alone is not enough.** The held-item classifier names one product per hand, so an item picked
  into an already full hand is missed or miscounted (with held items named perfectly, one-shopper attributed
  F1 would be 0.96, development seeds 500+); in multi-shopper scenes hands are missed or attached to the
  wrong shopper. The weights say what and when; vision says who.
- **The taker's hand is mostly hidden.** Of the 94 two-shopper and 105 crowded events of seeds 500, 600 and
  700, the reaching hand was at least 35 % visible within half a second in only 40 % and 42 %. With perfect
  "who reached the changed plates" evidence (truth reaches in place of `reaches.csv`), fusion of then scored
  attributed F1 0.995 / receipts 0.979 (two) and 0.916 / 0.769 (crowded): who reached is the missing signal.
  An experimental arm/wrist stage did not improve the fused figures and was removed (models/README.md keeps
  the recipe).
- **Identity repair (`[reid]`).** Decoding who is who through each contact (Viterbi over the tracks'
  assignments by colour), splitting an id that slid onto another shopper and relinking a shopper lost for a
  moment raised crowded IDF1 from 0.794 to 0.841 and 0.807 to 0.857, two shoppers 0.916 to 0.921 and 0.904 to
  0.911, on the dumped tracker output of 84 development and 162 held-out recordings (seeds 500-1200 and
  3100-4600). `[reid] enabled = false` turns it off.
- **Tracker.** `[tracking] method = "ocsort"` (OC-SORT) tracked worse than the default ByteTrack on seeds
  500-521 (HOTA 0.583 / 0.463 / 0.363 and IDF1 0.824 / 0.668 / 0.539 for single / two / crowded, against
  0.700 / 0.572 / 0.497 and 0.926 / 0.750 / 0.697, both without the identity repair).
- **Speed on a quiet machine.** One-shopper seeds 1300-1307 and 1400-1407 (`walkout run --baselines`, then
  `walkout bench`; 3200 frames, 2 cores, no other jobs): 54.6 frames/s end to end, 5.5x real time for a
  10 fps camera, 1.11x ultralytics' own `model.track()` loop on the same videos and detector (49.0 frames/s),
  which finds no hands or events; the detectors ran at 68.9 frames/s, tracking with the identity repair took
  0.52 ms a frame and events 0.15 ms. Other runs on this machine gave 41.6 to 65.2 frames/s with its load.
- **Cost of the reach classifier** (`[reaching]`): about 3 ms a frame with three shoppers (one batched call per
  8 frames; crowded seeds 1900-1921). Fusing a 20 s recording takes 0.1-0.3 s.
"""


def run_quick(out: Path) -> tuple[Path, Path | None]:
    """Run the quick benchmarks into OUT: accuracy.py with 2 recordings per group, and the AiFi camera
    when its data is there. Returns (accuracy OUT, AiFi OUT or None)."""
    accuracy = out / "accuracy"
    subprocess.run([sys.executable, str(HERE / "accuracy.py"), "--out", str(accuracy), "--per-group", "2"],
                   check=True, cwd=ROOT)
    data = ROOT.parent / "shared" / "data" / "aifi-cps-test-2"
    if not (data / "store.json").is_file():
        print(f"no AiFi data at {data}: the real-footage benchmark is left out", file=sys.stderr)
        return accuracy, None
    aifi = out / "aifi"
    subprocess.run(["bash", str(HERE / "aifi" / "run.sh"), str(aifi)], check=True, cwd=ROOT,
                   env={**os.environ, "PYTHON": sys.executable})
    from accuracy import write_provenance

    write_provenance(aifi, command=shlex.join(["bash", "benchmarks/aifi/run.sh", str(aifi)]))
    return accuracy, aifi


def render(sets: list[ResultSet], aifi: Path | None, command: str, store: ResultSet | None = None,
           speed_runs: list[str] | None = None) -> str:
    store = store or next((s for s in sets if any(g.name == "store" for g in s.groups)), None)
    out = [
        "# Results",
        "",
        f"Generated by `{command}`; do not edit by hand. It reads the "
        "benchmark outputs named below (nothing is re-run); each table says the command, commit and seeds "
        "that produced it. README.md shows the headline; CHANGELOG.md what changed for users.",
        "",
        "Everything below the headline is on the mock store (`walkout simulate`: synthetic renders, exact "
        "truth) except the real-footage section. The shipped models were trained on mock-store renders only.",
        "",
    ]
    out += headline_section(sets, store)
    out += accuracy_section(sets)
    out += speed_section(sets)
    out += speed_runs_section(speed_runs or [])
    out += aifi_section(aifi)
    out += groups_section()
    out += metrics_section()
    out += EARLIER.splitlines() + [""]
    return "\n".join(out).rstrip() + "\n"


# ------------------------------------------------------------------------------------------- archiving


def slug(text: str) -> str:
    """A folder name for a label: lower case, words joined by '-', at most 60 characters."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60].rstrip("-") or "set"


def origin(provenance: dict, path: Path, dest: Path) -> str:
    """Where an archived input came from: ``path``, or, when ``path`` is itself a copy in ``dest`` (the
    command run again on its archive), the origin that copy recorded."""
    inside = Path(path).resolve().is_relative_to(Path(dest).resolve())
    return str(provenance.get("archived_from", path)) if inside else str(path)


def archive_set(result: ResultSet, dest: Path) -> str:
    """Copy what :func:`read_set` used of ``result`` into DEST/<slug of its label>; returns its new spec."""
    folder = dest / slug(result.label)
    write_json_atomic({**result.provenance, "label": result.label,
                       "archived_from": origin(result.provenance, result.path, dest)}, folder / "provenance.json")
    for group in result.groups:
        write_json_atomic({"metrics": group.metrics, "recordings": [{"name": name} for name in group.recordings],
                           "overall": {"speed": group.speed}}, folder / group.name / "report" / "report.json")
    return f"{result.label}={folder}"


def speed_run_folder(spec: str) -> str:
    """The archive folder name of a ``[LABEL=]DIR`` speed run: its label's slug, else its folder's."""
    label, _, folder = spec.rpartition("=")
    return slug(label or Path(folder).name)


def archive_speed_run(spec: str, dest: Path) -> str:
    label, data, provenance = read_speed_run(spec)
    folder = dest / speed_run_folder(spec)
    write_json_atomic(data, folder / "speed.json")
    write_json_atomic({**provenance, "archived_from": origin(provenance, Path(spec.rpartition("=")[2]), dest)},
                      folder / "provenance.json")
    return f"{label}={folder}" if label else str(folder)


AIFI_FOLDER = "aifi"  # the archive folder of the AiFi run


def archive_aifi(path: Path, dest: Path) -> Path:
    folder = dest / AIFI_FOLDER
    report = read_report(path / "report" / "report.json")
    write_json_atomic({"metrics": report.get("metrics") or {}, "overall": {"speed": (report.get("overall") or {}).get("speed")}},
                      folder / "report" / "report.json")
    provenance = read_provenance(path)
    write_json_atomic({**provenance, "archived_from": origin(provenance, path, dest)}, folder / "provenance.json")
    for events in sorted((path / "run").glob("*/events.csv")):
        write_text_atomic(events.read_text(), folder / "run" / events.parent.name / "events.csv")
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="the markdown file to write (docs/RESULTS.md)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="[LABEL=]DIR",
                        help="a benchmark output folder (accuracy.py OUT, pool.py/refuse.py --out); the first is the "
                             "headline")
    parser.add_argument("--aifi", type=Path, default=None, help="the OUT folder of bash benchmarks/aifi/run.sh")
    parser.add_argument("--speed", dest="speed_runs", action="append", default=[], metavar="[LABEL=]DIR",
                        help="the --out folder of a benchmarks/speed.py run (repeat)")
    parser.add_argument("--readme", type=Path, default=None, metavar="README",
                        help="also write the --speed runs' short table into README between its speed table markers")
    parser.add_argument("--quick", type=Path, default=None, metavar="OUT",
                        help="first run the quick benchmarks into OUT (accuracy.py --per-group 2, the AiFi camera)")
    parser.add_argument("--headline-store", type=int, default=None, metavar="N",
                        help="the headline's store row from the N-th --set (1-based) instead of the first")
    parser.add_argument("--archive", type=Path, default=None, metavar="DIR",
                        help="copy the inputs into DIR (docs/results) and read them from there")
    args = parser.parse_args(argv)
    command = shlex.join(["python", "benchmarks/results.py", *(sys.argv[1:] if argv is None else argv)])
    aifi = args.aifi
    specs = list(args.sets)
    if args.quick is not None:
        accuracy, quick_aifi = run_quick(args.quick)
        specs.append(f"quick check (2 recordings per group)={accuracy}")
        aifi = aifi or quick_aifi
    if not specs:
        parser.error("give at least one --set DIR (or --quick OUT)")
    sets = [read_set(spec) for spec in specs]
    speed_runs = list(args.speed_runs)
    if args.archive is not None:
        folders = [slug(result.label) for result in sets]
        folders += [speed_run_folder(spec) for spec in speed_runs]
        folders += [AIFI_FOLDER] if aifi is not None else []
        twice = sorted({name for name in folders if folders.count(name) > 1})
        if twice:  # one folder for two inputs: the later copy would silently replace the earlier one
            parser.error(f"--archive: labels that make the same folder name {', '.join(twice)} (a label's first "
                         f"60 characters, in lower case, name its copy): make them differ")
        specs = [archive_set(result, args.archive) for result in sets]
        speed_runs = [archive_speed_run(spec, args.archive) for spec in speed_runs]
        aifi = archive_aifi(aifi, args.archive) if aifi is not None else None
        sets = [read_set(spec) for spec in specs]
        command = shlex.join(["python", "benchmarks/results.py", "--out", str(args.out),
                              *(x for spec in specs for x in ("--set", spec)),
                              *(["--headline-store", str(args.headline_store)] if args.headline_store else []),
                              *(["--aifi", str(aifi)] if aifi is not None else []),
                              *(x for spec in speed_runs for x in ("--speed", spec)),
                              *(["--readme", str(args.readme)] if args.readme is not None else [])])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    store = None
    if args.headline_store is not None:
        if not 1 <= args.headline_store <= len(sets) or not any(g.name == "store" for g in sets[args.headline_store - 1].groups):
            parser.error(f"--headline-store {args.headline_store}: needs the number of a --set with a store group "
                         f"(1 to {len(sets)})")
        store = sets[args.headline_store - 1]
    args.out.write_text(render(sets, aifi, command, store=store, speed_runs=speed_runs))
    if args.readme is not None:
        update_readme(args.readme, speed_runs)
    print(f"wrote {args.out}: {len(sets)} set(s){', AiFi' if aifi else ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
