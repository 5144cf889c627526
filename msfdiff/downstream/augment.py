"""Classic augmentation: the cheap baseline that msfdiff's synthetic samples must beat.

A user already flips, rotates, adds noise and mixes; synthetic data is worth its cost only if
it helps more than that at the same number of added samples. So this module makes exactly
``n`` extra patches per class from the training patches, as the generator would.

Each extra patch starts from a random training patch of its class, turned by a random element
of the square's symmetry group (four 90-degree rotations, each optionally mirrored; a quarter
turn is only a symmetry because patches are square), then, with probability ``mixup``, mixed
with a random training patch of any class, and finally given Gaussian noise.

Mixup keeps hard labels: the weight ``lam ~ Beta(alpha, alpha)`` is folded to ``lam >= 0.5``
and the sample keeps the class of its larger part, the source patch. Soft labels would need a
different loss for this one row of the comparison, and would blur the per-class counts.
"""

from __future__ import annotations

import numpy as np

from msfdiff.errors import ConfigError, DataFormatError


def counts_to_target(labels: np.ndarray, n_classes: int, target: int) -> np.ndarray:
    """Extra samples each class needs to reach ``target`` (0 where it has enough already).

    The paper tops HSRS-SC up to 1000 per class; a class without training samples gets 0,
    since nothing can be made from nothing.
    """
    have = np.bincount(np.asarray(labels), minlength=n_classes)
    return np.where(have > 0, np.maximum(target - have, 0), 0)


def augment_patches(
    patches: np.ndarray,
    labels: np.ndarray,
    n_per_class: int | np.ndarray,
    *,
    n_classes: int | None = None,
    seed: int = 0,
    noise: float = 0.01,
    mixup: float = 0.5,
    mixup_alpha: float = 0.2,
) -> tuple[np.ndarray, np.ndarray]:
    """Make extra training patches per class.

    Parameters
    ----------
    patches : array-like of shape (n, P, P, C)
        The training patches (a lazy :class:`~msfdiff.downstream.split.Patches` is read whole).
    labels : ndarray of shape (n,), int
        Their class indices.
    n_per_class : int or ndarray of shape (n_classes,)
        How many to make for each class (see :func:`counts_to_target`). A class without
        training patches gets none.
    seed : int
        Class ``k`` draws from ``default_rng([seed, k])``: the same seed gives the same
        patches, and one class's count does not change another's samples.
    noise : float
        Noise standard deviation as a fraction of each band's standard deviation over the
        training patches (0 = no noise).
    mixup : float
        Probability that a sample is mixed with another patch (0 = never).
    mixup_alpha : float
        Beta distribution parameter of the mixing weight (0.2, as in Zhang et al. 2018).

    Returns
    -------
    patches : ndarray of shape (m, P, P, C), float32
    labels : ndarray of shape (m,), int64
        Grouped by class, in class order.
    """
    patches = np.asarray(patches, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int64)
    if patches.ndim != 4 or patches.shape[1] != patches.shape[2]:
        raise DataFormatError(f"expected square patches (n, P, P, C), got {patches.shape}")
    if labels.shape != (len(patches),):
        raise DataFormatError(f"{labels.size} labels for {len(patches)} patches")
    if noise < 0 or not 0 <= mixup <= 1 or mixup_alpha <= 0:
        raise ConfigError("need noise >= 0, 0 <= mixup <= 1 and mixup_alpha > 0")
    n_classes = int(labels.max()) + 1 if n_classes is None else n_classes
    wanted = np.broadcast_to(np.asarray(n_per_class, dtype=np.int64), (n_classes,))
    band_std = patches.reshape(-1, patches.shape[-1]).std(axis=0)

    made, made_labels = [], []
    for k in range(n_classes):
        members = np.flatnonzero(labels == k)
        count = int(wanted[k]) if members.size else 0
        if count <= 0:
            continue
        rng = np.random.default_rng([seed, k])
        sources = patches[rng.choice(members, count)]
        turns, mirrors = rng.integers(4, size=count), rng.integers(2, size=count)
        out = np.stack(
            [
                np.rot90(p[:, ::-1] if m else p, t, axes=(0, 1))
                for p, t, m in zip(sources, turns, mirrors, strict=True)
            ]
        )
        mixed = rng.random(count) < mixup
        lam = rng.beta(mixup_alpha, mixup_alpha, size=count)
        lam = np.maximum(lam, 1.0 - lam).astype(np.float32)[:, None, None, None]
        partners = patches[rng.integers(len(patches), size=count)]
        out[mixed] = lam[mixed] * out[mixed] + (1.0 - lam[mixed]) * partners[mixed]
        if noise > 0:
            out += (noise * band_std * rng.standard_normal(out.shape)).astype(np.float32)
        made.append(out)
        made_labels.append(np.full(count, k, dtype=np.int64))
    if not made:
        return np.zeros((0, *patches.shape[1:]), np.float32), np.zeros(0, np.int64)
    return np.concatenate(made), np.concatenate(made_labels)
