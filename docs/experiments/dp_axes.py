"""What a formal privacy guarantee would cost the prior's population axes (docs/RESULTS.md, finding 21).

    python docs/experiments/dp_axes.py runs/study/chr15/real.zarr [--eps 0.2,1,3,10] [--scale 1,10,100]

Issue 9's privacy targets are empirical: one attack's AUC. Differential privacy bounds every attack:

1. On an (ε, δ)-DP release, any membership test's ROC curve lies under TPR ≤ e^ε·FPR + δ and
   1 − FPR ≤ e^ε·(1 − TPR) + δ (Kairouz, Oh & Viswanath 2015), so its AUC is at most `auc_bound(ε, δ)`.
2. The prior's axes, the first thing it learns of the cohort, under the Gaussian mechanism on the
   covariance (Dwork, Talwar, Thakurta & Zhang 2014, "Analyze Gauss"): every training person's standardised
   latents clipped to norm C = √P, then XᵀX + E with E symmetric, N(0, σ²) entries, σ = C²·√(2 ln(1.25/δ))/ε;
   the top k eigenvectors. Judged on the held-out people (they shaped neither): their variance along the k
   private axes over their variance along the k axes fitted without noise (1 = as good; k/P = random axes).
3. A larger cohort of the same populations: the mechanism's noise on the covariance falls as 1/n, so a cohort
   `scale` times larger is emulated by this cohort's covariance plus noise of σ/(scale·n).

Only the axes are released here; a whole DP prior (its standardisation, mixture, residual variances, label shifts)
and a DP-SGD network would each spend more of the budget (composition), so these are lower bounds on the cost.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from genomesynth.store import open_store


def auc_bound(eps: float, delta: float = 0.0) -> float:
    """The largest AUC of any membership test on an (ε, δ)-DP release: the area under
    min(1, e^ε·FPR + δ, 1 − e^−ε·(1 − FPR − δ)) (ε = 0, δ = 0: 0.5)."""
    fpr = np.linspace(0.0, 1.0, 200_001)
    e = math.exp(eps)
    tpr = np.minimum.reduce([np.ones_like(fpr), e * fpr + delta, 1 - (1 - fpr - delta) / e])
    return float(np.trapezoid(tpr, fpr))


def standardised(path: str) -> tuple[np.ndarray, np.ndarray]:
    """(training people, held-out people) × real positions, standardised by the store's training statistics."""
    with open_store(path) as store:
        mask, split = store.mask(), store.split()
        mean, std = store.read("stats/mean")[mask], store.read("stats/std")[mask]
        sides = [(store.read_people(np.flatnonzero(split == s))[:, mask] - mean) / std for s in ("train", "test")]
    return sides[0].astype(np.float64), sides[1].astype(np.float64)


def captured(axes: np.ndarray, best: np.ndarray, held_out_cov: np.ndarray) -> float:
    """Held-out variance along `axes` over held-out variance along `best` (both P × k, orthonormal)."""
    return float(np.trace(axes.T @ held_out_cov @ axes) / np.trace(best.T @ held_out_cov @ best))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("real")
    parser.add_argument("--eps", default="0.2,1,3,10")
    parser.add_argument("--scale", default="1,10,100")
    parser.add_argument("--delta", type=float, default=1e-5)
    parser.add_argument("--ks", default="1,3,10,126")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    train, test = standardised(args.real)
    n, p = train.shape
    clip = math.sqrt(p)
    norms = np.linalg.norm(train, axis=1)
    clipped = train * np.minimum(1.0, clip / norms)[:, None]
    cov = clipped.T @ clipped / n  # what the mechanism perturbs, per person
    held_out = np.cov(test, rowvar=False)
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order]
    ks = [int(k) for k in args.ks.split(",")]
    print(f"{n:,} training people, {len(test):,} held out, {p:,} positions; clip C = √P = {clip:.1f} "
          f"({(norms > clip).mean():.1%} of people clipped); δ = {args.delta:g}")
    print("eigenvalues of the clipped training covariance, PC1–10: " + ", ".join(f"{v:.1f}" for v in values[:10]))
    print("\n| ε | any attack's AUC at most | cohort | noise sd per covariance entry | " +
          " | ".join(f"held-out variance, top {k} private axes / top {k}" for k in ks) + " |")
    print("|---" * (4 + len(ks)) + "|")
    rng = np.random.default_rng(args.seed)
    for eps in (float(e) for e in args.eps.split(",")):
        sigma = clip**2 * math.sqrt(2 * math.log(1.25 / args.delta)) / eps
        for scale in (float(s) for s in args.scale.split(",")):
            noise = rng.normal(scale=sigma / (scale * n), size=(p, p))
            noise = np.triu(noise) + np.triu(noise, 1).T
            _, private = np.linalg.eigh(cov + noise)
            private = private[:, ::-1]
            cells = [f"{captured(private[:, :k], vectors[:, :k], held_out):.2f}" for k in ks]
            print(f"| {eps:g} | {auc_bound(eps, args.delta):.3f} | {scale:g}× ({scale * n:,.0f}) | "
                  f"{sigma / (scale * n):.3g} | " + " | ".join(cells) + " |")
    print("\nrandom axes would read k/P: " + ", ".join(f"top {k}: {k / p:.3f}" for k in ks) +
          " (held-out variance along random axes over the best; roughly, as the held-out spread is not isotropic)")


if __name__ == "__main__":
    main()
