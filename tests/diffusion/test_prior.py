"""The population prior: its denoiser is the exact posterior mean, and sampling through it (F = 0)
reproduces a known covariance and known clusters."""

import numpy as np
import pytest
import torch

from genomesynth.diffusion.precondition import PriorResidual
from genomesynth.diffusion.prior import (PopulationPrior, PriorConfig, adaptive_shrinkage, max_axes, shrunk_variance,
                                         signal_rank)
from genomesynth.diffusion.samplers import sample
from genomesynth.diffusion.schedule import Schedule


class Zero(torch.nn.Module):
    def forward(self, x, t, y):
        return torch.zeros_like(x)


def _clusters(n=900, seed=0):
    """Three populations apart along two directions, with correlated within-population spread."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(6, 8, dtype=torch.bool)
    mask[5, 3:] = False  # a gene with three components
    centres = torch.randn(3, 6, 8, generator=g) * 2
    labels = torch.arange(n) % 3
    mixing = torch.randn(8, 8, generator=g) * 0.3
    x = centres[labels] + torch.randn(n, 6, 8, generator=g) @ mixing + 0.5 * torch.randn(n, 6, 8, generator=g)
    return x * mask, labels, mask


def _brute_force_eps(prior, x_t, t, y, schedule):
    """E[ε | x_t, y] of the mixture by dense linear algebra."""
    ab = schedule.alpha_bar[t].double()
    a, s = ab.sqrt(), (1 - ab).sqrt()
    real = prior.mask.reshape(-1)
    x = x_t.reshape(-1)[real].double()
    logits, solved = [], []
    for k in range(prior.components):
        u = (prior.basis @ prior.rotation[k]).double()
        sigma = u @ torch.diag(prior.lam[k].double()) @ u.T + torch.diag(prior.diag.double())
        cov = a**2 * sigma[real][:, real] + s**2 * torch.eye(int(real.sum()), dtype=torch.float64)
        v = x - a * (prior.mean[k] + prior.shift[y])[real].double()
        w = torch.linalg.solve(cov, v)
        logits.append(prior.log_weights[y, k].double() - 0.5 * (v @ w + torch.logdet(cov)))
        solved.append(w)
    r = torch.softmax(torch.stack(logits), 0)
    return s * sum(r[k] * solved[k] for k in range(len(solved)))


@pytest.mark.parametrize("shrinkage", [None, 64.0])
def test_eps_is_the_exact_posterior_mean_of_the_mixture(shrinkage):
    x, labels, mask = _clusters()
    prior = PopulationPrior.fit(x, mask, labels, 3, PriorConfig(max_rank=12, population_axes=4, leakage_budget=1,
                                                                component_shrinkage=shrinkage))
    assert prior.components == 3 and prior.rank == 12
    schedule = Schedule.linear(1000)
    g = torch.Generator().manual_seed(1)
    x_t = torch.randn(6, 6, 8, generator=g) * mask
    t, y = torch.tensor([0, 10, 200, 500, 900, 999]), torch.tensor([0, 1, 2, 3, 0, 3])
    eps = prior.eps(x_t, t, y, schedule)
    for i in range(6):
        expected = _brute_force_eps(prior, x_t[i], t[i], y[i], schedule)
        torch.testing.assert_close(eps[i].reshape(-1)[mask.reshape(-1)].double(), expected, atol=1e-5, rtol=1e-4)
    assert torch.all(eps[:, ~mask] == 0)


def test_isotropic_prior_is_the_gaussian_residual():
    mask = torch.ones(4, 8, dtype=torch.bool)
    prior = PopulationPrior.isotropic(mask, 2)
    schedule = Schedule.linear(1000)
    x_t, t = torch.randn(3, 4, 8), torch.tensor([5, 400, 999])
    expected = (1 - schedule.alpha_bar[t]).sqrt().float()[:, None, None] * x_t
    torch.testing.assert_close(prior.eps(x_t, t, torch.tensor([0, 1, 2]), schedule), expected)


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_untrained_model_samples_the_known_covariance(sampler):
    """Gaussian data of known covariance (4 strong axes + diagonal noise): with F = 0 the engine
    draws that covariance — the structure is there from step 0, before any training."""
    g = torch.Generator().manual_seed(0)
    n, genes = 4000, 8
    mask = torch.ones(genes, 8, dtype=torch.bool)
    p = genes * 8
    axes = torch.linalg.qr(torch.randn(p, 4, generator=g)).Q
    spikes = torch.tensor([12.0, 8.0, 5.0, 3.0])
    cov = axes @ torch.diag(spikes) @ axes.T + 0.5 * torch.eye(p)
    x = (torch.randn(n, p, generator=g) @ torch.linalg.cholesky(cov).T).reshape(n, genes, 8)
    prior = PopulationPrior.fit(x, mask, torch.zeros(n, dtype=torch.long), 0,
                                PriorConfig(max_components=1, leakage_budget=1))
    assert prior.rank >= 4
    schedule = Schedule.linear(1000)
    model = PriorResidual(Zero(), schedule, prior)
    draws = sample(model, schedule, torch.zeros(2000, dtype=torch.long), mask, sampler=sampler, steps=100,
                   generator=torch.Generator().manual_seed(1)).reshape(2000, p)
    along = (draws @ axes).var(0)
    torch.testing.assert_close(along, spikes + 0.5, rtol=0.12, atol=0)  # the variance along each true axis
    off = draws - (draws @ axes) @ axes.T
    assert abs(off.var(0).mean().item() - 0.5) < 0.06  # and the noise floor


def test_clusters_and_label_mix_are_kept():
    x, labels, mask = _clusters()
    prior = PopulationPrior.fit(x, mask, labels, 3, PriorConfig(population_axes=4, leakage_budget=1))
    draws = prior.sample(torch.full((600,), 1), torch.Generator().manual_seed(0))  # everyone label 1
    real = x[labels == 1]
    # label 1's people are one cluster: the draws sit around its centre, not the others'
    centres = torch.stack([x[labels == c].mean(0) for c in range(3)]).reshape(3, -1)
    nearest = torch.cdist(draws.reshape(600, -1), centres).argmin(1)
    assert (nearest == 1).float().mean() > 0.95
    torch.testing.assert_close(draws.var(0)[mask].mean(), real.var(0)[mask].mean(), rtol=0.15, atol=0)


def _two_spreads(n=1200, seed=0):
    """Two populations apart along one direction; along another, population 0 varies 16 times as much."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(6, 8, dtype=torch.bool)
    labels = torch.arange(n) % 2
    x = torch.randn(n, 48, generator=g) * 0.5**0.5
    x[:, 0] += torch.where(labels == 0, -4.0, 4.0)
    x[:, 1] += torch.randn(n, generator=g) * torch.where(labels == 0, 2.0, 0.5)
    return x.reshape(n, 6, 8), labels, mask


@pytest.mark.parametrize("shrinkage", [None, 0.0])
def test_components_own_covariance_beyond_the_population_axes(shrinkage):
    """With component_shrinkage each population keeps its own spread along every axis; by default
    the axes beyond `population_axes` are shared (both populations get the pooled spread)."""
    x, labels, mask = _two_spreads()
    config = PriorConfig(population_axes=1, leakage_budget=1, component_shrinkage=shrinkage)
    prior = PopulationPrior.fit(x, mask, labels, 2, config)
    assert prior.components == 2 and prior.rank >= 2
    spread = [prior.sample(torch.full((2000,), c), torch.Generator().manual_seed(c)).reshape(2000, -1)[:, 1].var().item()
              for c in (0, 1)]
    if shrinkage is None:
        assert spread[0] / spread[1] < 1.5  # pooled: about (4.5 + 0.75) / 2 each
    else:
        # population 0 its own 4.5; population 1 near its 0.75, but never below the shared residual (≈ 1)
        assert abs(spread[0] - 4.5) < 0.6 and spread[1] < 1.2 and spread[0] / spread[1] > 3


def test_rank_stops_at_the_noise_edge_and_the_leakage_budget():
    rng = np.random.default_rng(0)
    n, p = 500, 200
    x = rng.normal(size=(n, p)) + rng.normal(size=(n, 3)) @ rng.normal(size=(3, p)) * 1.5
    ell = np.linalg.svd(x - x.mean(0), compute_uv=False) ** 2 / (n - 1)
    rank, sigma2 = signal_rank(ell[:50], float(ell.sum()), n, p, 50)
    assert rank == 3 and abs(sigma2 - 1) < 0.1
    assert max_axes(500, 2000, PriorConfig()) == 6  # 500² / (20 · 2000)
    # a pure-noise axis is shrunk to about the noise level, a strong spike hardly at all
    shrunk = shrunk_variance(np.array([(1 + np.sqrt(p / n)) ** 2 * 1.01, 50.0]), 1.0, p / n)
    assert shrunk[0] < 1.3 and shrunk[1] > 49


def test_a_checkpointed_prior_rebuilds_exactly():
    x, labels, mask = _clusters()
    prior = PopulationPrior.fit(x, mask, labels, 3)
    again = PopulationPrior.from_state({k: v.clone() for k, v in prior.state_dict().items()})
    schedule = Schedule.cosine(200)
    x_t, t, y = torch.randn(4, 6, 8) * mask, torch.tensor([0, 50, 120, 199]), torch.tensor([0, 1, 2, 3])
    torch.testing.assert_close(prior.eps(x_t, t, y, schedule), again.eps(x_t, t, y, schedule))


def test_the_prior_is_exact_under_bf16_autocast_whichever_call_builds_its_table():
    """On a GPU the backbone runs under bf16 autocast and the prior's ε is called inside it. Its per-t table, built by
    the first call and cached for the run, must not be computed in bf16 (it was: a draw then depended on whether a
    validation pass or an autocast step came first). CPU autocast rounds matrix products to bf16 the same way."""
    x, labels, mask = _clusters()
    state = PopulationPrior.fit(x, mask, labels, 3).state_dict()
    schedule = Schedule.cosine(200)
    x_t, t, y = torch.randn(4, 6, 8) * mask, torch.tensor([0, 50, 120, 199]), torch.tensor([0, 1, 2, 3])
    exact = PopulationPrior.from_state(state).eps(x_t, t, y, schedule)
    first_in_bf16 = PopulationPrior.from_state(state)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under = first_in_bf16.eps(x_t, t, y, schedule)
    assert under.dtype == torch.float32
    torch.testing.assert_close(under, exact, rtol=0, atol=0)
    torch.testing.assert_close(first_in_bf16.eps(x_t, t, y, schedule), exact, rtol=0, atol=0)


def test_reference_axes_come_from_the_reference_panel_not_the_training_people():
    """With a reference panel the prior's axes are the panel's: a direction only the training people
    vary along is not an axis (it stays in the per-position residual), the shared directions are, and
    along them the prior has the training people's own variance, unshrunk; each position keeps the
    training people's total variance."""
    g = torch.Generator().manual_seed(0)
    mask = torch.ones(6, 8, dtype=torch.bool)
    p = int(mask.sum())
    d = torch.linalg.qr(torch.randn(p, 3, generator=g))[0].T  # three orthonormal directions
    def people(n, sds):
        return (torch.randn(n, 3, generator=g) * torch.tensor(sds)) @ d + 0.5 * torch.randn(n, p, generator=g)
    cohort = people(800, [3.0, 2.5, 3.0]).reshape(800, 6, 8)  # the third direction: the cohort's own
    panel = people(600, [3.0, 2.5, 0.0]).reshape(600, 6, 8)
    none = torch.zeros(800, dtype=torch.long)
    config = PriorConfig(max_rank=8, people_per_axis=1)
    own = PopulationPrior.fit(cohort, mask, none, 0, config)
    ref = PopulationPrior.fit(cohort, mask, none, 0, config, reference=panel)
    captured = lambda prior, k: float((prior.basis.T @ d[k]).norm())  # share of direction k in the axes
    assert captured(own, 2) > 0.95 and captured(ref, 2) < 0.3
    assert captured(ref, 0) > 0.95 and captured(ref, 1) > 0.95

    draws = ref.sample(torch.zeros(20000, dtype=torch.long), torch.Generator().manual_seed(1)).reshape(20000, p)
    flat = cohort.reshape(800, p)
    along = lambda x, k: float((x @ d[k]).var())
    assert along(draws, 0) == pytest.approx(along(flat, 0), rel=0.1)
    assert along(draws, 2) < 0.3 * along(flat, 2)
    assert torch.allclose(draws.var(0), flat.var(0), rtol=0.15)

    # train's coverage reading: a panel with all three directions holds what the cohort's own axes hold;
    # this one, without the cohort's third, clearly less (its further axes, noise, catch a little of it)
    from genomesynth.train import panel_coverage

    full = PopulationPrior.fit(cohort, mask, none, 0, config, reference=people(600, [3.0, 2.5, 3.0]).reshape(600, 6, 8))
    assert panel_coverage(full, cohort, 8, 0) > 0.95 and panel_coverage(ref, cohort, 8, 0) < 0.9


def test_adaptive_shrinkage_keeps_strong_effects_and_zeroes_noise():
    rng = np.random.default_rng(0)
    se = rng.uniform(0.5, 1.5, 2000)
    null = rng.normal(0, se)
    assert np.abs(adaptive_shrinkage(null, se)).max() < 0.2 * np.abs(null).max()  # noise alone: next to nothing left
    theta = np.zeros(2000)
    theta[:20] = rng.choice([-1, 1], 20) * 8 * se[:20]
    shrunk = adaptive_shrinkage(theta + null, se)
    assert np.all(np.abs(shrunk[:20] - theta[:20]) < 3 * se[:20])  # eight-se effects stay, near their size
    assert np.sqrt(np.mean(shrunk[20:] ** 2)) < 0.1 * np.sqrt(np.mean(null[20:] ** 2))  # the rest go toward zero


def _case_control(n=1200, seed=0):
    """Two populations; within both, cases (label 1) differ from controls at four positions of gene 2."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(6, 8, dtype=torch.bool)
    population = torch.arange(n) % 2
    labels = (torch.rand(n, generator=g) < 0.3 + 0.2 * population).long()  # cases more common in population 1
    x = torch.randn(n, 6, 8, generator=g)
    x[..., 0, 0] += torch.where(population == 0, -3.0, 3.0)
    x[:, 2, :4] += 0.8 * labels[:, None]
    return x, labels, mask


def test_a_labels_effect_beyond_the_populations_is_in_the_prior():
    """The prior draws cases and controls of the same population apart where they differ (gene 2, components
    0–3) and nowhere else; without label effects only the populations' label shares tell them apart."""
    x, labels, mask = _case_control()
    for effects in (True, False):
        prior = PopulationPrior.fit(x, mask, labels, 2, PriorConfig(population_axes=1, leakage_budget=1,
                                                                    label_effects=effects))
        draws = [prior.sample(torch.full((4000,), c), torch.Generator().manual_seed(c)) for c in (0, 1)]
        gap = draws[1].mean(0) - draws[0].mean(0)
        assert gap[0, 0] > 0.5  # cases are more often of population 1: the mixture's label shares carry that
        if effects:
            assert torch.all((gap[2, :4] - 0.8).abs() < 0.2)
            elsewhere = torch.ones(6, 8, dtype=torch.bool)
            elsewhere[0, 0] = elsewhere[2, :4] = False
            assert gap[elsewhere].abs().max() < 0.2
            assert prior.describe()["label_shift_rms"] > 0
        else:
            assert gap[2, :4].abs().max() < 0.2
    null = PopulationPrior.fit(x, mask, torch.randint(0, 2, (len(x),), generator=torch.Generator().manual_seed(3)), 2,
                               PriorConfig(population_axes=1, leakage_budget=1))
    assert null.shift.abs().max() < 0.05  # a label unrelated to the genomes moves nothing


def test_a_prior_saved_without_label_effects_rebuilds_with_none():
    x, labels, mask = _clusters()
    prior = PopulationPrior.fit(x, mask, labels, 3)
    state = {k: v.clone() for k, v in prior.state_dict().items() if k != "shift"}
    old = PopulationPrior.from_state(state)
    assert old.shift.shape == prior.shift.shape and not old.shift.any()


def test_a_label_that_ancestry_predicts_is_drawn_at_its_own_means_not_past_them():
    """Labels that follow the populations (90 %) and differ beyond the mixture's one axis (gene 3): the draws of
    each label sit at that label's real means there. A shift estimated at equal ancestry would be the label's
    difference off the axis inflated by 1 / (1 − R²) (here about 2.8) and draw each label past its own people."""
    g = torch.Generator().manual_seed(0)
    n = 2000
    mask = torch.ones(6, 8, dtype=torch.bool)
    population = torch.arange(n) % 2
    labels = torch.where(torch.rand(n, generator=g) < 0.9, population, 1 - population)
    x = torch.randn(n, 6, 8, generator=g)
    x[..., 0, 0] += torch.where(population == 0, -3.0, 3.0)
    x[:, 3, :4] += 0.8 * labels[:, None]
    prior = PopulationPrior.fit(x, mask, labels, 2, PriorConfig(population_axes=1, leakage_budget=1))
    for c in (0, 1):
        drawn = prior.sample(torch.full((6000,), c), torch.Generator().manual_seed(c)).mean(0)[3, :4]
        real = x[labels == c].mean(0)[3, :4]
        assert torch.all((drawn - real).abs() < 0.12), (c, drawn, real)
