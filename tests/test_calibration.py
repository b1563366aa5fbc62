"""Calls for drawn people: thresholds re-cut on their own dosages (genomesynth/calibration.py)."""

import numpy as np
import pytest

from genomesynth.baselines import reference_generator
from genomesynth.calibration import calibrate, cohort_inbreeding, genotype_shares, inbreeding, use_calibrated
from genomesynth.codec import Codec
from genomesynth.compress import decode, load_codec
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


def test_calibrated_calls_keep_the_allele_frequency_and_take_the_cohort_heterozygosity():
    codec, n, f = toy_codec(), 1000, 0.2
    latents = np.random.default_rng(1).normal(size=(n, 1, 8)).astype(np.float32)
    fixed = codec.calls(codec.dosages(latents))
    recut = calibrate(codec, latents, f)
    calls = recut.calls(recut.dosages(latents))
    p = fixed.mean(0) / 2
    assert np.allclose(calls.mean(0) / 2, p, atol=1.5 / n)
    zero, up_to_one = genotype_shares(p, f)
    assert np.allclose((calls == 1).mean(0), up_to_one - zero, atol=1.5 / n)
    assert np.allclose((calls == 0).mean(0), zero, atol=1.5 / n)
    assert not np.array_equal(calls, fixed)  # the toy's fixed thresholds are far from these shares
    assert np.array_equal(recut.gene, codec.gene) and recut.loadings is codec.loadings


def test_a_snp_whose_dosage_is_the_same_for_everyone_keeps_the_codec_thresholds():
    codec = toy_codec(snps=3)
    codec.loadings[1] = 0  # SNP 1's dosage is its mean (1.0 after the next line) for everyone: fixed calls all 1
    codec.mean[1] = 1.0
    latents = np.random.default_rng(2).normal(size=(500, 1, 8)).astype(np.float32)
    recut = calibrate(codec, latents, 0.1)
    np.testing.assert_array_equal(recut.thresholds[1], codec.thresholds[1])
    assert np.all(recut.calls(recut.dosages(latents))[:, 1] == 1)
    assert not np.array_equal(recut.thresholds[[0, 2]], codec.thresholds[[0, 2]])


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
        assert gauss.attrs["inbreeding"] == pytest.approx(f)
        codec, latents = load_codec(real), gauss.read_people(np.arange(gauss.n_people))
    decode(tmp_path / "gauss.zarr", tmp_path / "auto.vcf.gz")
    decode(tmp_path / "gauss.zarr", tmp_path / "fixed.vcf.gz", calls="fixed")
    meta, auto = vcf_calls(tmp_path / "auto.vcf.gz")
    fixed_meta, fixed = vcf_calls(tmp_path / "fixed.vcf.gz")
    assert any(line.startswith("##genomesynth_calls=calibrated") for line in meta)
    assert any(line.startswith("##genomesynth_calls=fixed") for line in fixed_meta)
    assert np.array_equal(fixed, codec.calls(codec.dosages(latents)))
    recut = calibrate(codec, latents, f)
    assert np.array_equal(auto, recut.calls(recut.dosages(latents)))
    decode(tmp_path / "mosaic.zarr", tmp_path / "mosaic.vcf.gz")
    assert any(line.startswith("##genomesynth_calls=fixed") for line in vcf_calls(tmp_path / "mosaic.vcf.gz")[0])

    result = evaluate([tmp_path / "gauss.zarr", tmp_path / "mosaic.zarr"], real_store,
                      EvalConfig(metrics=("genotype",)), names=["g", "m"])
    assert result["synthetic"]["g"]["genotype"]["calls"] == "calibrated"
    assert result["synthetic"]["m"]["genotype"]["calls"] == "fixed"
    assert result["real"]["genotype"]["inbreeding"] == pytest.approx(f)


def test_an_older_drawn_store_without_its_cohort_f_keeps_the_codec_thresholds_unless_told(real_store, tmp_path):
    import zarr

    reference_generator(real_store, tmp_path / "gauss.zarr", "gaussian", seed=1)
    group = zarr.open_group(str(tmp_path / "gauss.zarr"), mode="r+")
    group.attrs.put({k: v for k, v in group.attrs.asdict().items() if k != "inbreeding"})  # as before this change
    summary = decode(tmp_path / "gauss.zarr", tmp_path / "old.vcf.gz")
    assert summary.calls.startswith("fixed (no cohort F recorded")
    assert decode(tmp_path / "gauss.zarr", tmp_path / "with.vcf.gz", codec_path=real_store).calls.startswith("calibrated")
    with pytest.raises(GenomesynthError, match="--codec"):
        decode(tmp_path / "gauss.zarr", tmp_path / "forced.vcf.gz", calls="calibrated")


def test_the_kinship_and_gwas_figures_decode_drawn_people_as_eval_does(real_store, tmp_path):
    from genomesynth.plots import _decoded_sets

    reference_generator(real_store, tmp_path / "gauss.zarr", "gaussian", seed=1)
    reference_generator(real_store, tmp_path / "mosaic.zarr", "mosaic", seed=2)
    sets, codec, _ = _decoded_sets(real_store, [tmp_path / "gauss.zarr", tmp_path / "mosaic.zarr"], ["g", "m"],
                                   max_people=10_000, seed=0)
    with open_store(real_store) as real, open_store(tmp_path / "gauss.zarr") as g, open_store(tmp_path / "mosaic.zarr") as m:
        drawn, mosaic = g.read_people(np.arange(g.n_people)), m.read_people(np.arange(m.n_people))
        recut = calibrate(codec, drawn, cohort_inbreeding(real))
    assert np.array_equal(sets["g"][0], recut.calls(recut.dosages(drawn)))
    assert np.array_equal(sets["m"][0], codec.calls(codec.dosages(mosaic)))
