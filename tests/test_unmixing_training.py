"""Training that cannot collapse: dead-endmember re-seeding, physical endmembers, step budget."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from msfdiff.config import load_preset
from msfdiff.data.bands import parse_band_selector
from msfdiff.errors import DegenerateModelError
from msfdiff.unmixing import SceneUnmixer
from msfdiff.unmixing.config import UnmixingConfig
from msfdiff.unmixing.model import UnmixingAutoencoder
from msfdiff.unmixing.training import reseed_endmember, train_unmixer
from tests.synthetic import known_scene

TINY = dict(widths=(8, 8), batch_size=4, crop_size=16, learning_rate=3e-3, linear_skip=True)


def _killed_model(k: int, n_bands: int, spectra: np.ndarray) -> UnmixingAutoencoder:
    """A model whose last endmember no pixel uses: its logit sits 30 below the others."""
    torch.manual_seed(0)
    model = UnmixingAutoencoder(n_bands=n_bands, n_endmembers=k, widths=(8, 8), linear_skip=True)
    model.init_decoder(torch.zeros(n_bands), endmembers=torch.from_numpy(spectra).float())
    final = [m for m in model.encoder if isinstance(m, torch.nn.Conv2d)][-1]
    with torch.no_grad():
        final.bias[-1] -= 30.0
    return model


def _crop(cube):
    """The trainer's crop function over one cube, with a fixed 3-band selection."""
    rgb = parse_band_selector("nearest:620,540,460").hsi_to_rgb(cube).astype(np.float32)
    hsi = np.asarray(cube.data, np.float32)

    def crop(i, r, c, size):
        return rgb[r : r + size, c : c + size], hsi[r : r + size, c : c + size]

    return crop


def _train(model, cube, **overrides) -> tuple[list[dict], np.ndarray]:
    rgb = parse_band_selector("nearest:620,540,460").hsi_to_rgb(cube).astype(np.float32)
    config = UnmixingConfig(n_endmembers=3, **{**TINY, "steps": 300, **overrides})
    history = train_unmixer(model, _crop(cube), [cube.shape[:2]], config)
    with torch.no_grad():
        x = torch.from_numpy(rgb).permute(2, 0, 1)[None]
        usage = model.encode(x).mean(dim=(0, 2, 3)).numpy()
    return history, usage


def test_a_dead_endmember_is_reseeded_and_used_again():
    cube, endmembers, abundances = known_scene(size=32, k=3)
    # two endmembers at real pixels, the third dead
    history, usage = _train(_killed_model(3, cube.n_bands, endmembers.copy()), cube)
    assert history[-1]["reseeds"] >= 1
    assert usage.min() > 0.1, usage  # the true scene uses each about a third
    # without re-seeding it stays dead: the softmax gradient of a zero abundance is zero
    history, usage = _train(
        _killed_model(3, cube.n_bands, endmembers.copy()), cube, reseed_below=0.0
    )
    assert history[-1]["reseeds"] == 0 and usage[-1] < 0.01, usage


def test_reseed_splits_the_donor_towards_the_worst_pixel():
    torch.manual_seed(0)
    model = UnmixingAutoencoder(n_bands=5, n_endmembers=3, widths=(8,), linear_skip=True)
    rgb, hsi = torch.rand(2, 3, 4, 4), torch.rand(2, 5, 4, 4)
    with torch.no_grad():
        [m for m in model.encoder if isinstance(m, torch.nn.Conv2d)][-1].bias[2] -= 30.0
        pred, before = model(rgb)
    hsi[1, :, 2, 3] += 5.0  # the worst-reconstructed pixel
    usage = torch.tensor([0.5, 0.5, 0.0])
    donor = int(before.mean(dim=(0, 2, 3)).argmax())
    usage[donor] = 0.7
    centre = model.folded_endmembers[donor].clone()
    reseed_endmember(model, 2, hsi, pred, usage)
    # the pair d ± (w − d)/2 around the donor d, towards the worst pixel w
    torch.testing.assert_close(model.folded_endmembers[2], (centre + hsi[1, :, 2, 3]) / 2)
    torch.testing.assert_close(model.folded_endmembers.detach()[[2, donor]].mean(0), centre)
    with torch.no_grad():
        after = model.encode(rgb)
    torch.testing.assert_close(after[:, 2], after[:, donor])  # a copy of the donor's output
    torch.testing.assert_close(after[:, 2] + after[:, donor], before[:, donor])  # sharing it
    assert usage[2] == usage[donor] == pytest.approx(0.35)


def test_folded_endmembers_stay_non_negative():
    cube, endmembers, _ = known_scene(size=32, k=3)
    model = _killed_model(3, cube.n_bands, endmembers.copy())
    with torch.no_grad():  # start far below zero: the first projection must fix it
        model.decoder.bias.fill_(-0.3)
    _train(model, cube, steps=20)
    assert model.folded_endmembers.min() >= 0
    np.testing.assert_array_less(-1e-7, model.folded_endmembers.detach().numpy())


def test_a_model_still_collapsed_at_the_end_stops_fit(monkeypatch):
    import msfdiff.unmixing.estimator as estimator

    class Collapsing(UnmixingAutoencoder):
        def init_abundance_prior_(self, prior):  # the last step of the start
            super().init_abundance_prior_(prior)
            with torch.no_grad():
                self._final_conv.bias[-1] -= 30.0

    monkeypatch.setattr(estimator, "UnmixingAutoencoder", Collapsing)
    cube, _, _ = known_scene(size=32, k=3)
    overrides = {
        **TINY,
        "steps": 40,
        "reseed_below": 0.0,
        "band_selection": "nearest:620,540,460",
    }
    unmixer = SceneUnmixer(3, preset="cpu", overrides=overrides)
    with pytest.raises(DegenerateModelError, match=r"E3 \(0\.0%\) of 3 unused.*--k 2"):
        unmixer.fit(cube)


def test_presets_are_sized_in_steps_and_physical_by_default():
    for name in ("cpu", "paper"):
        config = load_preset(UnmixingConfig, "unmixing", name)
        assert config.steps > 0 and config.nonneg_endmembers and config.reseed_below > 0


def test_a_model_that_learned_nothing_stops_fit():
    from msfdiff.unmixing.estimator import check_learned

    # a diverged encoder: same abundances everywhere, every pixel the mean spectrum
    with pytest.raises(DegenerateModelError, match=r"did not learn.*explains 0%.*learning_rate"):
        check_learned(1.0, 1.0, learning_rate=0.004)
    check_learned(0.01, 1.0, learning_rate=0.002)  # 99 % explained: nothing raised


def test_a_fresh_run_discards_an_earlier_runs_checkpoints(tmp_path):
    from msfdiff.checkpoints import checkpoints

    cube, endmembers, _ = known_scene(size=32, k=3)
    for steps in (8, 6):  # the shorter run's last checkpoint must win over the longer one's
        config = UnmixingConfig(n_endmembers=3, **{**TINY, "steps": steps})
        model = _killed_model(3, cube.n_bands, endmembers.copy())
        train_unmixer(
            model,
            _crop(cube),
            [cube.shape[:2]],
            config,
            checkpoint_dir=tmp_path,
            checkpoint_every=4,
        )
        assert [p.name for p in checkpoints(tmp_path)] == [f"step_{steps:08d}"]


def test_overrides_resolve_once_for_every_face_and_typos_fail_early():
    from msfdiff.errors import ConfigError
    from msfdiff.unmixing.config import DEFAULT_PRESET, unmixing_config

    config = unmixing_config(overrides={"steps": 7, "batch_size": None, "learning_rate": "1e-4"})
    cpu = load_preset(UnmixingConfig, "unmixing", DEFAULT_PRESET)
    assert (config.steps, config.batch_size, config.learning_rate) == (7, cpu.batch_size, 1e-4)
    with pytest.raises(ConfigError, match=r"unmixing\.overrides: unknown key\(s\) \['stpes'\]"):
        unmixing_config(overrides={"stpes": 7}, where="unmixing.overrides")
