"""``msfdiff downstream CONFIG.yaml``: does msfdiff data make a classifier better than classic
augmentation does? (paper Tables 6-7, on a labelled scene or a scene-classification set).

One split (:mod:`~msfdiff.downstream.split`: spatially disjoint patches of a scene, or whole
images of a set of class folders), one msfdiff chain trained on its training part
(:mod:`~msfdiff.downstream.chain`), then for every seed and condition the same classifiers
trained on the real samples plus what the condition adds, each class topped up to
``target_per_class``:

- ``real``: nothing added;
- ``augment``: flips, rotations, noise and mixup of the real samples (:mod:`.augment`);
- ``conditional`` / ``variations`` / ``collage``: samples from the msfdiff chain.

Every network gets the same number of SGD steps whatever the condition adds (Table 6's 1000
iterations by default), so a condition wins by what it adds, not by training longer. A seed
changes the networks' initialisation and order, the augmentation draw and the synthetic
draw; the split and the chain stay fixed (training the chain per seed would multiply the
cost by the seed count). Every classifier run writes its result file last and is skipped when
the command is run again, so an interrupted run resumes.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from msfdiff._io import atomic_path, check_room, claim_folder, write_json
from msfdiff.config import from_dict, read_yaml_mapping, to_dict
from msfdiff.downstream.augment import augment_patches, counts_to_target
from msfdiff.downstream.chain import MODES, ChainConfig, PatchSynthesizer
from msfdiff.downstream.output import save_class_spectra, write_outputs
from msfdiff.downstream.scene import ImageSet, LabelledScene
from msfdiff.downstream.split import spatial_split, split_images
from msfdiff.downstream.task import Task, image_task, scene_task
from msfdiff.errors import ConfigError
from msfdiff.layout import DownstreamLayout
from msfdiff.pipeline.stages import BarFactory, no_bar
from msfdiff.progress import Log, no_log

CONDITIONS = ("real", "augment", *MODES)
SPECTRA_CLASSIFIERS = ("svm", "forest")


@dataclass(frozen=True)
class SceneConfig:
    """The labelled scene: ``shared`` names one of the shared data folder's scenes
    (``salinas_a``, ``indian_pines``); otherwise ``cube`` and ``labels`` are files (relative to
    the YAML) read by :func:`~msfdiff.downstream.scene.read_labelled_scene` with the rest."""

    shared: Literal["salinas_a", "indian_pines"] | None = None
    cube: str | None = None
    labels: str | None = None
    cube_key: str | None = None
    labels_key: str | None = None
    class_names: tuple[str, ...] | None = None
    unlabelled: int = 0
    wavelengths: str | None = None
    drop_bands: tuple[int, ...] = ()
    scale: float | None = None

    def __post_init__(self) -> None:
        if (self.shared is None) == (self.cube is None or self.labels is None):
            raise ConfigError("scene: give either shared, or cube and labels")


@dataclass(frozen=True)
class FoldersConfig:
    """A scene-classification set ``root/<class>/<image>`` (relative to the YAML), read by
    :func:`~msfdiff.downstream.scene.read_class_folders`: every image centre-cropped to a
    square and area-averaged to ``image_size`` px (null: keep the images as they are)."""

    root: str
    image_size: int | None = 32
    key: str | None = None
    scale: float | None = None
    wavelengths: str | None = None
    drop_bands: tuple[int, ...] = ()


@dataclass(frozen=True)
class SplitConfig:
    """The split's settings. A scene: :func:`~msfdiff.downstream.split.spatial_split` (all
    keys). A set of class folders: :func:`~msfdiff.downstream.split.split_images`
    (``train_fraction`` of each class's images, ``max_per_class``, ``seed``)."""

    patch_size: int = 9
    train_fraction: float = 0.1
    block_size: int | None = None
    max_per_class: int | None = None
    seed: int = 0


@dataclass(frozen=True)
class ClassifierConfig:
    """The networks (``alexnet``, ``vgg16``, ``resnet18``) and spectrum baselines (``svm``,
    ``forest``); ``width`` scales the networks' channels; ``iterations`` SGD steps of
    ``batch_size`` at former-layer rate ``lr`` (Table 6's other settings, :mod:`.train`)."""

    networks: tuple[str, ...] = ("alexnet", "vgg16", "resnet18")
    spectra: tuple[str, ...] = ("svm",)
    width: float = 0.25
    iterations: int = 1000
    batch_size: int = 32
    lr: float = 1e-3

    @property
    def names(self) -> tuple[str, ...]:
        return (*self.networks, *self.spectra)


@dataclass(frozen=True)
class AugmentConfig:
    """:func:`~msfdiff.downstream.augment.augment_patches`'s settings."""

    noise: float = 0.01
    mixup: float = 0.5
    mixup_alpha: float = 0.2


@dataclass(frozen=True)
class DownstreamConfig:
    """One downstream experiment (configs/downstream_*.yaml): a ``scene`` or ``folders``."""

    scene: SceneConfig | None = None
    folders: FoldersConfig | None = None
    name: str = "downstream"
    split: SplitConfig = SplitConfig()
    target_per_class: int = 200
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    conditions: tuple[str, ...] = CONDITIONS
    classifiers: ClassifierConfig = ClassifierConfig()
    augment: AugmentConfig = AugmentConfig()
    chain: ChainConfig = field(default_factory=ChainConfig)

    def __post_init__(self) -> None:
        from msfdiff.downstream.classifiers import NETWORKS

        if (self.scene is None) == (self.folders is None):
            raise ConfigError("give either scene (a labelled scene) or folders (class folders)")
        unknown = [c for c in self.conditions if c not in CONDITIONS]
        if unknown or not self.conditions or len(set(self.conditions)) != len(self.conditions):
            raise ConfigError(f"conditions: distinct names of {list(CONDITIONS)}, got {unknown}")
        bad = [n for n in self.classifiers.networks if n not in NETWORKS]
        bad += [n for n in self.classifiers.spectra if n not in SPECTRA_CLASSIFIERS]
        if bad or not self.classifiers.names:
            raise ConfigError(
                f"classifiers: unknown {bad}; networks from {list(NETWORKS)}, "
                f"spectra from {list(SPECTRA_CLASSIFIERS)}"
            )
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError("seeds: list at least one seed, each once")
        if self.target_per_class < 1 or self.classifiers.iterations < 1:
            raise ConfigError("target_per_class and classifiers.iterations must be >= 1")


def load_downstream(path: str | Path) -> tuple[DownstreamConfig, Path]:
    """Read a downstream YAML; returns the config and the folder its relative paths start in."""
    path = Path(path)
    return from_dict(DownstreamConfig, read_yaml_mapping(path), where=str(path)), path.parent


def load_data(config: DownstreamConfig, base: Path) -> LabelledScene | ImageSet:
    """The scene or the set of class folders a config names (relative paths start at ``base``)."""
    from msfdiff.downstream.scene import (
        load_indian_pines,
        load_salinas_a,
        read_class_folders,
        read_labelled_scene,
    )

    def where(name: str | None) -> Path | None:
        return None if name is None else base / Path(name).expanduser()

    def band_table(spec: str | None) -> str | Path | None:
        return where(spec) if spec and (base / spec).is_file() else spec  # or START:STOP:COUNT

    if config.folders is not None:
        folders = config.folders
        return read_class_folders(
            where(folders.root),
            image_size=folders.image_size,
            key=folders.key,
            scale=folders.scale,
            wavelengths=band_table(folders.wavelengths),
            drop_bands=folders.drop_bands,
        )
    scene = config.scene
    assert scene is not None
    if scene.shared == "salinas_a":
        return load_salinas_a()
    if scene.shared == "indian_pines":
        return load_indian_pines()
    return read_labelled_scene(
        where(scene.cube),
        where(scene.labels),
        cube_key=scene.cube_key,
        labels_key=scene.labels_key,
        class_names=list(scene.class_names) if scene.class_names else None,
        unlabelled=scene.unlabelled,
        wavelengths=band_table(scene.wavelengths),
        drop_bands=scene.drop_bands,
        scale=scene.scale,
    )


# ------------------------------------------------------------------------------ the runner


@dataclass
class DownstreamRun:
    """Runs a :class:`DownstreamConfig` in a directory; :meth:`run` returns the summary."""

    config: DownstreamConfig
    base: Path
    root: Path
    log: Log = no_log
    bar: BarFactory = no_bar
    force: bool = False
    layout: DownstreamLayout = field(init=False)

    def __post_init__(self) -> None:
        self.layout = DownstreamLayout(self.root)

    def run(self) -> dict[str, Any]:
        config = self.config
        data = load_data(config, self.base)  # a bad file fails before anything is written
        check_room(self.root, 0, what="the downstream run's files")
        self._check_config_file()
        task = self.task(data)
        chain = None
        if any(c in MODES for c in config.conditions):
            chain = PatchSynthesizer(config.chain, seed=config.split.seed).fit(
                task.unmixing_cubes,
                task.train,
                task.train_labels,
                task.class_names,
                self.layout.chain,
                log=self.log,
                bar=self.bar,
            )
        if not self.layout.spectra("real").is_file():  # the figure's reference
            self.save_spectra("real", task, task.train, task.train_labels)
        counts = counts_to_target(task.train_labels, task.n_classes, config.target_per_class)
        names = config.classifiers.names
        jobs = [(s, c, n) for s in config.seeds for c in config.conditions for n in names]
        results: list[dict[str, Any]] = []
        with self.bar("classifiers", "run") as progress:
            for seed in config.seeds:
                for condition in config.conditions:
                    paths = {n: self.layout.result(condition, n, seed) for n in names}
                    todo = [n for n in names if not paths[n].is_file()]
                    extra = self.extra(condition, task, counts, seed, chain) if todo else None
                    for name in names:
                        if name in todo:
                            self.classify(name, condition, seed, task, extra)
                        results.append(json.loads(paths[name].read_text()))
                        progress(len(results), len(jobs), f"{condition} {name} seed {seed}")
        summary = {
            "config": to_dict(config),
            "data": {
                "kind": task.kind,
                "source": task.source,
                "shape": list(np.shape(data.data if task.kind == "scene" else data.images)),
                "class_names": task.class_names,
            },
            "split": task.facts,
            "runs": results,
        }
        return write_outputs(self.layout, summary, task, self.log)

    # -- parts ----------------------------------------------------------------------------

    def _check_config_file(self) -> None:
        """The directory belongs to these settings; other settings need ``--force``."""
        text = json.dumps(to_dict(self.config), sort_keys=True, indent=1)
        claim_folder(self.root, self.layout.config, text, force=self.force, what="downstream run")

    def task(self, data: LabelledScene | ImageSet) -> Task:
        """Split the data (again each time: the split is seeded, and cheap); saved for the user."""
        settings = self.config.split
        if isinstance(data, ImageSet):
            split = split_images(
                data.labels,
                train_fraction=settings.train_fraction,
                max_per_class=settings.max_per_class,
                seed=settings.seed,
            )
            task = image_task(data, split, settings.seed)
            arrays = {
                "train_images": np.array(data.paths)[split.train],
                "test_images": np.array(data.paths)[split.test],
            }
        else:
            split = spatial_split(
                data.labels,
                patch_size=settings.patch_size,
                train_fraction=settings.train_fraction,
                block_size=settings.block_size,
                max_per_class=settings.max_per_class,
                n_classes=data.n_classes,
                seed=settings.seed,
            )
            task = scene_task(data, split)
            arrays = {
                "train_centres": split.train_centres,
                "test_centres": split.test_centres,
                "train_region": split.train_region,
            }
        if not self.layout.split.is_file():
            arrays |= {"train_labels": task.train_labels, "test_labels": task.test_labels}
            with atomic_path(self.layout.split) as tmp:
                with open(tmp, "wb") as handle:
                    np.savez(handle, **arrays)
        train, _ = task.counts()
        self.log(
            f"split: {len(task.train)} training samples of {task.size} px, "
            f"{len(task.test_labels)} test; per class train {train.tolist()}"
        )
        return task

    def save_spectra(
        self, condition: str, task: Task, samples: np.ndarray, labels: np.ndarray
    ) -> None:
        """Mean spectrum per class of what ``condition`` trains on, for the figure."""
        save_class_spectra(
            self.layout.spectra(condition), task.label_spectra(samples), labels, task.n_classes
        )

    def extra(
        self,
        condition: str,
        task: Task,
        counts: np.ndarray,
        seed: int,
        chain: PatchSynthesizer | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """What ``condition`` adds to the training samples for ``seed``."""
        if condition == "real":
            return task.train[:0], task.train_labels[:0]
        started = time.perf_counter()
        if condition == "augment":
            settings = self.config.augment
            samples, labels = augment_patches(
                task.train,
                task.train_labels,
                counts,
                n_classes=task.n_classes,
                seed=seed,
                noise=settings.noise,
                mixup=settings.mixup,
                mixup_alpha=settings.mixup_alpha,
            )
        else:
            assert chain is not None
            samples, labels = chain.generate(counts, condition, seed=seed)
        self.log(f"[{condition}] seed {seed}: {len(samples)} samples in "
                 f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        if seed == self.config.seeds[0] and not self.layout.spectra(condition).is_file():
            self.save_spectra(condition, task, samples, labels)
        return samples, labels

    def classify(
        self,
        name: str,
        condition: str,
        seed: int,
        task: Task,
        extra: tuple[np.ndarray, np.ndarray] | None,
    ) -> None:
        """Train classifier ``name`` on the real plus extra samples, score it on the test set."""
        from msfdiff.downstream.classifiers import SpectrumClassifier, build_network
        from msfdiff.downstream.scores import score
        from msfdiff.downstream.train import epochs_for_iterations, predict, train_classifier

        settings = self.config.classifiers
        assert extra is not None
        x = np.concatenate([task.train, extra[0]])
        y = np.concatenate([task.train_labels, extra[1]])
        started = time.perf_counter()
        if name in SPECTRA_CLASSIFIERS:
            classifier = SpectrumClassifier(name, seed=seed).fit(task.label_spectra(x), y)
            predicted = classifier.predict(task.label_spectra(task.test))
        else:
            model = build_network(
                name,
                n_bands=x.shape[-1],
                n_classes=task.n_classes,
                patch_size=task.size,
                width=settings.width,
                seed=seed,
            )
            epochs = epochs_for_iterations(len(x), settings.iterations, settings.batch_size)
            train_classifier(
                model,
                x,
                y,
                epochs=epochs,
                batch_size=settings.batch_size,
                lr=settings.lr,
                seed=seed,
            )
            predicted = predict(model, task.test)
        scores = score(task.test_labels, predicted, task.n_classes)
        result = {
            "condition": condition,
            "classifier": name,
            "seed": seed,
            "n_real": len(task.train),
            "n_added": len(extra[0]),
            **scores.as_dict(),
            "seconds": round(time.perf_counter() - started, 1),
        }
        write_json(self.layout.result(condition, name, seed), result)
        self.log(
            f"[{condition}] {name} seed {seed}: OA {scores.overall_accuracy:.3f} "
            f"AA {scores.average_accuracy:.3f} kappa {scores.kappa:.3f}"
        )


def run_downstream(
    path: str | Path,
    out: str | Path | None = None,
    *,
    force: bool = False,
    log: Log = no_log,
    bar: BarFactory = no_bar,
) -> tuple[Path, dict[str, Any]]:
    """Run the downstream experiment of ``path`` in ``out`` (default ``runs/<name>``);
    returns the directory and the summary."""
    config, base = load_downstream(path)
    root = Path(out) if out is not None else Path("runs") / config.name
    summary = DownstreamRun(config, base, root, log=log, bar=bar, force=force).run()
    return root, summary
