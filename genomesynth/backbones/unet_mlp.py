"""`unet-mlp`: a UNet of dense blocks along the gene axis; no convolutions, no attention.

- stem: a dense layer 8 → c applied to every gene, plus a learned embedding per gene;
- down level l: `LocalDense` merges each window of `factor` neighbouring tokens (its own weights
  per window), then a residual token-wise MLP with FiLM(t, y);
- bottom: a global dense MLP over the flattened coarse tokens — the only all-to-all mixing;
- up: `LocalDense` splits each token back into `factor` tokens, adds the skip, token-wise MLP;
- head: dense c → 8 per gene.
Weights grow linearly with the number of genes (every window has its own), never quadratically.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from genomesynth.backbones.layers import Conditioning, FiLM, LocalDense, ResidualMLP, zero_


@dataclass
class UNetMLPConfig:
    channels: list[int] = field(default_factory=lambda: [8, 16, 32])  # per level, fine → coarse
    factor: int = 2  # tokens merged per down step
    bottom_hidden: int = 128
    cond_dim: int = 64


PRESETS = {
    "tiny": UNetMLPConfig(),
    "paper": UNetMLPConfig(channels=[16, 32, 64, 128], factor=4, bottom_hidden=1024, cond_dim=256),
}


class UNetMLP(nn.Module):
    def __init__(self, n_genes: int, n_classes: int, config: UNetMLPConfig) -> None:
        super().__init__()
        c, f = config.channels, config.factor
        self.multiple = f ** (len(c) - 1)
        self.factor = f
        self.cond = Conditioning(config.cond_dim, n_classes)
        self.stem = nn.Linear(8, c[0])
        self.gene_embedding = nn.Parameter(torch.zeros(n_genes, c[0]))
        lengths = [n_genes // f**i for i in range(len(c))]
        self.down_mix = nn.ModuleList(ResidualMLP(ch, config.cond_dim) for ch in c)
        self.down = nn.ModuleList(LocalDense(lengths[i + 1], f * c[i], c[i + 1]) for i in range(len(c) - 1))
        flat = lengths[-1] * c[-1]
        self.bottom = nn.Sequential(nn.LayerNorm(flat), nn.Linear(flat, config.bottom_hidden), nn.SiLU(),
                                    nn.Linear(config.bottom_hidden, flat))
        self.bottom_film = FiLM(config.cond_dim, flat)
        self.up = nn.ModuleList(LocalDense(lengths[i + 1], c[i + 1], f * c[i]) for i in range(len(c) - 1))
        self.up_mix = nn.ModuleList(ResidualMLP(ch, config.cond_dim) for ch in c[:-1])
        self.head = nn.Sequential(nn.LayerNorm(c[0]), nn.Linear(c[0], 8))
        zero_(self.head[-1])

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        cond = self.cond(t, y)
        h = self.stem(x_t) + self.gene_embedding
        skips = []
        for i, mix in enumerate(self.down_mix):
            h = mix(h, cond)
            if i < len(self.down):
                skips.append(h)
                b, length, ch = h.shape
                h = self.down[i](h.reshape(b, length // self.factor, self.factor * ch))
        b, length, ch = h.shape
        flat = h.reshape(b, -1)
        h = h + self.bottom_film(self.bottom(flat), cond).reshape(b, length, ch)
        for i in reversed(range(len(self.up))):
            skip = skips[i]
            h = self.up[i](h).reshape(skip.shape) + skip
            h = self.up_mix[i](h, cond)
        return self.head(h)
