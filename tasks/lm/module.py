"""Causal language modelling: next-token cross-entropy (nats) and bits per byte, plus a fixed-prompt sample
written to `<run>/samples/epoch_XXX.txt` after each validation epoch.

`<stage>/bpb` = loss / ln 2 is bits per byte for byte-level data (pydoc, text .txt); for .bin token corpora
it is bits per token (the name stays bpb).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import Tensor

from tasks.common.errors import ConfigError
from tasks.common.run_record import SAMPLES, RunRecord
from tasks.common.task_module import TaskModule
from tasks.lm.data import ByteCodec, TokenIdCodec
from tasks.lm.model import build_gpt


def check_causal_act(act_cfg: DictConfig) -> None:
    """An ASH-family act (it has `stats`) must take its statistics per token, or position t sees the tokens after t."""
    stats = act_cfg.get("stats")
    if stats is None or stats == "token":
        return
    if stats == "channel":
        raise ConfigError(f"task=lm: act.stats=channel on a (batch, position, feature) sequence takes mu and sigma "
                          f"per position under another name; token is the mode for sequences. Use act.stats=token "
                          f"(task=lm's default).")
    raise ConfigError(f"task=lm is causal: act.stats={stats} takes mu and sigma over every position of a sequence, "
                      f"so the output at position t would see the tokens after t (the future leaks into training). "
                      f"Use act.stats=token (task=lm's default).")


def sample_name(epoch: int) -> str:
    """`samples/epoch_XXX.txt` for a 1-based epoch (the GAN's grids are samples/epoch_XXX.png)."""
    return f"{SAMPLES}/epoch_{epoch:03d}.txt"


class LanguageModelTask(TaskModule):
    monitor, monitor_mode = "val/bpb", "min"
    lower_is_better = ("loss", "bpb")
    train_mean_names = ("loss", "bpb")

    def __init__(self, cfg: DictConfig, vocab_size: int, block_size: int, codec: ByteCodec | TokenIdCodec) -> None:
        check_causal_act(cfg.act)
        super().__init__(cfg)
        self.model = build_gpt(cfg.model, cfg.act, vocab_size, block_size, self.act_layer)
        self.codec = codec
        self.last_sample: tuple[int, str] | None = None  # (1-based epoch, text)

    def forward(self, idx: Tensor) -> Tensor:
        return self.model(idx)

    def step(self, batch, stage: str) -> Tensor:
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1))
        self.log_loss(stage, loss, batch_size=len(y))
        bpb = loss.detach() / math.log(2)
        if stage == "train":
            self.log_train_mean("bpb", bpb, batch_size=len(y))
        else:
            self.log(f"{stage}/bpb", bpb, on_step=False, on_epoch=True, sync_dist=True, prog_bar=stage == "val",
                     batch_size=len(y))
        return loss

    def sample(self) -> str:
        """The prompt and `task.sample_tokens` tokens after it, from a generator seeded by `task.sample_seed`."""
        task = self.cfg.task
        prompt = self.codec.encode(str(task.sample_prompt))
        generator = torch.Generator().manual_seed(int(task.sample_seed))
        top_k = task.sample_top_k
        was_training = self.model.training
        self.model.eval()
        ids = self.model.generate(torch.tensor([prompt], device=self.device), int(task.sample_tokens),
                                  float(task.sample_temperature), None if top_k is None else int(top_k), generator)
        self.model.train(was_training)
        return self.codec.decode(ids[0].tolist())

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking or not self.trainer.is_global_zero:
            return
        self.last_sample = (self.current_epoch + 1, self.sample())
        RunRecord(self.trainer.default_root_dir).write_text(sample_name(self.last_sample[0]), self.last_sample[1])

    def on_fit_end(self) -> None:
        if self.trainer.is_global_zero and self.last_sample is not None:
            epoch, text = self.last_sample
            print(f"Sample after epoch {epoch} (prompt {str(self.cfg.task.sample_prompt)!r}):\n{text}\n", flush=True)
