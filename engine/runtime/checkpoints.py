"""Checkpoints: a run's state_dicts in a file beside the DB, written atomically, read without pickle code."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import torch


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    temporary = path.with_name(path.name + ".tmp")
    torch.save(state, temporary)
    os.replace(temporary, path)  # readers see the old file or the new one, never half of one


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
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
