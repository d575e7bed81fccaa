"""Checkpoints written atomically, with a checksum: a crash, a full disk or a damaged file never passes
for a good checkpoint.

A save writes a temporary file beside the target, fsyncs it and renames it over the old one, so the
previous `last.ckpt` stays intact until the new one is complete. `<name>.sha256` beside it holds the
SHA-256 of the file (and, while a save is in flight, of the one before), so a resume can tell a
checkpoint changed after its save from a good one.
"""
from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning.plugins.io import TorchCheckpointIO

from tasks.common.atomic_io import atomic_write, atomic_write_text


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _digests(path: Path) -> list[str]:
    sidecar = _sidecar(path)
    return sidecar.read_text().split() if sidecar.is_file() else []


def checksum_matches(path: Path) -> bool:
    """True when `path` matches its `.sha256` (or has none: checkpoints from elsewhere)."""
    digests = _digests(Path(path))
    return not digests or hashlib.sha256(Path(path).read_bytes()).hexdigest() in digests


class AtomicCheckpointIO(TorchCheckpointIO):
    """`TorchCheckpointIO` whose saves are all-or-nothing and checksummed (local paths)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if storage_options is not None or "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        path = Path(path)
        for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a save that was killed
            stale.unlink(missing_ok=True)
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        data = buffer.getbuffer()
        digest = hashlib.sha256(data).hexdigest()

        def write(tmp: str) -> None:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())

        atomic_write_text(_sidecar(path), "\n".join([digest, *_digests(path)[:1]]) + "\n")  # old or new file: both pass
        atomic_write(path, write)
        atomic_write_text(_sidecar(path), digest + "\n")

    def remove_checkpoint(self, path) -> None:
        super().remove_checkpoint(path)
        _sidecar(Path(path)).unlink(missing_ok=True)
