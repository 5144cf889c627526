"""Phases 2+3 together: sample abundance maps from a trained run and fuse them into HSIs.

Used by ``msfdiff sample`` and by the pipeline's sample stage. Output folder::

    OUT/sampling.json                 settings (model digest, sampler, steps, seed, classes, …)
    OUT/sample_NNNN.<hdr|npy|mat|tif> the synthetic HSI, with wavelengths
    OUT/sample_NNNN_false_colour.png  preview;  OUT/sample_NNNN_profiles.png  Fig. 11 profiles
    OUT/sample_NNNN_abundance.npy     its abundance map (H, W, k), written last

A sample whose abundance file exists is complete, so an interrupted run resumes where it
stopped, and sample ``i`` is the same whatever the batch size (seeded per index).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from msfdiff._io import write_json
from msfdiff.errors import DataFormatError, OutputExistsError

MANIFEST_NAME = "sampling.json"


def generate_samples(
    run_dir: str | Path,
    out: str | Path,
    *,
    n: int,
    sampler: str = "ddpm",
    steps: int | None = None,
    format: str = "envi",
    seed: int = 0,
    noise: bool = False,
    class_name: str | None = None,
    size: int | None = None,
    batch_size: int = 8,
    force: bool = False,
    progress: Callable[[Iterable, int], Iterable] | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """Write ``n`` synthetic HSIs into ``out`` (resuming a folder made with the same settings).

    Fusion uses the unmixer's ``endmembers_`` (decoder bias folded in, exact on the simplex)
    and, with ``noise``, its per-band residual ``noise_std_`` (the ε of Eq. 5). ``size`` is
    the map size (default: the model's ``image_size``).
    """
    from msfdiff.diffusion.pipeline import AbundancePipeline, make_sampler
    from msfdiff.fusion import HSI_SUFFIXES, abundance_path, fuse, write_sample
    from msfdiff.unmixing import load_unmixer

    run_dir, out = Path(run_dir), Path(out)
    if format not in HSI_SUFFIXES:
        raise DataFormatError(f"unknown format {format!r}; choose one of {list(HSI_SUFFIXES)}")
    unmixer = load_unmixer(run_dir)
    pipe = AbundancePipeline.from_pretrained(run_dir / "diffusion")
    endmembers = np.asarray(unmixer.endmembers_)
    if endmembers.shape[0] != pipe.k:
        raise DataFormatError(
            f"{run_dir}: the unmixer has {endmembers.shape[0]} endmembers, the diffusion model {pipe.k}"
        )
    pipe.class_index(class_name)  # fail before touching OUT
    size = pipe.check_size(size)
    scheduler = make_sampler(pipe.scheduler_config, sampler, steps)
    settings = {
        "model_sha256": _weights_digest(run_dir / "diffusion"),
        "unmixer": str((run_dir / "unmixing").resolve()),
        "sampler": sampler,
        "steps": len(scheduler.timesteps),
        "seed": seed,
        "class": class_name,
        # a conditional model asked for no class draws sample i from classes[i % len(classes)]
        "classes": [] if class_name is not None else pipe.classes,
        "size": size,
        "format": format,
        "noise": noise,
    }
    _prepare_out(out, settings, force=force)
    todo = [i for i in range(n) if force or not abundance_path(out, i).exists()]
    if len(todo) < n:
        log(f"{n - len(todo)} of {n} samples already in {out}; making the other {len(todo)}")
    batches = pipe.generate(
        todo,
        sampler=sampler,
        steps=steps,
        seed=seed,
        batch_size=batch_size,
        class_name=class_name,
        size=size,
    )
    per_sample: Iterable = ((i, a) for idx, maps in batches for i, a in zip(idx, maps, strict=True))
    if progress is not None:
        per_sample = progress(per_sample, len(todo))
    for i, abundance in per_sample:
        hsi = fuse(
            endmembers,
            abundance,
            noise_std=unmixer.noise_std_ if noise else None,
            rng=np.random.default_rng([seed, i]),
        )
        # force: leftovers of an interrupted sample are ours (OUT was checked above)
        write_sample(
            out,
            i,
            abundance,
            hsi,
            wavelengths_nm=unmixer.wavelengths_,
            endmembers=endmembers,
            format=format,
            force=True,
        )
    return out


def _weights_digest(folder: Path) -> str:
    """SHA-256 of the sampling weights, so resuming into OUT never mixes two models."""
    from msfdiff.diffusion.pipeline import UNET_DIR

    digest = hashlib.sha256()
    for path in sorted((folder / UNET_DIR).glob("*.safetensors")):
        with open(path, "rb") as f:
            digest.update(hashlib.file_digest(f, "sha256").digest())
    return digest.hexdigest()


def _prepare_out(out: Path, settings: dict, *, force: bool) -> None:
    """Create OUT or check it holds samples made with the same settings (then they are reused)."""
    manifest = out / MANIFEST_NAME
    if out.exists() and not force:
        if manifest.is_file():
            previous = json.loads(manifest.read_text())
            differ = sorted(key for key in settings if previous.get(key) != settings[key])
            if differ:
                raise OutputExistsError(
                    f"{out}: holds samples made with other settings ({', '.join(differ)}); "
                    "use --force or another --out"
                )
        elif any(out.iterdir()):
            raise OutputExistsError(f"{out}: exists and is not a sampling folder; use --force")
    out.mkdir(parents=True, exist_ok=True)
    write_json(manifest, settings)
