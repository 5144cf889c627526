"""Atomic file writing: outputs appear whole or not at all."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from msfdiff.errors import OutputExistsError, OutputSpaceError


def check_new(path: str | os.PathLike, *, force: bool = False) -> Path:
    """Return ``path`` as a Path, raising if it exists and ``force`` is False."""
    path = Path(path)
    if path.exists() and not force:
        raise OutputExistsError(f"{path}: already exists (use --force to overwrite)")
    return path


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling path; rename it onto ``path`` only if the block succeeds.

    The rename is atomic on POSIX, so a crash never leaves ``path`` half-written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; outputs are ordinary files
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextmanager
def atomic_dir(path: str | os.PathLike, *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling folder that replaces ``path`` only if the block succeeds.

    An existing ``path`` is refused unless ``force``; with ``force`` it is moved aside first and
    deleted after the new folder is in place, so readers never see a half-written folder.
    """
    path = Path(path)
    if path.exists() and not force:
        raise OutputExistsError(f"{path}: already exists (use --force to overwrite)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        trash = None
        if path.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, trash / path.name)
        os.replace(tmp, path)
        if trash is not None:
            shutil.rmtree(trash)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def atomic_write(path: str | os.PathLike, writer: Callable[[Path], Any]) -> Path:
    """Call ``writer(tmp_path)`` and move the result onto ``path`` atomically."""
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    return atomic_write(path, lambda p: p.write_text(json.dumps(obj, indent=2, default=_jsonable)))


def create_json(path: str | os.PathLike, obj: Any) -> bool:
    """Write ``obj`` to ``path`` unless it exists (then False), atomically even against other
    processes doing the same: a hard link, unlike a rename, never replaces a file."""
    path = Path(path)
    staged = write_json(path.with_name(f".{path.name}.{uuid.uuid4().hex}"), obj)
    try:
        os.link(staged, path)
    except FileExistsError:
        return False
    finally:
        staged.unlink()
    return True


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def claim_folder(root: Path, record: Path, text: str, *, force: bool, what: str) -> None:
    """Make ``root`` the folder of the settings ``text`` (kept in ``record``): a folder that
    records other settings is refused unless ``force``, which empties it first. ``what``
    names the kind of run in the error."""
    if record.is_file() and record.read_text() != text:
        if not force:
            raise OutputExistsError(
                f"{root}: holds a {what} with other settings; pass --force to start afresh"
            )
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    record.write_text(text)


SPACE_MARGIN = 64 * 2**20
"""Bytes left free beyond an estimate: logs, previews, the file system's own needs."""


def check_room(folder: str | os.PathLike, need: int, *, what: str) -> None:
    """Fail before long work, not in the middle of it: ``folder`` (or the nearest existing
    folder above it, where it will be created) must be writable and have ``need`` bytes free
    plus :data:`SPACE_MARGIN`. ``what`` says what will be written, for the message."""
    folder = Path(folder).absolute()
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise OutputSpaceError(
            f"{existing}: not a writable folder, so {what} cannot go in {folder}"
        )
    free = shutil.disk_usage(existing).free
    if free < need + SPACE_MARGIN:
        raise OutputSpaceError(
            f"{folder}: {what} need about {_size(need + SPACE_MARGIN)}, but only {_size(free)} "
            "is free there; free some space or choose another output folder"
        )


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"
