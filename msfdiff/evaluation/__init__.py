"""Evaluation: how close a synthetic set is to a real one, and what each number means.

- :mod:`~msfdiff.evaluation.generative`: FID/FD, KID, precision and recall on feature sets;
- :mod:`~msfdiff.evaluation.inception`: the offline TF-Inception-v3 FID feature network;
- :mod:`~msfdiff.evaluation.spectral`: HSI-native distances (spectra, angles, abundances);
- :mod:`~msfdiff.evaluation.no_reference`: NIQE, PIQE, BRISQUE of single bands;
- :mod:`~msfdiff.evaluation.reconstruction`: full-reference RMSE, PSNR, SSIM, SAD, ERGAS;
- :mod:`~msfdiff.evaluation.report`: :func:`evaluate_sets`, JSON report and figures.

Definitions, directions and provenance of every number: docs/metrics.md. Nothing is imported
here, so ``msfdiff.evaluation.reconstruction`` stays free of matplotlib and the network code.
"""
