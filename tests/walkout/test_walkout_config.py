"""walkout.config: sections of removed stages and settings that were renamed are refused with a message saying
so, like unknown ones."""

from __future__ import annotations

import dataclasses

import pytest

from formats.errors import FormatError
from walkout.config import FRAMES_TO_SECONDS, PipelineConfig, load_config


@pytest.mark.parametrize("name, text", [
    ("walkout.toml", '[arms]\nmodel_path = "models/walkout-wrists.pt"\n\n[tracking]\nmethod = "ocsort"\n'),
    ("walkout.yaml", "arms:\n  model_path: models/walkout-wrists.pt\ntracking:\n  method: ocsort\n"),
    ("empty.toml", "[arms]\n"),
])
def test_an_arms_section_is_refused_as_removed_naming_the_file_and_section(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(FormatError, match=rf"{name}: removed section\(s\) arms \(the experimental arm stage, never "
                                          r"shipped\): .*delete them from the config"):
        load_config(path)


def test_unknown_sections_are_still_unknown_and_a_removed_one_is_named_first(tmp_path):
    assert "arms" not in {f.name for f in dataclasses.fields(PipelineConfig)}
    path = tmp_path / "walkout.toml"
    path.write_text("[armz]\nx = 1\n")
    with pytest.raises(FormatError, match=r"walkout.toml: unknown section\(s\) armz$"):
        load_config(path)
    path.write_text("[armz]\nx = 1\n[arms]\n")
    with pytest.raises(FormatError, match=r"removed section\(s\) arms .*delete them"):
        load_config(path)


def test_walkout_run_with_an_arms_section_stops_with_one_line(tmp_path, capsys):
    from walkout.cli import main

    config = tmp_path / "old.toml"
    config.write_text('[arms]\nmodel_path = "walkout-wrists.pt"\n')
    assert main(["run", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "old.toml: removed section(s) arms" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("section", "old", "new"), [
    (section, old, new) for section, keys in FRAMES_TO_SECONDS.items() for old, new in keys.items()])
def test_a_setting_in_frames_is_refused_naming_its_new_name_in_seconds(tmp_path, section, old, new):
    path = tmp_path / "walkout.toml"
    path.write_text(f"[{section}]\n{old} = 2\n")
    with pytest.raises(FormatError, match=rf"walkout.toml: \[{section}\] {old}: renamed: write {new}, in seconds, "
                                          r"not frames \(at 10 fps, 6 frames = 0.6 s\)$"):
        load_config(path)
    path.write_text(f"[{section}]\n{new} = 0.2\n")
    assert getattr(getattr(load_config(path), section), new) == 0.2
