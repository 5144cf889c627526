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

A comparison directory (``msfdiff compare``, :class:`CompareLayout`) holds one run-like
folder per unmixer variant and one folder per row::

    CMP/config.yaml                 the comparison's shared settings (all but its rows)
    CMP/photos/{train,held_out}/    the photo collection split (held-out photos: the reference)
    CMP/unmixers/<variant>/         a run directory (unmixing, eval, abundances) per unmixer
    CMP/rows/<row>/                 row.json, generator/, samples/, evaluation/ (metrics.json)
    CMP/compare.json, compare.md    the table; compare_figure.png the side-by-side figure

A downstream directory (``msfdiff downstream``, :class:`DownstreamLayout`)::

    DS/config.json                  the settings (a different one needs --force)
    DS/split.npz, split.png         training / test centres, the split drawn on the scene
    DS/chain/{unmixer,diffusion}/   the msfdiff chain trained on the training patches
    DS/results/<condition>/<classifier>_seed<s>.json   one classifier run's scores
    DS/downstream.json, downstream.md, *.png, report.html   the table and its pictures

Inside a samples folder sample ``i`` is ``sample_{i:04d}<suffix>``; its abundance map
(``*_abundance.npy``, or ``*_profiles.png`` for a cube drawn without abundances) is written
last, so its presence marks the sample complete. ``sampling.json`` holds the settings,
``shards/shard-R-of-N.json`` what process R of N owned, and ``samples.json`` indexes the whole
set once it is complete (docs/samples.md). Guided samples keep the maps they started from in
``guidance_sources.npy``. The formats inside the unmixer, abundance and generator folders
belong to the code that writes them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SAMPLE_PREFIX = "sample_"
ABUNDANCE_SUFFIX = "_abundance.npy"
FALSE_COLOUR_SUFFIX = "_false_colour.png"
PROFILES_SUFFIX = "_profiles.png"
SAMPLING_MANIFEST = "sampling.json"
SAMPLE_INDEX = "samples.json"
"""The whole set's index: written when samples 0..n-1 of a run are all complete."""
SHARDS = "shards"
GUIDANCE_SOURCES = "guidance_sources.npy"
"""The maps guided samples started from (sample i: source i mod m), for distance-to-source."""


def sample_stem(index: int) -> str:
    """File-name stem of sample ``index`` in a samples folder."""
    return f"{SAMPLE_PREFIX}{index:04d}"


def sample_file(folder: str | os.PathLike, index: int, suffix: str) -> Path:
    """The file of sample ``index`` that ends in ``suffix`` (an HSI's ``.npy``, ``.hdr``, …)."""
    return Path(folder) / f"{sample_stem(index)}{suffix}"


def sample_abundance_path(folder: str | os.PathLike, index: int) -> Path:
    """The abundance map of sample ``index``: written last, so it marks the sample complete."""
    return sample_file(folder, index, ABUNDANCE_SUFFIX)


def complete_samples(folder: str | os.PathLike, *, fused: bool = True) -> list[int]:
    """Indices of the complete samples in ``folder``, in numeric order: those whose last file
    exists, the abundance map or, for cubes drawn without abundances (``fused=False``), the
    profiles. One listing of the folder, not a look-up per index, so large sets stay fast.
    """
    suffix = ABUNDANCE_SUFFIX if fused else PROFILES_SUFFIX
    digits = (
        p.name[len(SAMPLE_PREFIX) : -len(suffix)]
        for p in Path(folder).glob(f"{SAMPLE_PREFIX}*{suffix}")
    )
    return sorted(int(d) for d in digits if d.isdigit())


def sample_leftovers(folder: str | os.PathLike, indices: Iterable[int]) -> list[Path]:
    """What killed writes of these samples left in ``folder``: the hidden ``.sample_NNNN…``
    files and folders an atomic write works in before its rename (``msfdiff/_io.py``)."""
    wanted = set(indices)
    found = []
    for path in Path(folder).glob(f".{SAMPLE_PREFIX}*"):
        digits = path.name[1 + len(SAMPLE_PREFIX) :].split("_")[0].split(".")[0]
        if digits.isdigit() and int(digits) in wanted:
            found.append(path)
    return sorted(found)


def shard_manifest_path(folder: str | os.PathLike, rank: int, world: int) -> Path:
    """What process ``rank`` of ``world`` sampling into ``folder`` owned (its indices)."""
    return Path(folder) / SHARDS / f"shard-{rank}-of-{world}.json"


def sample_abundance_paths(folder: str | os.PathLike) -> list[Path]:
    """Every complete sample's abundance map in ``folder``, in index order (numeric: sample
    10000 comes after 9999, which its name alone would not say)."""
    return [sample_abundance_path(folder, i) for i in complete_samples(folder)]


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
    def generator_monitor(self) -> Path:
        """Samples and edge coherence logged during diffusion training (``--monitor-every``)."""
        return self.generator / "monitor"

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


@dataclass(frozen=True)
class CompareLayout:
    """Paths of one comparison directory (see the module docstring)."""

    root: Path

    def __init__(self, root: str | os.PathLike):
        object.__setattr__(self, "root", Path(root))

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    def photos(self, part: str) -> Path:
        """``part`` is ``train`` or ``held_out``."""
        return self.root / "photos" / part

    def unmixer_run(self, variant: str) -> RunLayout:
        return RunLayout(self.root / "unmixers" / variant)

    def reference_abundances(self, variant: str) -> Path:
        """Abundances of the held-out photos under that unmixer: the real maps rows are scored against."""
        return self.root / "unmixers" / variant / "held_out_abundances"

    def row(self, slug: str) -> Path:
        return self.root / "rows" / slug

    def row_spec(self, slug: str) -> Path:
        return self.row(slug) / "row.json"

    def row_generator(self, slug: str) -> Path:
        return self.row(slug) / "generator"

    def row_samples(self, slug: str) -> Path:
        return self.row(slug) / "samples"

    def row_metrics(self, slug: str) -> Path:
        return self.row(slug) / "evaluation" / "metrics.json"

    def row_plots(self, slug: str) -> Path:
        return self.row(slug) / "evaluation"

    def row_result(self, slug: str) -> Path:
        """The row's line of the table, written last: its presence marks the row finished."""
        return self.row(slug) / "result.json"

    @property
    def table_json(self) -> Path:
        return self.root / "compare.json"

    @property
    def table_md(self) -> Path:
        return self.root / "compare.md"

    @property
    def figure(self) -> Path:
        return self.root / "compare_figure.png"

    @property
    def report(self) -> Path:
        return self.root / "report.html"


@dataclass(frozen=True)
class DownstreamLayout:
    """Paths of one downstream directory (``msfdiff downstream``): the split, the chain's
    models, one result file per (condition, classifier, seed), the table and the report."""

    root: Path

    def __init__(self, root: str | os.PathLike):
        object.__setattr__(self, "root", Path(root))

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def split(self) -> Path:
        return self.root / "split.npz"

    @property
    def chain(self) -> Path:
        return self.root / "chain"

    def result(self, condition: str, classifier: str, seed: int) -> Path:
        """One classifier's scores, written last: its presence marks that run finished."""
        return self.root / "results" / condition / f"{classifier}_seed{seed}.json"

    def spectra(self, condition: str) -> Path:
        """Mean spectrum per class of what the condition adds (first seed), for the figure."""
        return self.root / "spectra" / f"{condition}.npy"

    @property
    def table_json(self) -> Path:
        return self.root / "downstream.json"

    @property
    def table_md(self) -> Path:
        return self.root / "downstream.md"

    @property
    def figure(self) -> Path:
        return self.root / "downstream_scores.png"

    @property
    def split_figure(self) -> Path:
        return self.root / "split.png"

    @property
    def spectra_figure(self) -> Path:
        return self.root / "class_spectra.png"

    @property
    def report(self) -> Path:
        return self.root / "report.html"
