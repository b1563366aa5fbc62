"""A population prior: a Gaussian mixture with shared low-rank structure, fitted to the training data,
and its exact denoiser at every noise level.

Why (docs/RESULTS.md, "Where the structure went"): a denoiser that starts from independent N(0, 1)
positions must learn every covariance between genes from a few hundred people, and the backbones
that can (dense global layers) learn the people instead. Population structure — clusters of
ancestry, clines between them — is a handful of directions shared by many people. This prior holds
exactly that much and no more:

    p(x0 | y) = Σ_k π_{k|y} N(μ_k + δ_y, Σ_k),    Σ_k = U_k Λ_k U_kᵀ + D,   U_k = V R_k

- V (P × q): the leading principal axes of the training people, as many as stand above the
  Marchenko–Pastur edge of the bulk (signal, not the fitting noise of n people in P dimensions)
  and no more than the membership budget `max_axes` allows; each axis shrunk to the variance a
  *new* person has along it (Donoho–Gavish–Johnstone's Frobenius-optimal shrinker): sample
  eigenvalues overstate it by what the axes learned of the training people themselves, and
  drawing with it is how a Gaussian reference leaks. Or, given a reference panel (people outside the
  cohort in its codec), the panel's leading axes, along which the training people then give only
  their variance: no participant shapes an axis (docs/RESULTS.md, finding 18);
- the populations: a mixture (sklearn GaussianMixture, K by BIC) on the first `population_axes`
  scores gives each component its mean (which moves only along those axes) and its covariance
  there (R_k, Λ_k); the further axes (LD beyond the populations) are shared by the components —
  or, with `component_shrinkage` ν, each component's covariance over all q axes is its own
  members', shrunk toward the pooled within-component covariance with the weight of ν people
  (populations differ in their LD too; more realism, more privacy loss: docs/RESULTS.md, finding 10);
- D: one residual variance per position, shared, so that each position's total variance is the
  data's (the axes' variances net of the residual's share along them, as in probabilistic PCA);
- π_{k|y}: the label's share of each component (the whole cohort's for the null class);
- δ_y: the label's own shift at each position beyond the populations (a case/control difference at
  the genes behind a phenotype): its mean off the population axes against the other labels', shrunk by
  empirical Bayes (adaptive shrinkage: a mixture of zero-centred normals fitted to all positions'
  estimates), so that the few real effects stay and the many noise-sized ones — a class mean of a few
  hundred people over thousands of positions, which identifies them — go to zero (docs/RESULTS.md,
  finding 20). Every component mean of label y moves by δ_y; the null class by none.

Under x_t = a·x0 + s·ε (a = sqrt(ᾱ_t), s = sqrt(1 − ᾱ_t)), x_t | k ~ N(a μ_k, C_k) with
C_k = a² Σ_k + s² I, so the optimal ε-prediction is closed form:

    E[ε | x_t, y] = s · Σ_k r_k(x_t) · C_k⁻¹ (x_t − a μ_k),   r_k ∝ π_{k|y} N(x_t; a μ_k, C_k)

computed with Woodbury's identity in O(P·q) per person; the small q × q matrices are precomputed
for every t. The label's shift δ_y moves every mean alike, so it is the same computation at x_t − a δ_y.
With K = 1, μ = 0, Σ = I and no shift it is the plain `sqrt(1 − ᾱ_t)·x_t`.
The engine stays ignorant of genes: the prior sees (genes, 8) tensors, a mask and a class.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from genomesynth.diffusion.schedule import Schedule


@dataclass
class PriorConfig:
    max_rank: int = 128  # principal axes kept at most (fewer when fewer are above the noise edge)
    people_per_axis: int = 16  # and at most one axis per this many people,
    leakage_budget: float = 20.0  # and at most n² / (this · dimensions) axes (docs/RESULTS.md)
    population_axes: int = 8  # the leading axes the mixture is fitted on; the rest are shared
    max_components: int = 8  # mixture components tried (1 … this), chosen by BIC
    max_people: int = 4000  # people the prior is fitted on (a seeded subsample beyond this)
    min_component_share: float = 0.02  # a component must hold this share of the people to be kept
    component_shrinkage: float | None = None
    """None (the default): a component's own covariance on the population axes only, the further axes
    shared. ν: each component's own covariance over all axes, shrunk toward the pooled within-component
    covariance with the weight of ν people — more realism, more privacy loss (docs/RESULTS.md, finding 10)."""
    label_effects: bool = True
    """Each label's shift beyond the populations, shrunk by empirical Bayes (δ_y above; False: none)."""
    seed: int = 0


def max_axes(n: int, p: int, config: PriorConfig) -> int:
    """The most principal axes a prior fitted on n people in p dimensions may keep. Every fitted
    axis moves the synthetic people a little toward the people it was fitted on; how much a
    member then stands out from the spread of distances grows like p / n² per axis (the same
    reason a mean of n people in p dimensions sits nearer its own people by p / n)."""
    return max(0, min(config.max_rank, n // config.people_per_axis, int(n * n / (config.leakage_budget * p)), n - 2))


def signal_rank(top: np.ndarray, total: float, n: int, p: int, max_rank: int) -> tuple[int, float]:
    """How many of the leading eigenvalues `top` of a sample covariance (n people, p dims, trace
    `total`) exceed the Marchenko–Pastur bulk edge σ²(1 + sqrt(p/n))², with σ² the mean of the
    eigenvalues below that rank (the isotropic-noise level); returns (rank, σ²)."""
    gamma = p / n
    rank = 0
    sigma2 = total / p
    for _ in range(20):  # fixed point: σ² from the bulk, the rank from σ²
        edge = sigma2 * (1 + math.sqrt(gamma)) ** 2
        new_rank = int(min(max_rank, np.sum(top > edge)))
        sigma2 = max((total - float(top[:new_rank].sum())) / max(p - new_rank, 1), 1e-12)
        if new_rank == rank:
            break
        rank = new_rank
    return rank, sigma2


def shrunk_variance(ell: np.ndarray, sigma2: float, gamma: float) -> np.ndarray:
    """The variance a new person has along a sample principal axis with sample eigenvalue ell
    (spiked model: the population spike λ, the cosine² c² between sample and population axis,
    and η = λ c² + σ² (1 − c²), Donoho, Gavish & Johnstone 2018, Frobenius loss)."""
    b = ell + sigma2 - gamma * sigma2
    lam = (b + np.sqrt(np.maximum(b**2 - 4 * ell * sigma2, 0))) / 2
    excess = np.maximum(lam - sigma2, 1e-12)
    c2 = np.clip((1 - gamma * sigma2**2 / excess**2) / (1 + gamma * sigma2 / excess), 0, 1)
    return np.minimum(lam * c2 + sigma2 * (1 - c2), ell)


def leading_axes(centred: torch.Tensor, k: int, seed: int) -> tuple[np.ndarray, torch.Tensor]:
    """The variances (k + 8 at most, float64) and axes (P, ·) of the leading principal axes of `centred` (n, P) by a
    randomised SVD seeded with `seed` — never the n × P one; the global random generator is left untouched."""
    n, p = centred.shape
    with torch.random.fork_rng():  # svd_lowrank draws from the global generator: keep it untouched
        torch.manual_seed(seed)
        _, sv, v = torch.svd_lowrank(centred, q=min(k + 8, n - 1, p), niter=6)
    return (sv.double() ** 2 / max(n - 1, 1)).numpy(), v


Axes = tuple[torch.Tensor, np.ndarray, np.ndarray]
"""(basis (P_real, q), the training people's variance along each axis, the variance a new person has along it)."""


def _own_axes(xc: torch.Tensor, data_var: torch.Tensor, config: PriorConfig) -> Axes:
    """The training people's own leading principal axes (P_real, q), their sample variances, and the
    variance a new person has along each (shrunk): as many as stand above the noise edge and the
    membership budget allows."""
    n, p = xc.shape
    limit = max_axes(n, p, config)
    if limit > 0:
        ell, v = leading_axes(xc, limit, config.seed)
    else:
        ell, v = np.zeros(0), torch.zeros(p, 0)
    q, sigma2 = signal_rank(ell, float(data_var.sum()), n, p, limit)
    return v[:, :q].double(), ell[:q], shrunk_variance(ell[:q], sigma2, p / n)


def _reference_axes(xc: torch.Tensor, reference: torch.Tensor, config: PriorConfig) -> Axes:
    """The reference people's leading principal axes — as many as stand above their own noise edge,
    one per `people_per_axis` of them, `max_rank` at most; no membership budget, since no training
    person shaped them — and the training people's variance along each. Axes the training people
    were not fitted to need no shrinking: their variance along a fixed axis is a new person's too."""
    m, p = reference.shape
    rc = reference - reference.mean(0)
    limit = max(0, min(config.max_rank, m // config.people_per_axis, m - 2))
    if limit == 0:
        return torch.zeros(p, 0, dtype=torch.float64), np.zeros(0), np.zeros(0)
    ref_ell, v = leading_axes(rc, limit, config.seed)
    q, _ = signal_rank(ref_ell, float(rc.pow(2).sum()) / max(m - 1, 1), m, p, limit)
    basis = v[:, :q].double()
    ell = ((xc.double() @ basis) ** 2).sum(0).numpy() / max(len(xc) - 1, 1)
    return basis, ell, ell.copy()


def _mixture(scores: np.ndarray, config: PriorConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian mixture on the population axes, K by BIC: (responsibilities (n, K), means, covariances)."""
    from sklearn.mixture import GaussianMixture

    n, q = scores.shape
    if q == 0:
        return np.ones((n, 1)), np.zeros((1, 0)), np.zeros((1, 0, 0))
    best = None
    reg = 1e-4 * float(scores.var(0).max())
    for k in range(1, config.max_components + 1):
        if k * q * 5 > n:  # too few people a component to estimate its covariance
            break
        gmm = GaussianMixture(k, covariance_type="full", reg_covar=reg, n_init=2, random_state=config.seed).fit(scores)
        if k > 1 and gmm.weights_.min() < config.min_component_share:
            continue
        bic = gmm.bic(scores)
        if best is None or bic < best[0]:
            best = (bic, gmm)
    if best is None:
        return np.ones((n, 1)), scores.mean(0, keepdims=True), np.cov(scores.T, ddof=1).reshape(1, q, q)
    gmm = best[1]
    return gmm.predict_proba(scores), gmm.means_, gmm.covariances_


def adaptive_shrinkage(b: np.ndarray, se: np.ndarray, iters: int = 200) -> np.ndarray:
    """Posterior means of effects θ_j from estimates b_j ~ N(θ_j, se_j²), under θ_j ~ Σ_k w_k N(0, σ_k²) with a
    grid of σ_k (0 included: no effect) whose weights w are fitted to all the estimates by EM (Stephens 2017's
    adaptive shrinkage, normal mixture): an estimate the size of its noise goes to about zero, a strong one
    stays nearly whole, and how many are which is learned from the data."""
    b, se = np.asarray(b, np.float64), np.maximum(np.asarray(se, np.float64), 1e-12)
    top = float(np.sqrt(max(np.max(b**2 - se**2), 0.0)))
    if top <= 0:
        return np.zeros_like(b)
    grid = np.r_[0.0, np.geomspace(min(se.min() / 10, top / 2), 2 * top, 20)]
    var = grid[None, :] ** 2 + se[:, None] ** 2  # (P, K) marginal variance of b under each σ_k
    log_lik = -0.5 * (b[:, None] ** 2 / var + np.log(var))
    log_lik -= log_lik.max(1, keepdims=True)
    lik = np.exp(log_lik)
    w = np.full(len(grid), 1 / len(grid))
    for _ in range(iters):
        post = lik * w
        post /= post.sum(1, keepdims=True)
        w = post.mean(0) + 1e-12
        w /= w.sum()
    post = lik * w
    post /= post.sum(1, keepdims=True)
    return (post * (grid[None, :] ** 2 / var)).sum(1) * b


def _blocks(x: torch.Tensor, rows: torch.Tensor, size: int = 256) -> Iterator[torch.Tensor]:
    """The rows of x picked by the boolean `rows`, `size` at a time, as float64 copies."""
    for block in torch.nonzero(rows).squeeze(1).split(size):
        yield x[block].double()


def _component_covariances(scores: torch.Tensor, resp: torch.Tensor, nk: torch.Tensor, weights: torch.Tensor,
                           nu: float) -> torch.Tensor:
    """(K, q, q): each mixture component's own covariance of the axis scores (n, q), from the people's
    responsibilities (n, K), the components' sizes nk and weights, shrunk toward the pooled one with the weight
    of `nu` people (`PriorConfig.component_shrinkage`; docs/RESULTS.md, finding 10)."""
    centres = (resp.T @ scores) / nk[:, None]  # (K, q)
    own = torch.stack([(resp[:, k, None] * (scores - centres[k])).T @ (scores - centres[k]) / nk[k]
                       for k in range(resp.shape[1])])  # (K, q, q)
    pooled = (weights[:, None, None] * own).sum(0)
    return (nk[:, None, None] * own + nu * pooled) / (nk[:, None, None] + nu)


def _within_and_residual(basis: torch.Tensor, data_var: torch.Tensor, covs_pop: torch.Tensor, shrunk_ld: torch.Tensor,
                         full_covs: torch.Tensor | None, weights: torch.Tensor, between: torch.Tensor,
                         label_spread: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each component's rotation and variances along the axes (K, q, q), (K, q), and the shared residual variance
    per position (P,). The axes' variances include the residual's share along them (as in probabilistic PCA), so
    that share is taken off them, and the residual is set so that each position's total variance is the data's
    (`data_var`): a fixed point, four rounds. Population axes (the first `covs_pop.shape[-1]`) keep each
    component's covariance; the further (LD) axes are shared, with their shrunk variances — or, with `full_covs`,
    every axis its component's own."""
    k_count, q_pop, q = len(weights), covs_pop.shape[-1], basis.shape[1]
    floor = 1e-3 * float(data_var.mean())
    diag = data_var.clone()
    for _ in range(4):
        along = basis.T @ (diag[:, None] * basis)  # VᵀDV (q, q)
        if full_covs is not None:
            lam, rot = torch.linalg.eigh(full_covs - along)  # (K, q), (K, q, q)
            lam = lam.clamp(min=floor)
        else:
            lam_pop, rot_pop = torch.linalg.eigh(covs_pop - along[:q_pop, :q_pop])  # (K, q_pop), (K, q_pop, q_pop)
            rot = torch.zeros(k_count, q, q, dtype=torch.float64)
            rot[:, :q_pop, :q_pop] = rot_pop
            rot[:, q_pop:, q_pop:] = torch.eye(q - q_pop, dtype=torch.float64)
            lam_ld = (shrunk_ld - along.diagonal()[q_pop:]).expand(k_count, -1)
            lam = torch.cat([lam_pop, lam_ld], 1).clamp(min=floor)
        within = torch.einsum("kpj,kj->kp", torch.einsum("pq,kqj->kpj", basis, rot) ** 2, lam)
        explained = (weights[:, None] * (within + between)).sum(0) + label_spread
        diag = (data_var - explained).clamp(min=0.05 * data_var).clamp(min=floor)
    return rot, lam, diag


def _label_log_weights(labels: torch.Tensor, resp: torch.Tensor, n_classes: int) -> torch.Tensor:
    """(n_classes + 1, K): log mixture weights per label (the last row: no label, every person), from the people's
    responsibilities; a label that never met a component keeps a small share of it (half a person)."""
    counts = torch.zeros(n_classes + 1, resp.shape[1], dtype=torch.float64)
    for c in range(n_classes):
        mine = labels == c
        if mine.any():
            counts[c] = resp[mine.numpy()].sum(0)
    counts[n_classes] = resp.sum(0)
    counts = counts + 0.5
    return (counts / counts.sum(1, keepdim=True)).log()


def label_shifts(x: torch.Tensor, labels: torch.Tensor, n_classes: int, axes: torch.Tensor) -> torch.Tensor:
    """δ_y (n_classes + 1, P), float64: each label's mean shift beyond the population axes, shrunk per position.

    With r the labelled people's latents off the population `axes` (P, q_pop) — along those, the mixture's own
    label shares carry a label — each label's mean of r against the other labels' is compared at every position,
    with its standard error from the pooled within-label variance of r; `adaptive_shrinkage` keeps what stands
    out of the noise, and δ_c is that difference times the share of the other labels (the label's distance from
    the labelled people's mean). It is the label's marginal shift, not its coefficient at equal ancestry: where
    ancestry predicts the label (a super-population), that coefficient is the shift inflated by 1 / (1 − R²),
    and the prior would draw each label past its own people. The null class (last row) has none. Never forms
    r or a copy of x (n × P): blocks of one label's people at a time, their sums and (P, q) products."""
    p = x.shape[1]
    out = torch.zeros(n_classes + 1, p, dtype=torch.float64)
    sizes = torch.bincount(labels[labels < n_classes], minlength=n_classes)  # people per label
    present = [c for c in range(n_classes) if int(sizes[c]) >= 2]
    count = int(sizes.sum())
    if len(present) < 2 or count <= len(present):
        return out
    v = axes.double()
    q = v.shape[1]
    centre = sum(rows.sum(0) for rows in _blocks(x, labels < n_classes)) / count
    mean_r, within = {}, torch.zeros(p, dtype=torch.float64)
    for c in present:
        total, squares = torch.zeros(p, dtype=torch.float64), torch.zeros(p, dtype=torch.float64)
        cross, gram = torch.zeros(p, q, dtype=torch.float64), torch.zeros(q, q, dtype=torch.float64)
        for rows in _blocks(x, labels == c):
            rows -= centre
            scores = rows @ v  # (block, q)
            total += rows.sum(0)
            squares += rows.pow(2).sum(0)
            cross += rows.T @ scores
            gram += scores.T @ scores
        n_c = int(sizes[c])
        m = total / n_c
        mean_r[c] = m - (m @ v) @ v.T
        r_squares = squares - 2 * (cross * v).sum(1) + ((v @ gram) * v).sum(1)  # Σ over the label's people of r²
        within += r_squares - n_c * mean_r[c] ** 2  # … of (r − its mean)²
    variance = (within / (count - len(present))).clamp(min=1e-12)
    shares = sizes.double() / count
    for c in present:
        n_c = float(sizes[c])
        difference = mean_r[c] * count / (count - n_c)  # its mean against the other labelled people's (Σ r = 0)
        se = (variance * (1 / n_c + 1 / (count - n_c))).sqrt()
        out[c] = torch.as_tensor(adaptive_shrinkage(difference.numpy(), se.numpy())) * (1 - shares[c])
    out[:n_classes] -= (shares[:, None] * out[:n_classes]).sum(0)
    out[:n_classes] -= (out[:n_classes] @ v) @ v.T
    return out


class PopulationPrior(nn.Module):
    """The mixture above as buffers (flattened positions P = genes·8); `eps` is its exact ε-predictor."""

    def __init__(self, mean: torch.Tensor, basis: torch.Tensor, rotation: torch.Tensor, lam: torch.Tensor,
                 diag: torch.Tensor, log_weights: torch.Tensor, mask: torch.Tensor,
                 shift: torch.Tensor | None = None) -> None:
        super().__init__()
        self.register_buffer("mean", mean.float())  # (K, P)
        self.register_buffer("basis", basis.float())  # (P, q), orthonormal columns
        self.register_buffer("rotation", rotation.float())  # (K, q, q): U_k = basis @ rotation[k]
        self.register_buffer("lam", lam.float())  # (K, q) eigenvalues of Σ_k in its U_k
        self.register_buffer("diag", diag.float())  # (P,) residual variance, shared (1 at padding)
        self.register_buffer("log_weights", log_weights.float())  # (classes + 1, K); last row: null
        self.register_buffer("mask", mask.bool())  # (genes, 8)
        if shift is None:  # no label effects (priors saved before they existed)
            shift = torch.zeros(log_weights.shape[0], mean.shape[1])
        self.register_buffer("shift", shift.float())  # (classes + 1, P): δ_y; last row (null): 0
        self._tables: dict[tuple[str, int, float], dict[str, torch.Tensor]] = {}

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def isotropic(cls, mask: torch.Tensor, n_classes: int) -> PopulationPrior:
        """N(0, I): the denoiser is sqrt(1 − ᾱ_t)·x_t (the Gaussian residual of precondition.py)."""
        p = mask.numel()
        return cls(torch.zeros(1, p), torch.zeros(p, 0), torch.zeros(1, 0, 0), torch.zeros(1, 0),
                   torch.ones(p), torch.zeros(n_classes + 1, 1), mask)

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor]) -> PopulationPrior:
        """Rebuild from `state_dict()` (as saved in a checkpoint)."""
        return cls(**{k: state[k] for k in ("mean", "basis", "rotation", "lam", "diag", "log_weights", "mask")},
                   shift=state.get("shift"))

    @classmethod
    def fit(cls, x0: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor, n_classes: int,
            config: PriorConfig | None = None, reference: torch.Tensor | None = None) -> PopulationPrior:
        """Fit to standardised training data x0 (n, genes, 8); labels (n,) in 0…n_classes (n_classes = none).

        `reference` (m, genes, 8), standardised alike: people outside the cohort (a public panel in the
        cohort's codec) whose principal axes the prior takes instead of the training people's own — the
        training people then give only their spread along those axes, their mixture and each position's
        mean and variance (docs/RESULTS.md, finding 18)."""
        config = config or PriorConfig()
        rng = np.random.default_rng(config.seed)
        if len(x0) > config.max_people:
            keep = np.sort(rng.choice(len(x0), config.max_people, replace=False))
            x0, labels = x0[keep], labels[keep]
        flat_mask = mask.reshape(-1).bool()
        x = x0.reshape(len(x0), -1)[:, flat_mask].float()  # (n, P_real)
        n, p = x.shape
        centre = x.mean(0)
        xc = x - centre
        data_var = xc.pow(2).sum(0).double() / max(n - 1, 1)
        if reference is None:
            basis, ell, shrunk = _own_axes(xc, data_var, config)
        else:
            basis, ell, shrunk = _reference_axes(xc, reference.reshape(len(reference), -1)[:, flat_mask].float(), config)
        q = basis.shape[1]
        scores = (xc @ basis.float()).double().numpy()
        scores = scores * np.sqrt(shrunk / np.maximum(ell, 1e-12))  # a new person's variance on each axis
        q_pop = min(q, config.population_axes)
        resp, means_pop, covs_pop = _mixture(scores[:, :q_pop], config)
        r = torch.as_tensor(resp)
        nk = r.sum(0).clamp(min=1e-9)
        weights = nk / nk.sum()
        # component k: its own mean and covariance on the population axes; the further (LD) axes
        # shared, with their shrunk variances. Means move along the population axes only: a
        # full-dimensional mean per component sits measurably nearer its own few hundred people
        means = centre.double() + torch.as_tensor(means_pop) @ basis[:, :q_pop].T  # (K, P_real)
        covs_pop = torch.as_tensor(covs_pop)
        shrunk_ld = torch.as_tensor(shrunk[q_pop:])
        between = (means - (weights[:, None] * means).sum(0)) ** 2
        # One residual variance per position, shared by the components (per-component variances over
        # thousands of positions would decide which population an x_t belongs to by their many small
        # differences, not by the population axes): `_within_and_residual`.
        shifts = (label_shifts(x, labels, n_classes, basis[:, :q_pop]) if config.label_effects
                  else torch.zeros(n_classes + 1, p, dtype=torch.float64))
        label_share = torch.as_tensor([float((labels == c).float().mean()) for c in range(n_classes)] + [0.0],
                                      dtype=torch.float64)
        label_spread = (label_share[:, None] * shifts**2).sum(0)  # (P,): what the labels' shifts add to each position
        full_covs = (_component_covariances(torch.as_tensor(scores), r, nk, weights,
                                            float(config.component_shrinkage))
                     if config.component_shrinkage is not None and q > q_pop else None)
        rot, lam, diag = _within_and_residual(basis, data_var, covs_pop, shrunk_ld, full_covs, weights, between,
                                              label_spread)
        log_weights = _label_log_weights(labels, r, n_classes)

        full = mask.numel()
        def scatter(values: torch.Tensor, fill: float) -> torch.Tensor:
            out = torch.full((*values.shape[:-1], full), fill, dtype=torch.float64)
            out[..., flat_mask] = values
            return out
        basis_full = torch.zeros(full, q, dtype=torch.float64)
        basis_full[flat_mask] = basis
        return cls(scatter(means, 0.0), basis_full, rot, lam, scatter(diag, 1.0), log_weights, mask,
                   scatter(shifts, 0.0))

    # -- the denoiser ----------------------------------------------------------------------------

    @property
    def components(self) -> int:
        return self.mean.shape[0]

    @property
    def rank(self) -> int:
        return self.basis.shape[1]

    def _table(self, schedule: Schedule) -> dict[str, torch.Tensor]:
        """What eps needs of each t (Δ_t = a²D + s² is diagonal and shared by the components):
        m_inv (T, K, q, q) = M⁻¹ with M = (a²Λ_k)⁻¹ + R_kᵀ VᵀΔ⁻¹V R_k; mu_axes (T, K, q) = R_kᵀVᵀΔ⁻¹μ_k;
        mu_quad (T, K) = μ_kᵀΔ⁻¹μ_k; logdet (T, K) = log det C_k. Cached per schedule and device."""
        key = (str(self.mean.device), int(schedule.timesteps), float(schedule.betas.sum()))
        if key in self._tables:
            return self._tables[key]
        ab = schedule.alpha_bar.to(self.mean.device)
        real = self.mask.reshape(-1)
        basis, rot32 = self.basis, self.rotation
        rot, lam, diag, mean = self.rotation.double(), self.lam.double(), self.diag.double(), self.mean.double()
        parts: dict[str, list[torch.Tensor]] = {"m_inv": [], "mu_axes": [], "mu_quad": [], "logdet": []}
        for start in range(0, len(ab), 50):
            a2 = ab[start : start + 50, None]  # (t, 1)
            inv_delta = 1 / (a2 * diag[None] + 1 - a2)  # (t, P)
            gram = (basis.T[None] * inv_delta.float()[:, None]) @ basis  # VᵀΔ⁻¹V (t, q, q)
            inner = (rot32.transpose(1, 2)[None] @ gram[:, None] @ rot32[None]).double()  # R_kᵀ VᵀΔ⁻¹V R_k
            a2lam = a2[..., None] * lam[None]  # (t, K, q)
            chol = torch.linalg.cholesky(inner + torch.diag_embed(1 / a2lam))
            parts["m_inv"].append(torch.cholesky_inverse(chol))
            mu_delta = mean[None] * inv_delta[:, None]  # (t, K, P)
            parts["mu_axes"].append(((mu_delta.float() @ basis).double()[..., None, :] @ rot[None]).squeeze(-2))
            parts["mu_quad"].append((mu_delta * mean[None]).sum(-1))
            # log det C = Σ log Δ + log det(I + a²Λ UᵀΔ⁻¹U) = Σ log Δ + log det M + Σ log(a²λ)
            parts["logdet"].append(-inv_delta[:, real].log().sum(-1, keepdim=True)
                                   + 2 * chol.diagonal(dim1=-2, dim2=-1).log().sum(-1) + a2lam.log().sum(-1))
        table = {k: torch.cat(v).float() for k, v in parts.items()}
        self._tables[key] = table
        return table

    def eps(self, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor, schedule: Schedule) -> torch.Tensor:
        """E[ε | x_t, y] under the prior; x_t (B, genes, 8), t (B,), y (B,) → (B, genes, 8).

        With v_k = x − aμ_k and U_k = V R_k, Woodbury gives C_k⁻¹v_k = Δ⁻¹v_k − Δ⁻¹U_k c_k with
        c_k = M_k⁻¹ U_kᵀΔ⁻¹v_k, so E[ε | x_t] = s·Σ_k r_k C_k⁻¹v_k costs two (B, P) × (P, q)
        products whatever the number of components."""
        # float32 also under a GPU's bf16 autocast: the closed form, and the table its first call caches for the run
        with torch.autocast(x_t.device.type, enabled=False):
            table = self._table(schedule)
            b = x_t.shape[0]
            ab = schedule.alpha_bar.to(x_t.device).float()[t]
            a, s = ab.sqrt()[:, None], (1 - ab).sqrt()[:, None]
            x = x_t.float().reshape(b, -1) - a * self.shift[y]  # (B, P): every mean of label y moved by δ_y
            inv_delta = 1 / (a**2 * self.diag[None] + s**2)  # (B, P)
            xd = x * inv_delta
            x_axes = xd @ self.basis  # (B, q): VᵀΔ⁻¹x
            k_count, q = self.rotation.shape[:2]
            rotated = (x_axes @ self.rotation.permute(1, 0, 2).reshape(q, k_count * q)).view(b, k_count, q)
            proj = rotated - a[:, :, None] * table["mu_axes"][t]  # U_kᵀΔ⁻¹v_k (B, K, q)
            c = (table["m_inv"][t] @ proj[..., None]).squeeze(-1)  # (B, K, q)
            # v_kᵀC_k⁻¹v_k = v_kᵀΔ⁻¹v_k − proj_k·c_k, with v_kᵀΔ⁻¹v_k expanded around x
            x_mu = xd @ self.mean.T  # (B, K)
            quad = ((x * xd).sum(-1, keepdim=True) - 2 * a * x_mu + a**2 * table["mu_quad"][t]
                    - (proj * c).sum(-1))
            logits = self.log_weights[y] - 0.5 * (quad + table["logdet"][t])
            r = torch.softmax(logits, dim=-1)  # (B, K)
            mix_mean = r @ self.mean  # Σ r_k μ_k (B, P)
            mix_axes = (r[:, :, None] * c).reshape(b, -1) @ self.rotation.permute(0, 2, 1).reshape(k_count * q, q)  # Σ r_k R_k c_k
            eps = s * inv_delta * (x - a * mix_mean - mix_axes @ self.basis.T)
        return eps.reshape(x_t.shape).to(x_t.dtype)

    @torch.no_grad()
    def sample(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw x0 (B, genes, 8) from the prior directly, without the diffusion (tests use it)."""
        b = len(y)
        k = torch.multinomial(self.log_weights[y].exp(), 1, generator=generator).squeeze(1)
        dev = self.mean.device
        z = torch.randn((b, self.rank), generator=generator, device=dev) * self.lam[k].sqrt()
        low = torch.einsum("pq,bqj,bj->bp", self.basis, self.rotation[k], z)
        noise = torch.randn((b, self.mean.shape[1]), generator=generator, device=dev) * self.diag.sqrt()
        return ((self.mean[k] + self.shift[y] + low + noise).reshape(b, *self.mask.shape)) * self.mask

    def describe(self) -> dict[str, object]:
        return {"components": self.components, "rank": self.rank,
                "weights": self.log_weights[-1].exp().round(decimals=3).tolist(),
                "label_shift_rms": round(float(self.shift[:-1, self.mask.reshape(-1)].pow(2).mean().sqrt()), 4)}
