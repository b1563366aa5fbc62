"""Blocks the backbones share: time/label conditioning, FiLM, 1D residual conv blocks, attention."""

from __future__ import annotations

import math

import torch
from torch import nn


def zero_(module: nn.Module) -> nn.Module:
    """Zero a layer's weights and bias: a backbone then starts by predicting no residual (precondition.py)."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class SinusoidalEmbedding(nn.Module):
    """t (B,) → (B, dim) sinusoidal features (Vaswani et al.; as in DDPM)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freqs = torch.exp(-math.log(10_000) * torch.arange(half, device=t.device) / max(half - 1, 1))
        angles = t.float()[:, None] * freqs[None, :]
        return torch.cat([angles.sin(), angles.cos()], dim=-1)


class Conditioning(nn.Module):
    """(t, y) → one embedding (B, dim). Label `n_classes` is the null class ('no label')."""

    def __init__(self, dim: int, n_classes: int) -> None:
        super().__init__()
        self.time = nn.Sequential(SinusoidalEmbedding(dim), nn.Linear(dim, dim * 2), nn.SiLU(), nn.Linear(dim * 2, dim))
        self.label = nn.Embedding(n_classes + 1, dim)  # N(0, 1) init: zero here would starve the
        # label path of gradient behind the zero-initialised FiLM layers

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.time(t) + self.label(y)


class FiLM(nn.Module):
    """Feature-wise scale and shift from the conditioning embedding; starts as the identity."""

    def __init__(self, cond_dim: int, channels: int) -> None:
        super().__init__()
        self.proj = nn.Sequential(nn.SiLU(), nn.Linear(cond_dim, channels * 2))
        nn.init.zeros_(self.proj[1].weight)
        nn.init.zeros_(self.proj[1].bias)

    def forward(self, h: torch.Tensor, cond: torch.Tensor, channel_dim: int = -1) -> torch.Tensor:
        scale, shift = self.proj(cond).chunk(2, dim=-1)
        shape = [h.shape[0]] + [1] * (h.dim() - 1)
        shape[channel_dim] = -1
        return h * (1 + scale.reshape(shape)) + shift.reshape(shape)


class ResidualMLP(nn.Module):
    """h + Linear(FiLM(SiLU(Linear(LayerNorm(h))))) over the last axis; h is (B, C) or (B, tokens, C)."""

    def __init__(self, channels: int, cond_dim: int, expansion: int = 2) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.fc1 = nn.Linear(channels, channels * expansion)
        self.film = FiLM(cond_dim, channels * expansion)
        self.fc2 = nn.Linear(channels * expansion, channels)

    def forward(self, h: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return h + self.fc2(self.film(torch.nn.functional.silu(self.fc1(self.norm(h))), cond))


def groups_for(channels: int) -> int:
    return math.gcd(8, channels)


class ResnetBlock1d(nn.Module):
    """GroupNorm → SiLU → Conv1d, twice, FiLM in between, residual (lucidrains' 1D UNet block)."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int, kernel: int = 3) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups_for(c_in), c_in)
        self.conv1 = nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2)
        self.film = FiLM(cond_dim, c_out)
        self.norm2 = nn.GroupNorm(groups_for(c_out), c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel, padding=kernel // 2)
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:  # x: (B, C, L)
        h = self.conv1(torch.nn.functional.silu(self.norm1(x)))
        h = self.film(self.norm2(h), cond, channel_dim=1)
        h = self.conv2(torch.nn.functional.silu(h))
        return h + self.skip(x)


class Attention1d(nn.Module):
    """Multi-head self-attention over the length axis of (B, C, L), residual."""

    def __init__(self, channels: int, heads: int = 4) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(groups_for(channels), channels)
        self.attn = nn.MultiheadAttention(channels, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x).transpose(1, 2)
        h, _ = self.attn(h, h, h, need_weights=False)
        return x + h.transpose(1, 2)


class LocalDense(nn.Module):
    """A dense layer per window of genes, with its own weights for every window (no sharing).

    (B, windows, d_in) → (B, windows, d_out) with weight (windows, d_in, d_out): what makes a
    dense UNet trainable at 18,432 genes, where one dense layer over all inputs is 600M+ weights.
    """

    def __init__(self, windows: int, d_in: int, d_out: int) -> None:
        super().__init__()
        bound = 1 / math.sqrt(d_in)
        self.weight = nn.Parameter(torch.empty(windows, d_in, d_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(windows, d_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bwi,wio->bwo", x, self.weight) + self.bias
