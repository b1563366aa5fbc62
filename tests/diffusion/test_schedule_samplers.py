import numpy as np
import pytest
import torch

from genomesynth.diffusion.loss import masked_mse
from genomesynth.diffusion.samplers import ddim_step, ddpm_step, respaced, sample
from genomesynth.diffusion.schedule import Schedule


def test_linear_schedule_identities():
    s = Schedule.linear(1000)
    assert s.betas[0].item() == pytest.approx(1e-4) and s.betas[-1].item() == pytest.approx(0.02)
    torch.testing.assert_close(s.alpha_bar, torch.cumprod(1 - s.betas, 0))
    torch.testing.assert_close(s.alpha_bar_prev[1:], s.alpha_bar[:-1])
    assert s.alpha_bar_prev[0] == 1 and s.posterior_variance[0] == 0
    t = torch.arange(1, 1000)
    expected = (1 - s.alpha_bar[t - 1]) / (1 - s.alpha_bar[t]) * s.betas[t]
    torch.testing.assert_close(s.posterior_variance[1:], expected)
    assert torch.all(s.posterior_variance[1:] <= s.betas[1:])  # β̃_t ≤ β_t
    assert s.alpha_bar[-1] < 1e-4  # x_T is (almost) pure noise


@pytest.mark.parametrize("timesteps", [50, 200, 1000, 4000])
def test_linear_schedule_ends_in_noise_for_any_length(timesteps):
    assert Schedule.linear(timesteps).alpha_bar[-1] < 1e-3


def test_cosine_schedule_is_monotone_and_ends_in_noise():
    s = Schedule.cosine(1000)
    assert torch.all(s.alpha_bar[1:] < s.alpha_bar[:-1]) and s.alpha_bar[-1] < 1e-3
    assert torch.all(s.betas <= 0.999)


def test_forward_and_x0_estimate_invert_each_other():
    s = Schedule.linear(1000)
    x0, eps = torch.randn(5, 16, 8, dtype=torch.float64), torch.randn(5, 16, 8, dtype=torch.float64)
    t = torch.tensor([0, 10, 500, 900, 999])
    x_t = s.q_sample(x0, t, eps)
    torch.testing.assert_close(s.predict_x0(x_t, t, eps), x0)
    ab = s.alpha_bar[t][:, None, None]
    torch.testing.assert_close(x_t, ab.sqrt() * x0 + (1 - ab).sqrt() * eps)


def test_masked_loss_ignores_padding():
    mask = torch.zeros(16, 8, dtype=torch.bool)
    mask[:10, :3] = True
    target = torch.randn(4, 16, 8)
    prediction = target.clone()
    prediction[:, ~mask] = 1e6  # anything at padded positions
    assert masked_mse(prediction, target, mask).item() == 0
    prediction[:, 0, 0] += 1.0
    assert masked_mse(prediction, target, mask).item() == pytest.approx(4 / (4 * 30))


def _random_model(seed: int = 0):
    torch.manual_seed(seed)
    w = torch.randn(8, 8) * 0.1

    def model(x, t, y):
        return torch.tanh(x @ w + t[:, None, None] / 1000 + y[:, None, None])

    return model


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_sampled_padding_is_exactly_zero(sampler):
    mask = torch.zeros(16, 8, dtype=torch.bool)
    mask[:12, :5] = True
    s = Schedule.linear(100)
    x = sample(_random_model(), s, torch.tensor([0, 1, 0]), mask, sampler=sampler, steps=10,
               generator=torch.Generator().manual_seed(0))
    assert x.shape == (3, 16, 8)
    assert torch.all(x[:, ~mask] == 0) and torch.all(x[:, mask] != 0)


def test_ddim_with_all_steps_and_eta_1_is_ddpm():
    """DDIM at η = 1 over all T steps is the ancestral DDPM sampler: same noise, same path."""
    mask = torch.ones(8, 8, dtype=torch.bool)
    mask[6:] = False
    s = Schedule.linear(50)
    x_T = torch.randn(4, 8, 8, generator=torch.Generator().manual_seed(1))
    y = torch.zeros(4, dtype=torch.long)
    model = _random_model(2)
    a = sample(model, s, y, mask, sampler="ddpm", generator=torch.Generator().manual_seed(3), x_T=x_T)
    b = sample(model, s, y, mask, sampler="ddim", steps=50, eta=1.0, generator=torch.Generator().manual_seed(3), x_T=x_T)
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_one_ddim_step_at_eta_1_is_one_ddpm_step_at_every_t():
    """Same mean (the posterior mean) and same noise scale sqrt(β̃_t), so with the same draw the same x_{t-1}."""
    s = Schedule.linear(1000)
    mask = torch.ones(4, 8, dtype=torch.bool)
    x_t, eps = torch.randn(3, 4, 8), torch.randn(3, 4, 8)
    for t in (999, 500, 10, 1):
        ddpm, _ = ddpm_step(s, eps, t, x_t, mask, generator=torch.Generator().manual_seed(t))
        ddim, _ = ddim_step(s, eps, t, t - 1, x_t, mask, eta=1.0, generator=torch.Generator().manual_seed(t))
        torch.testing.assert_close(ddpm, ddim, atol=1e-4, rtol=1e-4)


def test_respacing():
    assert respaced(1000, 50)[0] == 999 and respaced(1000, 50)[-1] == 0 and len(respaced(1000, 50)) == 50
    assert respaced(1000, 1000) == list(range(999, -1, -1))
    assert respaced(10, 99) == list(range(9, -1, -1))


def test_guidance_zero_is_the_conditional_model():
    mask = torch.ones(4, 8, dtype=torch.bool)
    s = Schedule.linear(20)
    kw = dict(sampler="ddim", steps=5)
    y = torch.tensor([1, 1])
    a = sample(_random_model(), s, y, mask, guidance=0.0, null_class=2, generator=torch.Generator().manual_seed(0), **kw)
    b = sample(_random_model(), s, y, mask, guidance=2.0, null_class=2, generator=torch.Generator().manual_seed(0), **kw)
    c = sample(_random_model(), s, y, mask, guidance=0.0, null_class=2, generator=torch.Generator().manual_seed(0), **kw)
    torch.testing.assert_close(a, c)
    assert not torch.allclose(a, b)


def test_gaussian_residual_is_the_optimal_denoiser_for_standard_normal_data():
    """With F = 0, ε̂ = sqrt(1 − ᾱ_t)·x_t, the exact posterior mean for N(0, I) data: sampling returns N(0, I)."""
    from torch import nn

    from genomesynth.diffusion.precondition import PriorResidual
    from genomesynth.diffusion.prior import PopulationPrior

    class Zero(nn.Module):
        def forward(self, x, t, y):
            return torch.zeros_like(x)

    s = Schedule.linear(1000)
    mask = torch.ones(16, 8, dtype=torch.bool)
    model = PriorResidual(Zero(), s, PopulationPrior.isotropic(mask, 1))
    # DDIM's 50-step discretisation of the ODE shrinks the spread a little (as on any data)
    for sampler, tolerance in (("ddpm", 0.03), ("ddim", 0.06)):
        x = sample(model, s, torch.zeros(500, dtype=torch.long), mask, sampler=sampler, steps=50,
                   generator=torch.Generator().manual_seed(0))
        assert abs(x.mean().item()) < 0.02 and abs(x.std().item() - 1) < tolerance, (sampler, x.std())
