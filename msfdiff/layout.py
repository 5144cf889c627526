"""Where everything of a run lives: the one owner of folder and file names.

A run directory is what ``msfdiff run`` / ``msfdiff demo`` fill, and what every command that
takes ``--run`` reads::

    RUN/config.yaml             the resolved experiment config
    RUN/stages/<stage>.json     fingerprint, status (running|done), seconds
    RUN/unmixing/               trained unmixer (its own save format), checkpoints/, figures/
    RUN/unmixing/eval.json      held-out reconstruction (Table 3), eval_figures/
    RUN/abundances/             abundances inferred from the photos (the diffusion data set)
    RUN/diffusion/              generator folder: config, weights, loss, checkpoints/
    RUN/samples/                synthetic HSIs, their abundance maps and previews
    RUN/evaluation/             metrics.json and plots
    RUN/report.html             everything above as pictures and tables

Inside a samples folder sample ``i`` is ``sample_{i:04d}<suffix>``; its abundance map
(``*_abundance.npy``) is written last, so its presence marks the sample complete. Guided
samples keep the maps they started from in ``guidance_sources.npy``. The formats
inside the unmixer, abundance and generator folders belong to the code that writes them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SAMPLE_PREFIX = "sample_"
ABUNDANCE_SUFFIX = "_abundance.npy"
FALSE_COLOUR_SUFFIX = "_false_colour.png"
PROFILES_SUFFIX = "_profiles.png"
SAMPLING_MANIFEST = "sampling.json"
GUIDANCE_SOURCES = "guidance_sources.npy"
"""The maps guided samples started from (sample i: source i mod m), for distance-to-source."""


def sample_stem(index: int) -> str:
    """File-name stem of sample ``index`` in a samples folder."""
    return f"{SAMPLE_PREFIX}{index:04d}"


def sample_abundance_path(folder: str | os.PathLike, index: int) -> Path:
    """The abundance map of sample ``index``: written last, so it marks the sample complete."""
    return Path(folder) / f"{sample_stem(index)}{ABUNDANCE_SUFFIX}"


def sample_abundance_paths(folder: str | os.PathLike) -> list[Path]:
    """Every complete sample's abundance map in ``folder``, in index order."""
    return sorted(Path(folder).glob(f"{SAMPLE_PREFIX}*{ABUNDANCE_SUFFIX}"))


def is_sample_side_file(path: Path) -> bool:
    """True for the abundance maps written beside synthetic HSIs (not HSIs themselves)."""
    return path.name.endswith(ABUNDANCE_SUFFIX) or path.name == GUIDANCE_SOURCES


@dataclass(frozen=True)
class RunLayout:
    """Paths of one run directory; nothing is created until a writer asks."""

    root: Path

    def __init__(self, root: str | os.PathLike):
        object.__setattr__(self, "root", Path(root))

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def stages(self) -> Path:
        return self.root / "stages"

    def stage_record(self, stage: str) -> Path:
        return self.stages / f"{stage}.json"

    @property
    def unmixing(self) -> Path:
        return self.root / "unmixing"

    @property
    def unmixing_checkpoints(self) -> Path:
        return self.unmixing / "checkpoints"

    @property
    def unmixing_figures(self) -> Path:
        return self.unmixing / "figures"

    @property
    def unmixing_eval(self) -> Path:
        return self.unmixing / "eval.json"

    @property
    def unmixing_eval_figures(self) -> Path:
        return self.unmixing / "eval_figures"

    @property
    def abundances(self) -> Path:
        return self.root / "abundances"

    @property
    def generator(self) -> Path:
        return self.root / "diffusion"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    @property
    def evaluation(self) -> Path:
        return self.root / "evaluation"

    @property
    def metrics(self) -> Path:
        return self.evaluation / "metrics.json"

    @property
    def report(self) -> Path:
        return self.root / "report.html"
