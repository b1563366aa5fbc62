"""Samplers: ancestral DDPM (Ho et al., Eq. 6) and DDIM (Song et al.) on a respaced schedule.

Both clamp the padded positions of x̂_0 and x_t to 0 at every step, and both support
classifier-free guidance: ε̂ = (1 + w) ε̂(x, y) − w ε̂(x, ∅), with w = 0 the plain conditional model.

x̂_0 may also be clipped to a box (`clip`, e.g. the per-position range of the training data), as
reference DDPM samplers clip images to [−1, 1]: at high t, x̂_0 = (x_t − sqrt(1 − ᾱ_t) ε̂)/sqrt(ᾱ_t)
multiplies any error in ε̂ by up to 1/sqrt(ᾱ_t) ≈ 150, and an unclipped trajectory of an imperfect
model can run away. The DDPM step is written as the posterior mean μ̃_t(x̂_0, x_t), which equals
Eq. 6 exactly whenever nothing is clipped.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from genomesynth.diffusion.schedule import Schedule, at

Denoiser = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
"""(x_t [B,G,8], t [B], y [B]) → ε̂ [B,G,8]; y = null_class means 'no label'."""


def guided(model: Denoiser, guidance: float, null_class: int) -> Denoiser:
    if guidance == 0:
        return model

    def eps(x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        both = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, torch.full_like(y, null_class)]))
        cond, uncond = both.chunk(2)
        return (1 + guidance) * cond - guidance * uncond

    return eps


Box = tuple[torch.Tensor, torch.Tensor] | None
"""(low, high), each shaped like the mask: where x̂_0 is clipped to; None = no clipping."""


def _x0(schedule: Schedule, x_t: torch.Tensor, tt: torch.Tensor, eps_hat: torch.Tensor, mask: torch.Tensor,
        clip: Box) -> torch.Tensor:
    x0_hat = schedule.predict_x0(x_t, tt, eps_hat)
    if clip is not None:
        x0_hat = torch.maximum(torch.minimum(x0_hat, clip[1]), clip[0])
    return x0_hat * mask


def ddpm_step(schedule: Schedule, eps_hat: torch.Tensor, t: int, x_t: torch.Tensor, mask: torch.Tensor,
              generator: torch.Generator | None, clip: Box = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One ancestral step x_t → x_{t-1}; returns (x_{t-1}, x̂_0). No noise at t = 0."""
    tt = torch.full((x_t.shape[0],), t, device=x_t.device, dtype=torch.long)
    x0_hat = _x0(schedule, x_t, tt, eps_hat, mask, clip)
    c1, c2 = at(schedule.posterior_mean_coef1, tt, x_t), at(schedule.posterior_mean_coef2, tt, x_t)
    mean = c1 * x0_hat + c2 * x_t
    if t > 0:
        noise = torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)
        mean = mean + at(schedule.posterior_variance, tt, x_t).sqrt() * noise
    return mean * mask, x0_hat


def ddim_step(schedule: Schedule, eps_hat: torch.Tensor, t: int, t_prev: int, x_t: torch.Tensor,
              mask: torch.Tensor, eta: float, generator: torch.Generator | None,
              clip: Box = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One DDIM step t → t_prev (t_prev = -1 means 'to x_0'); eta = 0 is deterministic."""
    tt = torch.full((x_t.shape[0],), t, device=x_t.device, dtype=torch.long)
    ab = at(schedule.alpha_bar, tt, x_t)
    ab_prev = (
        at(schedule.alpha_bar, torch.full_like(tt, t_prev), x_t) if t_prev >= 0 else torch.ones_like(ab)
    )
    x0_hat = _x0(schedule, x_t, tt, eps_hat, mask, clip)
    eps = (x_t - ab.sqrt() * x0_hat) / (1 - ab).sqrt()  # re-derived so padding stays consistent
    sigma = eta * ((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)).clamp(min=0).sqrt()
    x_prev = ab_prev.sqrt() * x0_hat + (1 - ab_prev - sigma**2).clamp(min=0).sqrt() * eps
    if eta > 0 and t_prev >= 0:
        x_prev = x_prev + sigma * torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)
    return x_prev * mask, x0_hat


def respaced(timesteps: int, steps: int) -> list[int]:
    """`steps` evenly spaced timesteps of T, descending, always starting at T-1 and ending at 0."""
    steps = max(1, min(steps, timesteps))
    picked = torch.linspace(0, timesteps - 1, steps).round().long().unique().tolist()
    return sorted(picked, reverse=True)


@torch.no_grad()
def sample(
    model: Denoiser,
    schedule: Schedule,
    y: torch.Tensor,
    mask: torch.Tensor,
    *,
    sampler: str = "ddpm",
    steps: int | None = None,
    eta: float = 0.0,
    guidance: float = 0.0,
    null_class: int = 0,
    generator: torch.Generator | None = None,
    x_T: torch.Tensor | None = None,
    clip: Box = None,
) -> torch.Tensor:
    """Draw len(y) samples shaped like `mask` (genes, 8); padded positions are exactly 0."""
    mask = mask.to(torch.float32)
    shape = (len(y), *mask.shape)
    x = x_T if x_T is not None else torch.randn(shape, generator=generator, device=mask.device)
    x = x * mask
    eps_model = guided(model, guidance, null_class)
    if sampler == "ddpm":
        for t in range(schedule.timesteps - 1, -1, -1):
            tt = torch.full((len(y),), t, device=x.device, dtype=torch.long)
            x, _ = ddpm_step(schedule, eps_model(x, tt, y).float(), t, x, mask, generator, clip)
        return x
    if sampler == "ddim":
        times = respaced(schedule.timesteps, steps or 50)
        for i, t in enumerate(times):
            t_prev = times[i + 1] if i + 1 < len(times) else -1
            tt = torch.full((len(y),), t, device=x.device, dtype=torch.long)
            x, _ = ddim_step(schedule, eps_model(x, tt, y).float(), t, t_prev, x, mask, eta, generator, clip)
        return x
    raise ValueError(f"unknown sampler {sampler!r}")
