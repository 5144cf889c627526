"""The CNN families keep their published shapes, train on an easy task, and are reproducible;
the spectra baselines classify spectra. (The training loop of train.py is tested here too.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from msfdiff.downstream.classifiers import (
    NETWORKS,
    SpectrumClassifier,
    build_network,
    centre_spectra,
    count_parameters,
)
from msfdiff.downstream.split import make_patches
from msfdiff.downstream.train import epochs_for_iterations, predict, train_classifier
from msfdiff.errors import ConfigError, NotFittedError


def easy_task(n: int = 64, size: int = 7, bands: int = 6, seed: int = 0):
    """Two classes that differ in one band's level, plus noise: any working classifier learns it."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    patches = rng.normal(1.0, 0.3, size=(n, size, size, bands)).astype(np.float32)
    patches[labels == 1, :, :, 2] += 2.0
    return patches, labels


@pytest.mark.parametrize("name", sorted(NETWORKS))
@pytest.mark.parametrize(("bands", "size"), [(3, 5), (30, 9), (7, 27)])
def test_output_shape_for_bands_and_patch_sizes(name, bands, size):
    model = build_network(name, n_bands=bands, n_classes=4, patch_size=size, width=0.125)
    model.eval()
    assert model(torch.zeros(2, bands, size, size)).shape == (2, 4)


# torchvision's ImageNet models (3 bands, 1000 classes) have 61,100,840 (AlexNet), 138,365,992
# (VGG-16-BN) and 11,689,512 (ResNet-18) parameters. At width 1 ours differ only where the
# module docstring says: AlexNet's 5x5 first conv and 2x2 pooling before the classifier,
# VGG's 1x1 pooling before it, ResNet's 3x3 stem.
PUBLISHED_MINUS_ADAPTATIONS = {
    "alexnet": 61_100_840 - 3 * 64 * (121 - 25) - 256 * (36 - 4) * 4096,
    "vgg16": 138_365_992 - 512 * (49 - 1) * 4096,
    "resnet18": 11_689_512 - 3 * 64 * (49 - 9),
}


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_parameter_counts_match_the_published_families(name):
    full = build_network(name, n_bands=3, n_classes=1000, patch_size=9, width=1.0)
    assert count_parameters(full) == PUBLISHED_MINUS_ADAPTATIONS[name]
    small = build_network(name, n_bands=204, n_classes=6, patch_size=9, width=0.25)
    print(f"{name}: {count_parameters(full):,} at width 1; {count_parameters(small):,} at 0.25")


def test_same_seed_same_weights_and_global_generator_untouched():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = build_network("resnet18", n_bands=4, n_classes=3, patch_size=5, width=0.125, seed=1)
    assert torch.equal(torch.rand(1), before)
    b = build_network("resnet18", n_bands=4, n_classes=3, patch_size=5, width=0.125, seed=1)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    with pytest.raises(ConfigError, match="unknown network 'lenet'"):
        build_network("lenet", n_bands=4, n_classes=3, patch_size=5)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_training_lowers_the_loss_and_learns_an_easy_task(name):
    patches, labels = easy_task()
    test_patches, test_labels = easy_task(seed=1)
    model = build_network(name, n_bands=6, n_classes=2, patch_size=7, width=0.125)
    history = train_classifier(model, patches, labels, epochs=12, batch_size=16, lr=1e-2, seed=0)
    assert history[-1] < 0.5 * history[0]
    assert np.mean(predict(model, test_patches) == test_labels) > 0.9


def test_same_seed_same_predictions():
    patches, labels = easy_task()
    runs = []
    for _ in range(2):
        model = build_network("alexnet", n_bands=6, n_classes=2, patch_size=7, width=0.125, seed=3)
        train_classifier(model, patches, labels, epochs=2, batch_size=16, seed=5)
        runs.append(predict(model, easy_task(seed=1)[0]))
        logits = model(torch.from_numpy(patches[:4].transpose(0, 3, 1, 2).copy()))
        runs.append(logits.detach().numpy())
    np.testing.assert_array_equal(runs[0], runs[2])
    np.testing.assert_array_equal(runs[1], runs[3])


def test_predict_accepts_lazy_patches_and_band_norm_uses_training_statistics():
    data = np.random.default_rng(0).random((12, 12, 5), dtype=np.float32) * 100
    centres = np.argwhere(np.ones((12, 12), dtype=bool))
    lazy = make_patches(data, centres, 3)
    model = build_network("vgg16", n_bands=5, n_classes=3, patch_size=3, width=0.125)
    train_classifier(model, lazy[:40], np.arange(40) % 3, epochs=1, batch_size=8)
    np.testing.assert_allclose(model.norm.mean.numpy(), lazy[:40].reshape(-1, 5).mean(0), rtol=1e-5)
    np.testing.assert_array_equal(predict(model, lazy, batch_size=50), predict(model, lazy[:]))


def test_epochs_for_table6_iterations():
    assert epochs_for_iterations(532) == 59  # 17 batches of 32 per epoch, 1000 steps
    assert epochs_for_iterations(100_000) == 1


@pytest.mark.parametrize("kind", ["svm", "forest"])
def test_spectrum_baselines(kind):
    patches, labels = easy_task(n=80)
    test_patches, test_labels = easy_task(n=80, seed=1)
    model = SpectrumClassifier(kind, seed=0)
    with pytest.raises(NotFittedError):
        model.predict(test_patches)
    model.fit(patches, labels)
    assert np.mean(model.predict(test_patches) == test_labels) > 0.9
    np.testing.assert_array_equal(
        model.predict(test_patches), model.predict(centre_spectra(test_patches))
    )
