"""ε-prediction as a residual over the optimal denoiser of a prior fitted to the data.

    ε̂(x_t, t, y) = E_prior[ε | x_t, y] + F(x_t, t, y)

F is the backbone, its output layer initialised to zero. It is still ε-prediction with the plain MSE
loss, but an untrained F already samples the prior, and F only has to learn what the data has
beyond it. Two priors (prior.py):

- `isotropic`: N(0, I) on the standardised data, whose denoiser is sqrt(1 − ᾱ_t)·x_t. It fixes the
  scale (without it the tiny models' errors at high t — where x̂_0 multiplies any error in ε̂ by up
  to 1/sqrt(ᾱ_t) ≈ 100 — left samples 2–25× too dispersed), but every covariance between genes is
  left to F, and no backbone learned it (issue 9, docs/RESULTS.md).
- `population` (the default): a Gaussian mixture with shared low-rank axes, fitted to the training
  people — population structure from step 0, at the level of populations, not people.
"""

from __future__ import annotations

import torch
from torch import nn

from genomesynth.diffusion.prior import PopulationPrior
from genomesynth.diffusion.schedule import Schedule


class PriorResidual(nn.Module):
    """Wraps a backbone F(x_t, t, y) → ε̂ residual around a prior's exact ε-predictor:
    ε̂ = E_prior[ε | x_t, y] + residual_scale · F (the scale is 1 in training; `sample --residual-scale`)."""

    def __init__(self, backbone: nn.Module, schedule: Schedule, prior: PopulationPrior) -> None:
        super().__init__()
        self.backbone = backbone
        self.schedule = schedule
        self.prior = prior
        self.residual_scale = 1.0

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        residual = self.backbone(x_t, t, y)
        if self.residual_scale != 1.0:
            residual = self.residual_scale * residual
        return self.prior.eps(x_t, t, y, self.schedule) + residual

