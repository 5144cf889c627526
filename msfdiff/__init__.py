"""msfdiff: hyperspectral image synthesis from the abundance perspective (MSF-Diff).

Pipeline: data → unmixing (``SceneUnmixer``) → diffusion (abundance DDPM) → fusion → evaluation.
"""

__version__ = "0.1.0"
