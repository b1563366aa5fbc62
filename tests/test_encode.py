"""`encode`: any cohort into an existing codec — exact on the cohort a store was made from, REF/ALT
swaps flipped, what does not match counted, and `eval` taking the result (issue 11, part 1)."""

from __future__ import annotations

import numpy as np
import pytest

from genomesynth.compress import CompressConfig, compress
from genomesynth.encode import EncodeConfig, encode
from genomesynth.evaluate import EvalConfig, evaluate
from genomesynth.store import open_store

from conftest import make_cohort


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("encode")
    cohort = make_cohort(tmp, n_people=80, missing=0.02)
    real = tmp / "real.zarr"
    compress(cohort.vcf, real, CompressConfig(genes=cohort.genes, labels=cohort.labels, seed=3))
    return cohort, real


def latents(path) -> np.ndarray:
    with open_store(path) as store:
        return np.asarray(store.latents[...])


def test_encoding_the_compressed_cohort_reproduces_its_store(tmp_path, made):
    cohort, real = made
    out = tmp_path / "again.zarr"
    s = encode(cohort.vcf, real, out, EncodeConfig(labels=cohort.labels, role="real", seed=3))
    assert np.abs(latents(out) - latents(real)).max() <= 1e-4
    assert s.matched == s.codec_variants and s.absent == 0 and s.flipped == 0
    assert s.multiallelic == 1 and s.unmatched == 2  # the multi-allelic site; the indel and the monomorphic one
    assert s.missing_calls_imputed == int((cohort.genotypes < 0).sum())
    with open_store(real) as a, open_store(out) as b:
        assert a.attrs["codec_id"] == b.attrs["codec_id"] and b.role == "real"
        assert (a.label() == b.label()).all() and a.split().tolist() == b.split().tolist()
        assert b.attrs["provenance"]["command"] == "encode"
        # rare sites are counted from the codec's dosages: the compressed cohort's, not a re-encoded one's to claim
        assert a.describe()["rare_sites"] is not None and b.describe()["rare_sites"] is None


def test_swapped_ref_alt_is_flipped_and_missing_variants_are_counted(tmp_path, made):
    cohort, real = made
    flip = {"0/0": "1/1", "1/1": "0/0", "0/1": "0/1", "./.": "./."}
    lines, swapped, dropped = [], 0, 0
    for line in cohort.vcf.read_text().splitlines():
        fields = line.split("\t")
        if line.startswith("#") or fields[2] in ("multi", "indel", "mono"):
            lines.append(line)
            continue
        position = int(fields[1])
        if position % 300 == 0:  # every third SNP: REF and ALT swapped, genotypes flipped
            fields[3], fields[4] = fields[4], fields[3]
            fields[9:] = [flip[g] for g in fields[9:]]
            swapped += 1
        lines.append("\t".join(fields))
    vcf = tmp_path / "swapped.vcf"
    vcf.write_text("\n".join(lines) + "\n")
    s = encode(vcf, real, tmp_path / "swapped.zarr")
    assert s.flipped == swapped > 0 and s.matched == s.codec_variants
    assert np.abs(latents(tmp_path / "swapped.zarr") - latents(real)).max() <= 1e-4

    kept = [l for l in lines if l.startswith("#") or l.split("\t")[2] in ("multi", "indel", "mono")
            or int(l.split("\t")[1]) % 200 != 0]
    dropped = len(lines) - len(kept)
    vcf.write_text("\n".join(kept) + "\n")
    s = encode(vcf, real, tmp_path / "fewer.zarr")
    assert s.absent == dropped > 0 and s.matched == s.codec_variants - dropped


def test_eval_takes_an_encoded_unlabelled_store_and_skips_tstr_with_a_note(tmp_path, made):
    cohort, real = made
    out = tmp_path / "other.zarr"
    encode(cohort.vcf, real, out)  # no labels: as another generator's VCF arrives
    result = evaluate([out], real, EvalConfig(metrics=("aa", "tstr", "privacy"), classifiers=("mlp",), repeats=1,
                                              classifier_epochs=2))
    other = result["synthetic"]["other"]
    assert "tstr" not in other and any("TSTR skipped" in n for n in other["notes"])
    assert "aa" in other and "mia_auc" in other


def test_encode_through_the_cli(tmp_path, made):
    from typer.testing import CliRunner

    from genomesynth.cli import app

    cohort, real = made
    result = CliRunner().invoke(app, ["encode", str(cohort.vcf), "--codec", str(real), "-o", str(tmp_path / "e.zarr"), "-q"])
    assert result.exit_code == 0, result.output
    assert "matched" in result.output and (tmp_path / "e.zarr").exists()
    bad = CliRunner().invoke(app, ["encode", str(cohort.vcf), "--codec", str(real), "-o", str(tmp_path / "f.zarr"),
                                   "--role", "nonsense"])
    assert bad.exit_code != 0 and not (tmp_path / "f.zarr").exists()


def test_the_demo_cohort_round_trips_through_encode(tmp_path):
    from conftest import DEMO

    real = tmp_path / "demo.zarr"
    compress(DEMO / "demo.vcf.gz", real, CompressConfig(genes=DEMO / "demo_genes.bed", labels=DEMO / "demo_labels.tsv"))
    s = encode(DEMO / "demo.vcf.gz", real, tmp_path / "again.zarr")
    assert np.abs(latents(tmp_path / "again.zarr") - latents(real)).max() <= 1e-4
    assert s.matched == s.codec_variants and s.multiallelic > 0  # the demo file has multi-allelic records: counted


def test_a_panel_in_the_codec_gives_the_prior_its_axes_without_the_participants_in_it(tmp_path, made):
    """`train --prior-reference`: a panel of other people at the cohort's sites is taken; one genotyped at under half
    of them is refused in one line; participants in it under other ids are found by their genotypes and left out."""
    from genomesynth.errors import GenomesynthError
    from genomesynth.train import TrainConfig, train, validation_split

    cohort, real = made
    def as_panel(vcf, keep=lambda i: True):  # the same people under other ids, optionally at fewer sites
        lines = [l.replace("\tS0", "\tR0") for i, l in enumerate(vcf.read_text().splitlines()) if l.startswith("#") or keep(i)]
        out = tmp_path / f"panel{len(list(tmp_path.glob('panel*.vcf')))}.vcf"
        out.write_text("\n".join(lines) + "\n")
        return out
    (tmp_path / "others").mkdir()
    others = make_cohort(tmp_path / "others", n_people=60, seed=5).vcf  # the same sites, other people
    config = dict(max_steps=2, epochs=10, batch_size=32, timesteps=20, recon_bins=2)
    for name, vcf in (("panel", as_panel(others)), ("sparse", as_panel(others, lambda i: i % 3 == 0)),
                      ("twins", as_panel(cohort.vcf))):
        encode(vcf, real, tmp_path / f"{name}.zarr", EncodeConfig(role="real"))
    assert train(real, tmp_path / "run", TrainConfig(**config, prior_reference=str(tmp_path / "panel.zarr"))).steps == 2
    with pytest.raises(GenomesynthError, match="absent from the panel"):
        train(real, tmp_path / "run2", TrainConfig(**config, prior_reference=str(tmp_path / "sparse.zarr")))
    # the cohort itself under other ids: the people the prior is fitted on are left out of the panel, no one else
    summary = train(real, tmp_path / "run3", TrainConfig(**config, prior_reference=str(tmp_path / "twins.zarr")))
    with open_store(real) as store:
        _, fit = validation_split(np.flatnonzero(store.split() == "train"), 0.1, 0)
        fitted = {str(i).replace("S0", "R0") for i in np.asarray(store.sample_id().tolist())[fit]}
    assert set(summary.prior_axes_from["left_out"]) == fitted and summary.prior_axes_from["people"] == 80 - len(fitted)


def test_a_replication_cohort_keeps_a_duplicate_on_the_training_side(tmp_path, made):
    """--role real splits as compress does, near-identical people on one side: a held-out copy of a training person
    moves to training and is named."""
    from conftest import write_vcf_text

    cohort, real = made
    with open_store(real) as store:
        split = np.asarray(store.split().tolist())
    held, trained = int(np.flatnonzero(split == "test")[0]), int(np.flatnonzero(split == "train")[0])
    genotypes = cohort.genotypes.copy()
    genotypes[:, held] = np.where(genotypes[:, trained] < 0, 0, genotypes[:, trained])
    write_vcf_text(tmp_path / "dup.vcf", cohort.samples, cohort.contigs, cohort.positions, genotypes)
    s = encode(tmp_path / "dup.vcf", real, tmp_path / "dup.zarr", EncodeConfig(labels=cohort.labels, role="real", seed=3))
    assert sorted([cohort.samples[held], cohort.samples[trained]]) in s.near_identical
    assert s.moved_to_training == [cohort.samples[held]]
    with open_store(tmp_path / "dup.zarr") as store:
        after = np.asarray(store.split().tolist())
    assert after[held] == "train" and (after == "test").sum() == (split == "test").sum() - 1
