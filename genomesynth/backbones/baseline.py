"""`baseline`: a plain residual MLP denoiser, no UNet structure.

x (B, G, 8) → flatten → Linear(G·8 → H) → depth × [LayerNorm → Linear(H → 2H) → SiLU → FiLM(t, y) →
Linear(2H → H)] residual → Linear(H → G·8). Parameters ≈ 2·G·8·H + depth·4H²: 151M at the paper
shape with H = 512, the price of no structure. As a residual over the population prior it is the
default: its one global layer keeps every position's spread where the local backbones shrink it
(docs/RESULTS.md); on cohorts with far fewer people than latent dimensions it memorises the most.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from genomesynth.backbones.layers import Conditioning, ResidualMLP, zero_


@dataclass
class BaselineConfig:
    hidden: int = 128
    depth: int = 2
    cond_dim: int = 64


PRESETS = {"tiny": BaselineConfig(), "paper": BaselineConfig(hidden=512, depth=4, cond_dim=256)}


class Baseline(nn.Module):
    multiple = 1

    def __init__(self, n_genes: int, n_classes: int, config: BaselineConfig) -> None:
        super().__init__()
        width = n_genes * 8
        self.cond = Conditioning(config.cond_dim, n_classes)
        self.inp = nn.Linear(width, config.hidden)
        self.blocks = nn.ModuleList(ResidualMLP(config.hidden, config.cond_dim) for _ in range(config.depth))
        self.out = nn.Sequential(nn.LayerNorm(config.hidden), nn.Linear(config.hidden, width))
        zero_(self.out[-1])

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        cond = self.cond(t, y)
        h = self.inp(x_t.flatten(1))
        for block in self.blocks:
            h = block(h, cond)
        return self.out(h).view_as(x_t)
