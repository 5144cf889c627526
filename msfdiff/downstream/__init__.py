"""Downstream test: does synthetic data make a hyperspectral classifier better? (paper Tables 6-7)

``scene`` reads labelled scenes and class folders, ``split`` makes leak-free splits,
``augment`` the classic-augmentation baseline, ``classifiers`` and ``train`` the networks and
spectra baselines, ``scores`` OA / AA / kappa. Import the submodules; this package re-exports
nothing, so reading a scene does not import torch.
"""
