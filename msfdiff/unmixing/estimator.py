"""``SceneUnmixer``: scene-based unmixing as a scikit-learn estimator.

>>> unmixer = SceneUnmixer(5).fit(cubes)                   # doctest: +SKIP
>>> abundances = unmixer.transform(photo)                  # (H, W, 5), rows sum to one
>>> hsi = unmixer.inverse_transform(abundances)            # (H, W, n_bands)
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from torch import nn

from msfdiff._io import atomic_write
from msfdiff.config import from_dict, to_dict
from msfdiff.data.bands import BandSelector, parse_band_selector
from msfdiff.data.cube import HyperCube, release_pages
from msfdiff.data.readers import check_same_bands
from msfdiff.errors import (
    ConfigError,
    DataFormatError,
    DataNotFoundError,
    DegenerateModelError,
    NotFittedError,
)
from msfdiff.layout import RunLayout
from msfdiff.progress import Log, Progress, no_log
from msfdiff.unmixing.config import DEFAULT_PRESET, UnmixingConfig, unmixing_config
from msfdiff.unmixing.endmembers import fcls, nfindr, simplex_nmf
from msfdiff.unmixing.model import MODEL_FOLDER, ChannelAttention, UnmixingAutoencoder
from msfdiff.unmixing.training import train_unmixer

STATE_FILE = "unmixer.json"
UNUSED_BELOW = 0.01  # mean abundance under which an endmember counts as unused
TILE_PIXELS = 2**17
"""Images with more pixels are encoded in row tiles of about this many (see ``transform``); the
cpu preset's encoder holds about 1.3 kB of activations per pixel (the paper's twice that), so a
tile with its halo takes a few hundred MB. Larger tiles were no faster on 2 cores."""
PRIOR_PIXELS = 2048  # pixels whose FCLS abundances give the encoder's starting usage


class SceneUnmixer(BaseEstimator):
    """Learn k shared endmembers from HSIs and infer abundances from photos or HSIs.

    A scikit-learn estimator: the constructor only stores its parameters (``get_params``,
    ``set_params`` and ``sklearn.base.clone`` work); ``fit`` resolves them into ``config_``.

    Parameters
    ----------
    n_endmembers : int, optional
        k; overrides the preset's value when given.
    preset : str
        Name of a packaged unmixing preset (``cpu``, ``paper``, ``official``).
    overrides : mapping, optional
        :class:`UnmixingConfig` fields replacing the preset's (``{"steps": 500}``); a None
        value keeps the preset's.
    config : UnmixingConfig, optional
        Full configuration; replaces the preset (``overrides`` still apply).
    random_state : int
        Seed for initialisation and crop sampling.

    Attributes
    ----------
    endmembers_ : ndarray of shape (n_endmembers, n_bands)
        Endmember spectra with the decoder bias folded in (``w_i + b``). Because abundances sum
        to one, ``E·a + b = Σ a_i (w_i + b)`` exactly, so each row is a reflectance spectrum
        and fusion needs no separate bias.
    bias_ : ndarray of shape (n_bands,)
        The decoder bias ``b`` of Eq. 3 (zeros when the preset has none), for reference.
    wavelengths_ : ndarray of shape (n_bands,) or None
    noise_std_ : ndarray of shape (n_bands,)
        Per-band standard deviation of the reconstruction residual on the training HSIs
        (the ε of the paper's Eq. 5), used to make synthetic cubes realistically noisy.
    usage_ : ndarray of shape (n_endmembers,)
        Mean abundance of each endmember over the training pixels. Training re-seeds an
        endmember that falls out of use; if one is still below 1 % at the end, ``fit`` raises
        :class:`~msfdiff.errors.DegenerateModelError` rather than return a collapsed model.
    reseeds_ : int
        How many times training re-seeded a dead endmember.
    n_bands_in_ : int
    config_ : UnmixingConfig
        The configuration training used.
    band_selector_ : BandSelector
        How an HSI becomes the encoder's 3-band input.
    history_ : list of dict
        Loss terms per training step.
    """

    def __init__(
        self,
        n_endmembers: int | None = None,
        *,
        preset: str = DEFAULT_PRESET,
        overrides: Mapping[str, Any] | None = None,
        config: UnmixingConfig | None = None,
        random_state: int = 0,
    ):
        self.n_endmembers = n_endmembers
        self.preset = preset
        self.overrides = overrides
        self.config = config
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        X: Sequence[HyperCube] | HyperCube,
        y: None = None,
        *,
        checkpoint_dir: str | os.PathLike | None = None,
        checkpoint_every: int = 200,
        resume: bool = False,
        progress: Progress | None = None,
        log: Log = no_log,
    ) -> SceneUnmixer:
        """Train on one or more HSIs (same bands); returns ``self``.

        ``y`` is ignored (scikit-learn's signature). Checkpoints and progress belong to one
        training run, not to the model, so they are arguments here rather than parameters:
        a ``clone`` never shares another fit's checkpoint folder.

        Parameters
        ----------
        checkpoint_dir : path, optional
            Where training checkpoints go, every ``checkpoint_every`` steps and on Ctrl-C;
            with ``resume=True`` training continues from the newest one there.
        progress : callable, optional
            ``progress(step, total, "loss 0.0123")`` after each training step.
        log : callable, optional
            Receives one line per event (e.g. a resume).
        """
        cubes = [X] if isinstance(X, HyperCube) else list(X)
        if not cubes:
            raise DataNotFoundError("no training HSIs given")
        config = unmixing_config(
            self.preset, self.overrides, n_endmembers=self.n_endmembers, config=self.config
        )
        self.config_ = config
        self.band_selector_ = parse_band_selector(config.band_selection)
        for cube in cubes[1:]:
            check_same_bands(cubes[0], cube)
        self.wavelengths_ = cubes[0].wavelengths_nm
        self.n_bands_in_ = cubes[0].n_bands

        torch.manual_seed(self.random_state)
        mean_rgb, std_rgb, spectra = self._statistics(cubes)
        mean_spectrum = spectra.mean(0)
        model = UnmixingAutoencoder(
            n_bands=self.n_bands_in_,
            n_endmembers=config.n_endmembers,
            widths=config.widths,
            blocks_per_stage=config.blocks_per_stage,
            attention=config.attention,
            res_scale=config.res_scale,
            decoder_bias=config.decoder_bias,
            linear_skip=config.linear_skip,
            input_mean=tuple(map(float, mean_rgb)),
            input_std=tuple(map(float, std_rgb)),
        )
        start = None
        if config.decoder_init in ("nfindr", "nmf"):
            start = nfindr(
                spectra, config.n_endmembers, enclose=config.decoder_enclose, seed=self.random_state
            )
            if config.decoder_init == "nmf":
                start = simplex_nmf(spectra, start)
            start = torch.from_numpy(start).float()
        model.init_decoder(torch.from_numpy(mean_spectrum).float(), endmembers=start)
        if config.nonneg_endmembers:
            model.project_endmembers_()
        if start is not None and config.abundance_prior:
            sample = spectra[:: max(1, len(spectra) // PRIOR_PIXELS)]
            usage = fcls(model.folded_endmembers.detach().double().numpy(), sample).mean(0)
            model.init_abundance_prior_(torch.from_numpy(usage).float())

        def crop(i: int, r: int, c: int, size: int) -> tuple[np.ndarray, np.ndarray]:
            cube = cubes[i]
            hsi = np.asarray(cube.data[r : r + size, c : c + size], dtype=np.float32)
            return self._rgb_from_hsi(cube.with_data(hsi)), hsi

        shapes = [c.shape[:2] for c in cubes]
        self.history_ = train_unmixer(
            model,
            crop,
            shapes,
            config,
            seed=self.random_state,
            checkpoint_dir=None if checkpoint_dir is None else Path(checkpoint_dir),
            checkpoint_every=checkpoint_every,
            resume=resume,
            progress=progress,
            log=log,
            loss_scale=float(mean_spectrum.mean())
            if config.loss_normalisation == "mean-reflectance"
            else 1.0,
        )
        self.model_ = model
        self.reseeds_ = int(self.history_[-1]["reseeds"]) if self.history_ else 0
        self.noise_std_, self.usage_ = self._fit_statistics(cubes)
        check_all_used(self.usage_, reseeds=self.reseeds_)
        spread = float(((spectra - mean_spectrum) ** 2).mean())
        check_learned(float((self.noise_std_**2).mean()), spread, config.learning_rate)
        return self

    def _statistics(self, cubes: Sequence[HyperCube]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean/std of the 3-band inputs and a strided subsample of spectra (≈2**16 in all)."""
        rgbs, spectra = [], []
        per_cube = max(64, 2**16 // len(cubes))
        for cube in cubes:
            h, w = cube.shape[:2]
            step = max(1, int(np.ceil(np.sqrt(h * w / per_cube))))
            sub = np.asarray(cube.data[::step, ::step], dtype=np.float32)
            check_reflectance(sub, cube.source)
            rgbs.append(self._rgb_from_hsi(cube.with_data(sub)).reshape(-1, 3))
            spectra.append(sub.reshape(-1, cube.n_bands))
        rgb = np.concatenate(rgbs)
        return rgb.mean(0), rgb.std(0) + 1e-6, np.concatenate(spectra)

    def _fit_statistics(self, cubes: Sequence[HyperCube]) -> tuple[np.ndarray, np.ndarray]:
        """Per-band residual std and per-endmember mean abundance on the training HSIs."""
        sq, usage, n = np.zeros(self.n_bands_in_), 0.0, 0
        for cube in cubes:
            abundances = self.transform(cube)
            rows = _block_rows(cube.shape[1])
            for start in range(0, cube.shape[0], rows):  # a scene's residual is as large as it
                block = np.asarray(cube.data[start : start + rows], np.float32)
                residual = self.inverse_transform(abundances[start : start + rows]) - block
                sq += (residual.reshape(-1, self.n_bands_in_) ** 2).sum(0)
                release_pages(cube.data)
            usage = usage + abundances.reshape(-1, abundances.shape[-1]).sum(0)
            n += cube.shape[0] * cube.shape[1]
        n = max(n, 1)
        return np.sqrt(sq / n).astype(np.float32), (usage / n).astype(np.float32)

    # ---------------------------------------------------------------- inference
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError(
                "this SceneUnmixer is not fitted yet: call fit() or load a trained run"
            )

    def _rgb_from_hsi(self, cube: HyperCube) -> np.ndarray:
        """Band-select in row blocks, releasing each block's pages of a memory-mapped cube."""
        data = cube.data
        rgb = np.empty((*data.shape[:2], 3), np.float32)
        rows = _block_rows(data.shape[1])
        for start in range(0, data.shape[0], rows):
            block = cube.with_data(data[start : start + rows])
            rgb[start : start + rows] = self.band_selector_.hsi_to_rgb(block)
            release_pages(data)
        return _normalise(rgb, self.config_.input_normalisation)

    def rgb_from_hsi(self, cube: HyperCube) -> np.ndarray:
        """The encoder's 3-band view (H, W, 3) of an HSI, as used in training."""
        self._check_fitted()
        if cube.n_bands != self.n_bands_in_:
            raise DataFormatError(
                f"{cube.source}: expected {self.n_bands_in_} bands like the training data, got {cube.n_bands}"
            )
        return self._rgb_from_hsi(cube)

    def rgb_from_photo(self, photo: np.ndarray, *, gain: float = 1.0) -> np.ndarray:
        """The encoder's view (..., H, W, 3) of an sRGB photo in [0, 1], after the matching decode.

        ``gain`` scales the decoded photo so a photo collection's brightness matches the
        training reflectance (see :meth:`photo_gain`).
        """
        self._check_fitted()
        rgb = self.band_selector_.photo_to_input(photo).astype(np.float32)
        if self.config_.input_normalisation == "per-image-minmax":
            return _normalise(rgb, "per-image-minmax")
        return rgb * np.float32(gain)

    def photo_gain(self, photos: Sequence[np.ndarray]) -> float:
        """Brightness gain mapping a photo collection onto the training inputs' mean level.

        Photos have arbitrary exposure while HSIs are reflectance: one gain per *collection*
        (not per photo) keeps dark and bright scenes distinguishable.
        """
        self._check_fitted()
        levels = [float(self.band_selector_.photo_to_input(p).mean()) for p in photos]
        target = float(np.mean(self.model_.config.input_mean))
        return target / max(float(np.mean(levels)), 1e-6)

    def transform(
        self,
        X: HyperCube | np.ndarray,
        *,
        gain: float | None = None,
        out: np.ndarray | None = None,
        tile_rows: int | None = None,
    ) -> np.ndarray:
        """Abundances of what a user holds: an HSI or a photo, each decoded its own way.

        A scene larger than memory (a memory-mapped HyperCube) streams: it is band-selected
        in row blocks, only its 3-band view is held, and an image of more than
        :data:`TILE_PIXELS` pixels is encoded in row tiles, each with a halo of the
        convolutions' reach. The encoder's channel attention pools over the whole image, so
        its pooled features are gathered over all tiles first, one partial pass per attention
        layer: tiles give the untiled result to float precision, not an approximation of it,
        at about a fifth of the speed (cpu preset, 2 cores) and in a tile's memory.

        Parameters
        ----------
        X : HyperCube, or ndarray of shape (H, W, C) or (N, H, W, C)
            An HSI (a HyperCube, or an array with C = ``n_bands_in_``) is band-selected as in
            training; a photo (C = 3: uint8, or sRGB floats in [0, 1]) goes through
            :meth:`rgb_from_photo`. A 3-channel array is always read as a photo, so an HSI of
            3 bands must come as a HyperCube.
        gain : float, optional
            Photos only: the brightness gain of :meth:`photo_gain` (default 1).
        out : ndarray of shape (H, W, k) or (N, H, W, k), optional
            Written in place and returned, e.g. a ``numpy.lib.format.open_memmap`` file, so
            the abundances of a large scene need not be held in memory either.
        tile_rows : int, optional
            Rows per tile; by default about :data:`TILE_PIXELS` pixels for larger images.

        Returns
        -------
        ndarray of shape (H, W, k) or (N, H, W, k); non-negative, summing to one per pixel.
        """
        self._check_fitted()
        if tile_rows is not None and tile_rows < 1:
            raise ConfigError(f"tile_rows must be at least 1, got {tile_rows}")
        if not isinstance(X, HyperCube):
            X = self._checked_array(X)
        is_photo = isinstance(X, np.ndarray) and X.shape[-1] == 3
        if gain is not None and not is_photo:
            raise ValueError("gain applies to photos only: an HSI is reflectance already")
        if is_photo:
            rgb = self.rgb_from_photo(_photo_floats(X), gain=1.0 if gain is None else gain)
        elif isinstance(X, HyperCube):
            rgb = self.rgb_from_hsi(X)
        else:  # a batch or a bare array of HSIs: each one band-selected as its own cube
            cubes = [HyperCube(image, self.wavelengths_) for image in X.reshape(-1, *X.shape[-3:])]
            rgb = np.stack([self._rgb_from_hsi(c) for c in cubes]).reshape(*X.shape[:-1], 3)
        shape = (*rgb.shape[:-1], self.config_.n_endmembers)
        if out is None:
            out = np.empty(shape, np.float32)
        elif out.shape != shape:
            raise DataFormatError(f"out has shape {out.shape}; the abundances need {shape}")
        self._encode(rgb, out, tile_rows)
        return out

    def _checked_array(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim not in (3, 4) or X.shape[-1] not in (3, self.n_bands_in_):
            raise DataFormatError(
                f"expected a HyperCube, an HSI (H, W, {self.n_bands_in_}) or "
                f"(N, H, W, {self.n_bands_in_}), or a photo (H, W, 3) or (N, H, W, 3); "
                f"got shape {X.shape}"
            )
        return X

    @torch.no_grad()
    def _encode(self, rgb: np.ndarray, out: np.ndarray, tile_rows: int | None) -> None:
        """Abundances of encoder inputs (..., H, W, 3) into ``out``: whole images in batches
        of up to 16 (and :data:`TILE_PIXELS` pixels), larger ones in row tiles."""
        height, width = rgb.shape[-3:-1]
        if tile_rows is None:
            tile_rows = height if height * width <= TILE_PIXELS else _block_rows(width)
        images = list(np.ndindex(rgb.shape[:-3]))
        if tile_rows < height:
            for i in images:
                self._encode_tiled(rgb[i], out[i], tile_rows)
            return
        per_batch = min(16, max(1, TILE_PIXELS // (height * width)))
        for first in range(0, len(images), per_batch):
            chunk = images[first : first + per_batch]
            batch = torch.from_numpy(np.stack([rgb[i] for i in chunk])).permute(0, 3, 1, 2)
            abundances = self.model_.encode(batch).permute(0, 2, 3, 1).numpy()
            for i, abundance in zip(chunk, abundances, strict=True):
                out[i] = abundance

    def _encode_tiled(self, rgb: np.ndarray, out: np.ndarray, rows: int) -> None:
        """Encode one image (H, W, 3) into ``out`` (H, W, k) in tiles of ``rows`` rows."""
        model = copy.deepcopy(self.model_)  # its attention layers are swapped for this image
        layers = []
        for parent in list(model.encoder.modules()):
            for name, child in parent.named_children():
                if isinstance(child, ChannelAttention):
                    layers.append(_ImagePooledAttention(child))
                    setattr(parent, name, layers[-1])
        halo = sum(
            m.dilation[0] * (m.kernel_size[0] - 1) // 2
            for m in model.encoder.modules()
            if isinstance(m, nn.Conv2d)
        )
        height = rgb.shape[0]
        tiles = []  # (rows read with the halo, the tile's own rows within them, rows of out)
        for start in range(0, height, rows):
            stop = min(start + rows, height)
            low, high = max(0, start - halo), min(height, stop + halo)
            tiles.append((slice(low, high), slice(start - low, stop - low), slice(start, stop)))

        def encode(read: slice) -> torch.Tensor:
            return model.encode(torch.from_numpy(rgb[read]).permute(2, 0, 1)[None])

        for layer in layers:  # in forward order: each gathers with the earlier ones settled
            for read, own, _ in tiles:
                layer.own_rows = own
                with suppress(_Gathered):
                    encode(read)
            layer.settle()
        for read, own, write in tiles:
            out[write] = encode(read)[0, :, own].permute(1, 2, 0).numpy()
            release_pages(out)

    def inverse_transform(self, abundances: np.ndarray) -> np.ndarray:
        """HSI (..., n_bands) = abundances (..., k) · endmembers — the linear mixing model.

        The same product as :func:`msfdiff.fusion.fuse` without bias or noise (the bias is
        folded into ``endmembers_``).
        """
        endmembers = self.endmembers_
        abundances = np.asarray(abundances, dtype=np.float32)
        if abundances.shape[-1] != len(endmembers):
            raise DataFormatError(
                f"abundances have {abundances.shape[-1]} endmember channels, "
                f"the unmixer has {len(endmembers)}"
            )
        return abundances @ endmembers

    def reconstruct(self, cube: HyperCube) -> np.ndarray:
        """Reconstruct a full HSI from its own 3-band view (the Table 3 protocol)."""
        return self.inverse_transform(self.transform(cube))

    @property
    def endmembers_(self) -> np.ndarray:
        self._check_fitted()
        return self.model_.folded_endmembers.detach().numpy().copy()

    @property
    def bias_(self) -> np.ndarray:
        self._check_fitted()
        bias = self.model_.decoder.bias
        return (
            np.zeros(self.n_bands_in_, np.float32) if bias is None else bias.detach().numpy().copy()
        )

    # ------------------------------------------------------------- persistence
    def save(self, folder: str | Path) -> Path:
        """Write ``model/`` (safetensors + config.json) and ``unmixer.json`` into ``folder``."""
        self._check_fitted()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.model_.save_pretrained(folder / MODEL_FOLDER, safe_serialization=True)
        state = {
            "config": to_dict(self.config_),
            "band_selector": self.band_selector_.to_dict(),
            "wavelengths_nm": None if self.wavelengths_ is None else self.wavelengths_.tolist(),
            "noise_std": self.noise_std_.tolist(),
            "usage": self.usage_.tolist(),
            "reseeds": self.reseeds_,
            "endmembers": self.endmembers_.tolist(),
            "n_bands": self.n_bands_in_,
            "random_state": self.random_state,
        }
        atomic_write(folder / STATE_FILE, lambda p: p.write_text(json.dumps(state, indent=2)))
        atomic_write(folder / "history.json", lambda p: p.write_text(json.dumps(self.history_)))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> SceneUnmixer:
        """Restore a unmixer written by :meth:`save`."""
        folder = Path(folder)
        state_path = folder / STATE_FILE
        if not state_path.exists():
            raise DataNotFoundError(f"{folder}: no trained unmixer here (missing {STATE_FILE})")
        state = json.loads(state_path.read_text())
        config = from_dict(UnmixingConfig, state["config"], where=str(state_path))
        self = cls(config=config, random_state=state.get("random_state", 0))
        self.config_ = config
        self.band_selector_ = BandSelector.from_dict(state["band_selector"])
        wl = state["wavelengths_nm"]
        self.wavelengths_ = None if wl is None else np.asarray(wl, dtype=np.float64)
        self.noise_std_ = np.asarray(state["noise_std"], dtype=np.float32)
        self.usage_ = np.asarray(state["usage"], dtype=np.float32)
        self.reseeds_ = int(state.get("reseeds", 0))
        self.n_bands_in_ = int(state["n_bands"])
        self.model_ = UnmixingAutoencoder.from_pretrained(folder / MODEL_FOLDER).eval()
        history = folder / "history.json"
        self.history_ = json.loads(history.read_text()) if history.exists() else []
        return self


def load_unmixer(run_or_folder: str | os.PathLike) -> SceneUnmixer:
    """Load the unmixer of a run directory (``RUN/unmixing``) or of its own folder."""
    path = Path(run_or_folder)
    in_run = RunLayout(path).unmixing
    return SceneUnmixer.load(in_run if is_saved_unmixer(in_run) else path)


def is_saved_unmixer(folder: str | os.PathLike) -> bool:
    """True where :meth:`SceneUnmixer.save` has completed (its state file is written last)."""
    return (Path(folder) / STATE_FILE).exists()


def check_reflectance(pixels: np.ndarray, source: str) -> None:
    """Refuse data with no positive signal before any training: a wrong ``scale``, key or
    sign would otherwise train for minutes on something that is not reflectance."""
    top = float(np.percentile(pixels, 99))
    if top <= 0:
        raise DataFormatError(
            f"{source}: 99% of the values are <= 0 ({top:g}), so this is not reflectance; "
            "check the file, its key and --scale"
        )


def check_all_used(usage: np.ndarray, *, reseeds: int = 0) -> None:
    """Raise, naming them, if endmembers have a mean abundance below ``UNUSED_BELOW``.

    A collapsed unmixer makes every synthetic HSI a few spectra times a brightness; it must
    stop the pipeline, not feed the diffusion stage.
    """
    unused = [f"E{i + 1} ({u:.1%})" for i, u in enumerate(usage) if u < UNUSED_BELOW]
    if unused:
        raise DegenerateModelError(
            f"unmixing collapsed: endmember(s) {', '.join(unused)} of {len(usage)} unused on the "
            f"training HSIs after {reseeds} re-seed(s); use fewer endmembers "
            f"(n_endmembers / --k {max(2, len(usage) - len(unused))}) or more training steps"
        )


def check_learned(residual_mse: float, spread_mse: float, learning_rate: float) -> None:
    """Raise if the reconstruction explains less than half the spectral variance.

    A diverged encoder gives every pixel the same abundances: every endmember is "used", yet
    every pixel is reconstructed as the mean spectrum.
    """
    if residual_mse > 0.5 * spread_mse:
        raise DegenerateModelError(
            f"unmixing did not learn: the reconstruction explains {1 - residual_mse / spread_mse:.0%} "
            f"of the training HSIs' spectral variance (a working model explains over 90%); "
            f"lower learning_rate (now {learning_rate:g}) or check the training data"
        )


def _block_rows(width: int) -> int:
    """Rows of about :data:`TILE_PIXELS` pixels: a block of a scene read or encoded at a time."""
    return max(1, TILE_PIXELS // max(1, width))


class _Gathered(Exception):
    """Ends a forward pass once the attention layer being gathered has seen its tile."""


class _ImagePooledAttention(nn.Module):
    """Channel attention fed the whole image's pooled features rather than one tile's.

    Until :meth:`settle`, a forward pass adds the sum and maximum of its input over
    ``own_rows`` (the tile without its halo) to a running total and raises :class:`_Gathered`;
    after it, the layer weights channels as ``ChannelAttention.forward`` does, from the
    whole image's mean and maximum.
    """

    def __init__(self, attention: ChannelAttention):
        super().__init__()
        self.attention = attention
        self.own_rows = slice(None)
        self.pooled: tuple[torch.Tensor, torch.Tensor] | None = None
        self._sum: torch.Tensor | None = None
        self._max: torch.Tensor | None = None
        self._count = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pooled is None:
            own = x[:, :, self.own_rows]
            total = own.sum(dim=3, keepdim=True).sum(dim=2, keepdim=True, dtype=torch.float64)
            peak = own.amax(dim=(2, 3), keepdim=True)
            self._sum = total if self._sum is None else self._sum + total
            self._max = peak if self._max is None else torch.maximum(self._max, peak)
            self._count += own.shape[2] * own.shape[3]
            raise _Gathered
        return self.attention.weigh(x, *self.pooled)

    def settle(self) -> None:
        """Fix the whole image's mean and maximum, gathered over every tile."""
        self.pooled = ((self._sum / self._count).float(), self._max)


def _normalise(rgb: np.ndarray, mode: str) -> np.ndarray:
    if mode == "per-image-minmax":
        lo, hi = rgb.min(), rgb.max()
        return (rgb - lo) / max(float(hi - lo), 1e-8)
    return rgb


def _photo_floats(photo: np.ndarray) -> np.ndarray:
    """A photo as sRGB floats in [0, 1] (what :func:`msfdiff.data.rgb.read_photo` returns)."""
    if photo.dtype == np.uint8:
        return photo.astype(np.float32) / np.float32(255)
    if photo.dtype.kind != "f":
        raise DataFormatError(f"a photo must be uint8 or floats in [0, 1], got {photo.dtype}")
    lo, hi = float(photo.min()), float(photo.max())
    if lo < 0 or hi > 1:
        raise DataFormatError(
            f"a photo given as floats must be sRGB in [0, 1], got values in [{lo:g}, {hi:g}]"
        )
    return photo


__all__ = ["SceneUnmixer", "is_saved_unmixer", "load_unmixer"]
