"""A small GPT: token + learned position embeddings, pre-norm blocks with causal self-attention and the configured
MLP (tasks/common/transformer_mlp.py: one activation call per block, or the gated MLP of act=swiglu), a final
LayerNorm and a linear head tied to the token embedding. GPT-2's initialisation (normal, std 0.02; residual
projections scaled by 1 / sqrt(2 n_layer))."""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import Tensor, nn

from tasks.common.transformer_mlp import build_mlp

INIT_STD = 0.02
RESIDUAL_PROJECTIONS = ("attn.proj.weight", "mlp.fc2.weight")  # the layers that write into the residual stream


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position t attends to positions <= t only."""

    def __init__(self, n_embd: int, n_head: int, dropout: float) -> None:
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f"n_embd={n_embd} is not divisible by n_head={n_head}.")
        self.n_head, self.dropout = n_head, dropout
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)

    def forward(self, x: Tensor) -> Tensor:
        B, T, C = x.shape
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in self.qkv(x).split(C, dim=2))
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    """x + attn(ln1(x)), then x + mlp(ln2(x))."""

    def __init__(self, n_embd: int, n_head: int, mlp: nn.Module, dropout: float) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(n_embd), nn.LayerNorm(n_embd)
        self.attn, self.mlp = CausalSelfAttention(n_embd, n_head, dropout), mlp
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.drop(self.attn(self.ln1(x)))
        return x + self.drop(self.mlp(self.ln2(x)))


class GPT(nn.Module):
    """Token ids (B, T <= block_size) -> next-token logits (B, T, vocab_size)."""

    def __init__(self, vocab_size: int, block_size: int, n_layer: int, n_head: int, n_embd: int,
                 make_mlp: Callable[[], nn.Module], dropout: float = 0.0) -> None:
        super().__init__()
        self.block_size = block_size
        self.tok_emb, self.pos_emb = nn.Embedding(vocab_size, n_embd), nn.Embedding(block_size, n_embd)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(n_embd, n_head, make_mlp(), dropout) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight
        self.apply(_init)
        for name, p in self.named_parameters():
            if name.endswith(RESIDUAL_PROJECTIONS):
                nn.init.normal_(p, std=INIT_STD / math.sqrt(2 * n_layer))

    def forward(self, idx: Tensor) -> Tensor:
        T = idx.shape[1]
        if T > self.block_size:
            raise ValueError(f"a sequence of {T} tokens is longer than block_size={self.block_size}")
        x = self.drop(self.tok_emb(idx) + self.pos_emb(torch.arange(T, device=idx.device)))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))

    @torch.no_grad()
    def generate(self, idx: Tensor, n_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 generator: torch.Generator | None = None) -> Tensor:
        """idx (B, T) followed by `n_tokens` new tokens; greedy when temperature == 0, else sampled (on the CPU,
        from `generator`) from the temperature-scaled softmax over the `top_k` most likely tokens."""
        for _ in range(n_tokens):
            logits = self(idx[:, -self.block_size:])[:, -1, :].float()
            if temperature == 0:
                nxt = logits.argmax(dim=-1, keepdim=True)
            else:
                logits = logits / temperature
                if top_k is not None:
                    kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[:, -1:]
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                probs = F.softmax(logits, dim=-1).cpu()
                nxt = torch.multinomial(probs, 1, generator=generator).to(idx.device)
            idx = torch.cat([idx, nxt], dim=1)
        return idx


def _init(module: nn.Module) -> None:
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=INIT_STD)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


def build_gpt(model_cfg: DictConfig, act_cfg: DictConfig, vocab_size: int, block_size: int,
              act_layer: Callable[..., nn.Module]) -> GPT:
    """The GPT of `model` (n_layer, n_head, n_embd, mlp_ratio, dropout) with the configured activation."""
    n_embd = int(model_cfg.n_embd)
    return GPT(vocab_size, block_size, int(model_cfg.n_layer), int(model_cfg.n_head), n_embd,
               lambda: build_mlp(n_embd, float(model_cfg.mlp_ratio), act_cfg, act_layer),
               float(model_cfg.get("dropout", 0.0)))
