"""A small run directory in the pipeline's real file formats, for the report tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from msfdiff.data.abundances import make_synthetic_abundances, write_abundance_dataset
from msfdiff.data.cube import HyperCube
from msfdiff.data.writers import write_hsi
from msfdiff.evaluation.novelty import novelty_summary
from msfdiff.evaluation.plots import plot_novelty
from msfdiff.fusion import fuse
from msfdiff.layout import RunLayout, sample_abundance_path, sample_stem
from msfdiff.plotting import plot_reconstruction, save_figure, subplots
from msfdiff.unmixing import SceneUnmixer
from tests.synthetic import known_scene

K = 3
SIZE = 16
N_PHOTOS = 5
SAMPLE_FORMATS = (".hdr", ".npy", ".mat")
STAGE_SECONDS = {"unmix": 12.3, "eval_unmix": 2.0, "infer": 1.5, "diffusion": 3725.0}
EVALUATION = {
    "msfdiff_version": "0.1.0",
    "sets": {"real": {"n_images": 5, "kind": "rgb"}},
    "metrics": {
        "fid": {"value": 123.456, "better": "lower", "definition": "fid"},
        "precision": {"value": 0.5, "better": "higher", "definition": "precision"},
        "abundance_hist_w1": {
            "value": 0.0123,
            "better": "lower",
            "definition": "abundance_hist_w1",
            "per_endmember": [0.01, 0.02, 0.0069],
        },
        "by_band": {"niqe_real": {"value": 7.0, "direction": "lower", "definition": "x"}},
    },
    "per_band": {"real": {"niqe": {"mean": list(range(40))}}},
    "definitions": {"fid": "Frechet distance of Inception features"},
    "notes": ["FID is biased below 50 images"],
}


def write_photos(folder: Path, n: int = N_PHOTOS) -> list[Path]:
    """Colour PNG photos in class sub-folders (the AID layout)."""
    rng = np.random.default_rng(1)
    paths = []
    for i in range(n):
        path = folder / ("farmland" if i < 3 else "forest") / f"photo_{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def train_unmixer(folder: Path) -> SceneUnmixer:
    """The tiny unmixer of the brief, saved as the unmix stage saves it (without figures)."""
    cube, _, _ = known_scene(size=32, k=K)
    unmixer = SceneUnmixer(
        K,
        preset="cpu",
        overrides={
            "widths": (8,),
            "steps": 4,
            "batch_size": 2,
            "crop_size": 16,
            "band_selection": "nearest:620,540,460",
        },
    ).fit(cube)
    unmixer.save(folder)
    return unmixer


def build_run(root: Path, photos_dir: Path) -> Path:
    """Every part of a run: config, stages, unmixer, abundances, losses, samples, evaluation."""
    run = RunLayout(root)
    root.mkdir(parents=True, exist_ok=True)
    run.config.write_text("name: demo\nunmixing:\n  preset: cpu\n  steps: 4\n")
    run.stages.mkdir()
    for i, (stage, seconds) in enumerate(STAGE_SECONDS.items()):
        record = {
            "stage": stage,
            "fingerprint": "0123456789abcdef",
            "status": "done",
            "seconds": seconds,
            "started_at": f"2025-01-01T0{i}:00:00",
            "finished_at": f"2025-01-01T0{i}:30:00",
        }
        run.stage_record(stage).write_text(json.dumps(record))
    run.stage_record("report").write_text(json.dumps({"stage": "report", "status": "running"}))

    unmixer = train_unmixer(run.unmixing)
    eval_rows = [
        {
            "source": f"/data/test_{i}.mat",
            "rmse": 0.01 * (i + 1),
            "psnr": 30.0 + i,
            "ssim": 0.9,
            "sad_deg": 3.0,
            "ergas": 4.0,
        }
        for i in range(2)
    ]
    mean = {
        key: float(np.mean([r[key] for r in eval_rows])) for key in eval_rows[0] if key != "source"
    }
    run.unmixing_eval.write_text(json.dumps({"mean": mean, "images": eval_rows}))
    held_out, _, _ = known_scene(size=16, k=K, seed=1)
    plot_reconstruction(
        held_out.data,
        unmixer.reconstruct(held_out),
        held_out.wavelengths_nm,
        run.unmixing_eval_figures / "reconstruction_00.png",
    )

    photos = write_photos(photos_dir)
    inferred = make_synthetic_abundances(len(photos), SIZE, SIZE, K, seed=1)
    write_abundance_dataset(
        run.abundances,
        inferred,
        files=[str(p) for p in photos],
        labels=[p.parent.name for p in photos],
    )

    run.generator.mkdir()
    lines = ["step,loss,lr,seconds"] + [
        f"{s},{1 / s:.5f},0.0001,{s * 0.1:.1f}" for s in range(1, 41)
    ]
    (run.generator / "loss.csv").write_text("\n".join(lines) + "\n41,")  # last row half-written

    synthetic = make_synthetic_abundances(len(SAMPLE_FORMATS), SIZE, SIZE, K, seed=2)
    for i, suffix in enumerate(SAMPLE_FORMATS):
        hsi = fuse(unmixer.endmembers_, synthetic[i])
        cube = HyperCube(hsi, unmixer.wavelengths_, "s")
        write_hsi(run.samples / f"{sample_stem(i)}{suffix}", cube)
        np.save(sample_abundance_path(run.samples, i), synthetic[i])

    run.evaluation.mkdir()
    novelty = novelty_summary(synthetic, inferred, sources=synthetic[::-1])
    run.metrics.write_text(json.dumps({**EVALUATION, "novelty": novelty}))
    distances = {key: np.array(value) for key, value in novelty["distances"].items()}
    plot_novelty(
        distances["real_to_real"],
        distances["nearest_training"],
        novelty["memorisation_threshold"],
        run.evaluation / "novelty.png",
        to_source=distances["source"],
    )
    fig, ax = subplots(figsize=(3, 2))
    ax.plot([400, 500, 600], [0.1, 0.3, 0.2])
    save_figure(fig, run.evaluation / "spectra.png")
    return root
