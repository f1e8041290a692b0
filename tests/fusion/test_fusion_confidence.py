"""How sure a receipt line is (fusion.confidence): a line's evidence, the calibrating model and its file,
and fusion writing each line's calibrated probability beside every candidate's take probability."""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pytest
from fusion_synth import write_events
from test_fusion_attribution import CHIPS, LEADER, store  # noqa: F401  (store: a module fixture)
from test_fusion_attribution import run as run  # noqa: F401  (a fixture)

import fusion.confidence
from formats.errors import FormatError
from fusion.attribution import AttributionConfig, NearestShopper
from fusion.confidence import (
    FEATURES,
    ConfidenceModel,
    fingerprint,
    line_features,
    load_confidence,
    resolve_confidence,
)
from fusion.pipeline import FuseConfig, fuse_recording

FIT_HINT = "walkout train --only confidence"


def features(**named) -> dict[str, float]:
    return dict(zip(FEATURES, line_features(**named), strict=True))


def test_a_line_s_evidence_is_its_take_probability_its_rivals_vision_and_the_kind_of_store():
    two = features(candidates={"1": 0.8, "2": 0.15, "3": 0.05}, shopper="1", vision_shopper="1", action="pick",
                   several_cameras=False)
    assert two == {"take_logodds": pytest.approx(math.log(0.8 / 0.2)), "lone": 0.0, "runner_up": 0.15,
                   "vision_agrees": 1.0, "vision_disagrees": 0.0, "is_return": 0.0, "several_cameras": 0.0}
    alone = features(candidates={"7": 1.0}, shopper="7", vision_shopper="2", action="return", several_cameras=True)
    assert alone == {"take_logodds": pytest.approx(math.log((1 - 1e-4) / 1e-4)), "lone": 1.0, "runner_up": 0.0,
                     "vision_agrees": 0.0, "vision_disagrees": 1.0, "is_return": 1.0, "several_cameras": 1.0}
    unseen = features(candidates={"1": 0.5, "2": 0.5}, shopper="2", vision_shopper=None, action="pick",
                      several_cameras=False)
    assert (unseen["vision_agrees"], unseen["vision_disagrees"], unseen["runner_up"]) == (0.0, 0.0, 0.5)


def hand_made(attribution_path, **coef) -> ConfidenceModel:
    return ConfidenceModel(tuple(float(coef.get(f, 0.0)) for f in FEATURES), float(coef.get("intercept", 0.0)),
                           fingerprint(attribution_path), {"lines": 3})


@pytest.fixture
def leader_file(tmp_path):
    path = tmp_path / "attribution.json"
    LEADER.save(path)
    return path


def test_a_saved_confidence_model_loads_back_equal_and_is_a_logistic_of_its_features(tmp_path, leader_file):
    model = hand_made(leader_file, intercept=1.0, runner_up=-2.0, several_cameras=-1.5)
    model.save(tmp_path / "confidence.json")
    assert load_confidence(tmp_path / "confidence.json") == model
    x = line_features({"1": 0.7, "2": 0.3}, "1", None, "pick", True)
    assert model.probability(x) == pytest.approx(1 / (1 + math.exp(-(1.0 - 2.0 * 0.3 - 1.5))))


@pytest.mark.parametrize(("change", "words"), [
    ({"version": 9}, "confidence model version 9"),
    ({"features": ["take_logodds"]}, "features differ"),
    ({"coef": [1.0]}, "coef needs one entry per feature"),
    ({"attribution_sha256": None, "intercept": "x"}, "malformed"),
])
def test_a_confidence_file_of_another_version_or_shape_is_refused_naming_it_and_how_to_fit_one(
        tmp_path, leader_file, change, words):
    data = hand_made(leader_file).to_dict() | change
    path = tmp_path / "confidence.json"
    path.write_text(json.dumps(data))
    with pytest.raises(FormatError, match=words) as caught:
        load_confidence(path)
    assert str(path) in str(caught.value) and FIT_HINT in str(caught.value)


def test_without_the_shipped_file_or_for_another_attribution_model_lines_keep_the_take_probability(
        tmp_path, leader_file, monkeypatch, caplog):
    def resolved(confidence: str, attribution=leader_file, model=LEADER):
        return resolve_confidence(AttributionConfig(model=str(attribution), confidence=confidence), model)

    monkeypatch.setattr(fusion.confidence, "DEFAULT_MODEL", tmp_path / "missing.json")
    with caplog.at_level(logging.WARNING):
        missing = resolved("")
    assert "missing.json" in caplog.text and FIT_HINT in caplog.text
    probability, said = missing.line({"1": 0.7, "2": 0.3}, "1", None, "pick", True)
    assert probability == 0.7 and said.startswith("probability not calibrated: no usable missing.json")
    assert FIT_HINT in said
    assert resolved("none") is None
    with pytest.raises(FormatError, match="nowhere.json"):  # a file the config names must exist
        resolved(str(tmp_path / "nowhere.json"))
    other = tmp_path / "other.json"
    other.write_text("{}")
    path = tmp_path / "confidence.json"
    hand_made(other).save(path)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        stale = resolved(str(path))
    assert "fitted for another attribution model" in caplog.text
    assert stale.line({"1": 0.7, "2": 0.3}, "2", None, "pick", True)[0] == 0.3
    assert "confidence.json was fitted for another attribution model" in stale.line({"1": 1.0}, "1")[1]
    assert resolved(str(path), attribution=other) == load_confidence(path)
    assert resolved(str(path), attribution=other, model=NearestShopper()) is None  # no probabilities to calibrate


def test_without_a_usable_confidence_file_every_fused_line_says_its_probability_is_not_calibrated(
        store, run, tmp_path, leader_file, monkeypatch):  # noqa: F811
    monkeypatch.setattr(fusion.confidence, "DEFAULT_MODEL", tmp_path / "missing.json")
    result = fuse_recording(store, run, tmp_path / "out", FuseConfig(attribution=AttributionConfig(model=str(leader_file))))
    (pick,) = [x for x in result.lines if x.action == "pick"]
    assert pick.probability == pytest.approx(dict(pick.candidates)["1"], abs=1e-4)
    assert "probability not calibrated: no usable missing.json" in pick.reason


def test_fusion_writes_the_calibrated_probability_and_every_candidate_s_take_probability(
        store, run, tmp_path, leader_file):  # noqa: F811
    uncalibrated = AttributionConfig(model=str(leader_file), confidence="none")
    plain = fuse_recording(store, run, tmp_path / "plain", FuseConfig(attribution=uncalibrated))
    (before,) = [x for x in plain.lines if x.action == "pick"]
    take = dict(before.candidates)
    assert set(take) == {"1", "2"} and sum(take.values()) == pytest.approx(1.0, abs=1e-3)
    assert before.probability == pytest.approx(take["1"], abs=1e-4)  # no calibration: the take probability

    confidence = hand_made(leader_file, intercept=0.5, runner_up=-3.0)
    confidence.save(tmp_path / "confidence.json")
    calibrated = AttributionConfig(model=str(leader_file), confidence=str(tmp_path / "confidence.json"))
    result = fuse_recording(store, run, tmp_path / "out", FuseConfig(attribution=calibrated))
    (pick,) = [x for x in result.lines if x.action == "pick"]
    assert (pick.shopper, pick.status, dict(pick.candidates)) == ("1", "reached", take)
    assert pick.probability == pytest.approx(1 / (1 + math.exp(-(0.5 - 3.0 * take["2"]))), abs=1e-6)
    assert pick.probability != pytest.approx(take["1"], abs=0.01)
    saved = json.loads((tmp_path / "out" / "receipts.json").read_text())["shoppers"]["1"]["lines"][0]
    assert saved["candidates"] == take and saved["probability"] == pytest.approx(pick.probability, abs=1e-4)


def test_which_lines_go_to_review_is_still_decided_by_the_take_probability(store, run, tmp_path, leader_file):  # noqa: F811
    sure = hand_made(leader_file, intercept=9.0)  # every line right with probability ~1
    sure.save(tmp_path / "confidence.json")
    config = AttributionConfig(model=str(leader_file), confidence=str(tmp_path / "confidence.json"), review_below=0.99)
    (pick,) = [x for x in fuse_recording(store, run, tmp_path / "out", FuseConfig(attribution=config)).lines
               if x.action == "pick"]
    assert pick.probability > 0.99 and dict(pick.candidates)["1"] < 0.99
    assert pick.status == "review"


def test_the_shipped_model_is_surer_of_a_line_without_rivals_in_one_camera_than_in_a_store():
    shipped = load_confidence(fusion.confidence.DEFAULT_MODEL)
    from fusion.attribution import DEFAULT_MODEL as ATTRIBUTION

    assert shipped.attribution_sha256 == fingerprint(ATTRIBUTION)  # fitted for the shipped attribution model
    aisle = shipped.probability(line_features({"1": 0.98, "2": 0.02}, "1", "1", "pick", False))
    store_line = shipped.probability(line_features({"1": 0.98, "2": 0.02}, "1", "1", "pick", True))
    close_call = shipped.probability(line_features({"1": 0.55, "2": 0.45}, "1", None, "pick", False))
    assert np.all(np.array([aisle, store_line, close_call]) > 0) and aisle < 1
    assert store_line < aisle and close_call < aisle


# --- fitting it (walkout/confidence_training.py) --------------------------------------------------


def labelled(store, tmp_path, taker: str):  # noqa: F811
    """The store fixture with a truth: ``taker`` picked the bag of chips at 5.3 s (nobody returned it)."""
    import shutil

    recording = tmp_path / "rec"
    shutil.copytree(store, recording)
    (recording / "truth").mkdir()
    write_events(recording / "truth" / "events.csv", [(5.3, taker, "pick", CHIPS, 1, "A1")])
    return recording


@pytest.mark.parametrize(("taker", "right"), [("1", True), ("2", False)])
def test_a_line_is_scored_right_when_the_truth_s_taker_is_its_shopper(store, run, tmp_path, leader_file,  # noqa: F811
                                                                     monkeypatch, taker, right):
    import walkout.confidence_training as training

    monkeypatch.setattr(training, "shopper_map", lambda recording, predictions: {"1": "1", "2": "2"})
    rows = training.line_rows(labelled(store, tmp_path, taker), run, "two", leader_file)
    assert len(rows) == 1  # the pick; the return nobody near could make is not billed, nothing to calibrate
    (row,) = rows.to_dict("records")
    assert (row["recording"], row["group"], row["right"]) == ("rec", "two", right)
    assert 0.6 < row["take_probability"] < 0.99 and row["lone"] == 0.0
    assert row["runner_up"] == pytest.approx(1 - row["take_probability"], abs=1e-3)
    assert row["take_logodds"] == pytest.approx(math.log(row["take_probability"] / (1 - row["take_probability"])))


def synthetic_lines(n_recordings=10, seed=3):
    """Lines whose chance of being right falls with the runner-up's probability."""
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(n_recordings):
        for _ in range(30):
            runner_up = rng.uniform(0, 0.5)
            rows.append({"recording": f"seed{r}", "group": "two" if r % 2 else "crowded", "take_probability": 1 - runner_up,
                         **dict(zip(FEATURES, line_features({"1": 1 - runner_up, "2": runner_up}, "1", None, "pick", False),
                                    strict=True)),
                         "right": bool(rng.uniform() < 1 - runner_up)})
    import pandas as pd

    return pd.DataFrame(rows)


def test_training_writes_a_model_for_the_shipped_attribution_model_and_a_card(tmp_path, leader_file, monkeypatch):
    import walkout.confidence_training as training

    monkeypatch.setattr(training, "gather_lines", lambda roots, attribution_model: synthetic_lines())
    model = training.train_confidence([tmp_path], tmp_path, leader_file)
    assert load_confidence(tmp_path / "confidence.json") == model
    assert model.attribution_sha256 == fingerprint(leader_file)
    close, clear = (model.probability(line_features({"1": 1 - q, "2": q}, "1", None, "pick", False)) for q in (0.45, 0.05))
    assert close < clear - 0.2  # a closer rival, a less sure line
    card = (tmp_path / "confidence.md").read_text()
    assert "300 lines" in card and "| crowded | 150 |" in card and "| two | 150 |" in card


def test_training_refuses_runs_without_lines_of_both_outcomes(tmp_path, leader_file, monkeypatch):
    import walkout.confidence_training as training

    monkeypatch.setattr(training, "gather_lines", lambda roots, attribution_model: synthetic_lines().assign(right=True))
    with pytest.raises(ValueError, match=f"no scored lines .* under {tmp_path}"):
        training.train_confidence([tmp_path], tmp_path, leader_file)


def test_walkout_train_only_confidence_fits_on_the_runs_given_and_refuses_folders_without_lines(
        tmp_path, monkeypatch, capsys):
    import walkout.confidence_training as training
    from walkout.cli import main

    empty = tmp_path / "runs"
    (empty / "two" / "predictions").mkdir(parents=True)
    assert main(["train", "--out", str(tmp_path / "models"), "--only", "confidence", "--runs", str(empty)]) != 0
    assert "no scored lines" in capsys.readouterr().err
    assert not (tmp_path / "models" / "confidence.json").exists()

    seen = {}

    def fake(out_dir, work, runs=None):
        seen.update(out_dir=out_dir, runs=runs)
        return ConfidenceModel((0.0,) * len(FEATURES), 0.0, "", {"lines": 42})

    monkeypatch.setattr(training, "train_from_renders", fake)
    assert main(["train", "--only", "confidence", "--out", str(tmp_path), "--runs", str(empty)]) == 0
    assert seen == {"out_dir": tmp_path, "runs": [empty]}
    assert "confidence model: 42 lines" in capsys.readouterr().out
