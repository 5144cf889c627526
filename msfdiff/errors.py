"""Exceptions. Each also subclasses the matching builtin, so callers may catch either.

The CLI turns every :class:`MsfdiffError` into a one-line message and a non-zero exit code.
"""

from __future__ import annotations


class MsfdiffError(Exception):
    """Base of every error msfdiff raises on purpose."""


class DataFormatError(MsfdiffError, ValueError):
    """A file or array has the wrong content: shape, band count, NaNs, missing metadata."""


class DataNotFoundError(MsfdiffError, FileNotFoundError):
    """A path does not exist, or a folder holds no usable files."""


class ConfigError(MsfdiffError, ValueError):
    """A configuration value or key is invalid."""


class NotFittedError(MsfdiffError, AttributeError):
    """A model was used before ``fit`` (or before loading a trained run)."""


class OutputExistsError(MsfdiffError, FileExistsError):
    """An output exists already and ``force`` was not given."""


class DegenerateModelError(MsfdiffError, RuntimeError):
    """Training ended in a model that must not feed later stages (unused endmembers, NaN)."""


class OutputSpaceError(MsfdiffError, OSError):
    """An output folder cannot take what a command is about to write (no room, not writable)."""
