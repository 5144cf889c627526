"""``msfdiff compare``: the paper's baselines and ablations (Tables 4-5) as rows of one table,
each trained on the same data and budget, sampled to the same count with the same seed, and
scored by the same suite against the same real reference sets.

A row names a generator (an alias of :data:`KINDS` or any ``"module:Class"``: adding a row is
one class and one config entry) and what it changes: its constructor keywords, the unmixer
(``k = 3 / 5 / 8``), the sampling settings, or the trained model of another row (a sampler
ablation). Rows that share an unmixer variant share its training and photo inference (a run
directory of the pipeline's own stages). A finished row is not retrained: its ``result.json``
is written last, and a changed row is refused rather than silently mixed.

Reference sets (the paper's headline metrics need more than one real image): every
``held_out_every``-th photo of the collection is kept out of all training; FID, KID,
precision and recall compare a row's HSIs (rendered to RGB) with those photos, and abundance
statistics compare its maps with theirs. Real HSI crops of the map size, cut from the
experiment's HSIs, are the reference of the spectral metrics. Set sizes go into the table.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from msfdiff._io import check_room, claim_folder, write_json
from msfdiff.config import from_dict, merge_overrides, read_yaml_mapping, to_dict
from msfdiff.errors import ConfigError, DataFormatError, OutputExistsError
from msfdiff.generator import Generator, SamplingSettings
from msfdiff.layout import CompareLayout
from msfdiff.pipeline.config import ExperimentConfig
from msfdiff.pipeline.stages import STAGES, BarFactory, no_bar
from msfdiff.progress import Log, no_log

KINDS: dict[str, str] = {
    "msf-diff": "msfdiff.diffusion.generator:AbundanceDiffusion",
    "photo": "msfdiff.baselines.photo:PhotoReconstruction",
    "gmm": "msfdiff.baselines.gmm:GaussianMixtureAbundances",
    "mst++": "msfdiff.baselines.mstpp:MSTPlusPlusGenerator",
    "vae": "msfdiff.baselines.vae:HierarchicalVAE",
    "gan": "msfdiff.baselines.gan:AbundanceGAN",
    "cube-diffusion": "msfdiff.baselines.cube:CubeDiffusion",
    "latent-diffusion": "msfdiff.baselines.latent:LatentDiffusion",
}
"""Short names of the built-in generators; a row may also name ``"module:Class"``."""

UNMIXER_STAGES = ("unmix", "eval_unmix", "infer")
"""The pipeline stages an unmixer variant runs (its own run directory)."""


@dataclass(frozen=True)
class RowConfig:
    """One row of the table.

    ``generator`` is a :data:`KINDS` alias or ``"module:Class"``; ``params`` its constructor
    keywords. ``unmixing`` changes the experiment's unmixer (e.g. ``{n_endmembers: 3}``; keys
    of the unmixing preset); ``sampling`` changes :class:`~msfdiff.generator.SamplingSettings`
    fields. ``model_of`` samples another row's trained generator instead of training one.
    """

    name: str
    generator: str = "msf-diff"
    params: dict[str, Any] = field(default_factory=dict)
    unmixing: dict[str, Any] = field(default_factory=dict)
    sampling: dict[str, Any] = field(default_factory=dict)
    model_of: str | None = None

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-") or "row"


@dataclass(frozen=True)
class ReferenceConfig:
    held_out_every: int = 5
    """Every n-th photo (in path order) is held out of all training as the real reference."""
    hsi_crops: int = 64
    """Real HSI crops of the map size (seeded choice of non-overlapping tiles)."""


@dataclass(frozen=True)
class CompareConfig:
    """A comparison: the experiment it builds on, the common budget, the rows.

    ``experiment`` is an experiment YAML (data, unmixer, inference size, MSF-Diff's diffusion
    settings), relative to this file. ``steps`` is every trained row's budget: it replaces
    ``max_steps`` of torch baselines and ``training.max_steps`` of diffusion rows.
    """

    experiment: str
    name: str = "compare"
    steps: int = 2000
    n: int = 64
    seed: int = 0
    sampling: dict[str, Any] = field(default_factory=dict)
    fid: bool = True
    reference: ReferenceConfig = ReferenceConfig()
    rows: tuple[RowConfig, ...] = ()

    def __post_init__(self) -> None:
        if not self.rows:
            raise ConfigError("rows: list at least one row")
        if self.steps < 1 or self.n < 2:
            raise ConfigError(f"steps must be >= 1 and n >= 2, got {self.steps} and {self.n}")
        slugs = [row.slug for row in self.rows]
        if len(set(slugs)) != len(slugs):
            raise ConfigError(f"rows: names must differ (as folder names {slugs})")
        names = [row.name for row in self.rows]
        for i, row in enumerate(self.rows):
            if row.model_of is not None and row.model_of not in names[:i]:
                raise ConfigError(
                    f"row {row.name!r}: model_of {row.model_of!r} must name an earlier row"
                )
            if row.model_of is None:
                generator_class(row.generator)  # a typo fails at load, not after an hour


def load_compare(path: str | Path) -> tuple[CompareConfig, ExperimentConfig]:
    """Read a comparison YAML and the experiment it names."""
    from msfdiff.pipeline.config import load_experiment

    path = Path(path)
    raw = read_yaml_mapping(path)
    config = from_dict(CompareConfig, raw, where=str(path))
    experiment = Path(config.experiment)
    if not experiment.is_absolute():
        experiment = path.parent / experiment
    return config, load_experiment(experiment)


def generator_class(kind: str) -> type[Generator]:
    """The class a row's ``generator`` names."""
    target = KINDS.get(kind, kind)
    module, _, attr = target.partition(":")
    if not attr:
        raise ConfigError(f"unknown generator {kind!r}; use one of {list(KINDS)} or module:Class")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"generator {kind!r}: cannot import {target} ({exc})") from None
    if not (isinstance(cls, type) and issubclass(cls, Generator)):
        raise ConfigError(f"generator {kind!r}: {target} is not a msfdiff Generator")
    return cls


# ------------------------------------------------------------------------------ the runner


@dataclass
class Comparison:
    """Runs a :class:`CompareConfig` in a directory; :meth:`run` returns the table rows."""

    config: CompareConfig
    experiment: ExperimentConfig
    root: Path
    log: Log = no_log
    bar: BarFactory = no_bar
    force: bool = False
    rescore: bool = False
    """Score finished rows again from their samples (after the metrics or references changed)."""
    layout: CompareLayout = field(init=False)
    _cache: dict[str, Any] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.layout = CompareLayout(self.root)

    def run(self) -> list[dict[str, Any]]:
        check_room(self.layout.root, 0, what="the comparison's files")
        self._check_config_file()
        for row in self.config.rows:  # a changed row fails now, not after an hour
            self._check_row_spec(row)
        self._split_photos()
        results = []
        for row in self.config.rows:
            result_path = self.layout.row_result(row.slug)
            if result_path.is_file() and self.rescore:
                results.append(self._rescore(row, json.loads(result_path.read_text())))
                continue
            if result_path.is_file():
                self.log(f"[{row.name}] finished earlier, kept")
                results.append(json.loads(result_path.read_text()))
                continue
            results.append(self._run_row(row))
        from msfdiff.pipeline.compare_output import write_outputs

        write_outputs(self.layout, to_dict(self.config), results, self.reference_hsi(), self.log)
        return results

    # -- inputs shared by rows -------------------------------------------------------

    def _check_config_file(self) -> None:
        """The directory belongs to this comparison (all but its rows, which are checked one
        by one, so rows can be added): a different one needs ``--force``."""
        shared = {k: v for k, v in to_dict(self.config).items() if k not in ("rows", "name")}
        text = json.dumps(shared, sort_keys=True, indent=1)
        what = "comparison (data, budget, count, seed or references differ)"
        claim_folder(self.root, self.layout.config, text, force=self.force, what=what)

    def _split_photos(self) -> None:
        """Copy the photo collection into ``train`` and ``held_out`` folders (kept labels)."""
        from msfdiff.data.rgb import list_photos

        train, held = self.layout.photos("train"), self.layout.photos("held_out")
        if train.is_dir() and held.is_dir():
            return
        every = self.config.reference.held_out_every
        photos = list_photos(self.experiment.data.rgb)
        if len(photos) < 2 * every:
            raise DataFormatError(
                f"{self.experiment.data.rgb}: {len(photos)} photos; a comparison holds out 1 in "
                f"{every}, so it needs at least {2 * every}"
            )
        tmp = self.layout.photos("tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        for i, photo in enumerate(photos):
            part = "held_out" if i % every == every - 1 else "train"
            target = tmp / part / (photo.label or "") / Path(photo.path).name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(photo.path, target)
        for part in ("train", "held_out"):
            (tmp / part).rename(self.layout.photos(part))
        tmp.rmdir()
        held = len(photos) // every
        self.log(f"photos: {len(photos) - held} for training, {held} held out (1 in {every})")

    def unmixer_variant(self, row: RowConfig) -> str:
        """Folder name of the unmixer a row uses: ``default`` or its changes spelled out."""
        if not row.unmixing:
            return "default"
        spelled = "-".join(f"{k}-{v}" for k, v in sorted(row.unmixing.items()))
        return re.sub(r"[^a-zA-Z0-9.]+", "-", spelled).strip("-")

    def prepare_unmixer(self, row: RowConfig) -> Path:
        """Train (or reuse) the row's unmixer variant and infer both photo sets with it."""
        from msfdiff.pipeline.runner import Runner
        from msfdiff.unmixing import load_unmixer
        from msfdiff.unmixing.workflow import infer_photo_abundances

        variant = self.unmixer_variant(row)
        run = self.layout.unmixer_run(variant)
        if variant in self._cache:
            return run.root
        exp = self.experiment
        overrides = {**exp.unmixing.overrides, **row.unmixing}
        config = dataclasses.replace(
            exp,
            data=dataclasses.replace(exp.data, rgb=str(self.layout.photos("train"))),
            unmixing=dataclasses.replace(exp.unmixing, overrides=overrides),
        )
        stages = [stage for stage in STAGES if stage.name in UNMIXER_STAGES]
        self.log(f"unmixer {variant!r}: {run.root}")
        Runner(config, run.root, stages=stages, log=self.log, bar=self.bar).run()
        reference = self.layout.reference_abundances(variant)
        if not reference.is_dir():
            with self.bar("inferring held-out photos", "photo") as bar:
                infer_photo_abundances(
                    load_unmixer(run.root),
                    self.layout.photos("held_out"),
                    reference,
                    size=exp.inference.size,
                    crop=exp.inference.crop,
                    force=True,
                    progress=bar,
                    log=self.log,
                )
        self._cache[variant] = True
        return run.root

    def reference_hsi(self) -> Any:
        """Real HSI crops of the map size (``hsi`` and ``eval_hsi``): a SampleSet."""
        if "reference_hsi" not in self._cache:
            from msfdiff.pipeline.compare_data import real_hsi_crops

            self._cache["reference_hsi"] = real_hsi_crops(
                self.experiment,
                size=self.experiment.inference.size,
                n=self.config.reference.hsi_crops,
                seed=self.config.seed,
            )
        return self._cache["reference_hsi"]

    # -- one row -----------------------------------------------------------------

    def _run_row(self, row: RowConfig) -> dict[str, Any]:
        from msfdiff.generate import generate_samples
        from msfdiff.generator import load_generator
        from msfdiff.pipeline.compare_data import held_out_reconstruction
        from msfdiff.unmixing import load_unmixer

        unmixer_run = self.prepare_unmixer(row)
        unmixer = load_unmixer(unmixer_run)
        source = row if row.model_of is None else self._row_named(row.model_of)
        gen_dir = self.layout.row_generator(source.slug)
        facts: dict[str, Any] = {}
        if row.model_of is None:
            generator, facts = self._train(row, unmixer_run, unmixer)
            own = held_out_reconstruction(generator, self.experiment)
            if own is not None:  # an autoencoder of its own (Fig. 7)
                facts["held_out_reconstruction"] = own
        else:
            generator = load_generator(gen_dir)
            facts = json.loads(self.layout.row_result(source.slug).read_text())["training"]
        settings = SamplingSettings(
            **{"seed": self.config.seed, **self.config.sampling, **row.sampling}
        )
        samples = self.layout.row_samples(row.slug)
        started = time.perf_counter()
        with self.bar(f"{row.name}: sampling", "sample") as bar:
            generate_samples(
                generator,
                samples,
                unmixer=unmixer,
                n=self.config.n,
                settings=settings,
                progress=bar,
                log=self.log,
            )
        seconds = time.perf_counter() - started
        metrics = self._score(row, generator, unmixer, unmixer_run, samples)
        result = {
            "name": row.name,
            "slug": row.slug,
            "generator": row.generator if row.model_of is None else f"model of {row.model_of}",
            "output_space": generator.output_space,
            "unmixer": self._unmixer_facts(row, unmixer, unmixer_run),
            "k": int(np.shape(unmixer.endmembers_)[0]),
            "training": facts,
            "sampling": {
                **{k: v for k, v in dataclasses.asdict(settings).items() if k != "format"},
                "seconds_per_sample": round(seconds / self.config.n, 4),
            },
            "metrics": metrics,
        }
        write_json(self.layout.row_result(row.slug), result)
        self.log(f"[{row.name}] done")
        return result

    def _score(
        self, row: RowConfig, generator: Generator, unmixer: Any, unmixer_run: Path, samples: Path
    ) -> dict[str, Any]:
        """Every metric of one row as plain numbers (see the docstring of compare_data)."""
        from msfdiff.data.abundances import load_abundance_dataset
        from msfdiff.evaluation import EvaluationOptions, evaluate, load_set, write_evaluation
        from msfdiff.layout import RunLayout
        from msfdiff.pipeline.compare_data import sample_maps

        layout, config = self.layout, self.config
        synthetic = load_set([samples], kind="hsi", wavelengths_nm=unmixer.wavelengths_)
        held_out = load_abundance_dataset(layout.reference_abundances(self.unmixer_variant(row)))
        training = load_abundance_dataset(RunLayout(unmixer_run).abundances).array
        with self.bar(f"{row.name}: scoring", "image") as bar:
            spectral = evaluate(
                self.reference_hsi(),
                synthetic,
                options=EvaluationOptions(generative=False, quality=False, seed=config.seed),
                real_abundances=list(np.asarray(held_out.array, dtype=np.float32)),
                synthetic_abundances=sample_maps(generator, samples, synthetic, unmixer),
                training_abundances=training,
                progress=bar,
                log=self.log,
            )
        plots = layout.row_plots(row.slug)
        write_evaluation(spectral, layout.row_metrics(row.slug), plots, force=True)
        found = dict(spectral.metrics)
        sets = {"real_hsi": len(self.reference_hsi().images), "held_out_photos": len(held_out)}
        if config.fid:
            size = self.experiment.inference.size
            photos = load_set([layout.photos("held_out")], kind="rgb", photo_size=size)
            with self.bar(f"{row.name}: FID", "image") as bar:
                generative = evaluate(
                    photos,
                    synthetic,
                    options=EvaluationOptions(quality=False, seed=config.seed),
                    progress=bar,
                    log=self.log,
                )
            write_evaluation(generative, plots / "vs_held_out_photos.json", None, force=True)
            found |= {k: v for k, v in generative.metrics.items() if k in GENERATIVE}
        return {"sets": sets, **{name: _plain(entry) for name, entry in found.items()}}

    def _rescore(self, row: RowConfig, result: dict[str, Any]) -> dict[str, Any]:
        from msfdiff.generator import load_generator
        from msfdiff.pipeline.compare_data import held_out_reconstruction
        from msfdiff.unmixing import load_unmixer

        self.log(f"[{row.name}] finished earlier, scoring its samples again")
        unmixer_run = self.prepare_unmixer(row)
        source = row if row.model_of is None else self._row_named(row.model_of)
        generator = load_generator(self.layout.row_generator(source.slug))
        samples = self.layout.row_samples(row.slug)
        unmixer = load_unmixer(unmixer_run)
        result["metrics"] = self._score(row, generator, unmixer, unmixer_run, samples)
        own = held_out_reconstruction(generator, self.experiment)
        if own is not None and row.model_of is None:
            result["training"]["held_out_reconstruction"] = own
        write_json(self.layout.row_result(row.slug), result)
        return result

    def _train(
        self, row: RowConfig, unmixer_run: Path, unmixer: Any
    ) -> tuple[Generator, dict[str, Any]]:
        from msfdiff.pipeline.compare_data import training_data

        cls = generator_class(row.generator)
        generator = cls(**with_budget(cls, row.params, self.config.steps, self.experiment))
        data = training_data(
            cls.fit_data,
            unmixer_run,
            unmixer,
            self.experiment,
            self.layout.photos("train"),
            seed=self.config.seed,
        )
        out = self.layout.row_generator(row.slug)
        started = time.perf_counter()
        with self.bar(f"{row.name}: training", "step") as bar:
            generator.fit(data, out, resume=True, progress=bar, log=self.log)
        seconds = time.perf_counter() - started
        return generator, {**generator.facts(), "seconds": round(seconds, 1)}

    def _unmixer_facts(self, row: RowConfig, unmixer: Any, unmixer_run: Path) -> dict[str, Any]:
        """The row's unmixer: held-out reconstruction (Table 3) and endmember smoothness
        (mean |difference| between neighbouring bands: what the endmember TV loss lowers)."""
        from msfdiff.layout import RunLayout

        facts: dict[str, Any] = {"variant": self.unmixer_variant(row)}
        path = RunLayout(unmixer_run).unmixing_eval
        if path.is_file():
            mean = json.loads(path.read_text())["mean"]
            facts |= {"psnr": mean["psnr"], "sad_deg": mean["sad_deg"]}
        endmembers = np.asarray(unmixer.endmembers_, dtype=np.float64)
        facts["endmember_tv"] = float(np.abs(np.diff(endmembers, axis=1)).mean())
        return facts

    def _check_row_spec(self, row: RowConfig) -> None:
        spec = {**to_dict(row), "steps": self.config.steps}
        path = self.layout.row_spec(row.slug)
        if path.is_file() and json.loads(path.read_text()) != json.loads(json.dumps(spec)):
            if not self.force:
                raise OutputExistsError(
                    f"{path.parent}: row {row.name!r} changed since it was started; "
                    "pass --force to redo it, or give the row a new name"
                )
            shutil.rmtree(path.parent)
        write_json(path, spec)

    def _row_named(self, name: str) -> RowConfig:
        return next(row for row in self.config.rows if row.name == name)


GENERATIVE = ("fid", "kid", "precision", "recall")
"""The metrics taken from the comparison against the held-out photos."""


def _plain(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A metrics.json entry without its definition text and per-item lists."""
    return {k: v for k, v in entry.items() if k != "definition" and not isinstance(v, list)}


def with_budget(
    cls: type[Generator], params: Mapping[str, Any], steps: int, experiment: ExperimentConfig
) -> dict[str, Any]:
    """Constructor keywords of a row with the common training budget applied.

    Diffusion rows (abundance, cube or latent space) start from the experiment's diffusion
    settings (preset, class conditioning, overrides) and get ``training.max_steps`` (a latent
    row's autoencoder ``max_steps`` too); torch baselines ``max_steps``;
    generators without a step budget (a GMM, photo reconstruction) take their params as they are.
    """
    from msfdiff.baselines.latent import LatentDiffusion
    from msfdiff.baselines.training import TorchGenerator
    from msfdiff.diffusion.generator import AbundanceDiffusion

    params = dict(params)
    if issubclass(cls, AbundanceDiffusion | LatentDiffusion):
        diffusion = experiment.diffusion
        overrides = merge_overrides(diffusion.overrides, params.pop("overrides", {}))
        overrides = merge_overrides(overrides, {"training": {"max_steps": steps}})
        defaults = {"preset": diffusion.preset, "conditional": diffusion.conditional}
        if issubclass(cls, LatentDiffusion):  # its autoencoder gets the same budget
            defaults["autoencoder"] = merge_overrides(
                params.pop("autoencoder", {}), {"max_steps": steps}
            )
        return {**defaults, **params, "overrides": overrides}
    if issubclass(cls, TorchGenerator):
        return {**params, "max_steps": steps}
    return params


def run_comparison(
    path: str | Path,
    out: str | Path,
    *,
    force: bool = False,
    rescore: bool = False,
    log: Log = no_log,
    bar: BarFactory = no_bar,
) -> Path:
    """Run the comparison of ``path`` in ``out``; returns the path of ``compare.md``.
    ``rescore`` scores finished rows again from their samples (nothing is retrained)."""
    config, experiment = load_compare(path)
    comparison = Comparison(
        config, experiment, Path(out), log=log, bar=bar, force=force, rescore=rescore
    )
    comparison.run()
    return comparison.layout.table_md
