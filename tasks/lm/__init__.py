"""Causal language modelling: a small GPT on bytes (the embedded pydoc corpus, UTF-8 text) or on .bin token ids;
bits per byte and a fixed-prompt sample per epoch."""
from __future__ import annotations

from omegaconf import DictConfig

from tasks.lm.data import DATAMODULES, LanguageModelDataModule


def build_module(cfg: DictConfig, datamodule: LanguageModelDataModule):
    """The LightningModule for this config, sized to the data (vocabulary, context length)."""
    from tasks.lm.module import LanguageModelTask

    return LanguageModelTask(cfg, vocab_size=datamodule.vocab_size, block_size=datamodule.block_size,
                             codec=datamodule.codec)
