"""`unet-cnn`: a 1D convolutional UNet along the gene axis (8 channels in), residual blocks with
FiLM(t, y), strided-conv downsampling, and multi-head attention at the coarse levels and the middle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from genomesynth.backbones.layers import Attention1d, Conditioning, ResnetBlock1d, groups_for, zero_


@dataclass
class UNetCNNConfig:
    channels: list[int] = field(default_factory=lambda: [16, 32, 64])  # per level, fine → coarse
    attention_levels: int = 1  # attention at the coarsest N levels (and always in the middle)
    heads: int = 4
    cond_dim: int = 64


PRESETS = {
    "tiny": UNetCNNConfig(),
    "paper": UNetCNNConfig(channels=[64, 128, 256, 256, 512], attention_levels=2, heads=8, cond_dim=256),
}


class UNetCNN(nn.Module):
    def __init__(self, n_genes: int, n_classes: int, config: UNetCNNConfig) -> None:
        super().__init__()
        c = config.channels
        self.multiple = 2 ** (len(c) - 1)
        self.cond = Conditioning(config.cond_dim, n_classes)
        self.stem = nn.Conv1d(8, c[0], 7, padding=3)
        n = len(c)
        attend = [i >= n - config.attention_levels for i in range(n)]
        self.down_blocks = nn.ModuleList(ResnetBlock1d(c[i], c[i], config.cond_dim) for i in range(n))
        self.down_attn = nn.ModuleList(Attention1d(c[i], config.heads) if attend[i] else nn.Identity() for i in range(n))
        self.downsample = nn.ModuleList(nn.Conv1d(c[i], c[i + 1], 4, stride=2, padding=1) for i in range(n - 1))
        self.mid1 = ResnetBlock1d(c[-1], c[-1], config.cond_dim)
        self.mid_attn = Attention1d(c[-1], config.heads)
        self.mid2 = ResnetBlock1d(c[-1], c[-1], config.cond_dim)
        self.upsample = nn.ModuleList(nn.ConvTranspose1d(c[i + 1], c[i], 4, stride=2, padding=1) for i in range(n - 1))
        self.up_blocks = nn.ModuleList(ResnetBlock1d(2 * c[i], c[i], config.cond_dim) for i in range(n - 1))
        self.up_attn = nn.ModuleList(Attention1d(c[i], config.heads) if attend[i] else nn.Identity() for i in range(n - 1))
        self.head = nn.Sequential(nn.GroupNorm(groups_for(c[0]), c[0]), nn.SiLU(), nn.Conv1d(c[0], 8, 3, padding=1))
        zero_(self.head[-1])

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        cond = self.cond(t, y)
        h = self.stem(x_t.transpose(1, 2))  # (B, C, genes)
        skips = []
        for i, block in enumerate(self.down_blocks):
            h = self.down_attn[i](block(h, cond))
            if i < len(self.downsample):
                skips.append(h)
                h = self.downsample[i](h)
        h = self.mid2(self.mid_attn(self.mid1(h, cond)), cond)
        for i in reversed(range(len(self.upsample))):
            h = self.upsample[i](h)
            h = self.up_attn[i](self.up_blocks[i](torch.cat([h, skips[i]], dim=1), cond))
        return self.head(h).transpose(1, 2)
