"""``msfdiff compare`` on a tiny experiment: rows train on the right data, share unmixers,
reuse finished work, refuse changed rows, and the table holds every row."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from msfdiff.errors import ConfigError, OutputExistsError
from msfdiff.generator import Generator
from msfdiff.layout import CompareLayout
from msfdiff.pipeline.compare import load_compare, run_comparison
from tests.synthetic import write_experiment_data


class MeanCube(Generator):
    """Samples the mean training cube plus small noise: an ``hsi`` row defined outside msfdiff."""

    output_space = "hsi"
    fit_data = "cubes"
    fitted_on: list = []

    def fit(self, dataset, out_dir, *, resume=False, force=False, progress=None, log=None):
        MeanCube.fitted_on.append(dataset)
        self.mean_ = np.asarray(dataset.array).mean(axis=0)
        self.wavelengths_nm = dataset.wavelengths_nm
        self.save_pretrained(out_dir)
        return self

    @property
    def classes(self):
        return []

    @property
    def n_channels(self):
        return self.mean_.shape[-1]

    def sample(self, indices, *, seed, class_name, size, **options):
        rngs = [np.random.default_rng([seed, i]) for i in indices]
        return np.stack(
            [np.abs(self.mean_ + 0.01 * r.standard_normal(self.mean_.shape)) for r in rngs]
        ).astype(np.float32)

    def fingerprint(self):
        return str(float(self.mean_.sum()))

    def _save_pretrained(self, folder):
        np.save(folder / "mean.npy", self.mean_)
        np.save(folder / "wavelengths.npy", self.wavelengths_nm)

    @classmethod
    def from_pretrained(cls, folder):
        gen = cls()
        gen.mean_ = np.load(Path(folder) / "mean.npy")
        gen.wavelengths_nm = np.load(Path(folder) / "wavelengths.npy")
        return gen


TINY_EXPERIMENT = {
    "unmixing": {
        "overrides": {"n_endmembers": 3, "steps": 200, "crop_size": 16, "batch_size": 4},
        "checkpoint_every": 10,
    },
    "inference": {"size": 8},
    "diffusion": {
        "conditional": True,
        "overrides": {
            "image_size": 8,
            "unet": {
                "block_out_channels": [8, 16],
                "attention_resolutions": [],
                "norm_num_groups": 8,
            },
            "training": {"batch_size": 2, "crop_size": 8, "checkpoint_every": 2},
        },
    },
}


def _config(tmp_path: Path, rows: list[dict]) -> Path:
    if not (tmp_path / "experiment.yaml").is_file():
        experiment = {
            "name": "tiny",
            "data": write_experiment_data(tmp_path, size=32, k=3),
            **TINY_EXPERIMENT,
        }
        (tmp_path / "experiment.yaml").write_text(yaml.safe_dump(experiment))
    compare = {
        "name": "tiny-compare",
        "experiment": "experiment.yaml",
        "steps": 3,
        "n": 4,
        "fid": False,
        "sampling": {"steps": 2, "noise": False},
        "reference": {"held_out_every": 3, "hsi_crops": 6},
        "rows": rows,
    }
    path = tmp_path / "compare.yaml"
    path.write_text(yaml.safe_dump(compare, sort_keys=False))
    return path


ROWS = [
    {"name": "MSF-Diff"},
    {"name": "DDIM sampler", "model_of": "MSF-Diff", "sampling": {"sampler": "ddim"}},
    {"name": "k = 2", "unmixing": {"n_endmembers": 2}},
    {"name": "mean cube", "generator": "tests.baselines.test_compare:MeanCube"},
]


@pytest.mark.slow
def test_every_row_is_trained_sampled_scored_and_kept(tmp_path):
    path = _config(tmp_path, ROWS)
    out = tmp_path / "cmp"
    MeanCube.fitted_on.clear()
    table = run_comparison(path, out).read_text()
    layout = CompareLayout(out)
    for name in ("MSF-Diff", "DDIM sampler", "k = 2", "mean cube"):
        assert f"| {name} |" in table
    summary = json.loads(layout.table_json.read_text())
    rows = {row["name"]: row for row in summary["rows"]}
    assert rows["k = 2"]["k"] == 2 and rows["MSF-Diff"]["k"] == 3
    # rows on one unmixer share it; k = 2 has its own, evaluated on the held-out HSI
    assert rows["MSF-Diff"]["unmixer"] == rows["mean cube"]["unmixer"]
    assert rows["k = 2"]["unmixer"]["variant"] == "n-endmembers-2"
    assert rows["k = 2"]["unmixer"]["psnr"] > 10 and rows["k = 2"]["unmixer"]["endmember_tv"] > 0
    assert rows["DDIM sampler"]["sampling"]["sampler"] == "ddim"
    assert rows["MSF-Diff"]["training"]["training_steps"] == 3
    # the sampler ablation reused MSF-Diff's model rather than training its own
    assert not layout.row_generator("ddim-sampler").exists()
    # the cube row trained on the fused training photos (4 of 6; 2 held out), with wavelengths
    [cubes] = MeanCube.fitted_on
    assert cubes.array.shape == (4, 8, 8, 31) and cubes.wavelengths_nm[0] == 400
    train = json.loads((out / "unmixers/default/abundances/index.json").read_text())["files"]
    held = list(layout.photos("held_out").rglob("*.png"))
    assert len(train) == 4 and len(held) == 2
    assert all(Path(f).is_relative_to(layout.photos("train")) for f in train)
    for row in summary["rows"]:
        metrics = row["metrics"]
        assert metrics["sets"] == {"real_hsi": 6, "held_out_photos": 2}
        assert metrics["spectral_fd"]["value"] >= 0
        assert 0 <= metrics["memorisation_rate"]["value"] <= 1
    assert layout.figure.is_file()

    # a second run keeps every finished row: nothing is trained again
    MeanCube.fitted_on.clear()
    run_comparison(path, out)
    assert MeanCube.fitted_on == []

    # rescoring recomputes the metrics from the same samples: same numbers, nothing trained
    before = json.loads(layout.row_result("mean-cube").read_text())["metrics"]
    run_comparison(path, out, rescore=True)
    assert json.loads(layout.row_result("mean-cube").read_text())["metrics"] == before
    assert MeanCube.fitted_on == []

    # a row can be added; the others are kept
    path = _config(tmp_path, [*ROWS, {"name": "photo", "generator": "photo"}])
    assert "| photo |" in run_comparison(path, out).read_text()
    assert MeanCube.fitted_on == []

    # a changed row is refused, not silently mixed with the old one
    changed = [*ROWS[:3], {**ROWS[3], "params": {}, "sampling": {"seed": 5}}]
    path = _config(tmp_path, changed)
    with pytest.raises(OutputExistsError, match="--force"):
        run_comparison(path, out)


def test_config_errors_name_the_problem(tmp_path):
    path = _config(tmp_path, [{"name": "a", "generator": "nope"}])
    with pytest.raises(ConfigError, match="unknown generator 'nope'"):
        load_compare(path)
    path = _config(tmp_path, [{"name": "a"}, {"name": "b", "model_of": "c"}])
    with pytest.raises(ConfigError, match="model_of 'c' must name an earlier row"):
        load_compare(path)
    path = _config(tmp_path, [{"name": "a b"}, {"name": "a-b"}])
    with pytest.raises(ConfigError, match="names must differ"):
        load_compare(path)


def test_cli_names_the_bad_row_in_one_line(tmp_path):
    path = _config(tmp_path, [{"name": "a", "generator": "gmmm"}])
    cmd = [
        sys.executable,
        "-m",
        "msfdiff.cli.main",
        "compare",
        str(path),
        "--out",
        str(tmp_path / "o"),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 1
    assert "unknown generator 'gmmm'" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "o").exists()


@pytest.mark.parametrize("name", ["remote_sensing_cpu", "natural_cpu", "remote_sensing_paper_gpu"])
def test_shipped_comparisons_load(name, monkeypatch, tmp_path):
    """Every row of the shipped configs names an importable generator and valid settings."""
    monkeypatch.setenv("MSFDIFF_DATA", str(tmp_path))  # paths are expanded, not read, at load
    config, experiment = load_compare(Path(__file__).parents[2] / f"configs/compare_{name}.yaml")
    assert len(config.rows) >= 14 and experiment.data.hsi
    kinds = {row.generator for row in config.rows if row.model_of is None}
    assert {"msf-diff", "photo", "gmm", "mst++", "vae", "gan", "cube-diffusion"} <= kinds
