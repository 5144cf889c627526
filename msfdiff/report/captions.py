"""What the figures the stages save show, by file name, so the report can say it under them.

A PNG matching none of the patterns is still shown, captioned by its name.
"""

from __future__ import annotations

from pathlib import Path

FIGURE_CAPTIONS = (  # (file-name pattern, caption) for PNGs the stages write
    (
        "abundances.png",
        "Abundance maps the unmixer infers for up to four training HSIs (rows), one column per "
        "endmember, colour 0 (dark) to 1 (yellow).",
    ),
    (
        "reconstruction*.png",
        "An HSI reconstructed from its own three bands: false colour of the original and of the "
        "reconstruction, and the spectra of four random pixels (solid original, dashed "
        "reconstruction).",
    ),
    ("train_*_false_colour.png", "A training HSI in false colour."),
    (
        "band_quality.png",
        "No-reference image quality per band (NIQE, PIQE, BRISQUE; lower is better) of the real "
        "and the synthetic set, mean ± std over images.",
    ),
    (
        "spectra.png",
        "Pixel spectra of the real and the synthetic set: mean ± std over sampled pixels.",
    ),
    (
        "histograms.png",
        "Distributions of the real and the synthetic set: spectral angle to the real mean "
        "spectrum and the value of each abundance.",
    ),
    (
        "abundance_power_spectra.png",
        "Radially averaged spatial power spectra of each endmember's abundance maps, real "
        "(inferred) against synthetic: matching curves mean matching texture scales.",
    ),
    (
        "novelty.png",
        "Distance from each real map to its nearest other real map (the reference) and from "
        "each sample to its nearest training map (and to its source, for variations); samples "
        "left of the dashed threshold count as memorised.",
    ),
)


def caption_for(png: Path, fallback: str) -> str:
    """The known caption of ``png`` (with its name), else ``fallback: name.``."""
    for pattern, caption in FIGURE_CAPTIONS:
        if png.match(pattern):
            return f"{caption} ({png.name})"
    return f"{fallback}: {png.name}."
