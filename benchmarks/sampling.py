"""Realism, novelty and speed of every sampler and sampling mode on one trained model.

Two tables, one model, one run. *Samplers*, all from pure noise: DDPM (full T), DDIM-50,
DPM-Solver++-20, and the few-step multistep solvers (DPM-Solver++ 2M/3M, UniPC) at 5/8/10
steps. *Modes*, with one sampler: plain sampling, variations of held-out maps at several
strengths (SDEdit, ``msfdiff sample --like``), collages of held-out maps with their seams
regenerated (``--collage``), inpainting (the right half of a held-out map regenerated) and
outpainting (a map's centre kept, the rest grown around it). ``--spacings`` adds a third table:
each few-step solver with linspace, trailing and Karras step spacing.

Columns (distances against real crops of the training maps, so speed or realism is never
bought with quality or copying silently):

* ``NFE``  network evaluations per sample, counted with a forward hook; ``s/sample``;
* ``W1``   mean over endmembers of the 1-D Wasserstein distance between pixel-abundance histograms;
* ``FD``   Frechet distance between Gaussians fitted to pixel abundance vectors (first k-1
           coordinates: the k-th is 1 minus their sum);
* ``TV``   mean absolute difference between neighbouring pixels, sampled / real (1 = same texture);
* ``edges`` edge coherence (share of gradient energy along one local direction), sampled / real
           (``msfdiff.evaluation.spectral``);
* ``spread`` spread of scene make-up (std over maps of the mean abundances), sampled / real;
* ``train`` median distance (mean L1 per pixel, ``msfdiff.evaluation.novelty``) of a sample to
           its nearest training map, over the median distance of a training map to its nearest
           other one (1 = as far from the training set as real maps are from one another);
* ``source`` the same for the distance to the map a guided sample started from;
* ``memo`` memorisation rate: share of samples closer to a training map than the 5th
           percentile of real-to-real distances;
* ``tiles`` share of the samples' 16x16 tiles that copy a window of a training map as closely
           as near-duplicate real tiles do (``local_novelty``; maps of at least 32x32): the
           copies whole-map novelty cannot see in a collage.

A "real vs real" row (crops of other real maps, of the same size) gives the floor each distance
reaches with this many maps; its ``train`` is 0, as they are training maps. A "held-out" row
shows the held-out sources themselves: about 1 when they are new maps of the same kind.
``--class`` draws every sample in one class and compares with that class's real maps.

Usage::

    python benchmarks/sampling.py                        # trains a tiny model on synthetic maps
    python benchmarks/sampling.py --train-steps 20 --n 4 --ddpm-n 1 --few-steps 5 \\
        --strengths 0.3                                  # a 20 s smoke run
    python benchmarks/sampling.py --run RUN --abundances RUN/abundances --like PHOTOS \\
        --ddpm-n 4 --grid grid.png                       # a trained run and held-out photos

Without ``--like`` the held-out maps are fresh synthetic maps (bare) or the last 10 % of
``--abundances`` (which the run then did train on: say so when quoting it). ``--grid`` draws
held-out maps, their variations, collages and plain samples (the README figure).
``--from-training N`` adds a variation and a collage started from the first N training maps
(of ``--class``): their *tiles* say how much guiding with one's own training data copies.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from scipy import linalg
from scipy.stats import wasserstein_distance

from msfdiff.data.abundances import (
    AbundanceDataset,
    load_abundance_dataset,
    make_synthetic_abundances,
    write_abundance_dataset,
)
from msfdiff.diffusion.collage import make_collages
from msfdiff.diffusion.config import DiffusionConfig, TrainingConfig, UNetConfig
from msfdiff.diffusion.guidance import outpainting
from msfdiff.diffusion.pipeline import SCHEDULERS, AbundancePipeline
from msfdiff.diffusion.training import train
from msfdiff.evaluation.novelty import (
    LOCAL_TILE,
    local_novelty,
    nearest_distances,
    novelty_summary,
    paired_distances,
)
from msfdiff.evaluation.spectral import composition_spread, edge_coherence
from msfdiff.generate import load_sources
from msfdiff.generator import VARIATION_STRENGTH, Guidance
from msfdiff.layout import RunLayout
from msfdiff.plotting import plot_abundance_grid
from msfdiff.unmixing import load_unmixer

FEW_STEP = ("dpmsolver++", "dpmsolver++3m", "unipc")
OUTPAINTING = "outpainting, centre kept"  # its canvas is not a map: no distance to the source
SPACINGS = {
    "linspace": {"timestep_spacing": "linspace"},
    "trailing": {"timestep_spacing": "trailing"},
    "karras": {"use_karras_sigmas": True},
}


def tiny_run(out: Path, *, steps: int, size: int, seed: int) -> tuple[Path, Path]:
    """Train a 0.64 M-parameter model on synthetic 4-endmember maps; return (run, data) folders.

    The maps have the model's size, so samples, training and held-out maps compare whole."""
    maps = make_synthetic_abundances(256, size, size, 4, smoothness=3.0, seed=seed)
    data = write_abundance_dataset(out / "abundances", maps)
    config = DiffusionConfig(
        image_size=size,
        unet=UNetConfig(
            block_out_channels=(16, 32, 64), norm_num_groups=8, attention_resolutions=()
        ),
        training=TrainingConfig(
            learning_rate=1e-3,
            lr_warmup_steps=50,
            batch_size=16,
            max_steps=steps,
            ema_decay=0.995,
            checkpoint_every=steps,
            log_every=50,
            seed=seed,
        ),
    )
    start = time.perf_counter()
    train(config, load_abundance_dataset(data), out / "diffusion")
    print(f"trained a tiny model for {steps} steps in {time.perf_counter() - start:.0f} s")
    return out / "diffusion", data


def real_crops(
    dataset: AbundanceDataset, rows: np.ndarray, n: int, size: int, seed: int
) -> np.ndarray:
    """``n`` random size x size crops of the real maps ``rows``, (n, size, size, k)."""
    rng = np.random.default_rng(seed)
    picked = rng.choice(rows, n)
    tops = rng.integers(0, dataset.height - size + 1, n)
    lefts = rng.integers(0, dataset.width - size + 1, n)
    return np.stack(
        [
            np.asarray(dataset.array[r, t : t + size, c : c + size], dtype=np.float32)
            for r, t, c in zip(picked, tops, lefts, strict=True)
        ]
    )


def quality(sampled: np.ndarray, real: np.ndarray) -> dict[str, float]:
    """Distances between two sets of abundance maps (n, H, W, k); see the module docstring."""
    k = real.shape[-1]
    w1 = np.mean(
        [wasserstein_distance(sampled[..., j].ravel(), real[..., j].ravel()) for j in range(k)]
    )
    a, b = sampled.reshape(-1, k)[:, :-1], real.reshape(-1, k)[:, :-1]
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b).real
    fd = float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a + cov_b - 2 * root))
    return {
        "W1": float(w1),
        "FD": fd,
        "TV": _roughness(sampled) / _roughness(real),
        "edges": edge_coherence(sampled) / edge_coherence(real),
        "spread": composition_spread(sampled) / composition_spread(real),
        "sum": float(np.abs(sampled.sum(-1) - 1).max()),
    }


def _roughness(maps: np.ndarray) -> float:
    return float((np.abs(np.diff(maps, axis=1)).mean() + np.abs(np.diff(maps, axis=2)).mean()) / 2)


class Novelty:
    """Distances to the training maps, relative to the real-to-real reference (computed once)."""

    def __init__(self, training: np.ndarray, probe: np.ndarray) -> None:
        summary = novelty_summary(probe, training)
        self.training = training
        self.reference = summary["real_to_real"]["median"]
        self.threshold = summary["memorisation_threshold"]

    def __call__(self, maps: np.ndarray, sources: np.ndarray | None = None) -> dict[str, float]:
        nearest = nearest_distances(maps, self.training)
        row = {
            "train": float(np.median(nearest)) / self.reference,
            "memo": float(np.mean(nearest <= self.threshold)),
        }
        if sources is not None:
            row["source"] = float(np.median(paired_distances(maps, sources))) / self.reference
        if min(maps.shape[1:3]) >= 2 * LOCAL_TILE:
            row["tiles"] = local_novelty(maps, self.training)["copied_share"]
        return row


def timed(
    pipe: AbundancePipeline, n: int, batch_size: int, **request
) -> tuple[np.ndarray, int, float]:
    """Samples, network evaluations per sample and seconds per sample."""
    calls = []
    hook = pipe.unet.register_forward_hook(lambda module, args, output: calls.append(1))
    start = time.perf_counter()
    maps = pipe(n, seed=0, batch_size=batch_size, **request)
    seconds = (time.perf_counter() - start) / n
    hook.remove()
    # the batch-invariant pipeline calls the U-Net once per sample, otherwise once per batch
    calls_per_step = n if pipe.batch_invariant else -(-n // batch_size)
    return maps, round(len(calls) / calls_per_step), seconds


def register_spacings() -> list[str]:
    """Register each few-step solver with each spacing as a sampler named ``solver/spacing``."""
    names = []
    for solver in FEW_STEP:
        cls, options = SCHEDULERS[solver]
        base = {key: value for key, value in options.items() if key != "timestep_spacing"}
        for spacing, extra in SPACINGS.items():
            SCHEDULERS[f"{solver}/{spacing}"] = (cls, {**base, **extra})
            names.append(f"{solver}/{spacing}")
    return names


def held_out_maps(args, pipe: AbundancePipeline, dataset: AbundanceDataset) -> np.ndarray:
    """The maps guided samples start from, at the model's map size (see the module docstring)."""
    size = pipe.image_size
    if args.like is not None:
        unmixer = load_unmixer(RunLayout(args.run).unmixing)
        maps, _ = load_sources(args.like, unmixer=unmixer, size=size)
        return maps
    if args.run is None:
        return make_synthetic_abundances(args.sources, size, size, pipe.k, smoothness=3.0, seed=99)
    rows = range(len(dataset) - max(1, len(dataset) // 10), len(dataset))
    return np.stack([np.asarray(dataset.array[i, :size, :size], dtype=np.float32) for i in rows])


def modes(sources: np.ndarray, n: int, strengths: list[float]) -> dict[str, Guidance | None]:
    """Every sampling mode of the second table, as the guidance it passes to the pipeline."""
    size = sources.shape[1]
    keep = np.zeros(sources.shape[1:3], dtype=bool)
    keep[:, : size // 2] = True
    quarter = size // 4
    table: dict[str, Guidance | None] = {"plain (S = 1)": None}
    table |= {f"variation S = {s:g}": Guidance(sources, s) for s in strengths}
    table |= {
        "collage, seams S = 0.3": make_collages(sources, n, strength=0.3, seed=0),
        "collage, seams S = 0.5": make_collages(sources, n, strength=0.5, seed=0),
        "collage, whole S = 0.2": make_collages(sources, n, band=None, strength=0.2, seed=0),
        "inpainting, right half": Guidance(sources, keep=keep),
        OUTPAINTING: outpainting(
            sources[:, quarter : size - quarter, quarter : size - quarter], size
        ),
    }
    return table


def training_modes(maps: np.ndarray, n: int) -> dict[str, Guidance]:
    """Guided modes started from training maps, as a user guiding with their own data would:
    their copies of training tiles are what ``tiles`` measures."""
    return {
        "variation S = 0.1, training maps": Guidance(maps, 0.1),
        "collage, seams S = 0.3, training maps": make_collages(maps, n, strength=0.3, seed=0),
    }


def print_table(title: str, rows: list[dict], columns: list[tuple[str, str]]) -> None:
    print(f"\n{title}")
    print(" | ".join(f"{name:>10}" if i else f"{name:>26}" for i, (name, _) in enumerate(columns)))
    for row in rows:
        cells = [
            format(row[key], spec) if isinstance(row.get(key), float) else str(row.get(key, ""))
            for key, spec in columns
        ]
        print(" | ".join(f"{c:>10}" if i else f"{c:>26}" for i, c in enumerate(cells)))


COLUMNS = [
    ("name", ""),
    ("NFE", ""),
    ("s/sample", ".3f"),
    ("W1", ".4f"),
    ("FD", ".4f"),
    ("TV", ".2f"),
    ("edges", ".2f"),
    ("spread", ".2f"),
    ("train", ".2f"),
    ("source", ".2f"),
    ("memo", ".2f"),
    ("tiles", ".2f"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--run", type=Path, help="RUN_DIR (or RUN_DIR/diffusion) of a trained model"
    )
    parser.add_argument("--abundances", type=Path, help="the real abundance dataset it learned")
    parser.add_argument("--like", type=Path, help="held-out photos (or abundance data set)")
    parser.add_argument("--class", dest="class_name", help="class of the samples (conditional)")
    parser.add_argument("--n", type=int, default=16, help="samples per row")
    parser.add_argument("--ddpm-n", type=int, default=8, help="samples for DDPM (it is slow)")
    parser.add_argument("--sources", type=int, default=8, help="held-out synthetic maps (bare)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--sampler", default="unipc", help="sampler of the modes table")
    parser.add_argument("--steps", type=int, default=8, help="its steps")
    parser.add_argument("--strengths", type=float, nargs="+", default=[0.1, 0.2, 0.3, 0.5, 0.7])
    parser.add_argument("--few-steps", type=int, nargs="+", default=[5, 8, 10])
    parser.add_argument("--spacings", action="store_true", help="also compare step spacings")
    parser.add_argument("--skip", nargs="*", default=[], help="tables to skip: samplers modes")
    parser.add_argument("--train-steps", type=int, default=800, help="tiny model (no --run)")
    parser.add_argument("--size", type=int, default=32, help="tiny model map size (no --run)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--grid", type=Path, help="PNG: held-out, variations, collages, plain")
    parser.add_argument(
        "--from-training", type=int, default=0, help="also guide from N training maps (tiles)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if (args.run is None) != (args.abundances is None):
        parser.error("--run and --abundances go together")
    if args.like is not None and args.run is None:
        parser.error("--like needs --run (its unmixer infers the photos)")

    with tempfile.TemporaryDirectory() as tmp:
        if args.run is None:
            folder, data = tiny_run(Path(tmp), steps=args.train_steps, size=args.size, seed=0)
        else:
            folder = args.run / "diffusion" if (args.run / "diffusion").is_dir() else args.run
            data = args.abundances
        pipe = AbundancePipeline.from_pretrained(folder)
        dataset = load_abundance_dataset(data)
        sources = held_out_maps(args, pipe, dataset)
        size, n = pipe.image_size, args.n
        rows = np.arange(len(dataset))
        if args.class_name is not None:  # compare with the real maps of that class
            rows = np.flatnonzero(np.array(dataset.labels, dtype=object) == args.class_name)
        # the reference and the floor come from disjoint maps
        real = real_crops(dataset, rows[::2], n, size, seed=1)
        training = np.asarray(dataset.array, dtype=np.float32)
        novelty = Novelty(training, real)
        request = {"class_name": args.class_name}

        def row(name: str, maps: np.ndarray, **extra) -> dict:
            origin = extra.pop("sources", None)
            return {"name": name, **extra, **quality(maps, real), **novelty(maps, origin)}

        floor = [
            row("real vs real", real_crops(dataset, rows[1::2], n, size, seed=2)),
            row("held-out", sources),
        ]
        results: dict[str, list[dict]] = {}
        if "samplers" not in args.skip:
            plan = [("ddpm", int(pipe.scheduler_config["num_train_timesteps"])), ("ddim", 50)]
            plan += [("dpmsolver++", 20)]
            plan += [(s, k) for s in FEW_STEP for k in args.few_steps]
            results["samplers"] = floor + run_plan(pipe, plan, args, row, request)
        if args.spacings:
            plan = [(s, k) for s in register_spacings() for k in args.few_steps]
            results["spacings"] = floor + run_plan(pipe, plan, args, row, request)
        grid_rows: dict[str, np.ndarray] = {}
        if "modes" not in args.skip:
            mode_rows = list(floor)
            table = modes(sources, n, args.strengths)
            if args.from_training:  # the first maps of the class (or the data set)
                chosen = dataset.array[rows[: args.from_training]]  # rows are ascending
                table |= training_modes(np.asarray(chosen[:, :size, :size], np.float32), n)
            for name, guidance in table.items():
                maps, nfe, seconds = timed(
                    pipe,
                    n,
                    args.batch_size,
                    sampler=args.sampler,
                    steps=args.steps,
                    guidance=guidance,
                    **request,
                )
                origin = None
                if guidance is not None and name != OUTPAINTING:
                    origin = guidance.sources[np.arange(n) % len(guidance.sources)]
                mode_rows.append(row(name, maps, NFE=nfe, **{"s/sample": seconds}, sources=origin))
                grid_rows[name] = maps
                print(f"  {name}: {seconds:.3f} s/sample")
            results["modes"] = mode_rows
        if args.grid and grid_rows:
            draw_grid(args.grid, sources, grid_rows)

    print(
        f"\n{pipe.k} endmembers, {size}x{size} maps, {n} samples per row, {len(sources)} "
        f"held-out maps, batch {args.batch_size}, {torch.get_num_threads()} threads, {pipe.device}"
    )
    for table, rows in results.items():
        title = table if table != "modes" else f"modes ({args.sampler}, {args.steps} steps)"
        print_table(title, rows, COLUMNS)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def run_plan(
    pipe: AbundancePipeline,
    plan: list[tuple[str, int]],
    args: argparse.Namespace,
    row: Callable[..., dict],
    request: dict,
) -> list[dict]:
    rows = []
    for sampler, steps in plan:
        n = args.ddpm_n if sampler == "ddpm" else args.n
        maps, nfe, seconds = timed(
            pipe, n, args.batch_size, sampler=sampler, steps=steps, **request
        )
        rows.append(row(f"{sampler}-{steps}", maps, NFE=nfe, **{"s/sample": seconds}))
        print(f"  {sampler}-{steps}: {seconds:.3f} s/sample, {nfe} network evaluations")
    return rows


def draw_grid(path: Path, sources: np.ndarray, rows: dict[str, np.ndarray]) -> None:
    """Two held-out maps, two variations of each, two collages and two plain samples."""
    shown = [("held-out", sources[:2])]
    variation = f"variation S = {VARIATION_STRENGTH:g}"
    if variation in rows:
        shown.append((variation, rows[variation][:2]))
    shown += [(name, rows[name][:2]) for name in rows if name.startswith("collage, seams S = 0.3")]
    shown.append(("plain", rows["plain (S = 1)"][:2]))
    plot_abundance_grid(
        [m for _, maps in shown for m in maps],
        path,
        row_labels=[f"{name} {i}" for name, maps in shown for i in range(len(maps))],
        stretch=True,
    )


if __name__ == "__main__":
    main()
