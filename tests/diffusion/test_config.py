"""Presets, validation and the YAML round trip of the diffusion config."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from msfdiff.diffusion.config import (
    DEFAULT_PRESET,
    DiffusionConfig,
    diffusion_config,
    load_config,
    load_diffusion_preset,
    save_config,
)
from msfdiff.diffusion.pipeline import build_unet
from msfdiff.errors import ConfigError


def _n_params(config: DiffusionConfig) -> float:
    with torch.device("meta"):  # no memory, no init time
        model = build_unet(config.replace(n_endmembers=5))
    return sum(p.numel() for p in model.parameters()) / 1e6


def test_paper_preset_matches_section_5_1_3():
    config = load_diffusion_preset("paper")
    assert config.unet.block_out_channels == (128, 256, 256, 512, 512)  # 128 x [1, 2, 2, 4, 4]
    assert config.unet.layers_per_block == 2 and config.image_size == 256
    schedule = config.schedule
    assert (schedule.num_train_timesteps, schedule.beta_start, schedule.beta_end) == (
        2000,
        1e-6,
        1e-2,
    )
    assert (config.training.learning_rate, config.training.batch_size) == (1e-4, 8)
    assert 100 < _n_params(config) < 120


def test_official_preset_matches_the_released_code():
    config = load_diffusion_preset("official")
    assert config.unet.block_out_channels == (64, 128, 256, 512, 512)  # 64 x [1, 2, 4, 8, 8]
    assert (config.unet.dropout, config.training.loss, config.representation) == (
        0.2,
        "l1",
        "official",
    )
    assert config.training.ema_decay is None
    assert _n_params(config) == pytest.approx(99.8, abs=0.5)  # the paper's Table reports 99.78 M


def test_cpu_preset_is_small():
    config = load_diffusion_preset("cpu")
    assert config.image_size == 64 and _n_params(config) < 5
    paper = load_diffusion_preset("paper")
    # the paper's noise schedule; only the network's target (v instead of ε) differs
    assert dataclasses.replace(config.schedule, prediction_type="epsilon") == paper.schedule
    assert (paper.schedule.prediction_type, paper.training.snr_gamma) == ("epsilon", None)
    assert (config.schedule.prediction_type, config.training.snr_gamma) == ("v_prediction", 5.0)


def test_resolved_config_round_trips(tmp_path):
    config = load_diffusion_preset("cpu").replace(
        n_endmembers=5, clr_scale=2.5, conditional=True, classes=("farmland", "river")
    )
    save_config(config, tmp_path)
    assert load_config(tmp_path) == config


def test_invalid_configs_fail_with_one_line(tmp_path):
    (tmp_path / "config.yaml").write_text("image_size: 64\nunet: {widths: [8]}\n")
    with pytest.raises(ConfigError, match=r"unet: unknown key\(s\) \['widths'\]"):
        load_config(tmp_path)
    (tmp_path / "config.yaml").write_text("unet: {block_out_channels: [12, 24]}\n")
    with pytest.raises(ConfigError, match="not divisible by norm_num_groups=32"):
        load_config(tmp_path)
    with pytest.raises(ConfigError, match="image_size 60 must be divisible by 2\\*\\*3"):
        load_diffusion_preset("cpu").replace(image_size=60)
    with pytest.raises(ConfigError, match="training.crop_size 36 must be divisible by 2\\*\\*3"):
        load_diffusion_preset("cpu").replace(training={"crop_size": 36})
    with pytest.raises(ConfigError, match="crop_size 128 is larger than image_size 64"):
        load_diffusion_preset("cpu").replace(training={"crop_size": 128})
    with pytest.raises(ConfigError, match="batch_size must be >= 1"):
        load_diffusion_preset("cpu").replace(training={"batch_size": 0})
    with pytest.raises(ConfigError, match="unknown diffusion preset 'gpu'"):
        load_diffusion_preset("gpu")


def test_replace_reads_values_like_yaml_and_checks_keys_at_once():
    config = load_diffusion_preset("cpu")
    changed = config.replace(
        training={"learning_rate": "1e-4"}, unet={"block_out_channels": [8, 16]}
    )
    assert changed.training.learning_rate == 1e-4 and isinstance(
        changed.training.learning_rate, float
    )
    assert changed.unet.block_out_channels == (8, 16)
    assert changed.training.max_steps == config.training.max_steps  # the rest of the section stays
    with pytest.raises(ConfigError, match=r"training: unknown key\(s\) \['learnin_rate'\]"):
        config.replace(training={"learnin_rate": 1e-4})
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['image_sise'\]"):
        config.replace(image_sise=32)
    with pytest.raises(ConfigError, match="learning_rate: expected a number, got 'fast'"):
        config.replace(training={"learning_rate": "fast"})


def test_diffusion_config_applies_overrides_and_names_a_typo():
    config = diffusion_config(
        "cpu", conditional=True, overrides={"image_size": 32, "training": {"max_steps": 10}}
    )
    expected = load_diffusion_preset("cpu").replace(
        conditional=True, image_size=32, training={"max_steps": 10}
    )
    assert config == expected and config.conditional
    assert diffusion_config() == load_diffusion_preset(DEFAULT_PRESET).replace(conditional=False)
    with pytest.raises(ConfigError, match=r"diffusion\.overrides\.training: unknown key.*stepz"):
        diffusion_config("cpu", overrides={"training": {"stepz": 10}})
    with pytest.raises(ConfigError, match="unknown diffusion preset 'gpu'"):
        diffusion_config("gpu")
