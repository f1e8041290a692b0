"""`walkout config`: every setting of run and fuse with its default, unit and meaning (docs/CONFIG.md is
generated from the config classes and must be current), and one typed loader for both config files."""

from __future__ import annotations

import dataclasses

import pytest

from formats.config import typed_value
from formats.errors import FormatError
from fusion.pipeline import FuseConfig
from walkout import config_reference as ref
from walkout.cli import main
from walkout.config import PROJECT_ROOT, PipelineConfig, load_config, load_fuse_config


def test_docs_config_md_is_what_the_command_generates_now():
    committed = (PROJECT_ROOT / "docs" / "CONFIG.md").read_text()
    assert committed == ref.markdown(), (
        f"docs/CONFIG.md is stale: regenerate it with `{ref.MARKDOWN_COMMAND}` (from the project folder)")
    assert ref.MARKDOWN_COMMAND in committed.splitlines()[2]  # the command is named at its top


def test_every_setting_of_run_and_fuse_is_listed_once_with_a_meaning():
    listed = ref.settings()
    names = [s.name for s in listed]
    assert len(names) == len(set(names))

    def fields(config, command, top):
        out = set()
        for f in dataclasses.fields(config):
            value = getattr(config, f.name)
            if dataclasses.is_dataclass(value):
                out |= {f"{command}.{f.name}.{g.name}" for g in dataclasses.fields(value)}
            else:
                out.add(f"{command}.{top}.{f.name}")
        return out

    assert set(names) == fields(PipelineConfig(), "run", "pipeline") | fields(FuseConfig(), "fuse", None)
    missing = [s.name for s in listed if not s.meaning]
    assert not missing, f"say what these mean in their dataclass field's docstring: {missing}"
    assert all("\n" not in s.meaning and len(s.meaning) <= 160 for s in listed)


def test_notes_and_units_name_real_settings():
    names = {s.name for s in ref.settings()}
    assert set(ref.NOTES) <= names, set(ref.NOTES) - names
    assert set(ref.UNITS) <= names, set(ref.UNITS) - names


@pytest.mark.parametrize(("name", "unit"), [
    ("run.tracking.lost_track_buffer_s", "s"), ("fuse.weight_events.min_delta_g", "g"),
    ("run.shoppers.link_m", "m"), ("run.shoppers.max_speed_m_s", "m/s"), ("run.events.merge_s", "s"), ("run.pipeline.batch_frames", "frames"),
    ("run.hands.memory_px", "px"), ("fuse.identify.max_quantity", ""), ("run.reid.enabled", ""),
])
def test_units_come_from_the_name_or_the_table(name, unit):
    assert {s.name: s for s in ref.settings()}[name].unit == unit


def test_meanings_come_from_field_docstrings_then_class_docstring_entries():
    by_name = {s.name: s for s in ref.settings()}
    # a field docstring (walkout.config.PipelineConfig)
    assert by_name["run.pipeline.batch_frames"].meaning.startswith("frames decoded and detected together")
    # a class docstring entry "name: meaning", cut to its first sentence
    assert by_name["fuse.reconcile.window_s"].meaning == (
        "a vision event may lie this far outside a weight event's [start, end] interval")
    assert by_name["fuse.attribution.second_take"].meaning.startswith("extra cost (log-odds)")


def test_first_sentence_and_one_line():
    assert ref.first_sentence("a (b. c) d, e.g. f. Then more.") == "a (b. c) d, e.g. f"
    long = "x" * 40 + ": why " + "y" * 120
    assert ref.one_line(long) == "x" * 40
    assert ref.one_line("``code`` here.") == "`code` here"


@pytest.mark.parametrize("command", ["run", "fuse"])
def test_the_defaults_file_of_each_command_is_a_valid_config_of_the_defaults(tmp_path, capsys, command):
    assert main(["config", "--defaults", "--for", command]) == 0
    text = capsys.readouterr().out
    path = tmp_path / f"{command}.toml"
    path.write_text(text)
    loaded = load_config(path) if command == "run" else load_fuse_config(path)
    assert loaded == (PipelineConfig() if command == "run" else FuseConfig())
    assert text.count("\n# ") >= len(ref.settings(command))  # a comment (meaning, type, unit) per setting
    assert main(["config", "--check", str(path)]) == 0
    assert f"a valid `walkout {command}` config; 0 setting(s) differ" in capsys.readouterr().out


def test_markdown_goes_to_stdout_as_committed(capsys):
    assert main(["config", "--defaults", "--markdown"]) == 0
    assert capsys.readouterr().out == (PROJECT_ROOT / "docs" / "CONFIG.md").read_text()


def test_check_names_what_a_file_changes(tmp_path, capsys):
    path = tmp_path / "fuse.yaml"
    path.write_text("reconcile:\n  window_s: 2\nattribution:\n  review_below: 0.7\n")
    assert main(["config", "--check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "a valid `walkout fuse` config; 2 setting(s) differ" in out
    assert "[reconcile] window_s = 2.0" in out and "[attribution] review_below = 0.7" in out


@pytest.mark.parametrize(("name", "text", "message"), [
    ("run.toml", '[detector]\nconfidence = "0.5"\n', "run.toml: [detector] confidence: expected a number, got the text '0.5'"),
    ("run.yaml", "reid:\n  enabled: 'no'\n", "run.yaml: [reid] enabled: expected true/false, got the text 'no'"),
    ("run.toml", "[pipeline]\nbatch_frames = 2.5\n", "[pipeline] batch_frames: expected a whole number, got 2.5"),
    ("run.toml", '[detector]\nshopper_classes = "person"\n', "[detector] shopper_classes: expected list of text"),
    ("run.toml", "[reid]\nswitch_costs = 1\n", "field 'reid': unknown key(s) switch_costs (did you mean switch_cost?)"),
    ("fuse.toml", '[weights]\nmax_gap_s = "1"\n', "fuse.toml: [weights] max_gap_s: expected a number, got the text '1'"),
    ("fuse.toml", "[identify]\nmax_quantity = 2.5\n", "[identify] max_quantity: expected a whole number, got 2.5"),
    ("fuse.toml", "[presence]\nmin_frames = 3\n", "fuse.toml: removed section(s) presence"),
    ("old.yaml", "events:\n  merge_frames: 12\n", "old.yaml: [events] merge_frames: renamed: write merge_s, in seconds"),
    ("mixed.toml", "[reconcile]\nwindow_s = 2\n[tracking]\nmethod = 'ocsort'\n", "mixes sections of `walkout run`"),
    ("other.toml", "[nope]\nx = 1\n", "other.toml: unknown section(s) nope: a `walkout run` config has detector"),
    ("broken.toml", "[reid\n", "broken.toml: not valid TOML"),
    ("fuse.json", "{}", "fuse.json: config must be .toml, .yaml or .yml"),
])
def test_check_refuses_a_bad_file_in_one_line_naming_file_section_key_and_problem(tmp_path, capsys, name, text,
                                                                                    message):
    path = tmp_path / name
    path.write_text(text)
    assert main(["config", "--check", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_check_of_a_missing_file_names_it(tmp_path, capsys):
    assert main(["config", "--check", str(tmp_path / "absent.toml")]) == 2
    assert "absent.toml: config file not found" in capsys.readouterr().err


def test_one_typed_loader_for_run_and_fuse(tmp_path):
    run = tmp_path / "run.toml"
    run.write_text("[reid]\nswitch_cost = 2\n[detector]\nshopper_classes = ['person']\n")
    config = load_config(run)
    assert config.reid.switch_cost == 2.0 and isinstance(config.reid.switch_cost, float)
    assert config.detector.shopper_classes == ("person",)
    fuse = tmp_path / "fuse.toml"
    fuse.write_text("[weight_events]\nadjacent_plates = 2.0\n[weights]\nmax_gap_s = 2\n")
    loaded = load_fuse_config(fuse)
    assert loaded.weight_events.adjacent_plates == 2 and isinstance(loaded.weight_events.adjacent_plates, int)
    assert loaded.weights.max_gap_s == 2.0 and loaded.identify == FuseConfig().identify
    fuse.write_text('[reconcile]\nwindow_s = "2"\n')
    with pytest.raises(FormatError, match=r"fuse.toml: \[reconcile\] window_s: expected a number"):
        load_fuse_config(fuse)


def test_walkout_fuse_refuses_a_number_given_as_text(tmp_path, capsys):
    config = tmp_path / "fuse.toml"
    config.write_text('[reconcile]\nwindow_s = "2.0"\n')
    recording = tmp_path / "rec"
    recording.mkdir()
    assert main(["fuse", str(recording), "--out", str(tmp_path / "out"), "--config", str(config)]) == 2
    assert "fuse.toml: [reconcile] window_s: expected a number, got the text '2.0'" in capsys.readouterr().err


@pytest.mark.parametrize(("value", "kind", "expected"), [
    (3, float, 3.0), (3.0, int, 3), (True, bool, True), ("a", str, "a"), (["a", "b"], tuple[str, ...], ("a", "b")),
    ([1, 2.0], tuple[int, ...], (1, 2)), ({"x": "y"}, dict[str, str], {"x": "y"}),
])
def test_typed_values(value, kind, expected):
    assert typed_value(value, kind) == expected


@pytest.mark.parametrize(("value", "kind"), [
    ("3", float), (True, float), (True, int), (3.5, int), ("3", int), (1, bool), ("true", bool), (3, str),
    ("a", tuple[str, ...]), ([1], tuple[str, ...]), ({"x": 1}, dict[str, str]), (float("inf"), int),
])
def test_wrong_types_are_refused(value, kind):
    with pytest.raises(ValueError, match="expected"):
        typed_value(value, kind)


def test_usage_errors(capsys):
    assert main(["config"]) != 0
    assert main(["config", "--markdown"]) != 0
    assert main(["config", "--defaults", "--check", "x.toml"]) != 0
