"""`transformer`: an encoder-only transformer over patches of genes (ViT-style).

Each patch of `patch` consecutive genes (patch·8 numbers) becomes one token; learned positional
embeddings; two extra tokens carry t and y; pre-norm encoder layers; a linear head turns each
token back into its patch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from genomesynth.backbones.layers import SinusoidalEmbedding, zero_


@dataclass
class TransformerConfig:
    patch: int = 8
    dim: int = 64
    depth: int = 2
    heads: int = 4
    mlp_ratio: int = 2


PRESETS = {
    "tiny": TransformerConfig(),
    "paper": TransformerConfig(patch=32, dim=512, depth=8, heads=8, mlp_ratio=4),
}


class Transformer(nn.Module):
    def __init__(self, n_genes: int, n_classes: int, config: TransformerConfig) -> None:
        super().__init__()
        self.patch = config.patch
        self.multiple = config.patch
        tokens = n_genes // config.patch
        d = config.dim
        self.embed = nn.Linear(config.patch * 8, d)
        self.position = nn.Parameter(torch.randn(1, tokens + 2, d) * 0.02)
        self.time = nn.Sequential(SinusoidalEmbedding(d), nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.label = nn.Embedding(n_classes + 1, d)
        layer = nn.TransformerEncoderLayer(d, config.heads, d * config.mlp_ratio, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, config.patch * 8)
        zero_(self.head)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        b, genes, _ = x_t.shape
        patches = x_t.reshape(b, genes // self.patch, self.patch * 8)
        tokens = torch.cat([self.time(t)[:, None], self.label(y)[:, None], self.embed(patches)], dim=1)
        h = self.norm(self.encoder(tokens + self.position))
        return self.head(h[:, 2:]).reshape(b, genes, 8)
