"""Phase 1: scene-based unmixing (paper Section 4.1).

The estimator and the network need torch, so their names load on first use: importing
``msfdiff.unmixing.config`` (the defaults ``msfdiff --help`` shows) stays instant.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from msfdiff.unmixing.config import DEFAULT_PRESET, UnmixingConfig

if TYPE_CHECKING:
    from msfdiff.unmixing.estimator import SceneUnmixer, load_unmixer
    from msfdiff.unmixing.model import UnmixingAutoencoder

_LAZY = {
    "SceneUnmixer": "msfdiff.unmixing.estimator",
    "load_unmixer": "msfdiff.unmixing.estimator",
    "UnmixingAutoencoder": "msfdiff.unmixing.model",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_PRESET",
    "SceneUnmixer",
    "UnmixingAutoencoder",
    "UnmixingConfig",
    "load_unmixer",
]
