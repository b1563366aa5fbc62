"""The realism–privacy frontier of simple generators on a real store (docs/RESULTS.md, finding 9).

    python docs/experiments/frontier.py runs/study/chr15/real.zarr runs/frontier [--seed 0]

Draws as many people as the training split from three families fitted on the training people
(standardised latents), evaluates them together with `genomesynth eval`'s metrics (dispersion, AA,
privacy, genotypes) and prints one markdown row per generator:

- `prior`: the population prior of `diffusion/prior.py` drawn directly (no network);
- `mixture ν=…`: the same shared principal axes (DGJ-shrunk) and a Gaussian mixture on the first 8,
  but each component with its own covariance over *all* axes, shrunk toward the pooled within-component
  covariance with weight ν people (ν = ∞: one shared covariance; ν = 0: each component's own);
- `copies h=…`: smoothed copies of training people, c + sqrt(1 − h²)(x_i − c) + h·sd·ε, from copying
  (h = 0) to independent noise (h = 1) — the kernel-density family, variance kept;
- with `--fine`, `mixture K=… on P axes`: as many components as fine populations (1000 Genomes has 26),
  fitted on the first P axes, instead of the 8 on 8 above (RESULTS finding 7's candidate).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch
from sklearn.mixture import GaussianMixture

from genomesynth.diffusion.prior import PopulationPrior, PriorConfig, max_axes, shrunk_variance, signal_rank
from genomesynth.evaluate import EvalConfig, evaluate
from genomesynth.store import SCHEMA_VERSION, StoreWriter, copy_reference, open_store, reference_attrs


def copies(x: np.ndarray, h: float, rng: np.random.Generator) -> np.ndarray:
    centre, sd = x.mean(0), x.std(0, ddof=1)
    donors = x[rng.permutation(len(x))]
    return centre + math.sqrt(1 - h * h) * (donors - centre) + h * sd * rng.standard_normal(x.shape)


def mixture(x: np.ndarray, nu: float, rng: np.random.Generator, components: int = 8, pop: int = 8) -> np.ndarray:
    n, p = x.shape
    centre = x.mean(0)
    xc = x - centre
    var = xc.var(0, ddof=1)
    _, sv, vt = np.linalg.svd(xc, full_matrices=False)
    ell = sv**2 / (n - 1)
    q, sigma2 = signal_rank(ell, float(var.sum()), n, p, max_axes(n, p, PriorConfig()))
    axes, shrunk = vt[:q].T, shrunk_variance(ell[:q], sigma2, p / n)
    scores = (xc @ axes) * np.sqrt(shrunk / ell[:q])
    resp = GaussianMixture(components, covariance_type="full", n_init=2, random_state=0).fit(scores[:, :pop]).predict_proba(scores[:, :pop])
    weights = resp.sum(0) / n
    means, covs = [], []
    for k in range(components):
        r = resp[:, k]
        mean = r @ scores / r.sum()
        dev = scores - mean
        covs.append((r[:, None] * dev).T @ dev / r.sum())
        mean[pop:] = 0  # component means move along the population axes only, as in prior.py
        means.append(mean)
    pooled = sum(w * c for w, c in zip(weights, covs, strict=True))
    if math.isfinite(nu):
        covs = [(r * c + nu * pooled) / (r + nu) for r, c in zip(resp.sum(0), covs, strict=True)]
    else:
        covs = [pooled] * components
    explained = sum(w * ((axes @ np.linalg.cholesky(c + 1e-9 * np.eye(q))) ** 2).sum(1) + w * (axes @ m) ** 2
                    for w, c, m in zip(weights, covs, means, strict=True))
    residual = np.clip(var - explained, 0.05 * var, None)
    which = rng.choice(components, n, p=weights)
    out = np.empty_like(x)
    for k in range(components):
        rows = np.flatnonzero(which == k)
        z = rng.multivariate_normal(means[k], covs[k], size=len(rows), method="eigh")
        out[rows] = centre + z @ axes.T + rng.standard_normal((len(rows), p)) * np.sqrt(residual)
    return out


def prior_draw(x: np.ndarray, seed: int) -> np.ndarray:
    prior = PopulationPrior.fit(torch.as_tensor(x[:, None, :]), torch.ones(1, x.shape[1], dtype=torch.bool),
                                torch.zeros(len(x), dtype=torch.long), 0)
    generator = torch.Generator().manual_seed(seed)
    return prior.sample(torch.zeros(len(x), dtype=torch.long), generator).reshape(len(x), -1).numpy()


def write(real: Path, out: Path, values: np.ndarray) -> None:
    with open_store(real) as store:
        mask, mean, std = store.mask(), store.read("stats/mean"), store.read("stats/std")
        latents = np.zeros((len(values), *mask.shape), np.float32)
        latents[:, mask] = values
        latents = (latents * std + mean) * mask
        writer = StoreWriter(out, overwrite=True)
        with writer:
            writer.create_latents(len(values), store.n_genes_padded)[:] = latents
            copy_reference(store, writer)
            writer.write("sample_id", np.array([f"SYN{i + 1:06d}" for i in range(len(values))], dtype=object))
            writer.write("label", np.full(len(values), -1, np.int32))
            writer.set_attrs({**reference_attrs(store),
                              "schema_version": SCHEMA_VERSION, "role": "synthetic"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("real", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fine", action="store_true", help="add mixtures with as many components as fine populations")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    with open_store(args.real) as store:
        mask, mean, std = store.mask(), store.read("stats/mean"), store.read("stats/std")
        train = np.flatnonzero(store.split() == "train")
        x = ((store.read_people(train) - mean) / std)[:, mask].astype(np.float64)
    draws = {"prior": lambda: prior_draw(x.astype(np.float32), args.seed)}
    for nu in (math.inf, 512.0, 128.0, 0.0):
        draws[f"mixture ν={nu:g}"] = lambda nu=nu: mixture(x, nu, rng)
    if args.fine:
        for components, pop, nu in ((26, 8, math.inf), (26, 16, math.inf), (50, 16, math.inf), (26, 16, 128.0)):
            draws[f"mixture K={components} on {pop} axes ν={nu:g}"] = \
                lambda c=components, a=pop, nu=nu: mixture(x, nu, rng, c, a)
    for h in (0.3, 0.5, 0.7, 0.9):
        draws[f"copies h={h:g}"] = lambda h=h: copies(x, h, rng)
    args.out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (name, draw) in enumerate(draws.items()):
        paths.append(args.out / f"{i:02d}.zarr")
        write(args.real, paths[-1], draw().astype(np.float32))
    result = evaluate(paths, args.real, EvalConfig(metrics=("dispersion", "aa", "privacy", "genotype"), seed=args.seed),
                      names=list(draws))
    real = result["real"]
    print("| generator | PC1–10 | PCA overlap | AA train (truth/syn) | AA held-out | MIA AUC, stored / standardised "
          "| closer than p5 | privacy loss |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| real held-out | {real['dispersion']['pc_mean']:.2f} | {real['genotype']['pca_overlap']:.2f} | "
          f"{real['aa']['aa']:.3f} ({real['aa']['truth']:.2f}/{real['aa']['syn']:.2f}) | {real['aa']['aa']:.3f} | – | – | – |")
    for name, s in result["synthetic"].items():
        aa = s["aa"]
        print(f"| {name} | {s['dispersion']['pc_mean']:.2f} | {s['genotype']['pca_overlap']:.2f} | "
              f"{aa['train']['aa']:.3f} ({aa['train']['truth']:.2f}/{aa['train']['syn']:.2f}) | {aa['test']['aa']:.3f} | "
              f"{s['mia_auc']:.3f} / {s['mia_auc_standardised']:.3f} | {s['dcr']['share_closer_than_p5']:.3f} | "
              f"{s['privacy_loss']:.3f} |")


if __name__ == "__main__":
    main()
