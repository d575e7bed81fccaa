"""Language-model data: the embedded `pydoc` corpus (Python's help topics, bytes) and `text` corpora on disk.

Batches are `(x, y)` with x, y of shape (batch, block_size) and y = x shifted by one token. Each split is one
token stream cut into windows of block_size + 1 tokens every block_size tokens: the inputs of two windows do
not overlap, and every token after the first is a target exactly once per epoch.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from tasks.common.data_module import BaseDataModule
from tasks.common.errors import ConfigError, DataError, missing_data

SPLITS = ("train", "val", "test")
BYTE_VOCAB = 256
TEXT_LAYOUT = """  <root>/train.txt, val.txt, test.txt   (UTF-8 text, read as bytes: vocab 256, data.vocab_size=256)
  or
  <root>/train.bin, val.bin, test.bin   (nanoGPT-style np.uint16 token ids below data.vocab_size, e.g. 50304 for GPT-2 BPE)"""
TEXT_SOURCE = ("any UTF-8 text cut into three files (e.g. enwik8, http://mattmahoney.net/dc/enwik8.zip: 90M/5M/5M "
               "bytes), or nanoGPT's data/*/prepare.py (https://github.com/karpathy/nanoGPT) for .bin token files "
               "(it writes train.bin and val.bin: split a test.bin off one of them)")


def pydoc_split(topic: str) -> str:
    """The split of a pydoc topic from the SHA-1 of its name: ~10 % test, ~10 % val, ~80 % train.
    A topic keeps its split whatever other topics a Python version ships (no text crosses splits)."""
    bucket = int(hashlib.sha1(topic.encode("utf-8")).hexdigest(), 16) % 100
    return "test" if bucket < 10 else "val" if bucket < 20 else "train"


def pydoc_topics() -> dict[str, list[str]]:
    """Topic names per split, sorted."""
    from pydoc_data.topics import topics

    splits: dict[str, list[str]] = {split: [] for split in SPLITS}
    for topic in sorted(topics):
        splits[pydoc_split(topic)].append(topic)
    return splits


def pydoc_bytes(split: str) -> Tensor:
    """The split's topics in sorted order joined by blank lines, as UTF-8 bytes (uint8)."""
    from pydoc_data.topics import topics

    text = "\n\n".join(topics[t] for t in pydoc_topics()[split])
    return torch.frombuffer(bytearray(text.encode("utf-8")), dtype=torch.uint8)


class TokenWindows(Dataset):
    """(x, y) windows of a 1-D token stream (a uint8 tensor or a uint16 array), returned as int64."""

    def __init__(self, tokens: Tensor | np.ndarray, block_size: int) -> None:
        self.tokens, self.block_size = tokens, block_size

    def __len__(self) -> int:
        return max(0, (len(self.tokens) - 1) // self.block_size)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        start = index * self.block_size
        window = self.tokens[start:start + self.block_size + 1]
        window = torch.from_numpy(window.astype(np.int64)) if isinstance(window, np.ndarray) else window.long()
        return window[:-1], window[1:]

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        if isinstance(self.tokens, np.memmap):  # a worker maps the file again instead of receiving a copy of it
            state["tokens"] = Path(self.tokens.filename)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if isinstance(self.tokens, Path):
            self.tokens = read_token_ids(self.tokens)


class ByteCodec:
    """Text <-> UTF-8 byte ids (vocab 256)."""

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8")) or [ord("\n")]  # an empty prompt starts a new line

    def decode(self, ids: list[int]) -> str:
        return bytes(ids).decode("utf-8", errors="replace")


class TokenIdCodec:
    """Token ids of a .bin corpus (the suite has no tokenizer): the prompt is the first `n` ids of val.bin, and
    samples are written as ids."""

    def __init__(self, val_path: Path, n: int = 16) -> None:
        self.val_path, self.n = val_path, n

    def encode(self, text: str) -> list[int]:
        return read_token_ids(self.val_path)[:self.n].astype(np.int64).tolist() or [0]

    def decode(self, ids: list[int]) -> str:
        return " ".join(map(str, ids))


def read_token_ids(path: Path) -> np.ndarray:
    """A .bin file of np.uint16 ids, memory-mapped (DataError naming the file if its size is odd)."""
    size = path.stat().st_size
    if size % 2:
        raise DataError(f"{path} has {size} bytes, not a whole number of np.uint16 token ids; re-create it.")
    return np.memmap(path, dtype=np.uint16, mode="r") if size else np.zeros(0, dtype=np.uint16)


class LanguageModelDataModule(BaseDataModule):
    """Shared by the corpora: `block_size` tokens per example, `vocab_size` token ids, a codec for samples."""

    in_chans = 0
    codec = ByteCodec()

    @property
    def block_size(self) -> int:
        return int(self.cfg.block_size)

    @property
    def vocab_size(self) -> int:
        return BYTE_VOCAB

    @property
    def num_classes(self) -> int:
        return self.vocab_size

    def _windows(self, streams: dict[str, Tensor | np.ndarray]) -> None:
        self.train_set, self.val_set, self.test_set = (TokenWindows(streams[s], self.block_size) for s in SPLITS)


class PydocDataModule(LanguageModelDataModule):
    """CPython's pydoc help topics (pydoc_data.topics, ~466k bytes), split by topic ~80/10/10."""

    def setup(self, stage: str | None = None) -> None:
        self._windows({split: pydoc_bytes(split) for split in SPLITS})


class TextDataModule(LanguageModelDataModule):
    """A corpus in `data.root`: UTF-8 .txt files (bytes) or .bin files of uint16 token ids."""

    @property
    def root(self) -> Path:
        return Path(str(self.cfg.root))

    def layout(self) -> str:
        """'txt' or 'bin': the one whose three files are all there (missing_data naming a missing file if neither)."""
        present = {ext: [(self.root / f"{s}.{ext}").is_file() for s in SPLITS] for ext in ("txt", "bin")}
        for ext, found in present.items():
            if all(found):
                return ext
        ext = max(present, key=lambda e: sum(present[e]))  # the layout begun, txt on a tie
        path = self.root if not self.root.is_dir() else self.root / f"{SPLITS[present[ext].index(False)]}.{ext}"
        raise missing_data(f"Text corpus '{self.cfg.corpus}'", path, TEXT_LAYOUT.replace("<root>", str(self.root)),
                           TEXT_SOURCE)

    @property
    def vocab_size(self) -> int:
        vocab = int(self.cfg.vocab_size)
        if self.layout() == "txt" and vocab != BYTE_VOCAB:
            raise ConfigError(f"data.vocab_size={vocab}, but {self.root} holds .txt files, read as bytes: "
                              f"use data.vocab_size={BYTE_VOCAB} (other sizes are for .bin token files).")
        return vocab

    @property
    def codec(self) -> ByteCodec | TokenIdCodec:
        return ByteCodec() if self.layout() == "txt" else TokenIdCodec(self.root / "val.bin")

    def _read(self, split: str, ext: str) -> Tensor | np.ndarray:
        path = self.root / f"{split}.{ext}"
        if ext == "txt":
            return torch.frombuffer(bytearray(path.read_bytes()), dtype=torch.uint8)
        ids = read_token_ids(path)
        if len(ids) and self.vocab_size <= np.iinfo(np.uint16).max and int(ids.max()) >= self.vocab_size:
            first = int(np.argmax(ids >= self.vocab_size))
            raise DataError(f"{path} holds token id {int(ids[first])} (at index {first}) >= data.vocab_size="
                            f"{self.vocab_size}: set data.vocab_size to the tokenizer's vocabulary (50304 for GPT-2).")
        return ids

    def setup(self, stage: str | None = None) -> None:
        ext = self.layout()
        self._windows({split: self._read(split, ext) for split in SPLITS})


DATAMODULES = {"pydoc": PydocDataModule, "text": TextDataModule}
