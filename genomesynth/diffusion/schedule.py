"""All DDPM schedule arithmetic (Ho et al. 2020), precomputed once; `at(a, t)` indexes it by t.

Timesteps are 0-based: t = 0 … T-1, where t = 0 is the least noisy step (the paper's t = 1).

    x_t    = sqrt(ᾱ_t) x_0 + sqrt(1 − ᾱ_t) ε
    x̂_0    = (x_t − sqrt(1 − ᾱ_t) ε̂) / sqrt(ᾱ_t)
    μ̃_t    = β_t sqrt(ᾱ_{t−1}) / (1 − ᾱ_t) · x̂_0 + (1 − ᾱ_{t−1}) sqrt(α_t) / (1 − ᾱ_t) · x_t
    β̃_t    = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


def at(values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """values[t] shaped to broadcast against `like` (batch first)."""
    out = values.to(like.device)[t].to(like.dtype)
    return out.reshape(-1, *([1] * (like.dim() - 1)))


@dataclass(frozen=True)
class Schedule:
    betas: torch.Tensor  # (T,) float64

    @classmethod
    def linear(cls, timesteps: int = 1000, start: float = 1e-4, end: float = 0.02) -> Schedule:
        """Ho et al.'s betas for T = 1000; for other T scaled by 1000/T (as improved-diffusion does),
        so that x_T is pure noise whatever T is (unscaled, T = 200 would end at ᾱ_T ≈ 0.13)."""
        scale = 1000 / timesteps
        return cls(torch.linspace(start * scale, min(end * scale, 0.999), timesteps, dtype=torch.float64))

    @classmethod
    def cosine(cls, timesteps: int = 1000, s: float = 0.008) -> Schedule:
        """Nichol & Dhariwal (2021): ᾱ(t) = cos²((t/T + s)/(1 + s) · π/2), betas capped at 0.999."""
        steps = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
        f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
        alpha_bar = f / f[0]
        return cls((1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=0.999))

    @classmethod
    def named(cls, name: str, timesteps: int) -> Schedule:
        return {"linear": cls.linear, "cosine": cls.cosine}[name](timesteps)

    @property
    def timesteps(self) -> int:
        return len(self.betas)

    @property
    def alphas(self) -> torch.Tensor:
        return 1 - self.betas

    @property
    def alpha_bar(self) -> torch.Tensor:
        return torch.cumprod(self.alphas, 0)

    @property
    def alpha_bar_prev(self) -> torch.Tensor:
        return torch.cat([torch.ones(1, dtype=torch.float64), self.alpha_bar[:-1]])

    @property
    def posterior_variance(self) -> torch.Tensor:
        """β̃_t; zero at t = 0, where no noise is added."""
        return (1 - self.alpha_bar_prev) / (1 - self.alpha_bar) * self.betas

    @property
    def posterior_mean_coef1(self) -> torch.Tensor:
        """μ̃_t = coef1 · x̂_0 + coef2 · x_t (the mean of q(x_{t-1} | x_t, x_0))."""
        return self.betas * self.alpha_bar_prev.sqrt() / (1 - self.alpha_bar)

    @property
    def posterior_mean_coef2(self) -> torch.Tensor:
        return (1 - self.alpha_bar_prev) * self.alphas.sqrt() / (1 - self.alpha_bar)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        ab = at(self.alpha_bar, t, x0)
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def predict_x0(self, x_t: torch.Tensor, t: torch.Tensor, eps_hat: torch.Tensor) -> torch.Tensor:
        ab = at(self.alpha_bar, t, x_t)
        return (x_t - (1 - ab).sqrt() * eps_hat) / ab.sqrt()
