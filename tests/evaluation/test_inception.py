"""The FID feature network: resize rule, weight lookup, and FID on real photos."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter

from msfdiff.data.bands import parse_band_selector
from msfdiff.errors import DataFormatError, DataNotFoundError
from msfdiff.evaluation import inception as inc
from msfdiff.evaluation.generative import frechet_feature_distance


def _grid_sample_tf_resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """TF1 ResizeBilinear written as an affine grid: input coordinate = i * in / out."""
    n, _, h, w = x.shape
    ys = torch.arange(size[0], dtype=torch.float64) * h / size[0]
    xs = torch.arange(size[1], dtype=torch.float64) * w / size[1]
    # grid_sample(align_corners=False) reads pixel p at normalised (2p + 1) / n - 1
    gy, gx = torch.meshgrid((2 * ys + 1) / h - 1, (2 * xs + 1) / w - 1, indexing="ij")
    grid = torch.stack([gx, gy], dim=-1)[None].expand(n, -1, -1, -1)
    return F.grid_sample(
        x.double(), grid, mode="bilinear", padding_mode="border", align_corners=False
    )


def test_resize_known_values_for_doubling():
    x = torch.tensor([[[[0.0, 10.0, 20.0]]]])
    out = inc.tf_bilinear_resize(x, (1, 6))
    # position i*3/6: 0, .5, 1, 1.5, 2, 2.5 (the last clamps to the edge value)
    assert out.flatten().tolist() == [0.0, 5.0, 10.0, 15.0, 20.0, 20.0]


@pytest.mark.parametrize("shape", [(150, 150), (64, 80), (512, 300), (299, 299)])
def test_resize_matches_grid_sample_formulation(shape):
    x = torch.rand(2, 3, *shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ours = inc.tf_bilinear_resize(x, (299, 299))
    assert torch.allclose(ours, _grid_sample_tf_resize(x, (299, 299)), atol=1e-10)


def test_network_input_range_and_quantisation():
    x = torch.tensor([0.0, 0.5, 1.0]).view(1, 1, 1, 3).expand(1, 3, 299, 3)
    prepared = inc.network_input(x[..., :1].expand(1, 3, 299, 299))
    assert float(prepared.min()) == -1.0
    white = inc.network_input(torch.ones(1, 3, 8, 8))
    assert float(white.max()) == pytest.approx(127 / 128)  # 255 -> (255 - 128) / 128
    half = inc.network_input(torch.full((1, 3, 8, 8), 0.5))
    assert float(half[0, 0, 0, 0]) == pytest.approx((128 - 128) / 128)  # round(127.5) = 128
    with pytest.raises(DataFormatError, match=r"\(N, 3, H, W\)"):
        inc.network_input(torch.zeros(1, 1, 8, 8))


def test_weights_lookup_order(tmp_path, monkeypatch):
    given = tmp_path / "net.pt"
    given.write_bytes(b"x")
    monkeypatch.setenv(inc.WEIGHTS_ENV, str(tmp_path / "missing.pt"))
    assert inc.find_inception_weights(given) == given  # explicit path wins over the variable
    with pytest.raises(DataNotFoundError, match="missing.pt"):
        inc.find_inception_weights()
    monkeypatch.setenv(inc.WEIGHTS_ENV, str(given))
    assert inc.find_inception_weights() == given


def test_wrong_network_file_is_refused(tmp_path):
    fake = tmp_path / "other.pt"
    fake.write_bytes(b"not the network")
    with pytest.raises(DataFormatError, match="SHA-1"):
        inc.InceptionFeatures(fake)


@pytest.fixture(scope="module")
def network() -> inc.InceptionFeatures:
    try:
        return inc.InceptionFeatures()
    except DataNotFoundError as err:
        pytest.skip(str(err))


def _aid(shared_data, n: int) -> list[np.ndarray]:
    from msfdiff.data.rgb import list_photos, read_photo

    photos = list_photos(shared_data / "rgb" / "aid_150px_subset" / "Farmland")[:n]
    return [read_photo(p.path) for p in photos]


def test_features_are_2048_nonnegative_and_deterministic(network):
    images = [np.random.default_rng(i).random((40, 50, 3)) for i in range(2)]
    feats = inc.inception_features(images, model=network, batch_size=1)
    again = inc.inception_features(images, model=network)
    assert feats.shape == (2, 2048)
    assert feats.min() >= 0  # pool3 follows a ReLU
    np.testing.assert_allclose(feats, again, atol=1e-4)
    assert network.weights_sha1 == inc.WEIGHTS_SHA1


@pytest.mark.slow
def test_fid_on_photos_zero_for_same_set_and_grows_with_degradation(network, shared_data):
    photos = _aid(shared_data, 5)
    rng = np.random.default_rng(0)
    mild = [np.clip(p + rng.normal(0, 0.03, p.shape), 0, 1) for p in photos]
    strong = [np.clip(p + rng.normal(0, 0.2, p.shape), 0, 1) for p in photos]
    blurred = [gaussian_filter(p, (3, 3, 0)) for p in photos]
    clean_f, mild_f, strong_f, blur_f = (
        inc.inception_features(s, model=network) for s in (photos, mild, strong, blurred)
    )
    assert frechet_feature_distance(clean_f, clean_f) == pytest.approx(0.0, abs=1e-6)
    fd_mild = frechet_feature_distance(clean_f, mild_f)
    assert 0 < fd_mild < frechet_feature_distance(clean_f, strong_f)
    assert fd_mild < frechet_feature_distance(clean_f, blur_f)


def test_render_rgb_picks_nearest_bands_and_stretches(rng):
    wl = np.linspace(400, 700, 16)
    cube = np.zeros((10, 10, wl.size), dtype=np.float32)
    red, green, blue = (int(np.argmin(np.abs(wl - t))) for t in (640, 550, 460))
    cube[..., red] = np.linspace(0, 0.2, 100).reshape(10, 10)
    cube[..., green] = 0.05
    image = inc.render_rgb(cube, wl, selector=parse_band_selector("nearest:640,550,460"))
    lo, hi = np.percentile(cube[..., [red, green, blue]], inc.STRETCH_PERCENTILES)
    np.testing.assert_allclose(
        image[..., 0], np.clip((cube[..., red] - lo) / (hi - lo), 0, 1), atol=1e-6
    )
    assert image[..., 2].max() == 0.0
    srgb = inc.render_rgb(cube, wl, selector=parse_band_selector("nearest:640,550,460+srgb"))
    assert srgb[..., 1].mean() > image[..., 1].mean()  # the sRGB curve lifts mid-tones
