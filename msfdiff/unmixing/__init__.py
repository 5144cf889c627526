"""Phase 1: scene-based unmixing (paper Section 4.1)."""

from msfdiff.unmixing.config import UnmixingConfig
from msfdiff.unmixing.estimator import SceneUnmixer, load_unmixer
from msfdiff.unmixing.model import UnmixingAutoencoder

__all__ = ["SceneUnmixer", "UnmixingAutoencoder", "UnmixingConfig", "load_unmixer"]
