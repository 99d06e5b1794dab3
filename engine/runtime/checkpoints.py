"""Checkpoints: a run's state_dicts in a file beside the DB, written atomically, read without pickle code.

Durable too: a file is written to a temporary name, flushed to the disk, renamed into place and its folder flushed,
so a crash (of the process or the machine) leaves the old checkpoint or the new one, whole. A write that fails (a
full disk) leaves the old one and no temporary file.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import torch


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename into it) to the disk."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_durably(path: Path, write: Callable[[BinaryIO], Any], temporary: Path | None = None) -> None:
    """`write(file)` into `temporary` (beside `path` by default), flushed, then renamed to `path`: readers see the old
    file or the new one, never half of one, and a failed write leaves no temporary file behind."""
    temporary = temporary or path.with_name(path.name + ".tmp")
    try:
        with open(temporary, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    write_durably(path, lambda file: torch.save(state, file))


def copy_checkpoint(source: Path, target: Path) -> None:
    """A durable copy of a checkpoint file (Branch: the child's own copy of its parent's)."""
    with open(source, "rb") as original:
        write_durably(target, lambda file: shutil.copyfileobj(original, file))


def load_checkpoint(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)


def checkpoint_bytes(state: dict[str, Any]) -> bytes:
    """A checkpoint as bytes (what a remote worker sends to the machine that keeps the files)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def load_checkpoint_bytes(data: bytes) -> dict[str, Any]:
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def save_checkpoint_bytes(data: bytes, path: Path) -> None:
    """Bytes from another machine: checked to load with weights_only=True, then written like save_checkpoint."""
    load_checkpoint_bytes(data)  # raises on anything but tensors and plain containers; nothing is written then
    write_durably(path, lambda file: file.write(data))
