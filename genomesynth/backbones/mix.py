"""`mlp+cnn`: ε̂ = (1 − λ(t))·MLP(x) + λ(t)·CNN(x), with λ a 2-layer MLP of t in [0, 1].

The MLP is the `unet-mlp` backbone and the CNN the `unet-cnn`; all three are trained jointly.
`lam(t)` is exposed so training can log which expert the model trusts at each noise level.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from genomesynth.backbones.layers import SinusoidalEmbedding
from genomesynth.backbones.unet_cnn import PRESETS as CNN_PRESETS
from genomesynth.backbones.unet_cnn import UNetCNN, UNetCNNConfig
from genomesynth.backbones.unet_mlp import PRESETS as MLP_PRESETS
from genomesynth.backbones.unet_mlp import UNetMLP, UNetMLPConfig


@dataclass
class MixConfig:
    mlp: UNetMLPConfig = field(default_factory=UNetMLPConfig)
    cnn: UNetCNNConfig = field(default_factory=UNetCNNConfig)
    gate_hidden: int = 32


PRESETS = {
    "tiny": MixConfig(),
    "paper": MixConfig(mlp=MLP_PRESETS["paper"], cnn=CNN_PRESETS["paper"], gate_hidden=64),
}


class MLPPlusCNN(nn.Module):
    def __init__(self, n_genes: int, n_classes: int, config: MixConfig) -> None:
        super().__init__()
        self.mlp = UNetMLP(n_genes, n_classes, config.mlp)
        self.cnn = UNetCNN(n_genes, n_classes, config.cnn)
        self.multiple = max(self.mlp.multiple, self.cnn.multiple)
        h = config.gate_hidden
        self.gate = nn.Sequential(SinusoidalEmbedding(h), nn.Linear(h, h), nn.SiLU(), nn.Linear(h, 1))

    def lam(self, t: torch.Tensor) -> torch.Tensor:
        """λ(t) in [0, 1], shape (B,)."""
        return torch.sigmoid(self.gate(t)).squeeze(-1)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        lam = self.lam(t)[:, None, None]
        return (1 - lam) * self.mlp(x_t, t, y) + lam * self.cnn(x_t, t, y)
