"""vision.embedding: a learnt appearance embedding of shoppers' boxes, a track's look as the mean of its
clear boxes' embeddings, and the model file's errors; walkout/reid_training.py fits one on store renders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mockstore.scenario import parse_scenario
from mockstore.writer import write_recording
from vision.association import DEFAULT_MODEL, load_model
from vision.embedding import (
    CROP_HEIGHT,
    CROP_WIDTH,
    build_net,
    crops,
    embedding_distance,
    load_embedder,
    sample_every,
    save_embedder,
    track_embeddings,
)
from vision.errors import InputError
from vision.shoppers import ShopperConfig, Tracklet, look_distance, resolve_model


def tiny_model(path: Path) -> Path:
    torch.manual_seed(0)
    net = build_net(3, dim=8, widths=(4, 4, 4)).eval()
    save_embedder(path, net, np.full(3, 0.5), np.full(3, 0.25), 8, (4, 4, 4), {"people": 3})
    return path


def test_crops_are_the_boxes_resized_and_a_box_outside_the_image_is_black():
    frame = np.zeros((90, 160, 3), np.uint8)
    frame[10:50, 20:40] = (0, 0, 255)
    out = crops(frame, np.array([[20, 10, 40, 50], [200, 100, 220, 140], [150, 80, 170, 100]]))
    assert out.shape == (3, CROP_HEIGHT, CROP_WIDTH, 3)
    assert (out[0] == (0, 0, 255)).all()  # the red box fills its crop
    assert not out[1].any()  # wholly outside the image
    assert out[2].shape == (CROP_HEIGHT, CROP_WIDTH, 3)  # cut by the border: what is inside, stretched


def test_a_saved_model_embeds_boxes_as_unit_vectors_the_same_after_loading(tmp_path):
    path = tiny_model(tmp_path / "walkout-reid.pt")
    embedder = load_embedder(path)
    frame = np.random.default_rng(0).integers(0, 255, (90, 160, 3), dtype=np.uint8)
    boxes = np.array([[10, 10, 40, 80], [60, 5, 90, 70]], float)
    vectors = embedder.embed(frame, boxes)
    assert vectors.shape == (2, 8)
    assert np.linalg.norm(vectors, axis=1) == pytest.approx([1, 1], abs=1e-5)
    assert load_embedder(path).embed(frame, boxes) == pytest.approx(vectors, abs=1e-6)
    assert embedder.embed(frame, np.zeros((0, 4))).shape == (0, 8)


def test_a_missing_or_foreign_or_older_model_file_is_refused_naming_it(tmp_path):
    with pytest.raises(InputError, match=r"nothere\.pt.*walkout train --only reid"):
        load_embedder(tmp_path / "nothere.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(InputError, match=r"junk\.pt.*not a walkout appearance model"):
        load_embedder(tmp_path / "junk.pt")
    torch.save({"format": "something else"}, tmp_path / "other.pt")
    with pytest.raises(InputError, match=r"other\.pt: format"):
        load_embedder(tmp_path / "other.pt")
    payload = torch.load(tiny_model(tmp_path / "old.pt"), weights_only=True)
    payload["version"] = 0
    torch.save(payload, tmp_path / "old.pt")
    with pytest.raises(InputError, match=r"old\.pt: version: 0.*walkout train --only reid"):
        load_embedder(tmp_path / "old.pt")


def test_a_tracks_look_is_the_mean_of_its_embedded_boxes_weighted_to_clear_ones():
    frames = np.array([0, 0, 1, 1, 2])
    ids = np.array([1, 2, 1, 2, 3])
    # track 1 and 2 overlap fully in frame 0 (crowded); apart in frame 1; track 3 was never embedded
    xyxy = np.array([[0, 0, 10, 20], [0, 0, 10, 20], [0, 0, 10, 20], [50, 0, 60, 20], [0, 0, 10, 20]], float)
    a, b = np.eye(4, dtype=np.float32)[0], np.eye(4, dtype=np.float32)[1]
    embeddings = np.stack([b, a, a, b, np.zeros(4, np.float32)])
    looks = track_embeddings(frames, ids, xyxy, embeddings)
    assert looks[1] @ a > 0.99  # the crowded box (showing the other shopper) counts next to nothing
    assert looks[2] @ b > 0.99
    assert looks[3] is None
    assert np.linalg.norm(looks[1]) == pytest.approx(1.0)


def test_embedding_distance_runs_from_alike_to_opposite_and_looks_compare_by_their_kind():
    a = np.array([1.0, 0.0], np.float32)
    assert embedding_distance(a, a) == 0.0
    assert embedding_distance(a, np.array([0.0, 1.0])) == pytest.approx(0.5)
    assert embedding_distance(a, -a) == 1.0
    t = np.array([0.0, 1.0])
    one = Tracklet("cam0", 1, t, np.zeros((2, 2)), look=a)
    other = Tracklet("cam1", 2, t, np.zeros((2, 2)), look=np.array([0.0, 1.0], np.float32))
    assert look_distance(one, other, "embedding") == pytest.approx(0.5)
    assert look_distance(one, other, "colours") == pytest.approx(1.0)  # disjoint histograms
    assert np.isnan(look_distance(one, Tracklet("cam2", 3, t, np.zeros((2, 2))), "embedding"))


def test_boxes_are_embedded_every_sample_seconds():
    assert sample_every(15.0, 0.5) == 8
    assert sample_every(10.0, 0.5) == 5
    assert sample_every(1.0, 0.5) == 1


def test_the_association_model_must_have_been_fitted_on_the_looks_the_config_makes(tmp_path):
    with pytest.raises(ValueError, match="shoppers.look"):
        ShopperConfig(look="faces")
    shipped = load_model(DEFAULT_MODEL)
    data = json.loads(DEFAULT_MODEL.read_text())
    data["look"] = "colours" if shipped.look == "embedding" else "embedding"
    other = tmp_path / "association.json"
    other.write_text(json.dumps(data))
    assert load_model(other).look == data["look"]
    with pytest.raises(InputError, match=r"association\.json: look: the model was fitted on"):
        resolve_model(ShopperConfig(model=str(other), look=shipped.look))
    assert resolve_model(ShopperConfig(model=str(other), look=data["look"])).look == data["look"]
    data.pop("look")  # files made before looks had kinds: colours
    other.write_text(json.dumps(data))
    assert load_model(other).look == "colours"
    data["look"] = "faces"
    other.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"association\.json: look: 'faces'"):
        load_model(other)


def small_store(seed: int) -> dict:
    return {"name": "store", "seed": seed, "duration_s": 8, "fps": 2, "width": 320, "height": 180, "cameras": 4,
            "store": {"aisles": 2, "aisle_length_m": 2.4, "plates_per_shelf": 4, "corridor_m": 1.4},
            "planogram": [{"shelf": "A2", "plate": 1, "sku": "012001"}, {"shelf": "B1", "plate": 4, "sku": "012008"}],
            "shoppers": [{"id": 1, "script": [{"action": "enter", "at_s": 0.0},
                                              {"action": "pick", "shelf": "A2", "plate": 1, "sku": "012001"}]},
                         {"id": 2, "script": [{"action": "enter", "at_s": 0.5},
                                              {"action": "pick", "shelf": "B1", "plate": 4, "sku": "012008"}]}]}


def test_the_appearance_model_is_trained_on_store_renders_and_scored_on_people_it_never_saw(tmp_path):
    from walkout.reid_training import ReidTrainingConfig, recording_crops, train_reid

    recordings = [write_recording(parse_scenario(small_store(seed), source="store.yaml"), tmp_path / f"rec{seed}").path
                  for seed in (1, 2, 3)]
    config = ReidTrainingConfig(epochs=1, validation=1, widths=(4, 8, 8), dim=8)
    found = recording_crops(recordings[0], config)
    assert len(found) and set(found.person) <= {f"rec1:{k}" for k in (1, 2)}
    assert found.images.shape[1:] == (CROP_HEIGHT, CROP_WIDTH, 3) and len(found.colours) == len(found)
    card = train_reid(recordings, tmp_path / "models", config)
    assert card["recordings"] == ["rec1", "rec2"] and card["validation_recordings"] == ["rec3"]
    assert card["people"] == 4 and card["validation_people"] == 2
    assert load_embedder(tmp_path / "models" / "walkout-reid.pt").dim == 8
    with pytest.raises(ValueError, match="needs more than 1"):
        train_reid(recordings[:1], tmp_path / "none", config)
