"""Calls for drawn people: from individual allele frequencies fitted on their own dosages (genomesynth/calibration.py)."""

import numpy as np
import pytest

from genomesynth.baselines import reference_generator
from genomesynth.calibration import (GAIN_ARRAY, calibrate, call_gain, cohort_call_gain, cohort_inbreeding,
                                     genotype_shares, inbreeding, stored_call_gain, use_calibrated)
from genomesynth.codec import Codec, cuts_at
from genomesynth.decode import decode
from genomesynth.errors import GenomesynthError
from genomesynth.evaluate import EvalConfig, evaluate
from genomesynth.store import open_store

from conftest import vcf_calls


def toy_codec(snps: int = 6, seed: int = 0) -> Codec:
    """One gene, `snps` SNPs, loadings that mix the 8 latents; thresholds far from where calibration puts them."""
    rng = np.random.default_rng(seed)
    return Codec(gene=np.zeros(snps, dtype=np.int64), loadings=rng.normal(0, 0.3, (snps, 8)).astype(np.float32),
                 mean=rng.uniform(0.3, 1.5, snps).astype(np.float32),
                 thresholds=np.tile(np.array([0.5, 1.5], np.float32), (snps, 1)), ploidy=2)


@pytest.mark.parametrize("f", [0.0, 0.15, -0.05])
def test_genotype_shares_are_hardy_weinberg_with_the_inbreeding_coefficient(f):
    p = np.linspace(0, 1, 41)
    zero, up_to_one = genotype_shares(p, f)
    q = 1 - p
    assert np.all((0 <= zero) & (zero <= up_to_one + 1e-12) & (up_to_one <= 1 + 1e-12))
    assert np.allclose(1 - up_to_one + (up_to_one - zero) / 2, p)  # the shares keep the allele frequency
    inside = np.minimum(p, q) / np.maximum(p, q) >= abs(min(f, 0))  # where F needs no clipping
    assert np.allclose((up_to_one - zero)[inside], (2 * p * q * (1 - f))[inside])


def test_hardy_weinbergs_shortcut_gives_the_general_formulas_numbers_to_the_bit():
    p = np.concatenate([[0.0, 1.0, 0.5], np.random.default_rng(0).uniform(size=10_000)])
    for dtype in (np.float64, np.float32):  # drawn people's frequencies are float32
        x = p.astype(dtype)
        for fast, general in zip(genotype_shares(x, 0.0), genotype_shares(x, np.zeros(len(x)))):
            assert fast.dtype == general.dtype == np.float64
            np.testing.assert_array_equal(fast, general)


def two_populations(n: int = 4000, snps: int = 40, seed: int = 0) -> tuple[Codec, np.ndarray, np.ndarray, np.ndarray]:
    """Drawn people of two populations: gene g's first latent is SNP g's dosage, a population mean (a rare
    variant in A, 0.1 more in B: weakly differentiated, as most SNPs are) plus Gaussian spread, as a generator
    draws them; the codec's thresholds sit at 0.5 and 1.5."""
    rng = np.random.default_rng(seed)
    codec = Codec(gene=np.arange(snps, dtype=np.int64), loadings=np.tile(np.eye(1, 8, dtype=np.float32), (snps, 1)),
                  mean=np.zeros(snps, np.float32), thresholds=np.tile(np.array([0.5, 1.5], np.float32), (snps, 1)),
                  ploidy=2)
    population = np.arange(n) % 2
    rare = rng.uniform(0.02, 0.15, snps)
    means = np.stack([rare, rare + 0.1])  # (2, snps) mean dosages
    latents = np.zeros((n, snps, 8), np.float32)
    latents[:, :, 0] = means[population] + rng.normal(0, 0.3, (n, snps))
    return codec, latents, population, means


def test_drawn_people_are_called_from_their_own_population_frequencies():
    codec, latents, population, means = two_populations()
    calls = calibrate(codec, latents).genotypes(latents)
    for k in (0, 1):
        ours = calls[population == k]
        # a population's mean dosage becomes its mean number of ALT alleles ...
        assert np.abs(ours.mean(0) - means[k]).max() < 0.05
        # ... in Hardy–Weinberg proportions within the population
        p = ours.mean(0) / 2
        assert np.abs((ours == 1).mean(0) - 2 * p * (1 - p)).max() < 0.05
    true_gap = means[1] - means[0]
    gap = calls[population == 1].mean(0) - calls[population == 0].mean(0)
    assert np.mean(gap / true_gap) > 0.85
    # one set of thresholds for everyone, cut to the whole draw's Hardy–Weinberg shares (the last version's
    # calls), flattens the populations' difference: the reason for these calls
    dosages = codec.dosages(latents)
    shares = np.stack(genotype_shares(dosages.mean(0).astype(np.float64) / 2, 0.0), axis=1)
    cut, _ = cuts_at(np.sort(dosages.T, axis=-1), np.rint(shares * len(dosages)).astype(np.int64))
    one_cut = (dosages >= cut[:, 0]).astype(np.int8) + (dosages >= cut[:, 1]).astype(np.int8)
    one_cut_gap = one_cut[population == 1].mean(0) - one_cut[population == 0].mean(0)
    assert np.mean(one_cut_gap / true_gap) < 0.8


def test_calls_fitted_slab_by_slab_equal_calls_fitted_at_once(monkeypatch):
    import genomesynth.calibration as calibration

    codec, latents, _, _ = two_populations(n=300, snps=12)
    whole = calibrate(codec, latents)
    monkeypatch.setattr(calibration, "VARIANT_SLAB", 5)
    monkeypatch.setattr(calibration, "LATENT_COLUMNS", 7)
    sliced = calibrate(codec, latents)
    assert np.allclose(sliced.slope, whole.slope) and np.allclose(sliced.spread, whole.spread)
    assert np.array_equal(sliced.genotypes(latents), whole.genotypes(latents))
    # fitted on some people of the draw, applied to others: the same calls as the fit applied to everyone
    part = calibrate(codec, latents[:150])
    assert np.array_equal(part.genotypes(latents)[150:], part.genotypes(latents[150:]))


def test_a_snp_whose_dosage_is_the_same_for_everyone_is_that_genotype_for_everyone():
    codec = toy_codec(snps=3)
    codec.loadings[:] = 0  # every dosage is its SNP's mean
    codec.mean[:] = [0.0, 1.0, 2.0]
    latents = np.random.default_rng(2).normal(size=(500, 1, 8)).astype(np.float32)
    assert np.array_equal(calibrate(codec, latents).genotypes(latents), np.tile([0, 1, 2], (500, 1)))


def test_two_drawn_people_are_called_without_population_axes():
    codec = toy_codec()
    latents = np.random.default_rng(3).normal(size=(2, 1, 8)).astype(np.float32)
    fitted = calibrate(codec, latents)
    assert fitted.axes.shape[0] == 0
    assert fitted.genotypes(latents).shape == (2, 6)


def test_inbreeding_reads_the_deficit_of_heterozygotes():
    codec = Codec(gene=np.zeros(1, np.int64), loadings=np.eye(1, 8, dtype=np.float32), mean=np.zeros(1, np.float32),
                  thresholds=np.array([[0.5, 1.5]], np.float32), ploidy=2)
    dosage = np.repeat([0.0, 1.0, 2.0], [40, 20, 40]).astype(np.float32)  # p = 0.5, observed 0.2 against 0.5
    latents = np.zeros((100, 1, 8), np.float32)
    latents[:, 0, 0] = dosage
    assert inbreeding(codec, latents) == pytest.approx(1 - 0.2 / 0.5)


def test_only_drawn_diploid_stores_are_recut():
    sampled = {"role": "synthetic", "model": {"run": "runs/x", "backbone": "baseline"}}
    assert use_calibrated("auto", sampled, 2) and not use_calibrated("fixed", sampled, 2)
    assert use_calibrated("auto", {"role": "synthetic", "model": {"baseline": "gaussian"}}, 2)
    for reconstructed in ({"role": "real"}, {"role": "synthetic", "model": {"baseline": "mosaic"}},
                          {"role": "synthetic", "provenance": {"command": "encode"}}):
        assert not use_calibrated("auto", reconstructed, 2)
    assert use_calibrated("calibrated", {"role": "real"}, 2)
    assert not use_calibrated("calibrated", sampled, 1)  # haploid: one threshold, already the frequency
    with pytest.raises(GenomesynthError, match="--calls"):
        use_calibrated("rounded", sampled, 2)


def test_decode_and_eval_recut_a_drawn_store_and_keep_a_mosaic(real_store, tmp_path):
    reference_generator(real_store, tmp_path / "gauss.zarr", "gaussian", seed=1)
    reference_generator(real_store, tmp_path / "mosaic.zarr", "mosaic", seed=2)
    with open_store(real_store) as real, open_store(tmp_path / "gauss.zarr") as gauss:
        f = cohort_inbreeding(real)
        codec, latents = real.codec(), gauss.read_people(np.arange(gauss.n_people))
    decode(tmp_path / "gauss.zarr", tmp_path / "auto.vcf.gz")
    decode(tmp_path / "gauss.zarr", tmp_path / "fixed.vcf.gz", calls="fixed")
    meta, auto = vcf_calls(tmp_path / "auto.vcf.gz")
    fixed_meta, fixed = vcf_calls(tmp_path / "fixed.vcf.gz")
    assert any(line.startswith("##genomesynth_calls=calibrated") for line in meta)
    assert any(line.startswith("##genomesynth_calls=fixed") for line in fixed_meta)
    assert np.array_equal(fixed, codec.genotypes(latents))
    gain = stored_call_gain(real)  # computed from the real store; the drawn store recorded the same
    np.testing.assert_array_equal(gain, cohort_call_gain(real))
    with open_store(tmp_path / "gauss.zarr") as gauss:
        np.testing.assert_array_equal(stored_call_gain(gauss), gain)
    assert np.array_equal(auto, calibrate(codec, latents, gain).genotypes(latents))
    decode(tmp_path / "mosaic.zarr", tmp_path / "mosaic.vcf.gz")
    assert any(line.startswith("##genomesynth_calls=fixed") for line in vcf_calls(tmp_path / "mosaic.vcf.gz")[0])

    result = evaluate([tmp_path / "gauss.zarr", tmp_path / "mosaic.zarr"], real_store,
                      EvalConfig(metrics=("genotype",)), names=["g", "m"])
    assert result["synthetic"]["g"]["genotype"]["calls"] == "calibrated"
    assert result["synthetic"]["m"]["genotype"]["calls"] == "fixed"
    assert result["real"]["genotype"]["inbreeding"] == pytest.approx(f)


def test_a_drawn_store_of_an_older_genomesynth_is_calibrated_without_the_cohort_gain_unless_given(real_store, tmp_path):
    import zarr

    reference_generator(real_store, tmp_path / "gauss.zarr", "gaussian", seed=1)
    group = zarr.open_group(str(tmp_path / "gauss.zarr"), mode="r+")
    del group[GAIN_ARRAY]  # as stores drawn before the gain was stored (and the store's chunk record with it)
    attrs = group.attrs.asdict()
    attrs["integrity"]["arrays"].pop(GAIN_ARRAY)
    group.attrs.put(attrs | {"inbreeding": 0.3})  # what stores of that version recorded: unused
    summary = decode(tmp_path / "gauss.zarr", tmp_path / "old.vcf.gz")
    assert summary.calls.startswith("calibrated") and "without the cohort's call gain" in summary.calls
    given = decode(tmp_path / "gauss.zarr", tmp_path / "given.vcf.gz", codec_path=real_store)
    assert "gain" not in given.calls
    with open_store(real_store) as real, open_store(tmp_path / "gauss.zarr") as gauss:
        codec, latents = real.codec(), gauss.read_people(np.arange(gauss.n_people))
        gain = stored_call_gain(real)
    assert np.array_equal(vcf_calls(tmp_path / "old.vcf.gz")[1], calibrate(codec, latents).genotypes(latents))
    assert np.array_equal(vcf_calls(tmp_path / "given.vcf.gz")[1], calibrate(codec, latents, gain).genotypes(latents))


def test_the_call_gain_is_how_much_more_calls_than_dosages_move_with_the_populations():
    """Two populations; a lossless codec (dosage = genotype) and one whose dosages keep half of every
    genotype's deviation from the mean, with thresholds that still call the genotypes exactly."""
    rng = np.random.default_rng(4)
    n, snps = 2000, 30
    population = np.arange(n) % 2
    frequency = np.stack([rng.uniform(0.1, 0.3, snps), rng.uniform(0.4, 0.6, snps)])
    genotypes = rng.binomial(2, frequency[population]).astype(np.float32)  # (n, snps)
    mean = genotypes.mean(0)
    for shrink, expected in ((1.0, 1.0), (0.5, 2.0)):
        levels = mean + shrink * (np.arange(3)[:, None] - mean)  # the dosages of genotypes 0, 1, 2
        codec = Codec(gene=np.arange(snps, dtype=np.int64), loadings=np.tile(np.eye(1, 8, dtype=np.float32), (snps, 1)),
                      mean=mean.astype(np.float32), thresholds=((levels[:2] + levels[1:]) / 2).T.astype(np.float32),
                      ploidy=2)
        latents = np.zeros((n, snps, 8), np.float32)
        latents[:, :, 0] = shrink * (genotypes - mean)
        assert np.array_equal(codec.genotypes(latents), genotypes)
        assert np.allclose(call_gain(codec, latents), expected, atol=0.1)


def test_the_kinship_and_gwas_figures_decode_drawn_people_as_eval_does(real_store, tmp_path):
    from genomesynth.plots import _decoded_sets

    reference_generator(real_store, tmp_path / "gauss.zarr", "gaussian", seed=1)
    reference_generator(real_store, tmp_path / "mosaic.zarr", "mosaic", seed=2)
    sets, codec, _ = _decoded_sets(real_store, [tmp_path / "gauss.zarr", tmp_path / "mosaic.zarr"], ["g", "m"],
                                   max_people=10_000, seed=0)
    with open_store(tmp_path / "gauss.zarr") as g, open_store(tmp_path / "mosaic.zarr") as m:
        drawn, mosaic = g.read_people(np.arange(g.n_people)), m.read_people(np.arange(m.n_people))
        gain = stored_call_gain(g)
    assert np.array_equal(sets["g"][0], calibrate(codec, drawn, gain).genotypes(drawn))
    assert np.array_equal(sets["m"][0], codec.genotypes(mosaic))
