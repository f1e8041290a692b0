"""`walkout train`: the reach classifier's training crops, and `--only` (one model, the others left alone)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from walkout.train import TrainConfig


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
    counts = build_reach_crops([source], tmp_path / "crops", dataclasses.replace(TrainConfig(), shopper_crop_jitter=0.0))
    assert counts == {"train": {"idle": 1, "reaching": 1}, "val": {"idle": 1, "reaching": 1}}
    assert sorted(p.name for p in (tmp_path / "crops" / "train").iterdir()) == sorted(REACH_CLASSES)
    (reaching,) = (tmp_path / "crops" / "train" / "reaching").iterdir()
    assert reaching.name == "renders_f_1.jpg"
    assert cv2.imread(str(reaching)).shape[:2] == (330, 170)  # box grown by 35 % each side, clipped to the image
    (source / "boxes" / "train" / "f.csv").write_text("object,track_id,sku,x1,y1,x2,y2,visible\n")
    with pytest.raises(ValueError, match="no reach column") as error:
        build_reach_crops([source], tmp_path / "again", TrainConfig())
    assert "f.csv" in str(error.value)


def _shipped_models(tmp_path):
    """A models folder holding a model card and a detector, for `--only` to leave alone."""
    out = tmp_path / "models"
    out.mkdir()
    (out / "README.md").write_text("the card\n")
    (out / "walkout-det.pt").write_bytes(b"det")
    return out


def _left_alone(out) -> bool:
    return (out / "README.md").read_text() == "the card\n" and (out / "walkout-det.pt").read_bytes() == b"det"


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
    monkeypatch.setattr(train_module, "train", must_not_run)
    out = _shipped_models(tmp_path)
    assert main(["train", "--out", str(out), "--only", "reach"]) == 0
    assert "reach model: held-out top-1 0.500" in capsys.readouterr().out
    assert _left_alone(out)
    figures = json.loads((out / "training-reach.json").read_text())
    assert figures["reach_top1"] == 0.5 and figures["sizes_mb"] == {"walkout-reach.pt": 0.0}
    with pytest.raises(ValueError, match="unknown model"):
        train_module.train_one("held", out)
    for removed in (["--only", "wrists"], ["--wrists"]):  # the wrist model of the removed [arms] stage
        assert main(["train", "--out", str(out), *removed]) == 2
    assert "'--wrists'" in capsys.readouterr().err  # click: no such option
    with pytest.raises(ValueError, match="unknown model 'wrists'"):
        train_module.train_one("wrists", out)


def test_train_only_hands_trains_the_hand_stage_on_the_near_event_renders(tmp_path, monkeypatch, capsys):
    """`walkout train --only hands`: the held-item classifier and the hand model (stand-ins here) are
    trained on the near-event exports (``held_exports``, rendered into the work folder unless already
    there); the detector, the reach model and the model card stay as they were."""
    import json

    import walkout.train as train_module
    from walkout.cli import main

    rendered, trained = [], {}

    def fake_export(folder, n_train, n_val, seed, config):
        rendered.append((folder.name, n_train, n_val, seed, config.near_event_share))

    def fake_classifier(out, config, work, renders):
        trained["held"] = [r.name for r in renders]
        (out / "walkout-held.pt").write_bytes(b"h" * 30_000)
        return {"held_crops": {}, "held_train_s": 60.0, "held_top1": 0.75}

    def fake_hands(out, config, work, renders):
        trained["hands"] = [r.name for r in renders]
        (out / "walkout-hands.pt").write_bytes(b"x" * 20_000)
        return {"hand_crops": {"train": 8, "val": 2}, "hand_train_s": 120.0, "hand_map50": 0.8,
                "held_box_map50": 0.5, "hand_precision": 0.9, "hand_recall": 0.7}

    monkeypatch.setattr("mockstore.yolo.export_yolo_dataset", fake_export)
    monkeypatch.setattr(train_module, "train_classifier", fake_classifier)
    monkeypatch.setattr(train_module, "train_hand_model", fake_hands)
    out = _shipped_models(tmp_path)
    assert main(["train", "--out", str(out), "--only", "hands"]) == 0
    assert "hands model: held-out hand mAP50 0.800, held-item top-1 0.750" in capsys.readouterr().out
    exports = TrainConfig().held_exports
    assert rendered == [(f"held-renders-{seed}", n, v, seed, share) for seed, n, v, share in exports]
    assert trained["held"] == trained["hands"] == [f"held-renders-{seed}" for seed, *_ in exports]
    assert _left_alone(out)
    figures = json.loads((out / "training-hands.json").read_text())
    assert figures["sizes_mb"] == {"walkout-hands.pt": 0.02, "walkout-held.pt": 0.03}


def test_train_only_detector_fine_tunes_the_one_in_out_and_nothing_else(tmp_path, monkeypatch, capsys):
    """`walkout train --only detector`: only the fine-tuning runs (a stand-in here), its figures land in
    training-detector.json; without a walkout-det.pt in OUT there is nothing to fine-tune: a clear error."""
    import json

    import walkout.train as train_module
    from walkout.cli import main

    def fake_finetune(out, config, work):
        (out / "walkout-det.pt").write_bytes(b"tuned")
        return {"finetune_export": [7000, 10, 2, 0.5, 0.6], "finetune_train_s": 60.0,
                "finetune_map50_before": {"shopper": 0.8}, "finetune_map50_after": {"shopper": 0.85}}

    def must_not_run(*args, **kwargs):
        raise AssertionError("only the detector was asked for")

    monkeypatch.setattr(train_module, "finetune_detector", fake_finetune)
    for other in ("train_reach_model", "train"):
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


def test_train_only_association_fits_on_the_runs_given_and_refuses_folders_without_store_recordings(tmp_path, capsys):
    """`walkout train --only association --runs DIR`: the cross-camera model from the store recordings under
    DIR; a folder with none is a clear error, and models/ is left alone."""
    from walkout.cli import main

    empty = tmp_path / "runs"
    (empty / "store" / "recordings").mkdir(parents=True)
    out = tmp_path / "models"
    assert main(["train", "--out", str(out), "--only", "association", "--runs", str(empty)]) != 0
    assert "no multi-camera recordings with truth" in capsys.readouterr().err
    assert not (out / "association.json").exists()


def test_training_scratch_folder_is_absolute_so_ultralytics_saves_the_weights_where_we_read_them(tmp_path, monkeypatch):
    """ultralytics puts a relative ``project`` under its own runs folder: with `walkout train --out models`
    (relative, the default) a trainer's best.pt would land outside OUT/_work and the fine-tuning would fail
    after training, looking for it."""
    import walkout.train as train_module

    seen = {}

    def fake_finetune(out, config, work):
        seen["work"] = work
        return {}

    monkeypatch.setattr(train_module, "finetune_detector", fake_finetune)
    monkeypatch.setattr(train_module, "_finetune_card", lambda figures: "")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "walkout-det.pt").write_bytes(b"det")
    train_module.train_one("detector", "models", train_module.TrainConfig())
    assert seen["work"].is_absolute()
    assert seen["work"] == tmp_path / "models" / "_work"
