import json
from pathlib import Path

import cyvcf2
import numpy as np
import pytest

from genomesynth import LATENT_DIM
from genomesynth.compress import CompressConfig, compress
from genomesynth.decode import decode
from genomesynth.errors import GenomesynthError
from genomesynth.metrics.genotype import genotype_fidelity
from genomesynth.store import Store, open_store

from conftest import DEMO, make_cohort

VOLATILE = {"created", "argv"}


def _contents(path: Path) -> dict:
    """Every array and attribute of a store, minus what records when and how it was called."""
    with open_store(path) as store:
        names = ["latents", "mask", "sample_id", "label", "split", "stats/mean", "stats/std"]
        names += [f"genes/{n}" for n in ("name", "contig", "start", "end", "n_variants", "n_components", "variance_kept")]
        names += [f"variants/{n}" for n in ("variant_contig", "variant_position", "variant_id", "variant_allele",
                                           "variant_mean", "variant_thresholds")]
        names += [f"codec/{n}" for n in ("gene_offset", "membership_variant", "membership_primary", "loadings")]
        arrays = {n: store.read(n) for n in names}
        attrs = dict(store.attrs)
    attrs["provenance"] = {k: v for k, v in attrs["provenance"].items() if k not in VOLATILE}
    attrs["compress_summary"] = {k: v for k, v in attrs["compress_summary"].items() if k not in ("seconds", "output")}
    return {"arrays": arrays, "attrs": attrs}


def test_zarr_and_h5_stores_hold_identical_content(cohort, tmp_path):
    config = CompressConfig(genes=cohort.genes, labels=cohort.labels, seed=3)
    compress(cohort.vcf, tmp_path / "a.zarr", config)
    compress(cohort.vcf, tmp_path / "a.h5", config)
    a, b = _contents(tmp_path / "a.zarr"), _contents(tmp_path / "a.h5")
    assert a["attrs"] == b["attrs"]
    assert a["arrays"].keys() == b["arrays"].keys()
    for name in a["arrays"]:
        np.testing.assert_array_equal(a["arrays"][name], b["arrays"][name], err_msg=name)


def test_store_schema_shapes_and_padding(cohort, tmp_path):
    summary = compress(cohort.vcf, tmp_path / "r.zarr", CompressConfig(genes=cohort.genes, labels=cohort.labels))
    with open_store(tmp_path / "r.zarr") as store:
        assert store.role == "real" and store.attrs["schema_version"] == 1
        assert store.n_genes == 5 and store.n_genes_padded == 32
        latents = store.latents[:]
        mask = store.mask()
        assert latents.shape == (60, 32, LATENT_DIM) and latents.dtype == np.float32
        assert np.all(latents[:, ~mask] == 0)  # padding, both kinds, is exactly zero
        assert not mask[5:].any()
        np.testing.assert_array_equal(mask[:5].sum(1), store.read("genes/n_components"))
        assert list(store.read("genes/name")) == [f"GENE{g}" for g in range(5)]
        np.testing.assert_array_equal(store.read("genes/n_variants"), [6, 10, 4, 12, 8])
        # standardisation statistics describe the training people
        train = store.split() == "train"
        std = store.read("stats/std")
        np.testing.assert_allclose(latents[train][:, mask].mean(0), store.read("stats/mean")[mask], atol=1e-4)
        np.testing.assert_allclose(latents[train][:, mask].std(0), std[mask], rtol=1e-3)
        assert np.all(std[~mask] == 1)
        # provenance
        prov = store.attrs["provenance"]
        assert prov["command"] == "compress" and prov["seed"] == 0
        assert [i["name"] for i in prov["inputs"]] == ["cohort.vcf", "genes.bed", "labels.tsv"]
        assert all(len(i["sha256"]) == 64 for i in prov["inputs"])
    assert summary.skipped == {"multiallelic": 1, "not_snp": 1, "monomorphic": 1, "low_maf": 0, "low_mac": 0,
                               "outside_genes": 0}
    assert summary.genes_without_snps == 1 and summary.variants_read == 43 and summary.variants_kept == 40


def test_min_mac_drops_sites_carried_by_too_few_alleles():
    """--min-mac counts the minor allele over observed calls, whichever allele is the minor one."""
    from genomesynth.compress import _filter
    from genomesynth.io import VariantBlock

    dosage = np.array([
        [1, 0, 0, 0, 0, 0],  # one ALT allele: a singleton
        [2, 2, 2, 2, 2, 1],  # one REF allele: a singleton of the other allele
        [1, 1, 0, 0, 0, 0],  # two ALT alleles
        [1, -1, 0, 0, 0, 0],  # one ALT allele among the observed calls
        [2, 1, 1, 0, 1, 0],  # common
    ], dtype=np.int8)
    n = len(dosage)
    block = VariantBlock("1", np.arange(1, n + 1), np.array([f"v{i}" for i in range(n)]), np.array(["A"] * n),
                         np.array(["G"] * n), np.ones(n, int), dosage)
    for min_mac, kept in ((0, [1, 1, 1, 1, 1]), (2, [0, 0, 1, 0, 1]), (3, [0, 0, 0, 0, 1])):
        skipped: dict[str, int] = {}
        assert _filter(block, 2, 0.0, min_mac, skipped).tolist() == [bool(k) for k in kept]
        assert skipped["low_mac"] == kept.count(0) and skipped["monomorphic"] == 0


def test_info_counts_the_sites_carried_by_one_or_two_training_alleles(tmp_path):
    """`info`'s rare sites (README, "Before you share") equal the counts from the input genotypes of the training
    people (the demo cohort: thousands of rare sites, a few missing calls)."""
    from genomesynth.io import open_cohort

    compress(DEMO / "demo.vcf.gz", tmp_path / "r.zarr", CompressConfig(genes=DEMO / "demo_genes.bed", seed=0))
    reader = open_cohort(DEMO / "demo.vcf.gz")
    blocks = list(reader.blocks())
    key = np.concatenate([[f"{b.contig}:{p}" for p in b.position] for b in blocks])
    dosage = np.concatenate([b.dosage for b in blocks]).astype(np.int64)
    with open_store(tmp_path / "r.zarr") as store:
        rare = store.describe()["rare_sites"]
        train = np.isin(reader.samples, np.array(store.sample_id().tolist())[store.split() == "train"])
        contigs = store.attrs["contigs"]
        kept = np.isin(key, [f"{contigs[c]}:{p}" for c, p in zip(store.read("variants/variant_contig"),
                                                                  store.read("variants/variant_position"))])
    calls = dosage[kept][:, train]
    alt = np.where(calls >= 0, calls, 0).sum(1)
    minor = np.minimum(alt, 2 * (calls >= 0).sum(1) - alt)
    assert rare["training_people"] == int(train.sum())
    for name, count in (("singleton", 1), ("doubleton", 2)):  # a missing call may move a site by one
        expected = int((minor == count).sum())
        assert expected > 100 and abs(rare[name] - expected) <= 0.01 * expected, (name, rare[name], expected)

    # decode --min-mac leaves those sites out of a drawn store's VCF, counted over the same training people
    from typer.testing import CliRunner

    from genomesynth.baselines import reference_generator
    from genomesynth.cli import app

    reference_generator(tmp_path / "r.zarr", tmp_path / "g.zarr", n=50, seed=0)
    result = CliRunner().invoke(app, ["decode", str(tmp_path / "g.zarr"), "-o", str(tmp_path / "all.vcf.gz")])
    assert result.exit_code == 0 and "--min-mac 2 leaves them out" in result.output, result.output
    summary = decode(tmp_path / "g.zarr", tmp_path / "g.vcf.gz", min_mac=2)
    written = {f"{r.CHROM}:{r.POS}" for r in cyvcf2.VCF(str(tmp_path / "g.vcf.gz"))}
    kept_keys = key[kept]
    assert len(written) == summary.variants and summary.dropped_rare == len(kept_keys) - len(written)
    assert {k for k, m in zip(kept_keys, minor) if m >= 2} ^ written <= set(kept_keys[np.abs(minor - 2) <= 1])
    assert abs(len(written) - int((minor >= 2).sum())) <= 0.01 * len(written)
    with open_store(tmp_path / "g.zarr") as drawn:
        assert drawn.codec_people() == rare["training_people"]
    import zarr

    group = zarr.open_group(str(tmp_path / "g.zarr"), mode="r+")
    group.attrs.put({k: v for k, v in group.attrs.asdict().items() if k != "codec_people"})  # as an older store
    with pytest.raises(GenomesynthError, match="pass --codec REAL.zarr"):
        decode(tmp_path / "g.zarr", tmp_path / "h.vcf.gz", min_mac=2)
    assert decode(tmp_path / "g.zarr", tmp_path / "h.vcf.gz", codec_path=tmp_path / "r.zarr", min_mac=2).variants == summary.variants


def test_read_people_returns_the_requested_order(real_store):
    with open_store(real_store) as store:
        everyone = store.latents[:]
        index = np.array([17, 3, 3, 88, 0, 4])
        np.testing.assert_array_equal(store.read_people(index), everyone[index])


@pytest.mark.parametrize("suffix", [".zarr", ".h5"])
def test_read_people_reads_scattered_people_across_chunks(tmp_path, suffix):
    from conftest import write_latent_store

    n, genes = 9000, 32
    latents = np.random.default_rng(0).normal(size=(n, genes, 8)).astype(np.float32)
    path = write_latent_store(tmp_path / f"many{suffix}", latents, np.zeros(n, int), np.ones((genes, 8), bool))
    with open_store(path) as store:
        assert store.latents.chunks[0] < n  # several chunks
        index = np.random.default_rng(1).choice(n, 2500, replace=False)
        index = np.concatenate([index, [0, n - 1, index[0]]])
        np.testing.assert_array_equal(store.read_people(index), latents[index])


def test_block_mode_without_annotation(cohort, tmp_path):
    summary = compress(cohort.vcf, tmp_path / "b.zarr", CompressConfig(block_size=7, test_fraction=0))
    # 40 kept SNPs: chr1 has 20 → 7+7+6, chr2 has 20 → 7+7+6
    assert summary.genes == 6
    with open_store(tmp_path / "b.zarr") as store:
        np.testing.assert_array_equal(store.read("genes/n_variants"), [7, 7, 6, 7, 7, 6])
        assert set(store.split()) == {"train"}


def test_overlapping_genes_and_flank(tmp_path):
    c = make_cohort(tmp_path)
    # GENE0 spans SNPs 10100..10600; OVER overlaps its last two SNPs; WIDE needs the flank to catch any
    c.genes.write_text(
        "chr1\t10000\t10650\tGENE0\nchr1\t10450\t10700\tOVER\nchr1\t10620\t10650\tWIDE\n"
    )
    plain = compress(c.vcf, tmp_path / "p.zarr", CompressConfig(genes=c.genes))
    assert plain.genes == 2 and plain.genes_without_snps == 1
    with open_store(tmp_path / "p.zarr") as store:
        np.testing.assert_array_equal(store.read("genes/n_variants"), [6, 2])
        # a SNP in two genes is one variant of the store, decoded from its first gene
        assert len(store.read("variants/variant_position")) == 6
        assert store.read("codec/membership_primary").sum() == 6
    flanked = compress(c.vcf, tmp_path / "f.zarr", CompressConfig(genes=c.genes, flank=100))
    assert flanked.genes == 3


def test_contig_names_match_with_or_without_chr(tmp_path):
    c = make_cohort(tmp_path)
    c.genes.write_text(c.genes.read_text().replace("chr", ""))
    assert compress(c.vcf, tmp_path / "x.zarr", CompressConfig(genes=c.genes)).genes == 5


def test_decode_round_trip_reads_back_with_cyvcf2(cohort, tmp_path):
    compress(cohort.vcf, tmp_path / "r.h5", CompressConfig(genes=cohort.genes, labels=cohort.labels))
    decode(tmp_path / "r.h5", tmp_path / "r.vcf.gz")
    vcf = cyvcf2.VCF(str(tmp_path / "r.vcf.gz"), gts012=True)
    assert vcf.samples == cohort.samples
    decoded = np.array([np.array(v.gt_types) for v in vcf])
    assert decoded.shape == (40, 60)
    assert (decoded == cohort.genotypes).mean() >= 0.95


def test_haploid_cohort_decodes_to_haploid_calls(tmp_path):
    c = make_cohort(tmp_path, ploidy=1)
    summary = compress(c.vcf, tmp_path / "h.zarr", CompressConfig(genes=c.genes))
    assert summary.ploidy == 1
    decode(tmp_path / "h.zarr", tmp_path / "h.vcf.gz")
    records = list(cyvcf2.VCF(str(tmp_path / "h.vcf.gz")))
    assert all(r.genotype.ploidy == 1 for r in records)
    calls = np.array([[g[0] for g in r.genotypes] for r in records])
    assert set(np.unique(calls)) <= {0, 1}
    assert (calls == c.genotypes).mean() >= 0.95
    with open_store(tmp_path / "h.zarr") as store:
        latents = store.read_people(np.arange(store.n_people))
        fidelity = genotype_fidelity(store.codec(), latents[:30], latents[30:])
    assert fidelity["heterozygosity_real"] is None and fidelity["heterozygosity_synthetic"] is None
    assert fidelity["allele_frequency_r"] > 0.8
    json.dumps(fidelity, allow_nan=False)  # strict JSON: undefined metrics are null, never NaN


def test_missing_calls_are_counted_and_imputed(tmp_path):
    c = make_cohort(tmp_path, missing=0.05)
    summary = compress(c.vcf, tmp_path / "m.zarr", CompressConfig(genes=c.genes))
    assert summary.missing_calls_imputed == int((c.genotypes < 0).sum()) > 0
    assert summary.concordance_train > 0.9


def test_same_seed_same_store(cohort, tmp_path):
    config = CompressConfig(genes=cohort.genes, labels=cohort.labels, seed=11)
    compress(cohort.vcf, tmp_path / "1.zarr", config)
    compress(cohort.vcf, tmp_path / "2.zarr", config)
    a, b = _contents(tmp_path / "1.zarr"), _contents(tmp_path / "2.zarr")
    for name in a["arrays"]:
        np.testing.assert_array_equal(a["arrays"][name], b["arrays"][name])


def test_the_store_does_not_depend_on_the_cores(tmp_path):
    """The demo cohort on 1 thread and on 2 (a reader process beside the PCA): the same latents and codec. Before,
    the eigensolver's rounding under 2 threads chose the sign of components whose largest loadings tie."""
    from genomesynth.threads import thread_policy

    stores = []
    for cores in (1, 2):
        with thread_policy(cores):
            compress(DEMO / "demo.vcf.gz", tmp_path / f"{cores}.zarr",
                     CompressConfig(genes=DEMO / "demo_genes.bed", labels=DEMO / "demo_labels.tsv"))
        stores.append(Store.open(tmp_path / f"{cores}.zarr"))
    one, two = stores
    np.testing.assert_allclose(one.read("latents"), two.read("latents"), rtol=0, atol=1e-5)
    np.testing.assert_allclose(one.read("codec/loadings"), two.read("codec/loadings"), rtol=0, atol=1e-6)


def test_plink_input_matches_vcf_input(cohort, tmp_path):
    from bed_reader import to_bed

    keep = slice(0, 40)  # the biallelic SNPs
    to_bed(
        tmp_path / "c.bed", cohort.genotypes[keep].T.astype(np.float32),
        properties={"iid": cohort.samples, "chromosome": [c.removeprefix("chr") for c in cohort.contigs],
                    "bp_position": cohort.positions, "sid": [f"{c}_{p}" for c, p in zip(cohort.contigs, cohort.positions)],
                    "allele_1": ["G"] * 40, "allele_2": ["A"] * 40},
    )
    config = CompressConfig(genes=cohort.genes, labels=cohort.labels)
    compress(cohort.vcf, tmp_path / "v.zarr", config)
    compress(tmp_path / "c", tmp_path / "p.zarr", config)  # a prefix, as PLINK users write it
    with open_store(tmp_path / "v.zarr") as v, open_store(tmp_path / "p.zarr") as p:
        np.testing.assert_allclose(v.latents[:], p.latents[:], atol=1e-5)
        assert p.read("variants/variant_allele")[0].tolist() == ["A", "G"]


def test_vcf_zarr_input_matches_vcf_input(cohort, tmp_path):
    import zarr

    root = zarr.open_group(str(tmp_path / "c.vcz"), mode="w")
    n = len(cohort.samples)
    gt = np.zeros((40, n, 2), dtype=np.int8)
    for v in range(40):
        gt[v, :, 0] = cohort.genotypes[v] >= 1
        gt[v, :, 1] = cohort.genotypes[v] >= 2
    root.create_array("call_genotype", data=gt, chunks=(16, n, 2))
    for name, values in (("sample_id", cohort.samples), ("contig_id", ["chr1", "chr2"])):
        root.create_array(name, shape=(len(values),), dtype=str)[:] = np.array(values, dtype=object)
    root.create_array("variant_contig", data=np.array([0 if c == "chr1" else 1 for c in cohort.contigs], np.int8))
    root.create_array("variant_position", data=np.array(cohort.positions, np.int32))
    alleles = root.create_array("variant_allele", shape=(40, 2), dtype=str)
    alleles[:] = np.array([["A", "G"]] * 40, dtype=object)
    config = CompressConfig(genes=cohort.genes, labels=cohort.labels)
    compress(cohort.vcf, tmp_path / "v.zarr", config)
    compress(tmp_path / "c.vcz", tmp_path / "z.zarr", config)
    with open_store(tmp_path / "v.zarr") as v, open_store(tmp_path / "z.zarr") as z:
        np.testing.assert_allclose(v.latents[:], z.latents[:], atol=1e-5)


def test_demo_cohort_round_trip_concordance(tmp_path):
    """The shipped demo cohort: decode(compress(VCF)) agrees with the input on ≥ 95 % of calls."""
    summary = compress(DEMO / "demo.vcf.gz", tmp_path / "d.zarr",
                       CompressConfig(genes=DEMO / "demo_genes.bed", labels=DEMO / "demo_labels.tsv"))
    decode(tmp_path / "d.zarr", tmp_path / "d.vcf.gz")
    original = {(v.CHROM, v.POS): np.array(v.gt_types) for v in cyvcf2.VCF(str(DEMO / "demo.vcf.gz"), gts012=True)}
    agree = total = 0
    for v in cyvcf2.VCF(str(tmp_path / "d.vcf.gz"), gts012=True):
        truth = original[(v.CHROM, v.POS)]
        seen = truth != 3
        agree += int((np.array(v.gt_types)[seen] == truth[seen]).sum())
        total += int(seen.sum())
    assert total > 0 and agree / total >= 0.95
    assert agree / total == pytest.approx(
        (summary.concordance_train * 540 + summary.concordance_test * 60) / 600, abs=0.002
    )
    assert Store.open(tmp_path / "d.zarr").n_genes == 300


def test_a_held_out_duplicate_of_a_training_person_moves_to_training(tmp_path):
    """The same person under two ids on both sides of the split: compress finds them in the latents, lists the
    pair and moves the held-out one to training (the codec saw neither); the cohort without the copy has none."""
    from conftest import simulate_genotypes, write_vcf_text
    from genomesynth.split import make_split

    sizes = [12, 16, 10, 14, 12, 16]
    genotypes, label = simulate_genotypes(120, sizes, founders=6, seed=3)
    positions = [1000 + 100 * i for i in range(sum(sizes))]
    samples = [f"S{i:03d}" for i in range(120)]
    held = int(np.flatnonzero(make_split(np.full(120, -1), 0.2, 0) == "test")[0])
    trained = int(np.flatnonzero(make_split(np.full(120, -1), 0.2, 0) == "train")[0])
    config = CompressConfig(block_size=10, test_fraction=0.2, seed=0)

    write_vcf_text(tmp_path / "plain.vcf", samples, ["chr1"] * len(positions), positions, genotypes)
    plain = compress(tmp_path / "plain.vcf", tmp_path / "plain.zarr", config)
    assert plain.near_identical == [] and plain.moved_to_training == [] and plain.test == 24

    copy = genotypes.copy()
    copy[:, held] = genotypes[:, trained]
    changed = np.random.default_rng(0).choice(len(copy), 2, replace=False)
    copy[changed, held] = (copy[changed, held] + 1) % 3  # re-genotyped: 2 of 80 calls differ
    write_vcf_text(tmp_path / "dup.vcf", samples, ["chr1"] * len(positions), positions, copy)
    dup = compress(tmp_path / "dup.vcf", tmp_path / "dup.zarr", config)
    assert dup.near_identical == [sorted([samples[held], samples[trained]])]
    assert dup.moved_to_training == [samples[held]] and (dup.train, dup.test) == (97, 23)
    with open_store(tmp_path / "dup.zarr") as store:
        assert store.split()[held] == "train"
        assert store.attrs["compress_summary"]["moved_to_training"] == [samples[held]]
        assert store.codec_people() == 96  # the codec's allele counts are over the people it was fitted on
        assert store.describe()["moved_to_training"] == [samples[held]]  # `info` names them
