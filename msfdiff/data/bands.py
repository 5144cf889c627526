"""From a hyperspectral cube to the three channels the unmixing encoder sees.

The encoder is trained on 3 channels computed from HSI cubes and applied to real photos, so
both must live in the same domain. A :class:`BandSelector` fixes that domain once:

* ``nearest``: the bands nearest three wavelengths (R, G, B order);
* ``indices``: three fixed band indices (the official code's 7/17/27 of the Chikusei cube);
* ``camera``: a rendering through real spectral responses under an illuminant, the way a
  camera forms a photo: ``RGB_c = sum_b R(λ_b) S_c(λ_b) L(λ_b) Δλ_b / sum_b S_c L Δλ_b``,
  so a white (reflectance 1) surface gives (1, 1, 1) (per-channel white balance). For
  ``cie1931`` the XYZ values are mapped to linear sRGB (IEC 61966-2-1 matrix) first.

``encoding='srgb'`` applies the sRGB transfer curve to the rendered channels and leaves photos
as stored; ``encoding='linear'`` keeps channels linear and decodes photos to linear sRGB.
Every method is a fixed (n_bands, 3) weight matrix followed by clipping to [0, 1] and the
encoding, so rendering is cheap and works on memory-mapped cubes a block of rows at a time.
The measurements behind the default are in ``docs/band-selection.md``.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from msfdiff.config import from_dict, to_dict
from msfdiff.data.cube import HyperCube
from msfdiff.data.spectra import CIE_1931, illuminant, response_curves
from msfdiff.errors import ConfigError, DataFormatError

METHODS = ("nearest", "indices", "camera")
ENCODINGS = ("linear", "srgb")
DEFAULT_NEAREST_NM = (650.0, 550.0, 450.0)
DEFAULT_CAMERA = CIE_1931
#: A response must keep this share of its weight inside the cube's wavelength range.
MIN_COVERAGE = 0.9
_ROWS_PER_CHUNK = 256
_PARAMETER = {"nearest": "wavelengths_nm", "indices": "indices", "camera": "camera"}


@dataclass(frozen=True)
class BandSelector:
    """How an HSI cube becomes an (H, W, 3) R, G, B image, and how photos match it.

    Parameters
    ----------
    method : {'nearest', 'indices', 'camera'}
    wavelengths_nm : tuple of 3 floats, optional
        For ``nearest``: target wavelengths in R, G, B order (default 650, 550, 450).
    indices : tuple of 3 ints, optional
        For ``indices``: 0-based band indices in R, G, B order.
    camera : str, optional
        For ``camera``: a name from :func:`msfdiff.data.spectra.list_response_curves`
        (default ``cie1931``).
    illuminant : str
        For ``camera``: CIE illuminant of the scene (default D65, the sRGB white).
    encoding : {'linear', 'srgb'}

    Examples
    --------
    >>> sel = parse_band_selector("nearest:672,569,471")
    >>> BandSelector.from_dict(sel.to_dict()) == sel
    True
    """

    method: Literal["nearest", "indices", "camera"] = "camera"
    wavelengths_nm: tuple[float, ...] | None = None
    indices: tuple[int, ...] | None = None
    camera: str | None = None
    illuminant: str = "D65"
    encoding: Literal["linear", "srgb"] = "linear"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"band selector: unknown method {self.method!r}; use {METHODS}")
        if self.encoding not in ENCODINGS:
            raise ConfigError(f"band selector: unknown encoding {self.encoding!r}; use {ENCODINGS}")
        own = _PARAMETER[self.method]
        for other in _PARAMETER.values():
            if other != own and getattr(self, other) is not None:
                raise ConfigError(f"band selector: {other} does not apply to method {self.method}")
        if self.method == "camera":
            object.__setattr__(self, "camera", self.camera or DEFAULT_CAMERA)
            _check_curves(self.camera, self.illuminant)
            return
        if self.illuminant != "D65":
            raise ConfigError(f"band selector: illuminant does not apply to method {self.method}")
        values = getattr(self, own)
        if values is None and self.method == "indices":
            raise ConfigError("band selector: method indices needs indices")
        try:
            values = (
                tuple(float(v) for v in (values or DEFAULT_NEAREST_NM))
                if self.method == "nearest"
                else tuple(operator.index(v) for v in values)
            )
        except (TypeError, ValueError):
            raise ConfigError(f"band selector: {own} must be numbers, got {values!r}") from None
        if len(values) != 3:
            raise ConfigError(f"band selector: {own} needs 3 values (R, G, B), got {values}")
        if self.method == "indices" and min(values) < 0:
            raise ConfigError(f"band selector: indices must be >= 0, got {values}")
        object.__setattr__(self, own, values)

    # ------------------------------------------------------------------ serialisation

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON/YAML; :meth:`from_dict` gives back an equal selector."""
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BandSelector:
        """Strict inverse of :meth:`to_dict`: unknown keys raise ConfigError."""
        return from_dict(cls, data, where="band selector")

    @property
    def spec(self) -> str:
        """The command-line form accepted by :func:`parse_band_selector`."""
        if self.method == "camera":
            body = f"camera:{self.camera}" + (
                f"@{self.illuminant}" if self.illuminant != "D65" else ""
            )
        else:
            values = self.wavelengths_nm if self.method == "nearest" else self.indices
            body = f"{self.method}:" + ",".join(f"{v:g}" for v in values)
        return body + ("+srgb" if self.encoding == "srgb" else "")

    # ------------------------------------------------------------------ rendering

    def weights(
        self, wavelengths_nm: np.ndarray | None, *, n_bands: int, source: str
    ) -> np.ndarray:
        """The (n_bands, 3) matrix mapping spectra to linear R, G, B.

        Parameters
        ----------
        wavelengths_nm : ndarray of shape (n_bands,) or None
            Needed by ``nearest`` and ``camera``.
        n_bands : int
        source : str
            Quoted in errors (the cube's file).
        """
        if self.method == "indices":
            if max(self.indices) >= n_bands:
                raise DataFormatError(
                    f"{source}: band indices {self.indices} need more than {n_bands} bands"
                )
            return _one_hot(self.indices, n_bands)
        if wavelengths_nm is None:
            raise DataFormatError(
                f"{source}: band selector {self.spec} needs wavelengths; pass --wavelengths"
            )
        wl = np.asarray(wavelengths_nm, dtype=np.float64)
        if self.method == "nearest":
            return _one_hot(_nearest_bands(wl, self.wavelengths_nm, source), n_bands)
        return _camera_weights(wl, self.camera, self.illuminant, source)

    def hsi_to_rgb(
        self, cube: HyperCube | np.ndarray, *, wavelengths_nm: np.ndarray | None = None
    ) -> np.ndarray:
        """Render a cube (or a batch of them) as an R, G, B image in [0, 1].

        Parameters
        ----------
        cube : HyperCube, or ndarray of shape (..., height, width, n_bands)
            An array (e.g. a batch (N, H, W, B)) needs ``wavelengths_nm`` unless the method
            is ``indices``.
        wavelengths_nm : ndarray of shape (n_bands,), optional
            Overrides the cube's own.

        Returns
        -------
        ndarray of shape (..., height, width, 3), float32
        """
        if isinstance(cube, HyperCube):
            data, source = cube.data, cube.source
            wl = cube.wavelengths_nm if wavelengths_nm is None else wavelengths_nm
        else:
            data, source, wl = cube, "<array>", wavelengths_nm
        n_bands = data.shape[-1]
        if wl is not None and len(wl) != n_bands:
            raise DataFormatError(f"{source}: {len(wl)} wavelengths for {n_bands} bands")
        weights = self.weights(wl, n_bands=n_bands, source=source).astype(np.float32)
        out = np.empty((*data.shape[:-1], 3), dtype=np.float32)
        flat_in = data.reshape(-1, *data.shape[-2:]) if data.ndim > 2 else data[None]
        flat_out = out.reshape(-1, *out.shape[-2:]) if out.ndim > 2 else out[None]
        for start in range(0, flat_in.shape[0], _ROWS_PER_CHUNK):
            block = np.asarray(flat_in[start : start + _ROWS_PER_CHUNK], dtype=np.float32)
            flat_out[start : start + _ROWS_PER_CHUNK] = block @ weights
        np.clip(out, 0.0, 1.0, out=out)
        return srgb_encode(out) if self.encoding == "srgb" else out

    def photo_to_input(self, photo: np.ndarray) -> np.ndarray:
        """Bring a photo (sRGB-encoded floats in [0, 1], R, G, B) into this selector's domain.

        Parameters
        ----------
        photo : ndarray of shape (..., height, width, 3)

        Returns
        -------
        ndarray of the same shape, float32
        """
        photo = np.asarray(photo, dtype=np.float32)
        if photo.shape[-1] != 3:
            raise DataFormatError(f"expected an (H, W, 3) photo, got shape {photo.shape}")
        return photo if self.encoding == "srgb" else srgb_decode(photo)


def parse_band_selector(spec: str) -> BandSelector:
    """Parse a command-line band selector.

    Forms: ``nearest[:R,G,B nm]``, ``indices:R,G,B``, ``camera[:NAME][@ILLUMINANT]``, each
    optionally followed by ``+srgb`` or ``+linear``. Examples: ``nearest:672,569,471``,
    ``indices:27,17,7``, ``camera:cie1931+srgb``, ``camera:Nikon 5100 (NPL)``,
    ``camera:jiang2013:Canon 5DMarkII@D50``.
    """
    text = spec.strip()
    encoding = "linear"
    base, plus, suffix = text.rpartition("+")
    if plus and suffix.strip() in ENCODINGS:
        text, encoding = base.strip(), suffix.strip()
    method, _, arg = text.partition(":")
    method, arg = method.strip(), arg.strip()
    if method == "camera":
        name, _, light = arg.partition("@")
        kwargs: dict[str, Any] = {
            "camera": name.strip() or None,
            "illuminant": light.strip() or "D65",
        }
    elif method in ("nearest", "indices"):
        convert = float if method == "nearest" else int
        try:
            values = [convert(p) for p in arg.replace(" ", "").split(",") if p]
        except ValueError:
            raise ConfigError(f"{spec!r}: not a list of numbers after '{method}:'") from None
        kwargs = {_PARAMETER[method]: values or None}
    else:
        raise ConfigError(
            f"{spec!r}: unknown band selector; use nearest:R,G,B, indices:R,G,B or camera:NAME "
            "(optionally +srgb)"
        )
    try:
        return BandSelector(method, encoding=encoding, **kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{spec!r}: {exc}") from None


# --------------------------------------------------------------------------- sRGB transfer


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """Linear [0, 1] to sRGB-encoded values (IEC 61966-2-1 inverse EOTF), float32."""
    from colour.models import eotf_inverse_sRGB

    return np.asarray(eotf_inverse_sRGB(linear), dtype=np.float32)


def srgb_decode(encoded: np.ndarray) -> np.ndarray:
    """sRGB-encoded [0, 1] to linear values (IEC 61966-2-1 EOTF), float32."""
    from colour.models import eotf_sRGB

    return np.asarray(eotf_sRGB(encoded), dtype=np.float32)


# --------------------------------------------------------------------------- weights


def _check_curves(camera: str, light: str) -> None:
    """Fail at construction, not at first render, on an unknown camera or illuminant."""
    try:
        response_curves(camera)
        illuminant(light)
    except (DataFormatError, FileNotFoundError) as exc:
        raise ConfigError(f"band selector: {exc}") from None


def _one_hot(indices: tuple[int, ...], n_bands: int) -> np.ndarray:
    weights = np.zeros((n_bands, 3))
    weights[list(indices), [0, 1, 2]] = 1.0
    return weights


def _nearest_bands(wl: np.ndarray, targets: tuple[float, ...], source: str) -> tuple[int, ...]:
    """Indices of the bands nearest ``targets``; a target outside the cube is an error."""
    tolerance = max(10.0, 1.5 * float(np.median(np.diff(wl)))) if wl.size > 1 else 10.0
    chosen = []
    for target in targets:
        index = int(np.argmin(np.abs(wl - target)))
        if abs(wl[index] - target) > tolerance:
            raise DataFormatError(
                f"{source}: no band near {target:g} nm (nearest {wl[index]:g} nm); "
                f"the cube covers {wl.min():g}-{wl.max():g} nm"
            )
        chosen.append(index)
    return tuple(chosen)


def _band_widths(wl: np.ndarray) -> np.ndarray:
    """Width each band stands for (half the distance to each neighbour), for Riemann sums."""
    if wl.size == 1:
        return np.ones(1)
    return np.gradient(wl)


def _camera_weights(wl: np.ndarray, camera: str, light: str, source: str) -> np.ndarray:
    curve_nm, curves = response_curves(camera)
    light_nm, power = illuminant(light)
    # Coverage: the share of each channel's response that the cube's range sees.
    fine = np.arange(max(curve_nm[0], light_nm[0]), min(curve_nm[-1], light_nm[-1]) + 0.5, 1.0)
    fine_resp = _interp_columns(fine, curve_nm, curves) * np.interp(fine, light_nm, power)[:, None]
    inside = (fine >= wl.min() - 0.5) & (fine <= wl.max() + 0.5)
    share = fine_resp[inside].sum(0) / fine_resp.sum(0)
    if share.min() < MIN_COVERAGE:
        cumulative = np.cumsum(fine_resp.sum(1)) / fine_resp.sum()
        need_lo, need_hi = fine[np.searchsorted(cumulative, [0.005, 0.995])]
        raise DataFormatError(
            f"{source}: covers {wl.min():g}-{wl.max():g} nm but camera {camera!r} responds over "
            f"about {need_lo:g}-{need_hi:g} nm (visible range needed)"
        )
    response = _interp_columns(wl, curve_nm, curves) * np.interp(wl, light_nm, power)[:, None]
    weights = response * _band_widths(wl)[:, None]
    if camera.strip().lower() == CIE_1931:
        from colour.models import RGB_COLOURSPACE_sRGB

        weights = weights @ np.asarray(RGB_COLOURSPACE_sRGB.matrix_XYZ_to_RGB).T
    return weights / weights.sum(0, keepdims=True)


def _interp_columns(x: np.ndarray, xp: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Interpolate each column of ``columns`` (sampled at ``xp``) at ``x``; zero outside."""
    return np.stack(
        [np.interp(x, xp, columns[:, c], left=0.0, right=0.0) for c in range(columns.shape[1])],
        axis=1,
    )
