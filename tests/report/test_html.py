"""The HTML report: every section and figure of a full run, and grey notes for missing parts."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from msfdiff.data.abundances import make_synthetic_abundances, write_abundance_dataset
from msfdiff.errors import DataNotFoundError, OutputExistsError
from msfdiff.layout import RunLayout
from msfdiff.report import write_report
from msfdiff.report.embed import MAX_EMBED_SIDE, data_uri
from msfdiff.report.sections import evenly
from msfdiff.report.text import duration, flatten_metrics, number
from tests.report.conftest import Figure, parse_report
from tests.report.fake_run import EVALUATION, N_PHOTOS, SAMPLE_FORMATS

SECTIONS = ("overview", "endmembers", "abundances", "gallery", "spectra", "training", "metrics",
            "evaluation")  # fmt: skip
# figures per section in the full run
FIGURES = {
    "endmembers": 1,  # the unmixer is saved without figures/, so the report plots it
    "abundances": 1,  # inferred and synthetic maps share k, hence one figure
    "gallery": N_PHOTOS + len(SAMPLE_FORMATS),
    "spectra": 2,
    "training": 2,
    "metrics": 2,  # the held-out reconstruction of the eval_unmix stage; novelty
    "evaluation": 1,  # novelty.png is shown under Metrics, not again here
}


def test_full_run_has_every_section_and_figure(full_report: Path) -> None:
    report = parse_report(full_report)
    assert tuple(report.sections) == SECTIONS
    for key, section in report.sections.items():
        assert section.notes == [], f"{key}: unexpected notes {section.notes}"
        assert len(section.figures) == FIGURES.get(key, 0), key
    for figure in report.images:
        image = figure.image()
        assert image.width > 0 and image.height > 0
        assert figure.caption and figure.alt, "every figure needs a caption"


def test_figures_show_the_run_contents(full_report: Path) -> None:
    sections = parse_report(full_report).sections
    gallery = [f.caption for f in sections["gallery"].figures]
    assert gallery[:2] == ["photo_0.png (farmland)", "photo_1.png (farmland)"]
    assert gallery[N_PHOTOS:] == [f"sample_{i:04d}{s}" for i, s in enumerate(SAMPLE_FORMATS)]
    assert all(f.image().size == (160, 160) for f in sections["gallery"].figures[:N_PHOTOS])
    # synthetic thumbnails are the samples' own pixels: 16x16 false colour
    assert sections["gallery"].figures[-1].image().size == (16, 16)
    endmembers = " ".join(sections["endmembers"].text)
    assert "nearest:620,540,460" in endmembers and "400.0–700.0 nm" in endmembers
    (abundances,) = sections["abundances"].figures
    assert "'photo' rows" in abundances.caption and "'synthetic' rows" in abundances.caption
    assert "E1–E3" in abundances.caption
    assert sections["metrics"].figures[0].caption.endswith("(reconstruction_00.png)")
    # the last loss row ("41,") is being written: it is skipped, not a crash
    assert "40 logged steps, last step 40" in sections["training"].figures[1].caption


def test_stage_table_and_metric_tables(full_report: Path) -> None:
    sections = parse_report(full_report).sections
    overview = " ".join(sections["overview"].text)
    for expected in ("unmix", "12.3 s", "1 h 02 min", "not run", "running", "0123456789ab"):
        assert expected in overview
    assert "preset: cpu" in overview  # the config is shown
    metrics = " ".join(sections["metrics"].text)
    assert "30.5" in metrics  # mean PSNR of the two held-out images
    assert "123.5" in metrics  # fid, 4 significant digits
    assert "Frechet distance of Inception features" in metrics  # definition looked up
    assert "by_band.niqe_real" in metrics
    assert "FID is biased below 50 images" in metrics  # notes


def test_novelty_numbers_and_histogram(full_run: Path, full_report: Path, tmp_path: Path) -> None:
    metrics = parse_report(full_report).sections["metrics"]
    novelty = json.loads(RunLayout(full_run).metrics.read_text())["novelty"]
    text = " ".join(metrics.text)
    rate = f"{novelty['memorisation_rate']:.1%}: {len(novelty['memorised'])} of 3 samples"
    assert rate in text and "(fresh real maps: 5%)" in text
    reference = novelty["real_to_real"]
    assert f"median {number(reference['median'])} (5–95 %: {number(reference['p05'])}" in text
    assert number(novelty["nearest_training_relative"]) in text
    assert f"relative {number(novelty['source']['relative'])}" in text
    assert any("fresh real scenes score about 5 %" in c for c in metrics.captions)
    assert metrics.figures[1].caption.endswith("(novelty.png)")
    # an evaluation without the training maps: a note says how to get novelty
    run = tmp_path / "run"
    RunLayout(run).evaluation.mkdir(parents=True)
    RunLayout(run).metrics.write_text(json.dumps(EVALUATION))
    notes = parse_report(write_report(run)).sections["metrics"].notes
    assert any("no novelty in evaluation/metrics.json" in note for note in notes)


def test_stage_rows_in_the_order_the_stages_ran(tmp_path: Path) -> None:
    stages = RunLayout(tmp_path).stages
    stages.mkdir()
    records = {  # started_at wins over finished_at; a record with neither comes last
        "unmix": {"started_at": "2025-01-01T01:00:00", "finished_at": "2025-01-01T09:00:00"},
        "infer": {"finished_at": "2025-01-01T05:00:00"},
        "eval_unmix": {"started_at": "2025-01-01T02:00:00"},
        "report": {"status": "running"},
    }
    for stage, record in records.items():
        (stages / f"{stage}.json").write_text(json.dumps({"stage": stage, **record}))
    text = " ".join(parse_report(write_report(tmp_path)).sections["overview"].text)
    table = text[text.index("stage status time") :]
    order = ["unmix", "eval_unmix", "infer", "report", "diffusion", "sample", "evaluate", "total"]
    positions = [table.index(f" {stage} ") for stage in order]
    assert positions == sorted(positions)
    assert table.count("not run") == 3  # the stages that make a part of the run


def test_flatten_metrics_known_rows() -> None:
    rows = flatten_metrics(EVALUATION["metrics"])
    assert rows == [
        ("fid", "123.5", "lower", "fid"),
        ("precision", "0.5", "higher", "precision"),
        ("abundance_hist_w1", "0.0123 (per_endmember [0.01, 0.02, 0.0069])", "lower",
         "abundance_hist_w1"),
        ("by_band.niqe_real", "7", "lower", "x"),
    ]  # fmt: skip
    nested = {"a": {"b": 1.23456, "c": [1, 2], "long": list(range(20)), "s": "text"}, "t": True}
    assert flatten_metrics(nested) == [("a.b", "1.235", "", ""), ("a.c", "[1, 2]", "", "")]
    unit = {"sam": {"value": 2.5, "unit": "deg", "std": 0.5, "direction": "lower"}}
    assert flatten_metrics(unit) == [("sam", "2.5 deg (std 0.5)", "lower", "")]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(12.34, "12.3 s"), (75, "1 min 15 s"), (3740.8, "1 h 02 min"), (None, ""), ("x", "")],
)
def test_duration(seconds, text: str) -> None:
    assert duration(seconds) == text


def test_evenly_spreads_over_the_dataset() -> None:
    assert evenly(100, 4) == [0, 33, 66, 99]
    assert evenly(3, 8) == [0, 1, 2]


def test_empty_run_renders_with_notes(tmp_path: Path) -> None:
    out = write_report(tmp_path)
    report = parse_report(out)
    assert tuple(report.sections) == SECTIONS
    assert report.images == []
    notes = " ".join(n for s in report.sections.values() for n in s.notes)
    for stage in ("unmix", "eval_unmix", "infer", "diffusion", "sample", "evaluate"):
        assert f"run the {stage} stage" in notes
    assert "no samples yet (samples/) — run the sample stage" in notes
    assert "no stage records yet (stages/) — run the pipeline" in notes
    assert all(s.notes for s in report.sections.values())


def test_unreadable_parts_become_notes(full_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(full_run, run)
    (run / "config.yaml").write_text("a: [unclosed\n")
    (run / "evaluation" / "metrics.json").write_text("{not json")
    (run / "stages" / "sample.json").write_text("[1, 2]")
    (run / "samples" / "sample_0001.npy").write_bytes(b"garbage")
    sections = parse_report(write_report(run, force=True)).sections  # the copied report too
    overview, metrics = " ".join(sections["overview"].text), sections["metrics"]
    assert "could not show this part" in " ".join(sections["overview"].notes)  # the config
    assert "12.3 s" in overview  # ... while the stage table still shows
    assert "unreadable" in overview  # the broken stage record
    assert any("JSONDecodeError" in n for n in metrics.notes)
    assert "30.5" in " ".join(metrics.text)  # the unmixing metrics still show
    assert any("sample_0001.npy" in n for n in sections["gallery"].notes)
    assert len(sections["gallery"].figures) == N_PHOTOS  # photos still shown
    assert len(sections["endmembers"].figures) == 1


def test_moved_photos_and_existing_figures(full_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "unmixing" / "figures").mkdir(parents=True)
    shutil.copy(full_run / "unmixing" / "unmixer.json", run / "unmixing")
    endmembers_png = shutil.copy(
        full_run / "evaluation" / "spectra.png", run / "unmixing" / "figures" / "endmembers.png"
    )
    grey = tmp_path / "grey.png"
    Image.fromarray(np.full((8, 8), 90, dtype=np.uint8)).save(grey)
    maps = make_synthetic_abundances(2, 8, 8, 3)
    write_abundance_dataset(run / "abundances", maps, files=[str(grey), "gone/b.jpg"])
    sections = parse_report(write_report(run)).sections
    (endmembers,) = sections["endmembers"].figures
    # an existing unmix-stage figure is embedded byte for byte (no model load)
    assert endmembers.src == data_uri(Path(endmembers_png))
    assert "3 endmembers" in endmembers.caption
    note, no_samples = sections["gallery"].notes
    assert note.startswith(f"2 photo(s) in abundances/index.json not shown, e.g. {grey}: ")
    assert note.endswith("is grey-scale, need a colour photo")
    assert "run the sample stage" in no_samples
    (abundances,) = sections["abundances"].figures  # maps shown with blank picture panels
    assert "'photo' rows" in abundances.caption and "synthetic" not in abundances.caption
    assert "run the sample stage" in " ".join(sections["abundances"].notes)


def test_large_pictures_are_shrunk(tmp_path: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 255, (1700, 850, 3), dtype=np.uint8)
    path = tmp_path / "big.png"
    Image.fromarray(noise).save(path)
    assert path.stat().st_size > 1_500_000
    image = Figure(data_uri(path), "").image()
    assert image.size == (MAX_EMBED_SIDE // 2, MAX_EMBED_SIDE)


def test_write_report_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "elsewhere" / "r.html"
    assert write_report(tmp_path, out=out) == out
    before = out.read_text()
    with pytest.raises(OutputExistsError, match="already exists"):
        write_report(tmp_path, out=out, force=False)
    assert out.read_text() == before
    assert not (tmp_path / "report.html").exists()
    with pytest.raises(DataNotFoundError, match="run directory not found"):
        write_report(tmp_path / "nope")
    leftovers = [p for p in os.listdir(out.parent) if p != out.name]
    assert leftovers == []


def test_report_is_self_contained(full_report: Path) -> None:
    text = full_report.read_text(encoding="utf-8")
    assert "<script" not in text
    assert "http://" not in text and "https://" not in text
    assert str(full_report.parent.resolve()) in text
