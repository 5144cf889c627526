"""The classifiers of the downstream test: the paper's three CNN families, sized for HSI patches,
and a non-deep baseline on spectra.

The paper (Table 7) fine-tunes ImageNet AlexNet, VGG-16 and ResNet-18 on 3-band-free HSRS-SC
cubes; no ImageNet weights exist for C bands, and torchvision does not import here, so the
networks are written out and trained from scratch. Each keeps its family's shape and adapts
only what small patches (P = 5..27) force:

- AlexNet: a large-ish first convolution (5 x 5, stride 1, instead of 11 x 11 stride 4), five
  convolutions with three overlapping max-pools and no LRN, then three fully connected
  layers with dropout (pooled to 2 x 2 before them instead of 6 x 6);
- VGG-16: thirteen 3 x 3 convolutions in five blocks (64, 128, 256, 512, 512 wide), batch
  normalised (the ``vgg16_bn`` variant: plain VGG-16 does not train from scratch in a few
  epochs), each block's 2 x 2 pooling skipped once the map is 1 x 1, and the three-layer
  classifier with dropout;
- ResNet-18: a 3 x 3 stem instead of 7 x 7 stride 2 plus max-pool (which would leave nothing
  of a 9 pixel patch), four stages of two basic blocks, stride 2 while the map is larger than
  1 x 1, global average pooling and one linear layer.

``width`` multiplies every channel count (1.0 = the published widths), so CPU runs stay
small. Every network starts with :class:`BandNorm`, which standardises bands with training
statistics, and ends in ``head``, the "last layer" that Table 6 trains with its own rate.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from msfdiff.downstream.split import Patches, centre_spectra
from msfdiff.errors import ConfigError, NotFittedError


def _channels(published: int, width: float) -> int:
    return max(8, round(published * width))


class BandNorm(nn.Module):
    """Subtract each band's training mean and divide by its standard deviation.

    Hyperspectral bands differ in level by orders of magnitude; the statistics are buffers,
    so they travel with the weights and test patches are normalised like training ones.
    """

    def __init__(self, n_bands: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_bands))
        self.register_buffer("std", torch.ones(n_bands))

    def fit(self, patches: np.ndarray) -> None:
        """Set the statistics from training patches (n, P, P, C)."""
        bands = np.asarray(patches, dtype=np.float64).reshape(-1, self.mean.numel())
        self.mean.copy_(torch.from_numpy(bands.mean(axis=0)))
        self.std.copy_(torch.from_numpy(np.maximum(bands.std(axis=0), 1e-6)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean[:, None, None]) / self.std[:, None, None]


class PatchClassifier(nn.Module):
    """``norm -> body -> head``; input (n, C, P, P), output class logits (n, K).

    Subclasses build ``body`` (ending in flat features of size ``n_features``).
    """

    def __init__(self, n_bands: int, n_classes: int, patch_size: int, width: float) -> None:
        super().__init__()
        if n_bands < 1 or n_classes < 2 or patch_size < 1 or width <= 0:
            raise ConfigError(
                f"need n_bands >= 1, n_classes >= 2, patch_size >= 1, width > 0; got "
                f"{n_bands}, {n_classes}, {patch_size}, {width}"
            )
        self.n_bands, self.n_classes, self.patch_size, self.width = (
            n_bands,
            n_classes,
            patch_size,
            width,
        )
        self.norm = BandNorm(n_bands)
        self.body, n_features = self.build_body()
        self.head = nn.Linear(n_features, n_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def build_body(self) -> tuple[nn.Module, int]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.norm(x)))


def _classifier(n_in: int, hidden: int, dropout: float = 0.5) -> list[nn.Module]:
    """AlexNet's and VGG's two hidden fully connected layers (the head is the third)."""
    return [
        nn.Flatten(),
        nn.Dropout(dropout),
        nn.Linear(n_in, hidden),
        nn.ReLU(inplace=True),
        nn.Dropout(dropout),
        nn.Linear(hidden, hidden),
        nn.ReLU(inplace=True),
    ]


class AlexNetStyle(PatchClassifier):
    """AlexNet (Krizhevsky et al. 2012) for patches: see the module docstring."""

    def build_body(self) -> tuple[nn.Module, int]:
        c = [_channels(n, self.width) for n in (64, 192, 384, 256, 256)]
        first = 5 if self.patch_size >= 7 else 3
        layers: list[nn.Module] = []
        size = self.patch_size

        def pool() -> None:  # overlapping 3 x 3 stride-2 pooling, as AlexNet's
            nonlocal size
            if size > 1:
                layers.append(nn.MaxPool2d(3, stride=2, padding=1))
                size = (size + 1) // 2

        layers += [nn.Conv2d(self.n_bands, c[0], first, padding=first // 2), nn.ReLU(inplace=True)]
        pool()
        layers += [nn.Conv2d(c[0], c[1], 5, padding=2), nn.ReLU(inplace=True)]
        pool()
        for n_in, n_out in zip(c[1:4], c[2:5], strict=True):
            layers += [nn.Conv2d(n_in, n_out, 3, padding=1), nn.ReLU(inplace=True)]
        pool()
        hidden = _channels(4096, self.width)
        layers += [nn.AdaptiveAvgPool2d(2), *_classifier(c[4] * 4, hidden)]
        return nn.Sequential(*layers), hidden


class VGG16Style(PatchClassifier):
    """VGG-16 with batch norm (Simonyan & Zisserman 2015) for patches: see the module docstring."""

    BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))  # 13 convolutions

    def build_body(self) -> tuple[nn.Module, int]:
        layers: list[nn.Module] = []
        n_in, size = self.n_bands, self.patch_size
        for published, n_convs in self.BLOCKS:
            n_out = _channels(published, self.width)
            for _ in range(n_convs):
                layers += [
                    nn.Conv2d(n_in, n_out, 3, padding=1),
                    nn.BatchNorm2d(n_out),
                    nn.ReLU(inplace=True),
                ]
                n_in = n_out
            if size > 1:
                layers.append(nn.MaxPool2d(2, ceil_mode=True))
                size = (size + 1) // 2
        hidden = _channels(4096, self.width)
        layers += [nn.AdaptiveAvgPool2d(1), *_classifier(n_in, hidden)]
        return nn.Sequential(*layers), hidden


class BasicBlock(nn.Module):
    """ResNet's two 3 x 3 convolutions plus the identity (or a 1 x 1 projection)."""

    def __init__(self, n_in: int, n_out: int, stride: int) -> None:
        super().__init__()
        self.residual = nn.Sequential(
            nn.Conv2d(n_in, n_out, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(n_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(n_out, n_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(n_out),
        )
        self.shortcut = (
            nn.Identity()
            if stride == 1 and n_in == n_out
            else nn.Sequential(
                nn.Conv2d(n_in, n_out, 1, stride=stride, bias=False), nn.BatchNorm2d(n_out)
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.residual(x) + self.shortcut(x))


class ResNet18Style(PatchClassifier):
    """ResNet-18 (He et al. 2016) for patches: see the module docstring."""

    def build_body(self) -> tuple[nn.Module, int]:
        widths = [_channels(n, self.width) for n in (64, 128, 256, 512)]
        layers: list[nn.Module] = [
            nn.Conv2d(self.n_bands, widths[0], 3, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        ]
        n_in, size = widths[0], self.patch_size
        for stage, n_out in enumerate(widths):
            stride = 2 if stage > 0 and size > 1 else 1
            size = (size + 1) // 2 if stride == 2 else size
            layers += [BasicBlock(n_in, n_out, stride), BasicBlock(n_out, n_out, 1)]
            n_in = n_out
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        return nn.Sequential(*layers), n_in


NETWORKS: dict[str, type[PatchClassifier]] = {
    "alexnet": AlexNetStyle,
    "vgg16": VGG16Style,
    "resnet18": ResNet18Style,
}


def build_network(
    name: str, *, n_bands: int, n_classes: int, patch_size: int, width: float = 0.25, seed: int = 0
) -> PatchClassifier:
    """A freshly initialised network of family ``name`` (``alexnet``, ``vgg16``, ``resnet18``).

    Initialisation draws from a private generator seeded with ``seed``, so the global torch
    generator is left as it was and the same seed gives the same weights.
    """
    if name not in NETWORKS:
        raise ConfigError(f"unknown network {name!r}; use one of {', '.join(NETWORKS)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return NETWORKS[name](n_bands, n_classes, patch_size, width)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters (BandNorm's statistics are buffers, not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# --------------------------------------------------------------------------- spectra baselines


class SpectrumClassifier:
    """The non-deep baseline: a scikit-learn model on the centre pixel's spectrum.

    ``"svm"``: RBF support vector machine on standardised spectra (C = 100, gamma = 'scale'),
    the usual strong pixel classifier in the HSI literature. ``"forest"``: a random forest of
    200 trees (seeded). Neither sees the neighbourhood, so they show what the spectra alone
    give, and how much of a CNN's score comes from space.
    """

    def __init__(self, kind: str = "svm", *, seed: int = 0) -> None:
        if kind not in ("svm", "forest"):
            raise ConfigError(f"unknown spectrum classifier {kind!r}; use 'svm' or 'forest'")
        self.kind, self.seed = kind, seed

    def fit(self, samples: np.ndarray | Patches, labels: np.ndarray) -> SpectrumClassifier:
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC

        if self.kind == "svm":
            self.model_ = make_pipeline(StandardScaler(), SVC(kernel="rbf", C=100.0, gamma="scale"))
        else:
            self.model_ = RandomForestClassifier(n_estimators=200, random_state=self.seed, n_jobs=1)
        self.model_.fit(centre_spectra(samples), np.asarray(labels))
        return self

    def predict(self, samples: np.ndarray | Patches) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise NotFittedError(f"SpectrumClassifier({self.kind!r}) used before fit")
        return self.model_.predict(centre_spectra(samples)).astype(np.int64)
