"""benchmarks/results.py: docs/RESULTS.md from benchmark outputs on disk, each figure with its command,
commit and seeds; nothing re-run."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import results  # noqa: E402  (benchmarks/ is not a package)


def write_group(root: Path, group: str, seeds: range, metrics: dict, speed: dict | None = None) -> None:
    report = {
        "version": 1, "tool": "walkout bench", "metrics": metrics,
        "recordings": [{"name": f"seed{s}", "status": "ok"} for s in seeds],
        "overall": {"speed": speed or {"measured": False}},
    }
    path = root / group / "report" / "report.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(report))


SPEED = {
    "measured": True,
    "total": {"fps": 50.0, "frames": 400, "realtime_factor": 5.0, "stages_s": {"detect": 6.0, "track": 0.2}},
    "baselines": {"ultralytics_track": {"fps": 40.0}},
}


@pytest.fixture
def sets(tmp_path):
    held = tmp_path / "held"
    write_group(held, "single", range(31000, 31008), {"fused_attributed_f1": 1.0, "fused_receipt_accuracy": 1.0,
                                                      "review_rate": 0.0, "idf1": 0.93}, SPEED)
    write_group(held, "two", [31008, 31009, 31011], {"fused_attributed_f1": 0.928, "fused_receipt_accuracy": 0.75,
                                                     "idf1": 0.934})
    (held / "provenance.json").write_text(json.dumps({
        "label": "held-out", "command": "python benchmarks/refuse.py H --to fused", "commit": "abc1234",
        "uncommitted_changes": False, "date": "2026-12-03 13:52 UTC"}))
    store = tmp_path / "store"
    write_group(store, "store", range(9100, 9108), {"fused_attributed_f1": 0.718, "global_idf1": 0.295})
    return held, store


def test_results_page_names_the_command_seeds_and_figures(sets, tmp_path, capsys):
    held, store = sets
    out = tmp_path / "docs" / "RESULTS.md"
    assert results.main(["--out", str(out), "--set", str(held), "--set", f"store held-out={store}"]) == 0
    text = out.read_text()
    assert text.startswith("# Results")
    assert f"`python benchmarks/results.py --out {out} --set {held} --set 'store held-out={store}'`" in text
    assert "| single | 8 | 1.000 | 1.000 | 0.000 | 0.930 |" in text  # headline: the first set, then the store
    assert "| store | 8 | 0.718 | – | – | – |" in text
    assert "made by `python benchmarks/refuse.py H --to fused` (commit abc1234, 2026-12-03 13:52 UTC)" in text
    assert "seeds: single 31000-31007; two 31008-31009, 31011" in text
    assert "### store held-out" in text and "no provenance.json" in text  # labelled by the argument
    assert "| held-out: single | 400 | 50.0 | 5.00 | 40.0 | 1.25 |" in text  # speed, with the baseline ratio
    assert "global IDF1" in text and "Not included in this run" in text  # no --aifi


def test_a_folder_without_reports_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="no <group>/report/report.json"):
        results.main(["--out", str(tmp_path / "R.md"), "--set", str(tmp_path / "empty")])


def test_seed_ranges():
    assert results.seed_ranges(["seed3", "seed1", "seed2", "seed7", "other"]) == "1-3, 7, other"


def test_benchmark_scripts_record_their_command_and_commit(tmp_path):
    from accuracy import write_provenance

    path = write_provenance(tmp_path / "out", command="python benchmarks/accuracy.py --out X", predictions="p")
    payload = json.loads(path.read_text())
    assert payload["command"] == "python benchmarks/accuracy.py --out X" and payload["predictions"] == "p"
    assert {"commit", "uncommitted_changes", "date"} <= set(payload)


def test_each_predictions_run_on_the_same_renders_keeps_its_own_provenance(tmp_path):
    from accuracy import write_provenance
    from pool import set_provenance

    out = tmp_path / "out"
    write_provenance(out, command="python benchmarks/accuracy.py --out X --predictions before", predictions="before")
    write_provenance(out, command="python benchmarks/accuracy.py --out X --predictions after", predictions="after")
    assert set_provenance([out], "before")[str(out)]["command"].endswith("--predictions before")
    assert set_provenance([out], "after")[str(out)]["command"].endswith("--predictions after")
    assert set_provenance([out])[str(out)]["command"].endswith("--predictions after")  # the last run's


def test_the_stage_table_shows_the_stages_the_runs_timed_in_the_order_they_run(tmp_path):
    always = {"decode": 0.4, "motion": 0.1, "detect": 6.0, "track": 0.2, "hands": 0.3, "events": 0.1}
    with_models = {**always, "classify": 0.8, "reaching": 1.2}
    root = tmp_path / "set"
    write_group(root, "single", range(1, 3), {"fused_attributed_f1": 1.0},
                {**SPEED, "total": {**SPEED["total"], "stages_s": always}})
    write_group(root, "two", range(3, 5), {"fused_attributed_f1": 1.0},
                {**SPEED, "total": {**SPEED["total"], "frames": 200, "stages_s": with_models}})
    text = "\n".join(results.speed_section([results.read_set(str(root))]))
    assert "| set: group | decode | motion | detect | track | reaching | classify | hands | events |" in text
    assert "| set: two | 2.00 | 0.50 | 30.00 | 1.00 | 6.00 | 4.00 | 1.50 | 0.50 |" in text
    assert "| set: single | 1.00 | 0.25 | 15.00 | 0.50 | – | – | 0.75 | 0.25 |" in text
    assert "reid" not in text  # no run timed it: no column


def write_speed_run(folder: Path, rows: list[dict], empty_aisle: dict | None = None) -> Path:
    folder.mkdir()
    (folder / "speed.json").write_text(json.dumps({
        "command": "python benchmarks/speed.py --out x", "recordings": ["/r/seed41000"], "repeats": 2, "rows": rows,
        "empty_aisle": empty_aisle, "idle_compared_with": "walkout onnx, skip idle on"}))
    (folder / "provenance.json").write_text(json.dumps({"command": "python benchmarks/speed.py --out x",
                                                        "commit": "abc1234", "date": "2026-12-03 22:00 UTC"}))
    return folder


def speed_row(name: str, frames: int, seconds: float, skipped: int = 0, video_s: float = 120.0) -> dict:
    return {"name": name, "frames": frames, "seconds": seconds, "cpu_s": seconds, "skipped": skipped, "video_s": video_s}


ONE_SHOPPER_ROWS = [speed_row("decode only", 1200, 0.5), speed_row("model.track() .pt", 1200, 60.0),
                    speed_row("walkout onnx, skip idle on", 1200, 24.0, skipped=480),
                    speed_row("walkout run command, a new process (start-up and model loading counted)", 1200, 30.0,
                              skipped=480)]
EMPTY_AISLE = {"name": "empty aisle", "frames": 400, "seconds": 0.8, "cpu_s": 0.8, "skipped": 398}
MEDIAPIPE_ROWS = [speed_row("decode only", 400, 0.4, video_s=40.0),
                  speed_row("walkout mediapipe as before the speed work (skip idle off, pose then hands)", 400, 40.0,
                            video_s=40.0),
                  speed_row("walkout mediapipe, skip idle on", 400, 16.0, skipped=180, video_s=40.0)]


def test_a_speed_run_gives_a_table_of_ratios_against_model_track_and_real_time(tmp_path):
    run = write_speed_run(tmp_path / "speed", ONE_SHOPPER_ROWS, EMPTY_AISLE)
    text = "\n".join(results.speed_runs_section([f"one shopper={run}"]))
    assert "- one shopper: made by `python benchmarks/speed.py --out x` (commit abc1234, 2026-12-03 22:00 UTC): seed41000" in text
    assert "| walkout onnx, skip idle on | 1200 | 50.0 | 5.00 | 2.50 | 40% |" in text  # 50 / 20 frames/s
    assert "| model.track() .pt | 1200 | 20.0 | 2.00 | 1.00 | – |" in text
    assert "runs 10.0x as fast" in text  # 500 frames/s against 50
    assert results.speed_runs_section([]) == []


def test_the_speed_headline_has_one_line_per_run_with_the_ratios_each_measured(tmp_path):
    single = write_speed_run(tmp_path / "single", ONE_SHOPPER_ROWS, EMPTY_AISLE)
    mediapipe = write_speed_run(tmp_path / "mediapipe", MEDIAPIPE_ROWS)
    text = "\n".join(results.speed_headline([f"one shopper={single}", f"real camera={mediapipe}"]))
    assert "| one shopper | 50.0 | 5.00 | 4.00 | 2.50 | – | 10.0x cheaper |" in text  # 120 s in 30 s: 4.00 new process
    assert "| real camera | 25.0 | 2.50 | – | – | 2.50 | – |" in text  # 2.5x real time against 1.0x before


def test_the_readme_speed_table_is_rewritten_between_its_markers_only(tmp_path):
    run = write_speed_run(tmp_path / "single", ONE_SHOPPER_ROWS, EMPTY_AISLE)
    readme = tmp_path / "README.md"
    start, end = results.README_SPEED
    readme.write_text(f"# walkout\n\nbefore\n{start}\nold table\n{end}\nafter\n")
    results.update_readme(readme, [f"one shopper={run}"])
    text = readme.read_text()
    assert text.startswith("# walkout\n\nbefore\n") and text.endswith(f"{end}\nafter\n")
    assert "old table" not in text and "| one shopper | 50.0 | 5.00 | 4.00 | 2.50 | – | 10.0x cheaper |" in text
    assert "Made by `benchmarks/results.py --readme README.md`" in text
    readme.write_text("# no markers\n")
    with pytest.raises(SystemExit, match="no speed table markers"):
        results.update_readme(readme, [f"one shopper={run}"])


def test_an_archived_page_is_made_again_from_the_copies_alone(sets, tmp_path):
    held, store = sets
    run = write_speed_run(tmp_path / "speed", ONE_SHOPPER_ROWS, EMPTY_AISLE)
    out, archive = tmp_path / "RESULTS.md", tmp_path / "docs" / "results"
    assert results.main(["--out", str(out), "--set", str(held), "--set", f"store held-out={store}",
                         "--speed", f"one shopper={run}", "--archive", str(archive)]) == 0
    text = out.read_text()
    command = text.split("Generated by `")[1].split("`; do not edit")[0]
    assert f"--set {held}" not in command and f"--set held-out={archive}/held-out " in command
    assert f"--speed 'one shopper={archive}/one-shopper'" in command and "--archive" not in command
    assert "made by `python benchmarks/refuse.py H --to fused` (commit abc1234" in text  # the original command
    for folder in (held, store, run):  # the scratch folders are gone: the copies make the same page
        for path in sorted(folder.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
    again = tmp_path / "AGAIN.md"
    arguments = shlex.split(command)[2:]  # without "python benchmarks/results.py"
    assert arguments[:2] == ["--out", str(out)]
    assert results.main(["--out", str(again), *arguments[2:]]) == 0
    assert again.read_text().split("\n", 3)[3] == text.split("\n", 3)[3]  # all but the command line


def test_two_labels_that_would_share_an_archive_folder_are_refused_before_anything_is_copied(sets, tmp_path, capsys):
    held, store = sets
    out, archive = tmp_path / "RESULTS.md", tmp_path / "docs" / "results"
    same = "The same sets with session 33's defaults (no held-item evidence"  # first 60 characters alike
    with pytest.raises(SystemExit):
        results.main(["--out", str(out), "--set", f"{same}, one)={held}", "--set", f"{same}, two)={store}",
                      "--archive", str(archive)])
    assert "the-same-sets-with-session-33-s-defaults-no-held-item-eviden" in capsys.readouterr().err
    assert not archive.exists() and not out.exists()


def test_archiving_the_archive_again_keeps_where_each_input_first_came_from(sets, tmp_path):
    held, _ = sets
    run = write_speed_run(tmp_path / "speed", ONE_SHOPPER_ROWS, EMPTY_AISLE)
    out, archive = tmp_path / "RESULTS.md", tmp_path / "docs" / "results"
    results.main(["--out", str(out), "--set", str(held), "--speed", f"one shopper={run}", "--archive", str(archive)])
    copies = [archive / "held-out", archive / "one-shopper"]
    assert [json.loads((c / "provenance.json").read_text())["archived_from"] for c in copies] == [str(held), str(run)]
    # relabelled and archived again from the copies (as docs/RESULTS.md is remade): the origin stays
    results.main(["--out", str(out), "--set", f"held-out={copies[0]}", "--speed", f"one shopper={copies[1]}",
                  "--archive", str(archive)])
    assert [json.loads((c / "provenance.json").read_text())["archived_from"] for c in copies] == [str(held), str(run)]


def test_a_label_becomes_a_plain_folder_name():
    assert results.slug("Store held-out seeds 9600-9607 (multi-camera), today's defaults") == \
        "store-held-out-seeds-9600-9607-multi-camera-today-s-defaults"
    assert results.slug("!!!") == "set"


def test_the_headline_store_row_can_come_from_another_set(sets, tmp_path):
    held, store = sets
    write_group(held, "store", range(9000, 9008), {"fused_attributed_f1": 0.5})
    out = tmp_path / "RESULTS.md"
    assert results.main(["--out", str(out), "--set", str(held), "--set", f"store held-out={store}",
                         "--headline-store", "2"]) == 0
    headline = out.read_text().split("## Headline")[1].split("\n## ")[0]
    assert "| store | 8 | 0.718 |" in headline and "| store | 8 | 0.500 |" not in headline
    assert "| single | 8 | 1.000 |" in headline  # the one-camera rows stay the first set's
    assert "(the store row from \"store held-out\")" in headline
    with pytest.raises(SystemExit):  # a set without stores cannot give the store row
        results.main(["--out", str(out), "--set", str(store), "--set", str(held), "--headline-store", "3"])
