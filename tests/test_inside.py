"""convnext_nb.inside: collapse measure, feature hooks, mistakes, shipped checkpoints."""

import pytest
import torch

from convnext_nb.inside import (
    INSIDE_MODELS,
    block_mlp_features,
    build_inside_model,
    channel_cosine_distance,
    checkpoint_path,
    collapse_by_block,
    confusion_matrix,
    evaluation_images,
    load_inside_model,
    most_confident_mistakes,
    predict,
    remove_grn,
    save_inside_model,
    stage_outputs,
    train_inside_model,
)
from convnext_nb.layers import GRN


def channels(*maps) -> torch.Tensor:
    """One image whose channels carry the given flat maps: (1, C, 1, H*W)."""
    return torch.stack([torch.as_tensor(m, dtype=torch.float32) for m in maps])[None, :, None]


# ----------------------------------------------------------------------------------------
# The collapse measure


def test_identical_channels_have_distance_zero():
    x = torch.randn(16)
    assert channel_cosine_distance(channels(x, x, x, 2.5 * x)) == pytest.approx(0, abs=1e-6)


def test_orthogonal_channels_have_distance_one_half():
    basis = torch.linalg.qr(torch.randn(8, 8)).Q.T  # 8 orthonormal rows
    scaled = basis * torch.rand(8, 1).add(0.5)  # the length of a map does not matter
    assert channel_cosine_distance(channels(*scaled)) == pytest.approx(0.5, abs=1e-6)


def test_opposite_channels_have_distance_one():
    x = torch.randn(10)
    assert channel_cosine_distance(channels(x, -x)) == pytest.approx(1.0, abs=1e-6)


def test_distance_is_averaged_over_images_and_counts_dead_channels_as_orthogonal():
    x = torch.randn(12)
    collapsed, dead = channels(x, x), channels(x, torch.zeros(12))
    assert channel_cosine_distance(torch.cat([collapsed, dead])) == pytest.approx(0.25)


def test_distance_rejects_a_flat_tensor():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        channel_cosine_distance(torch.randn(4, 16))


# ----------------------------------------------------------------------------------------
# The models and what they compute


def test_stems_give_the_stage_sizes_the_notebook_shows():
    x = torch.randn(1, 3, 32, 32)
    sizes = {}
    for name in ("patchify_grn", "cifar_s2_grn"):
        sizes[name] = [o.shape[-1] for o in stage_outputs(build_inside_model(name), x)]
    assert sizes == {"patchify_grn": [8, 4, 2, 1], "cifar_s2_grn": [16, 8, 4, 2]}


def test_remove_grn_leaves_the_untrained_model_unchanged():
    with_grn = build_inside_model("cifar_s2_grn").eval()
    without = build_inside_model("cifar_s2_no_grn").eval()
    assert not any(isinstance(m, GRN) for m in without.modules())
    assert any(isinstance(m, GRN) for m in with_grn.modules())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():  # GRN starts as the identity: same seed, same function
        torch.testing.assert_close(with_grn(x), without(x))
    assert remove_grn(with_grn) is with_grn


def test_block_features_are_one_expanded_map_per_block():
    model = build_inside_model("cifar_s2_no_grn")
    feats = block_mlp_features(model, torch.randn(3, 3, 32, 32))
    expected = [
        (3, 4 * dim, size, size)
        for dim, depth, size in zip(model.dims, model.depths, [16, 8, 4, 2], strict=True)
        for _ in range(depth)
    ]
    assert [tuple(f.shape) for f in feats] == expected
    assert not any(b.grn._forward_hooks for s in model.stages for b in s)  # hooks removed
    assert len(collapse_by_block(model, torch.randn(2, 3, 32, 32))) == sum(model.depths)


def test_unknown_inside_model_names_the_choices():
    with pytest.raises(ValueError, match="cifar_s2_grn"):
        build_inside_model("cifar_grn")


# ----------------------------------------------------------------------------------------
# Mistakes


def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    y_true = torch.tensor([0, 0, 1, 2, 2, 2])
    y_pred = torch.tensor([0, 1, 1, 2, 0, 2])
    expected = torch.tensor([[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert torch.equal(confusion_matrix(y_true, y_pred, 3), expected)


def test_most_confident_mistakes_are_wrong_and_sorted_by_confidence():
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7], [0.95, 0.05]])
    y = torch.tensor([0, 0, 1, 0, 1])  # wrong: 1 (0.8), 2 (0.6), 3 (0.7), 4 (0.95)
    assert most_confident_mistakes(probs, y, k=3).tolist() == [4, 1, 3]
    assert most_confident_mistakes(probs, y, k=10).tolist() == [4, 1, 3, 2]


# ----------------------------------------------------------------------------------------
# The shipped checkpoints


@pytest.mark.parametrize("name", list(INSIDE_MODELS))
def test_checkpoint_loads_weights_only_into_its_model(name):
    path = checkpoint_path(name)
    assert path.stat().st_size < 2.5e6, f"{path} should stay small (fp16, half width)"
    saved = torch.load(path, map_location="cpu", weights_only=True)
    assert saved["state_dict"].keys() == build_inside_model(name).state_dict().keys()
    assert saved["made_with"]["command"].startswith("python scripts/make_inside_checkpoints.py")
    model = load_inside_model(name)
    assert any(isinstance(m, GRN) for m in model.modules()) == INSIDE_MODELS[name]["grn"]
    assert model.stem_kind == INSIDE_MODELS[name]["stem"]


@pytest.fixture(scope="module")
def test_images():
    return evaluation_images(small=True)  # shipped with the package: runs everywhere


@pytest.mark.parametrize("name", list(INSIDE_MODELS))
def test_checkpoint_beats_chance_on_unseen_test_images(name, test_images):
    x, y = test_images
    accuracy = (predict(load_inside_model(name), x).argmax(dim=1) == y).float().mean().item()
    assert len(y) == 500
    assert accuracy > 0.5, f"{name}: {accuracy:.1%} on 500 test images (chance: 10%)"


def test_train_save_and_load_round_trip(tmp_path):
    torch.manual_seed(0)
    batch = (torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,)))
    loaders = ([batch], [batch], [batch])
    model, record = train_inside_model("patchify_grn", loaders, epochs=1, warmup_epochs=0)
    assert record["recipe"]["epochs"] == 1 and len(record["train_loss"]) == 1
    saved = save_inside_model(model, record, loaders, checkpoint_path("patchify_grn", tmp_path))
    loaded = load_inside_model("patchify_grn", folder=tmp_path)
    assert loaded.made_with == saved and 0 <= saved["test_acc"] <= 1
    with torch.no_grad():  # fp16 weights: close to the trained model, not equal
        torch.testing.assert_close(loaded(batch[0]), model.eval()(batch[0]), atol=2e-2, rtol=0)


def test_missing_checkpoint_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="make_inside_checkpoints"):
        load_inside_model("patchify_grn", folder=tmp_path)
