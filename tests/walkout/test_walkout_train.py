"""Training data for the wrist model: each crop is labelled with its own shopper's wrists only."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
import supervision as sv
import yaml

from vision.arms import HIDDEN_KEY, WRIST_CLASS
from vision.hands import OWNER_KEY
from vision.zones import ShelfZone
from walkout.pipeline import _hand_rows
from walkout.train import TrainConfig, build_wrist_crops


def pose_line(box, joints) -> str:
    """box xyxy and 6 (x, y, v) joints in pixels of a 640x360 image -> a YOLO pose label line."""
    x1, y1, x2, y2 = box
    values = [(x1 + x2) / 2 / 640, (y1 + y2) / 2 / 360, (x2 - x1) / 640, (y2 - y1) / 360]
    for x, y, v in joints:
        values += [x / 640, y / 360, v]
    return "0 " + " ".join(f"{v:.6f}" for v in values)


def test_wrist_crops_hold_the_shoppers_own_wrists_hidden_ones_too(tmp_path):
    source = tmp_path / "pose-renders"
    for split in ("train", "val"):
        (source / "images" / split).mkdir(parents=True)
        (source / "labels" / split).mkdir(parents=True)
        cv2.imwrite(str(source / "images" / split / "f.jpg"), np.zeros((360, 640, 3), np.uint8))
    left = pose_line((100, 100, 200, 300), [(110, 120, 2), (105, 180, 2), (120, 200, 2),
                                            (190, 120, 2), (200, 180, 2), (225, 150, 1)])  # right wrist hidden, reaching out
    right = pose_line((210, 100, 310, 300), [(220, 120, 2), (215, 180, 2), (215, 210, 2),
                                             (300, 120, 2), (305, 180, 2), (0, 0, 0)])  # right wrist off the image
    for split in ("train", "val"):
        (source / "labels" / split / "f.txt").write_text(f"{left}\n{right}\n")
    config = dataclasses.replace(TrainConfig(), wrist_jitter=0.0)
    counts = build_wrist_crops([source], tmp_path / "crops", config)
    assert counts == {"train": 2, "val": 2}
    assert yaml.safe_load((tmp_path / "crops" / "data.yaml").read_text())["names"] == {0: WRIST_CLASS}
    labels = [np.loadtxt(tmp_path / "crops" / "labels" / "train" / f"pose-renders_f_{i}.txt", ndmin=2) for i in (0, 1)]
    assert len(labels[0]) == 2 and len(labels[1]) == 1  # the other shopper's wrists, though in the crop, are not labelled
    crop = cv2.imread(str(tmp_path / "crops" / "images" / "train" / "pose-renders_f_0.jpg"))
    height, width = crop.shape[:2]  # box grown by 35 % each side: x 65-235, y 30-370 clipped to 360
    assert (width, height) == (170, 330)
    centres = labels[0][:, 1:3] * [width, height] + [65, 30]
    np.testing.assert_allclose(sorted(centres.tolist()), [[120, 200], [225, 150]], atol=0.5)
    np.testing.assert_allclose(labels[0][:, 3] * width, 0.1 * 200, atol=0.5)  # side: 0.1 of the shopper's height


def test_a_hidden_hand_holds_nothing_we_can_see():
    hands = sv.Detections(xyxy=np.array([[0.0, 0, 10, 10], [20, 20, 30, 30]]), confidence=np.ones(2),
                          class_id=np.zeros(2, dtype=int),
                          data={OWNER_KEY: np.array([1, 2]), HIDDEN_KEY: np.array([False, True])})
    zones = (ShelfZone("B1", (1,), ((0.0, 0.0), (40.0, 0.0), (40.0, 40.0), (0.0, 40.0))),)
    rows = _hand_rows(7, hands, zones, np.array(["012001", "012002"], dtype=object), np.array([1, 2]), np.array([0.9, 0.8]))
    assert rows[["owner", "sku", "count", "hidden"]].values.tolist() == [[1, "012001", 1, False], [2, "", 0, True]]
    assert rows["sku_confidence"].tolist() == [0.9, 0.0] and rows["zone"].tolist() == [0, 0]


def test_reach_crops_are_labelled_by_how_far_the_shopper_reaches(tmp_path):
    """reaching from reach_on, idle up to reach_off, arms on their way and barely visible shoppers left out;
    a render without the reach column is an error naming the file."""
    import pandas as pd

    from walkout.train import REACH_CLASSES, build_reach_crops

    source = tmp_path / "renders"
    rows = [("shopper", 1, 100, 100, 200, 300, 1.0, 1.0), ("shopper", 2, 300, 100, 400, 300, 0.9, 0.0),
            ("shopper", 3, 450, 100, 550, 300, 1.0, 0.3), ("shopper", 4, 20, 100, 90, 300, 0.1, 1.0),
            ("hand", 1, 150, 90, 170, 110, 1.0, 0.0)]
    for split in ("train", "val"):
        (source / "images" / split).mkdir(parents=True)
        (source / "boxes" / split).mkdir(parents=True)
        cv2.imwrite(str(source / "images" / split / "f.jpg"), np.zeros((360, 640, 3), np.uint8))
        pd.DataFrame(rows, columns=["object", "track_id", "x1", "y1", "x2", "y2", "visible", "reach"]).assign(sku="") \
            .to_csv(source / "boxes" / split / "f.csv", index=False)
    counts = build_reach_crops([source], tmp_path / "crops", dataclasses.replace(TrainConfig(), wrist_jitter=0.0))
    assert counts == {"train": {"idle": 1, "reaching": 1}, "val": {"idle": 1, "reaching": 1}}
    assert sorted(p.name for p in (tmp_path / "crops" / "train").iterdir()) == sorted(REACH_CLASSES)
    (reaching,) = (tmp_path / "crops" / "train" / "reaching").iterdir()
    assert reaching.name == "renders_f_1.jpg"
    assert cv2.imread(str(reaching)).shape[:2] == (330, 170)  # box grown by 35 % each side, clipped to the image
    (source / "boxes" / "train" / "f.csv").write_text("object,track_id,sku,x1,y1,x2,y2,visible\n")
    with pytest.raises(ValueError, match="no reach column") as error:
        build_reach_crops([source], tmp_path / "again", TrainConfig())
    assert "f.csv" in str(error.value)


def test_train_only_one_add_on_model_leaves_the_others_alone(tmp_path, monkeypatch, capsys):
    """`walkout train --only reach`: just the reach trainer runs (here a stand-in that writes a file);
    the shipped models and the model card stay as they were; the figures land in training-reach.json."""
    import json

    import walkout.train as train_module
    from walkout.cli import main

    def fake_reach(out, config, work):
        (out / "walkout-reach.pt").write_bytes(b"x" * 1000)
        return {"reach_crops": {"train": {"idle": 3, "reaching": 1}, "val": {"idle": 1, "reaching": 1}},
                "reach_train_s": 60.0, "reach_top1": 0.5}

    def must_not_run(*args, **kwargs):
        raise AssertionError("only the reach model was asked for")

    monkeypatch.setattr(train_module, "train_reach_model", fake_reach)
    monkeypatch.setattr(train_module, "train_wrist_model", must_not_run)
    monkeypatch.setattr(train_module, "train", must_not_run)
    out = tmp_path / "models"
    out.mkdir()
    (out / "README.md").write_text("the card\n")
    (out / "walkout-det.pt").write_bytes(b"det")
    assert main(["train", "--out", str(out), "--only", "reach"]) == 0
    assert "reach model: held-out top-1 0.500" in capsys.readouterr().out
    assert (out / "README.md").read_text() == "the card\n" and (out / "walkout-det.pt").read_bytes() == b"det"
    figures = json.loads((out / "training-reach.json").read_text())
    assert figures["reach_top1"] == 0.5 and figures["sizes_mb"] == {"walkout-reach.pt": 0.0}
    with pytest.raises(ValueError, match="unknown model"):
        train_module.train_one("held", out)


def test_train_only_detector_fine_tunes_the_one_in_out_and_nothing_else(tmp_path, monkeypatch, capsys):
    """`walkout train --only detector`: only the fine-tuning runs (a stand-in here), its figures land in
    training-detector.json; without a walkout-det.pt in OUT there is nothing to fine-tune: a clear error."""
    import json

    import walkout.train as train_module
    from walkout.cli import main

    def fake_finetune(out, config, work):
        (out / "walkout-det.pt").write_bytes(b"tuned")
        return {"finetune_export": [6000, 10, 2, 0.9], "finetune_train_s": 60.0,
                "finetune_map50_before": {"shopper": 0.8}, "finetune_map50_after": {"shopper": 0.85}}

    def must_not_run(*args, **kwargs):
        raise AssertionError("only the detector was asked for")

    monkeypatch.setattr(train_module, "finetune_detector", fake_finetune)
    for other in ("train_reach_model", "train_wrist_model", "train"):
        monkeypatch.setattr(train_module, other, must_not_run)
    out = tmp_path / "models"
    out.mkdir()
    (out / "walkout-det.pt").write_bytes(b"det")
    assert main(["train", "--out", str(out), "--only", "detector"]) == 0
    assert "detector model: held-out shopper mAP50 0.850" in capsys.readouterr().out
    assert (out / "walkout-det.pt").read_bytes() == b"tuned"
    assert json.loads((out / "training-detector.json").read_text())["finetune_map50_after"] == {"shopper": 0.85}
    monkeypatch.undo()  # the real fine-tuning refuses before it renders or trains anything
    assert main(["train", "--out", str(tmp_path / "empty"), "--only", "detector"]) != 0
    assert "no detector to fine-tune" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="no detector to fine-tune"):
        train_module.finetune_detector(tmp_path / "empty", train_module.TrainConfig(), tmp_path / "work")
