import numpy as np
import pytest
from sklearn.decomposition import PCA

from genomesynth.codec import TIE, Codec, fit_genes, signed
from genomesynth.compress import pad_genes

from conftest import simulate_genotypes


def _gene(n=200, s=12, rank=3, seed=0):
    rng = np.random.default_rng(seed)
    founders = rng.random((rank, s)) < 0.5
    founders[0] = ~founders[1]
    pick = rng.integers(0, rank, (2, n))
    return (founders[pick[0]].astype(np.int8) + founders[pick[1]]).T.copy()  # (S, n)


def test_component_choice_is_the_fewest_that_keep_the_variance():
    dosage = _gene()
    train = np.ones(dosage.shape[1], bool)
    fit = fit_genes([dosage], train, variance=0.99)
    ratios = PCA().fit(dosage.T.astype(float)).explained_variance_ratio_
    expected = int(np.searchsorted(np.cumsum(ratios), 0.99 - 1e-9) + 1)
    assert fit.n_components[0] == min(expected, 8)
    assert fit.variance_kept[0] == pytest.approx(np.cumsum(ratios)[expected - 1], abs=1e-5)
    # a looser target never needs more components
    assert fit_genes([dosage], train, variance=0.5).n_components[0] <= fit.n_components[0]


def test_scores_match_sklearn_pca_up_to_sign():
    dosage = _gene(s=10, rank=6, seed=3)
    train = np.ones(dosage.shape[1], bool)
    fit = fit_genes([dosage], train, variance=1.0, max_components=4)
    reference = PCA(n_components=4).fit_transform(dosage.T.astype(float))
    ours = fit.scores[:, 0, :4]
    for c in range(4):
        assert min(np.abs(ours[:, c] - reference[:, c]).max(), np.abs(ours[:, c] + reference[:, c]).max()) < 1e-3
    assert np.all(fit.scores[:, 0, 4:] == 0)  # padded components are exactly zero


def test_full_rank_round_trip_is_lossless():
    dosage = _gene(s=6, rank=6, seed=1)
    train = np.ones(dosage.shape[1], bool)
    fit = fit_genes([dosage], train, variance=1.0)
    assert fit.variance_kept[0] == pytest.approx(1.0)
    assert fit.concordant[0] == fit.compared[0]


def test_batched_fit_equals_one_gene_at_a_time():
    genes = [_gene(s=s, seed=s) for s in (3, 9, 17)]
    train = np.arange(200) % 5 != 0
    together = fit_genes(genes, train)
    for g, dosage in enumerate(genes):
        alone = fit_genes([dosage], train)
        assert alone.n_components[0] == together.n_components[g]
        np.testing.assert_allclose(alone.scores[:, 0], together.scores[:, g], atol=1e-4)
        np.testing.assert_allclose(alone.loadings[0], together.loadings[g], atol=1e-5)


def test_signs_do_not_turn_on_rounding_where_loadings_tie():
    """SNPs in perfect LD coded with opposite alleles load ±a: which of them is largest is the eigensolver's
    rounding (another thread count), and must not decide the component's sign."""
    import torch

    tie = torch.tensor([[0.5, 0.1], [-0.5, 0.3], [0.1, -0.7]], dtype=torch.float64)  # (SNPs, components)
    for nudge in (1e-13, -1e-13):  # rounding that makes the second SNP's loading the larger one, or the first's
        rounded = tie.clone()
        rounded[1, 0] -= nudge
        out = signed(-rounded)
        assert out[0, 0] > 0 and out[1, 0] < 0  # the first of the tied loadings is positive
        assert out[2, 1] > 0  # a clear largest loading is positive, as sklearn's svd_flip makes it
    assert torch.equal(signed(torch.zeros(3, 2, dtype=torch.float64)), torch.zeros(3, 2, dtype=torch.float64))


def test_pca_is_fitted_on_training_people_only():
    dosage = _gene(seed=4)
    train = np.arange(200) < 150
    changed = dosage.copy()
    changed[:, ~train] = 2 - changed[:, ~train]  # rewrite the held-out people entirely
    a, b = fit_genes([dosage], train), fit_genes([changed], train)
    np.testing.assert_allclose(a.loadings[0], b.loadings[0])
    np.testing.assert_allclose(a.scores[train, 0], b.scores[train, 0], atol=1e-5)


def test_frequency_matched_thresholds_keep_training_genotype_frequencies():
    dosage, _ = simulate_genotypes(300, [15], seed=5)
    train = np.ones(300, bool)
    fit = fit_genes([dosage], train, max_components=2)  # lossy on purpose
    codec = Codec(gene=np.zeros(15, int), loadings=fit.loadings[0], mean=fit.mean[0],
                  thresholds=fit.thresholds[0], ploidy=2)
    latents = np.zeros((300, 1, 8), np.float32)
    latents[:, 0] = fit.scores[:, 0]
    dosages = codec.dosages(latents)  # (people, variants)
    calls, rounded = codec.calls(dosages), np.clip(np.rint(dosages), 0, 2)

    def frequency_error(c: np.ndarray) -> np.ndarray:
        return np.array([[abs((c[:, v] == k).mean() - (dosage[v] == k).mean()) for k in (0, 1, 2)] for v in range(15)])

    # exact up to ties among reconstructed dosages (a lossy PCA maps some people to equal values)
    assert frequency_error(calls).max() <= 0.02
    assert frequency_error(calls).sum() < frequency_error(rounded).sum()


def test_thresholds_sit_between_distinct_dosages_so_rounding_never_flips_a_call():
    dosage, _ = simulate_genotypes(400, [30], seed=7)
    train = np.ones(400, bool)
    fit = fit_genes([dosage], train, max_components=2)  # lossy: many people share a reconstructed dosage
    codec = Codec(gene=np.zeros(30, int), loadings=fit.loadings[0], mean=fit.mean[0],
                  thresholds=fit.thresholds[0], ploidy=2)
    latents = np.zeros((400, 1, 8), np.float32)
    latents[:, 0] = fit.scores[:, 0]
    dosages = codec.dosages(latents)
    finite = np.isfinite(codec.thresholds)
    nearest = np.array([[np.abs(dosages[:, v] - t).min() if ok else np.inf for t, ok in zip(codec.thresholds[v], finite[v])]
                        for v in range(30)])
    assert nearest.min() > TIE / 2  # no training dosage lies on (or within rounding of) a threshold
    # the case this guards: a frequency-matched quantile that falls inside a group of equal dosages
    ordered = np.sort(dosages, axis=0)
    targets = [round((dosage[v] <= k).mean() * 400) for v in range(30) for k in (0, 1)]
    inside = [0 < c < 400 and ordered[c, v] - ordered[c - 1, v] <= TIE for c, v in zip(targets, np.repeat(np.arange(30), 2))]
    assert sum(inside) >= 3
    for shift in (-1e-6, 1e-6):  # another arithmetic order moves dosages by about this much
        np.testing.assert_array_equal(codec.calls(dosages + shift), codec.calls(dosages))


def test_missing_calls_are_mean_imputed():
    dosage = _gene(seed=6)
    holes = dosage.copy()
    holes[0, :10] = -1
    train = np.ones(dosage.shape[1], bool)
    fit = fit_genes([holes], train)
    observed = dosage[0, 10:].mean()
    assert fit.mean[0][0] == pytest.approx(observed, abs=1e-5)
    assert fit.compared[0] == holes.size - 10


@pytest.mark.parametrize("n, padded, multiple", [(18_279, 18_432, 2048), (300, 320, 64), (5, 32, 32), (64, 64, 32)])
def test_gene_padding(n, padded, multiple):
    assert pad_genes(n) == (padded, multiple)
    assert padded % multiple == 0 and padded >= n
