"""Checkpoints: a run's state_dicts in a file beside the DB, written atomically, read without pickle code.

Durable too: a file is written to a temporary name, flushed to the disk, renamed into place and its folder flushed,
so a crash (of the process or the machine) leaves the old checkpoint or the new one, whole. A write that fails (a
full disk) leaves the old one and no temporary file. A run's file is renamed into place in the same store
transaction that records its step (Store.replace_checkpoint), so the two always agree for whoever reads them under
the store's lock (Branch).
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


def write_synced(path: Path, write: Callable[[BinaryIO], Any]) -> None:
    """`write(file)` into `path`, flushed to the disk; a write that fails (a full disk) leaves no file behind."""
    try:
        with open(path, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def write_durably(path: Path, write: Callable[[BinaryIO], Any]) -> None:
    """`write(file)` into a temporary file beside `path`, then renamed to `path`: readers see the old file or the new
    one, never half of one."""
    temporary = path.with_name(path.name + ".tmp")
    write_synced(temporary, write)
    os.replace(temporary, path)
    fsync_folder(path.parent)


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    write_durably(path, lambda file: torch.save(state, file))


def load_checkpoint(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)


def checkpoint_bytes(state: dict[str, Any]) -> bytes:
    """A checkpoint as bytes (what a remote worker sends to the machine that keeps the files)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def load_checkpoint_bytes(data: bytes) -> dict[str, Any]:
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def share_checkpoint(source: Path, target: Path) -> None:
    """`source`'s checkpoint under a second name (Branch: the child's): a hard link, so no copy — a checkpoint file is
    never changed in place, only replaced by a rename, so each name keeps these bytes until its own run replaces
    them. A copy where the filesystem has no hard links."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
    fsync_folder(target.parent)
