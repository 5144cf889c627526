"""Experiments behind ``msfdiff demo``: the embedded default scene, or real data via ``--data``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from msfdiff._io import write_json
from msfdiff.config import from_dict
from msfdiff.errors import DataNotFoundError
from msfdiff.pipeline.config import ExperimentConfig

# Sized so the whole embedded demo finishes in well under 15 minutes on 2 CPU cores. The
# unmixer is the cpu preset with 3/4 of its steps: tests/test_demo_unmixing.py checks that
# these settings use every endmember for five seeds and two decoder starts.
DEMO_UNMIXING = {"preset": "cpu", "overrides": {"steps": 1500}}
DEMO_DIFFUSION = {
    "preset": "cpu",
    "overrides": {"training": {"max_steps": 3500}},
}
DEMO_SAMPLING = {"n": 8, "format": "envi"}


def demo_experiment(
    run_dir: str | Path, *, data: str | Path | None = None, log: Callable[[str], None] = print
) -> ExperimentConfig:
    """Experiment config of the demo, building the embedded data set on first use."""
    run_dir = Path(run_dir)
    if data is not None:
        return _real_data_experiment(Path(data))
    folder = run_dir / "embedded_data"
    marker = folder / "complete.json"
    if not marker.exists():
        from msfdiff.data.embedded import PHOTOS, build_embedded_dataset

        log(
            f"building the embedded scene in {folder} (scikit-image photos × colour-science spectra)"
        )
        build_embedded_dataset(folder)
        write_json(marker, {"photos": list(PHOTOS)})
    hsi = sorted((folder / "hsi").glob("*.mat"))
    return from_dict(
        ExperimentConfig,
        {
            "name": "demo",
            "data": {
                "hsi": [str(p) for p in hsi[:-1]],
                "eval_hsi": [str(hsi[-1])],
                "rgb": str(folder / "rgb"),
            },
            "unmixing": DEMO_UNMIXING,
            "inference": {"size": 64},
            "diffusion": DEMO_DIFFUSION,
            "sampling": DEMO_SAMPLING,
        },
        where="demo",
    )


def _real_data_experiment(data: Path) -> ExperimentConfig:
    """The paper's remote-sensing case: Chikusei patches for unmixing, AID photos for diffusion."""
    chikusei = data / "hsi" / "chikusei_msfdiff"
    aid = data / "rgb" / "aid_150px_subset"
    patches = sorted(chikusei.glob("*.mat"))
    if len(patches) < 2:
        raise DataNotFoundError(
            f"{chikusei}: need at least two Chikusei .mat patches (train + held-out)"
        )
    if not aid.is_dir():
        raise DataNotFoundError(f"{aid}: AID photo folder not found")
    return from_dict(
        ExperimentConfig,
        {
            "name": "demo-remote-sensing",
            "data": {
                "hsi": [str(patches[0])],
                "eval_hsi": [str(p) for p in patches[1:]],
                "rgb": str(aid),
                "key": "Y",
            },
            # as configs/remote_sensing_cpu.yaml
            "unmixing": {"preset": "cpu", "overrides": {}},
            "inference": {"size": 64},
            "diffusion": DEMO_DIFFUSION,
            "sampling": DEMO_SAMPLING,
        },
        where="demo --data",
    )
