"""Training loop for the unmixing autoencoder, with atomic checkpoints and exact resume.

Everything random after initialisation (crop positions, flips, rotations) comes from one
``torch.Generator`` whose state is checkpointed, so an interrupted run resumed from its last
checkpoint ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from msfdiff.checkpoints import STATE_NAME, checkpoints, latest_checkpoint, save_checkpoint
from msfdiff.errors import DegenerateModelError
from msfdiff.progress import Log, Progress, no_log, no_progress
from msfdiff.unmixing.config import UnmixingConfig
from msfdiff.unmixing.losses import unmixing_loss
from msfdiff.unmixing.model import MODEL_FOLDER, UnmixingAutoencoder

CropFn = Callable[[int, int, int, int], tuple[np.ndarray, np.ndarray]]
"""``crop(cube_index, row, col, size) -> (rgb (size,size,3), hsi (size,size,C))``."""


RESEED_EVERY = 50  # steps between dead-endmember checks
RESEED_UNTIL = 0.8  # fraction of training after which the endmember set is left to settle


def train_unmixer(
    model: UnmixingAutoencoder,
    crop: CropFn,
    shapes: Sequence[tuple[int, int]],
    config: UnmixingConfig,
    *,
    seed: int = 0,
    checkpoint_dir: Path | None = None,
    checkpoint_every: int = 200,
    resume: bool = False,
    progress: Progress | None = None,
    log: Log = no_log,
    loss_scale: float = 1.0,
) -> list[dict[str, float]]:
    """Optimise ``model`` in place for ``config.steps`` steps; return the history (a row a step).

    ``loss_scale`` divides spectra and endmembers before the loss, so the MAE and TV terms
    are in units of that scale (e.g. the mean training reflectance) while SAD is unchanged.

    Every ``RESEED_EVERY`` steps in the first ``RESEED_UNTIL`` of training, an endmember whose
    mean abundance since the last check is below ``config.reseed_below`` is re-seeded
    (:func:`reseed_endmember`); the history's ``reseeds`` column counts them.

    Parameters
    ----------
    crop : callable
        Returns an aligned (3-band input, full HSI) crop of one training cube.
    shapes : sequence of (height, width)
        Sizes of the training cubes, to draw crop positions.
    checkpoint_dir : path, optional
        Where checkpoints go (:mod:`msfdiff.checkpoints`), every ``checkpoint_every`` steps,
        at the end and on Ctrl-C. With ``resume`` training continues from the newest one;
        without, the checkpoints of an earlier run there are discarded, so they are never
        mistaken for this run's.
    progress : callable, optional
        ``progress(step, total, "loss 0.0123")`` after each step.

    Raises
    ------
    DegenerateModelError
        When the loss stops being finite.
    """
    size = min(config.crop_size, *(min(h, w) for h, w in shapes))
    total = config.steps
    decoder = list(model.decoder.parameters())
    encoder = [p for p in model.parameters() if all(p is not q for q in decoder)]
    optimizer = torch.optim.Adam(
        [
            {"params": encoder},
            {"params": decoder, "lr": config.learning_rate * config.decoder_lr_scale},
        ],
        lr=config.learning_rate,
    )
    milestones = sorted({max(1, int(m * total)) for m in config.lr_milestones})
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones, gamma=config.lr_gamma)
    generator = torch.Generator().manual_seed(seed)
    history: list[dict[str, float]] = []
    step = 0
    usage = torch.zeros(model.config.n_endmembers)

    if checkpoint_dir is not None and not resume:  # a fresh start: an earlier run's go
        for stale in checkpoints(checkpoint_dir):
            shutil.rmtree(stale)
    ckpt = latest_checkpoint(checkpoint_dir) if resume and checkpoint_dir is not None else None
    if ckpt is not None:
        loaded = UnmixingAutoencoder.from_pretrained(ckpt / MODEL_FOLDER)
        model.load_state_dict(loaded.state_dict())
        # weights_only: a checkpoint is data, never code; MultiStepLR keeps its milestones
        # in a Counter, the one non-tensor type it needs
        with torch.serialization.safe_globals([Counter]):
            state = torch.load(ckpt / STATE_NAME, weights_only=True)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        generator.set_state(state["generator"])
        history = list(state["history"])
        step = int(state["step"])
        usage = state["usage"]
        log(f"unmixing: resuming from step {step} of {total} ({ckpt})")

    sizes = torch.tensor([h * w for h, w in shapes], dtype=torch.float64)
    reseeds = int(history[-1].get("reseeds", 0)) if history else 0
    notify = progress or no_progress
    model.train()
    try:
        while step < total:
            rgb, hsi = _batch(crop, shapes, sizes, size, config, generator)
            pred, abundances = model(rgb)
            losses = unmixing_loss(
                pred / loss_scale,
                hsi / loss_scale,
                model.folded_endmembers / loss_scale,
                reconstruction=config.reconstruction_loss,
                sad_weight=config.sad_weight,
                tv_weight=config.tv_weight,
                tv_axis=config.tv_axis,
            )
            if not torch.isfinite(losses["total"]):
                raise DegenerateModelError(
                    f"unmixing loss is not finite at step {step + 1}; "
                    f"lower learning_rate (now {config.learning_rate:g})"
                )
            optimizer.zero_grad(set_to_none=True)
            losses["total"].backward()
            optimizer.step()
            scheduler.step()
            if config.nonneg_endmembers:
                model.project_endmembers_()
            step += 1
            usage += abundances.detach().mean(dim=(0, 2, 3))
            if step % RESEED_EVERY == 0:
                if step <= RESEED_UNTIL * total:
                    for index in (usage / RESEED_EVERY < config.reseed_below).nonzero().flatten():
                        reseed_endmember(model, int(index), hsi, pred.detach(), usage)
                        reseeds += 1
                usage.zero_()
            row = {k: float(v.detach()) for k, v in losses.items()}
            history.append({"step": step, **row, "reseeds": reseeds})
            notify(step, total, f"loss {row['total']:.4g}")
            if checkpoint_dir is not None and (step % checkpoint_every == 0 or step == total):
                _checkpoint(
                    checkpoint_dir, step, model, optimizer, scheduler, generator, history, usage
                )
    except KeyboardInterrupt:
        if checkpoint_dir is not None and step > 0:
            _checkpoint(
                checkpoint_dir, step, model, optimizer, scheduler, generator, history, usage
            )
        raise
    model.eval()
    return history


def _checkpoint(
    folder: Path, step: int, model, optimizer, scheduler, generator, history, usage
) -> Path:
    """Publish what an exact resume needs: weights, optimiser, schedule, RNG, history."""

    def write(tmp: Path) -> None:
        model.save_pretrained(tmp / MODEL_FOLDER, safe_serialization=True)
        state = {
            "step": step,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "generator": generator.get_state(),
            "history": history,
            "usage": usage,  # abundance sums since the last dead-endmember check
        }
        torch.save(state, tmp / STATE_NAME)

    return save_checkpoint(folder, step, write)


@torch.no_grad()
def reseed_endmember(
    model: UnmixingAutoencoder,
    index: int,
    hsi: torch.Tensor,
    pred: torch.Tensor,
    usage: torch.Tensor,
) -> None:
    """Revive an unused endmember by splitting the most used one towards the worst pixel.

    As k-means and NMF solvers do with empty clusters, the dead endmember goes where the model
    is worst: the donor (most used endmember) ``d`` and the batch spectrum reconstructed
    worst ``w`` give two endmembers ``d ± (w − d)/2``, and the dead endmember's encoder output
    becomes a copy of the donor's, each taking half its abundance (logits − log 2). The pair
    still mixes to ``d``, so the reconstruction does not jump (a jump makes every pixel push the
    newcomer out again), while pixels whose residual points towards ``w`` now pull the two
    apart. Without the copied output it would stay dead: the softmax gradient of an abundance
    near zero is near zero. ``usage`` is updated so one check re-seeds from distinct donors.
    """
    error = (pred - hsi).abs().mean(dim=1).flatten()  # (N·H·W,)
    spectra = hsi.permute(0, 2, 3, 1).reshape(-1, hsi.shape[1])
    donor = int(usage.argmax())
    centre = model.folded_endmembers[donor].clone()
    half_step = (spectra[int(error.argmax())] - centre) / 2
    model.set_endmember_(index, centre + half_step)
    model.set_endmember_(donor, centre - half_step)
    model.split_output_(donor, into=index)
    usage[donor] /= 2
    usage[index] = usage[donor]


def _batch(
    crop: CropFn, shapes, sizes, size, config, generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw a batch of aligned crops; cubes are chosen in proportion to their area."""
    idx = torch.multinomial(sizes, config.batch_size, replacement=True, generator=generator)
    rgbs, hsis = [], []
    for i in idx.tolist():
        h, w = shapes[i]
        r = int(torch.randint(0, h - size + 1, (1,), generator=generator))
        c = int(torch.randint(0, w - size + 1, (1,), generator=generator))
        rgb, hsi = crop(i, r, c, size)
        # copies: a crop of a read-only memory map must not become a tensor that aliases it
        pair = torch.cat([torch.tensor(rgb), torch.tensor(hsi)], dim=-1).permute(2, 0, 1)
        if config.augment:
            k, flip = torch.randint(0, 4, (2,), generator=generator).tolist()
            pair = torch.rot90(pair, k % 4, dims=(1, 2))
            if flip % 2:
                pair = pair.flip(2)
        rgbs.append(pair[:3])
        hsis.append(pair[3:])
    return torch.stack(rgbs).float(), torch.stack(hsis).float()
