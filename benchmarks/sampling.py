"""Speed *and* quality of the samplers on one trained model: DDPM (full T), DDIM-50, DPM-Solver++-20.

For each sampler: network evaluations (counted with a forward hook, not assumed), seconds per
sample, speed-up over DDPM, and distances between the sampled and the real abundance
distributions, so that speed is never bought with quality silently:

* ``W1``   mean over endmembers of the 1-D Wasserstein distance between pixel-abundance histograms;
* ``FD``   Frechet distance between Gaussians fitted to pixel abundance vectors (first k-1
           coordinates: the k-th is 1 minus their sum);
* ``TV``   mean absolute difference between neighbouring pixels, sampled / real (1 = same texture);
* ``edges`` edge coherence (share of gradient energy along one local direction), sampled / real
           (below 1: fewer straight edges than the real maps; ``msfdiff.evaluation.spectral``);
* ``spread`` spread of scene make-up (std over maps of the mean abundances), sampled / real
           (below 1: the samples are more alike than real scenes are);
* ``max``  mean of the largest abundance per pixel (purity; a flat softmax lowers it);
* ``sum``  worst deviation of a pixel's abundances from summing to one.

A "real vs real" row (two disjoint sets of real crops of the same size) gives the floor each
distance reaches with this many samples.

Usage::

    python benchmarks/sampling.py                        # trains a tiny model on synthetic maps
    python benchmarks/sampling.py --run RUN_DIR --abundances DIR   # a trained run, its data
    python benchmarks/sampling.py --run RUN_DIR --abundances DIR --grid grid.png  # + a picture

``--grid`` draws four real crops above the first four DPM-Solver++ samples (the README figure).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
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
from msfdiff.diffusion.config import DiffusionConfig, TrainingConfig, UNetConfig
from msfdiff.diffusion.pipeline import AbundancePipeline
from msfdiff.diffusion.training import train
from msfdiff.evaluation.spectral import composition_spread, edge_coherence
from msfdiff.plotting import plot_abundance_grid


def tiny_run(out: Path, *, steps: int, size: int, seed: int) -> tuple[Path, Path]:
    """Train a 0.64 M-parameter model on synthetic 4-endmember maps; return (run, data) folders."""
    maps = make_synthetic_abundances(256, 2 * size, 2 * size, 4, smoothness=3.0, seed=seed)
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


def real_crops(dataset: AbundanceDataset, n: int, size: int, seed: int) -> np.ndarray:
    """``n`` random size x size crops of real maps, (n, size, size, k)."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(dataset), n)
    tops = rng.integers(0, dataset.height - size + 1, n)
    lefts = rng.integers(0, dataset.width - size + 1, n)
    return np.stack(
        [
            np.asarray(dataset.array[r, t : t + size, c : c + size], dtype=np.float32)
            for r, t, c in zip(rows, tops, lefts, strict=True)
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
        "max": float(sampled.max(-1).mean()),
        "sum": float(np.abs(sampled.sum(-1) - 1).max()),
    }


def _roughness(maps: np.ndarray) -> float:
    return float((np.abs(np.diff(maps, axis=1)).mean() + np.abs(np.diff(maps, axis=2)).mean()) / 2)


def run_sampler(
    pipe: AbundancePipeline, sampler: str, steps: int | None, n: int, batch_size: int
) -> tuple[np.ndarray, int, float]:
    """Samples, network evaluations per sample and seconds per sample."""
    calls = []
    hook = pipe.unet.register_forward_hook(lambda module, args, output: calls.append(1))
    start = time.perf_counter()
    maps = pipe(n, sampler=sampler, steps=steps, seed=0, batch_size=batch_size)
    seconds = (time.perf_counter() - start) / n
    hook.remove()
    # the batch-invariant pipeline calls the U-Net once per sample, otherwise once per batch
    calls_per_step = n if pipe.batch_invariant else -(-n // batch_size)
    return maps, len(calls) // calls_per_step, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--run", type=Path, help="RUN_DIR (or RUN_DIR/diffusion) of a trained model"
    )
    parser.add_argument("--abundances", type=Path, help="the real abundance dataset it learned")
    parser.add_argument("--n", type=int, default=32, help="samples per sampler")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--ddim-steps", type=int, default=50)
    parser.add_argument("--dpm-steps", type=int, default=20)
    parser.add_argument("--train-steps", type=int, default=800, help="tiny model (no --run)")
    parser.add_argument("--size", type=int, default=32, help="tiny model map size (no --run)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--grid", type=Path, help="PNG of real vs DPM-Solver++ samples")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if (args.run is None) != (args.abundances is None):
        parser.error("--run and --abundances go together")

    with tempfile.TemporaryDirectory() as tmp:
        if args.run is None:
            folder, data = tiny_run(Path(tmp), steps=args.train_steps, size=args.size, seed=0)
        else:
            folder = args.run / "diffusion" if (args.run / "diffusion").is_dir() else args.run
            data = args.abundances
        pipe = AbundancePipeline.from_pretrained(folder)
        dataset = load_abundance_dataset(data)
        size = pipe.image_size
        real = real_crops(dataset, args.n, size, seed=1)
        results = [
            {"sampler": "real vs real", **quality(real_crops(dataset, args.n, size, 2), real)}
        ]
        total = int(pipe.scheduler_config["num_train_timesteps"])
        plan = [("ddpm", total), ("ddim", args.ddim_steps), ("dpmsolver++", args.dpm_steps)]
        for sampler, steps in plan:
            maps, nfe, seconds = run_sampler(pipe, sampler, steps, args.n, args.batch_size)
            results.append(
                {
                    "sampler": sampler,
                    "steps": steps,
                    "NFE": nfe,
                    "s/sample": seconds,
                    **quality(maps, real),
                }
            )
            print(f"  {sampler}: {seconds:.3f} s/sample, {nfe} network evaluations")
        if args.grid:
            shown = min(4, args.n)
            plot_abundance_grid(
                [*real[:shown], *maps[:shown]],  # maps: the last sampler's, DPM-Solver++
                args.grid,
                row_labels=[f"real {i}" for i in range(shown)]
                + [f"synthetic {i}" for i in range(shown)],
                stretch=True,
            )

    ddpm = results[1]["s/sample"]
    print(
        f"\n{pipe.k} endmembers, {size}x{size} maps, {args.n} samples per sampler, "
        f"batch {args.batch_size}, {torch.get_num_threads()} threads, {pipe.device}"
    )
    header = "sampler NFE s/sample speed-up W1 FD TV edges spread max sum".split()
    print(" | ".join(f"{h:>12}" for h in header))
    for row in results:
        speed = f"{ddpm / row['s/sample']:.1f}x" if "s/sample" in row else ""
        cells = [
            row["sampler"],
            row.get("NFE", ""),
            f"{row['s/sample']:.3f}" if "s/sample" in row else "",
            speed,
            f"{row['W1']:.4f}",
            f"{row['FD']:.4f}",
            f"{row['TV']:.2f}",
            f"{row['edges']:.2f}",
            f"{row['spread']:.2f}",
            f"{row['max']:.3f}",
            f"{row['sum']:.1e}",
        ]
        print(" | ".join(f"{c:>12}" for c in cells))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
