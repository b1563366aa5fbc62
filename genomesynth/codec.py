"""Gene-wise PCA: fit many small PCAs at once, encode dosages to ≤ 8 numbers, decode back to calls.

Per gene g with SNP dosages X_g (people, S_g), fitted on training people only:

    mean_g   = column means of X_g[train]
    C_g      = (X_g[train] - mean_g)^T (X_g[train] - mean_g) / (n_train - 1)      (S_g, S_g)
    C_g      = V Λ V^T, eigenvalues descending
    k_g      = fewest components (≤ max_components) with Σ_{i≤k} λ_i ≥ variance · Σ λ_i
    z        = (x - mean_g) V[:, :k_g]                                             (k_g,) → padded to 8
    x̂        = mean_g + z V[:, :k_g]^T

Genes are fitted in batches: their dosage matrices are zero-padded to the batch's largest S (a padded
SNP has zero variance and so never enters a component) and one batched covariance + `eigh` in torch
does them all.

Calls from continuous dosages are frequency-matched: for each SNP the thresholds t1 ≤ t2 are placed
on the training people's reconstructed dosages so that the shares of reconstructed dosages below t1,
between t1 and t2 and above t2 equal the training genotype frequencies of 0, 1 and 2 ALT alleles — as
nearly as groups of equal dosages allow: a threshold sits only between distinct dosage values, so
no call depends on float rounding.
A decoded dosage d becomes the call (d ≥ t1) + (d ≥ t2). On real people this reproduces the input
genotypes almost exactly; on synthetic people it keeps each SNP's genotype frequencies when the
generator keeps the dosage distribution. Haploid cohorts use t1 alone. Drawn people's dosages do not
keep it (they spread between the genotypes), and decode/eval call them from individual allele
frequencies fitted on their own dosages: genomesynth/calibration.py.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch

from genomesynth import LATENT_DIM


@dataclass
class GeneFit:
    """The PCA of one gene batch and what it says about the batch's people."""

    loadings: list[np.ndarray]  # per gene (S_g, 8) float32, zero past n_components
    mean: list[np.ndarray]  # per gene (S_g,) float32
    thresholds: list[np.ndarray]  # per gene (S_g, 2) float32
    n_components: np.ndarray  # (B,) int
    variance_kept: np.ndarray  # (B,) float
    scores: np.ndarray  # (people, B, 8) float32
    concordant: np.ndarray  # (2,) matching calls after a round trip: [train, test]
    compared: np.ndarray  # (2,) non-missing calls compared: [train, test]


def signed(components: torch.Tensor) -> torch.Tensor:
    """Components (…, SNPs, k) with deterministic signs: the largest loading of each is positive (as sklearn's
    svd_flip), and where loadings tie in size to 10⁻⁶ — SNPs in perfect LD, coded with opposite alleles, load
    ±a — the first of them. Taking the largest alone let the eigensolver's rounding choose, so the thread count
    flipped a component's sign (3 of the demo cohort's 2,392 gene components, 2 of a simulated cohort's 8,000)."""
    size = components.abs()
    top = size >= size.amax(-2, keepdim=True) * (1 - 1e-6)
    first = top.to(components.dtype).argmax(-2, keepdim=True)  # the first of the ties
    return components * torch.sign(components.gather(-2, first) + 1e-30)


def fit_genes(
    dosages: list[np.ndarray],
    train: np.ndarray,
    *,
    max_components: int = LATENT_DIM,
    variance: float = 0.99,
    ploidy: int = 2,
    device: str = "cpu",
) -> GeneFit:
    """Fit, encode and round-trip a batch of genes.

    dosages: per gene (S_g, people) int8 ALT counts, -1 = missing (mean-imputed here).
    train:   bool (people,), the people the PCA and the thresholds are fitted on.
    """
    sizes = np.array([d.shape[0] for d in dosages])
    n_genes, n_people, width = len(dosages), dosages[0].shape[1], int(sizes.max())
    raw = np.full((n_genes, width, n_people), -1, dtype=np.int8)
    for g, d in enumerate(dosages):
        raw[g, : d.shape[0]] = d
    # Layout (genes, SNPs, people), people contiguous as they arrive, and reordered train first so that
    # every train/held-out selection below is a view, not a copy (strided copies cost more than the PCA).
    order = np.concatenate([np.flatnonzero(train), np.flatnonzero(~train)])
    n_train = int(train.sum())
    raw_t = torch.from_numpy(np.ascontiguousarray(raw[:, :, order])).to(device)  # (B, S, people)
    missing = raw_t < 0
    x = raw_t.float()
    observed = (~missing[:, :, :n_train]).float()
    mean = (x[:, :, :n_train] * observed).sum(2) / observed.sum(2).clamp(min=1)  # (B, S)
    x = torch.where(missing, mean[:, :, None], x)  # mean imputation; padded SNPs become 0
    centred = x - mean[:, :, None]
    # float64: a gene's components must not depend on the padding width of the batch it is fitted in
    c_train = centred[:, :, :n_train].double()
    cov = c_train @ c_train.transpose(1, 2) / max(n_train - 1, 1)  # (B, S, S)
    eigval, eigvec = torch.linalg.eigh(cov)
    eigval, eigvec = eigval.flip(-1).clamp(min=0), eigvec.flip(-1)

    total = eigval.sum(-1)
    cumulative = eigval.cumsum(-1) / total.clamp(min=1e-12)[:, None]
    k = (cumulative < variance - 1e-9).sum(-1) + 1
    k = torch.minimum(k, torch.as_tensor(np.minimum(sizes, max_components), device=device))
    k = k.clamp(min=1)
    kept = torch.where(total > 0, _kept(eigval, k) / total.clamp(min=1e-12), torch.ones_like(total))

    components = eigvec[:, :, :LATENT_DIM]
    if components.shape[-1] < LATENT_DIM:
        components = torch.nn.functional.pad(components, (0, LATENT_DIM - components.shape[-1]))
    components = signed(components)
    active = torch.arange(LATENT_DIM, device=device)[None, :] < k[:, None]  # (B, 8)
    components = (components * active[:, None, :]).float()

    scores = components.transpose(1, 2) @ centred  # (B, 8, people)
    recon = mean[:, :, None] + components @ scores  # (B, S, people)
    thresholds = _frequency_thresholds(recon[:, :, :n_train], raw_t[:, :, :n_train], ploidy)  # (B, S, 2)
    calls = (recon >= thresholds[:, :, 0:1]).to(torch.int8) + (recon >= thresholds[:, :, 1:2]).to(torch.int8)
    real_snp = torch.arange(width, device=device)[None, :] < torch.as_tensor(sizes, device=device)[:, None]
    valid = ~missing & real_snp[:, :, None]
    agree = (calls == raw_t) & valid
    agree_np, valid_np = agree.cpu().numpy(), valid.cpu().numpy()  # numpy counts bools without a cast
    concordant = np.array([np.count_nonzero(agree_np[:, :, :n_train]), np.count_nonzero(agree_np[:, :, n_train:])])
    compared = np.array([np.count_nonzero(valid_np[:, :, :n_train]), np.count_nonzero(valid_np[:, :, n_train:])])

    comps_np, mean_np, thr_np = components.cpu().numpy(), mean.cpu().numpy(), thresholds.cpu().numpy()
    return GeneFit(
        loadings=[comps_np[g, : sizes[g]] for g in range(n_genes)],
        mean=[mean_np[g, : sizes[g]] for g in range(n_genes)],
        thresholds=[thr_np[g, : sizes[g]] for g in range(n_genes)],
        n_components=k.cpu().numpy(),
        variance_kept=kept.cpu().numpy(),
        scores=scores.permute(2, 0, 1).cpu().numpy()[np.argsort(order)],  # (people, B, 8), input order
        concordant=concordant,
        compared=compared,
    )


def _kept(eigval: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    idx = torch.arange(eigval.shape[-1], device=eigval.device)[None, :]
    return (eigval * (idx < k[:, None])).sum(-1)


TIE = 1e-4
"""Reconstructed dosages (ALT-allele units) closer than this are one value to the thresholds: float rounding
of the same genotypes' dosages differs by ~1e-6 between arithmetic orders (BLAS, GPU, einsum)."""


def _frequency_thresholds(recon: torch.Tensor, raw: torch.Tensor, ploidy: int) -> torch.Tensor:
    """Thresholds (B, S, 2) that give each SNP its training genotype frequencies (module docstring).

    recon, raw: (B, S, people) reconstructed dosages and observed calls (-1 = missing) of the train people.
    """
    n = recon.shape[2]
    raw_np = raw.cpu().numpy()
    observed = np.maximum(np.count_nonzero(raw_np >= 0, axis=2), 1).astype(np.float32)
    share0 = np.count_nonzero(raw_np == 0, axis=2).astype(np.float32) / observed
    share01 = share0 + np.count_nonzero(raw_np == 1, axis=2).astype(np.float32) / observed
    shares = np.stack([share0, share01 if ploidy > 1 else np.ones_like(share0)], axis=-1)  # (B, S, 2)
    # numpy's sort along contiguous rows is several times faster than torch's on the CPU
    ordered = np.sort(recon.cpu().numpy(), axis=-1)
    n_below = _allowed_cut(ordered, np.rint(shares * n).astype(np.int64))  # people below each cut
    return torch.from_numpy(cuts_at(ordered, n_below)[0]).to(recon.device)


def cuts_at(ordered: np.ndarray, n_below: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Thresholds with n_below of each row's sorted values (last axis) beneath them: halfway between the two
    values that bracket the cut, −inf / +inf at the ends (float32); and whether those two values differ (a cut
    inside a run of equal values cannot separate them)."""
    n = ordered.shape[-1]
    below = np.take_along_axis(ordered, np.clip(n_below - 1, 0, n - 1), axis=-1)
    above = np.take_along_axis(ordered, np.clip(n_below, 0, n - 1), axis=-1)
    ends = (n_below <= 0) | (n_below >= n)
    cut = np.where(n_below <= 0, -np.inf, np.where(n_below >= n, np.inf, (below + above) / 2)).astype(np.float32)
    return cut, ends | (below < above)


def _allowed_cut(ordered: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per row of `ordered` (B, S, n sorted dosages) and each of its targets (B, S, T people below a cut), the
    number of people below the nearest cut that falls where sorted dosages part by more than TIE (0 and n always
    qualify). People with the same genotypes share a dosage, and a cut inside such a tie would call them by the
    last bits of however their dosages were computed."""
    b, s, n = ordered.shape
    rows = b * s
    allowed = np.ones((rows, n + 1), dtype=bool)
    allowed[:, 1:n] = np.diff(ordered.reshape(rows, n), axis=1) > TIE
    flat = np.flatnonzero(allowed)  # sorted, and every row holds its own 0 and n
    start = np.arange(rows)[:, None] * (n + 1)
    want = target.reshape(rows, -1)
    after = flat[np.searchsorted(flat, start + want, side="left")] - start
    before = flat[np.searchsorted(flat, start + want, side="right") - 1] - start
    return np.where(want - before <= after - want, before, after).reshape(target.shape).astype(np.int64)


@dataclass
class Codec:
    """Decoder from latents to dosages and calls, one row per kept SNP.

    A SNP that lies in two overlapping genes is encoded in both; it is decoded from its primary gene
    (the first that holds it in genome order).
    """

    gene: np.ndarray  # (variants,) int: the primary gene of each SNP
    loadings: np.ndarray  # (variants, 8) float32
    mean: np.ndarray  # (variants,) float32
    thresholds: np.ndarray  # (variants, 2) float32
    ploidy: int

    @classmethod
    def from_arrays(
        cls,
        gene_offset: np.ndarray,
        membership_variant: np.ndarray,
        membership_primary: np.ndarray,
        loadings: np.ndarray,
        variant_mean: np.ndarray,
        thresholds: np.ndarray,
        ploidy: int,
    ) -> Codec:
        membership_gene = np.repeat(np.arange(len(gene_offset) - 1), np.diff(gene_offset))
        primary = np.flatnonzero(membership_primary)
        order = primary[np.argsort(membership_variant[primary], kind="stable")]
        return cls(
            gene=membership_gene[order],
            loadings=loadings[order].astype(np.float32),
            mean=variant_mean.astype(np.float32),
            thresholds=thresholds.astype(np.float32),
            ploidy=ploidy,
        )

    def dosages(self, latents: np.ndarray) -> np.ndarray:
        """latents (people, genes_padded, 8) → dosages (people, variants) float32.

        One product per run of variants of the same gene (variants are in genome order, so a gene's are
        usually one run): 16× faster than gathering every variant's 8 latents first, and bitwise the same
        numbers (einsum's own loop, not BLAS) — which matters, as a call flips where a dosage sits on its
        threshold within rounding."""
        out = np.empty((latents.shape[0], len(self.gene)), dtype=np.float32)
        starts = np.flatnonzero(np.r_[True, self.gene[1:] != self.gene[:-1]]) if len(self.gene) else np.zeros(0, int)
        for a, b in zip(starts, np.r_[starts[1:], len(self.gene)]):
            out[:, a:b] = np.einsum("pk,vk->pv", latents[:, self.gene[a], :], self.loadings[a:b])
        out += self.mean
        return out

    def calls(self, dosages: np.ndarray) -> np.ndarray:
        """dosages (people, variants) → ALT counts int8 (0..ploidy), frequency-matched thresholds."""
        return (dosages >= self.thresholds[:, 0]).astype(np.int8) + (dosages >= self.thresholds[:, 1]).astype(np.int8)

    def genotypes(self, latents: np.ndarray) -> np.ndarray:
        """latents (people, genes_padded, 8) → ALT counts int8 (people, variants), through the thresholds above
        (drawn people's calls: calibration.DrawnCalls.genotypes)."""
        return self.calls(self.dosages(latents))


def codec_id(loadings: np.ndarray, positions: np.ndarray, gene_offset: np.ndarray) -> str:
    """A short fingerprint of a codec: stores with the same one can be compared and decoded alike."""
    digest = hashlib.sha256()
    for array in (loadings.astype(np.float32), positions.astype(np.int64), gene_offset.astype(np.int64)):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]
