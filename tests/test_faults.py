"""Faults and hostile input (issue 10): each case builds its bad input, runs the command as a user
would (`genomesynth …`, through the console entry point) and asserts exit code 2, one line without
a traceback, and no output that looks complete."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from genomesynth import cli
from genomesynth.errors import GenomesynthError
from genomesynth.store import StoreWriter, open_store, verify

from conftest import DEMO, make_cohort, write_vcf_text


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`genomesynth ARGS` in this process: (exit code, stdout, stderr)."""
    argv = sys.argv
    sys.argv = ["genomesynth", *args]
    try:
        cli.main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = argv
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def refused(capsys: pytest.CaptureFixture[str], *args: str, words: tuple[str, ...] = ()) -> str:
    """The command exits 2 with one `error:` line naming `words`, and no traceback."""
    code, _, err = run(capsys, *args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory):
    return make_cohort(tmp_path_factory.mktemp("cohort"))


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory, cohort) -> Path:
    from genomesynth.compress import CompressConfig, compress

    path = tmp_path_factory.mktemp("real") / "real.zarr"
    compress(cohort.vcf, path, CompressConfig(genes=cohort.genes, labels=cohort.labels))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, real: Path) -> Path:
    from genomesynth.train import TrainConfig, train

    run_dir = tmp_path_factory.mktemp("run") / "run"
    train(real, run_dir, TrainConfig(max_steps=4, batch_size=16, timesteps=50))
    return run_dir


def copy_of(store: Path, tmp_path: Path, name: str = "copy.zarr") -> Path:
    target = tmp_path / name
    shutil.copytree(store, target)
    return target


# -- 1. a VCF cut on a BGZF block boundary ---------------------------------------------------------


def bgzf_blocks(data: bytes) -> list[int]:
    """Offsets where each BGZF block ends (BSIZE, bytes 16–17 of every block header, is its size − 1)."""
    ends, offset = [], 0
    while offset < len(data):
        offset += int.from_bytes(data[offset + 16 : offset + 18], "little") + 1
        ends.append(offset)
    return ends


def test_a_vcf_cut_on_a_bgzf_block_boundary_is_refused(tmp_path, capsys):
    data = (DEMO / "demo.vcf.gz").read_bytes()
    ends = bgzf_blocks(data)
    assert len(ends) > 3 and ends[-1] == len(data)
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(data[: ends[len(ends) // 2]])  # complete blocks, no EOF block: what a crashed writer leaves
    refused(capsys, "compress", str(cut), "-o", str(tmp_path / "o.zarr"), "-q", words=("cut.vcf.gz", "truncated"))
    assert not (tmp_path / "o.zarr").exists()


# -- 2. missing or damaged chunks -------------------------------------------------------------------


@pytest.mark.parametrize("array", ["latents", "label", "stats/std"])
def test_a_deleted_chunk_is_refused_by_every_command(tmp_path, capsys, real, trained, array):
    broken = copy_of(real, tmp_path)
    chunk = next(p for p in sorted((broken / array / "c").rglob("*")) if p.is_file())
    chunk.unlink()
    words = ("copy.zarr", "missing", array)
    refused(capsys, "info", str(broken), words=words)
    refused(capsys, "train", str(broken), "-o", str(tmp_path / "run"), "--max-steps", "2", "-q", words=words)
    refused(capsys, "decode", str(broken), "-o", str(tmp_path / "d.vcf.gz"), "-q", words=words)
    refused(capsys, "eval", str(broken), "--real", str(real), "--metrics", "aa", "-q", words=words)
    assert not (tmp_path / "run" / "last.pt").exists() and not (tmp_path / "d.vcf.gz").exists()
    code, out, _ = run(capsys, "info", str(broken), "--verify")
    assert code == 2 and f"{array} chunk" in out and "file missing" in out


def test_a_truncated_chunk_is_one_line_and_verify_names_it(tmp_path, capsys, real):
    broken = copy_of(real, tmp_path)
    chunk = broken / "latents" / "c" / "0" / "0" / "0"
    chunk.write_bytes(chunk.read_bytes()[:40])
    refused(capsys, "train", str(broken), "-o", str(tmp_path / "run"), "--max-steps", "2", "-q",
            words=("latents", "damaged", "--verify"))
    code, out, _ = run(capsys, "info", str(broken), "--verify")
    assert code == 2 and "latents chunk 0.0.0: unreadable" in out


def test_verify_passes_an_intact_store_of_either_backend(tmp_path, capsys, real, cohort):
    from genomesynth.compress import CompressConfig, compress

    h5 = tmp_path / "real.h5"
    compress(cohort.vcf, h5, CompressConfig(genes=cohort.genes))
    for store in (real, h5):
        report = verify(store)
        assert report.ok and report.integrity_record and "latents" in report.arrays, report.problems
        code, out, _ = run(capsys, "info", str(store), "--verify")
        assert code == 0 and "intact" in out


def test_verify_finds_a_changed_chunk_of_an_h5_store(tmp_path, cohort):
    import h5py

    from genomesynth.compress import CompressConfig, compress

    h5 = tmp_path / "real.h5"
    compress(cohort.vcf, h5, CompressConfig(genes=cohort.genes))
    with h5py.File(h5, "r+") as f:
        f["latents"][0, 0, 0] += 1.0
    assert verify(h5).problems == ["latents chunk 0.0.0: checksum differs from the one written with the store"]


# -- 3. ploidy and allele indices checked per record -------------------------------------------------


HEADER = ["##fileformat=VCFv4.2", "##contig=<ID=chr1>",
          '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
          "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\tS3"]


@pytest.mark.parametrize("records,words", [
    (["chr1\t10\t.\tA\tG\t.\t.\t.\tGT\t0\t1\t0", "chr1\t20\t.\tA\tG\t.\t.\t.\tGT\t0/1\t1/1\t0/0"],
     ("line 6", "chr1:20", "sample S1 has ploidy 2", "ploidy 1")),
    (["chr1\t10\t.\tA\tG\t.\t.\t.\tGT\t0/1\t1/1\t0/0", "chr1\t20\t.\tA\tG\t.\t.\t.\tGT\t0/1\t1\t0/0"],
     ("line 6", "sample S2", "ploidy 1")),
    (["chr1\t10\t.\tA\tG\t.\t.\t.\tGT\t0/1\t0|2\t0/0"], ("line 5", "sample S2", "allele 2", "1 ALT")),
    (["chr1\t10\t.\tA\tG\t.\t.\t.\tGT\t0/1\t1/1\t0/0", "chr1\t20\t.\tA\tG\t.\t.\t.\tGT\t0/1\t1/1/1\t0/0"],
     ("line 6", "ploidy 3")),
], ids=["haploid first record", "one haploid call", "allele 2 at a biallelic site", "triploid call"])
def test_mixed_ploidy_and_impossible_alleles_are_refused(tmp_path, capsys, records, words):
    vcf = tmp_path / "bad.vcf"
    vcf.write_text("\n".join(HEADER + records) + "\n")
    refused(capsys, "compress", str(vcf), "-o", str(tmp_path / "o.zarr"), "--block-size", "1", "-q",
            words=("bad.vcf", *words))
    assert not (tmp_path / "o.zarr").exists()


def test_an_unparseable_record_is_named_by_its_line(tmp_path, capsys):
    vcf = tmp_path / "bad.vcf"
    vcf.write_text("\n".join(HEADER + ["chr1\t10\t.\tA\tG\t.\t.\t.\tGT\t0/1\t1/1\t0/0",
                                         "chr1\tabc\t.\tA\tG\t.\t.\t.\tGT\t0/1\t1/1\t0/0"]) + "\n")
    refused(capsys, "compress", str(vcf), "-o", str(tmp_path / "o.zarr"), "--block-size", "1", "-q",
            words=("bad.vcf", "line 6", "chr1 abc"))


def test_a_partly_missing_call_is_missing_not_hom_ref(tmp_path):
    from genomesynth.io.vcf import VcfCohort

    vcf = tmp_path / "partial.vcf"
    vcf.write_text("\n".join(HEADER + ["chr1\t10\t.\tA\tG\t.\t.\t.\tGT\t0/.\t1|1\t./."]) + "\n")
    (block,) = VcfCohort(vcf).blocks()
    assert block.dosage[0].tolist() == [-1, 2, -1]


# -- 4. two writers to one output ------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".zarr", ".h5"])
def test_the_second_of_two_writers_to_one_output_refuses(tmp_path, suffix):
    target = tmp_path / f"out{suffix}"
    first, second = StoreWriter(target), StoreWriter(target)  # both pass the existence check at start

    def fill(writer: StoreWriter, value: float) -> None:
        writer.write("mask", np.ones((4, 8), bool))
        writer.create_latents(3, 4)[...] = value
        writer.set_attrs({"schema_version": 1, "role": "real", "n_genes": 4, "ploidy": 2})

    with pytest.raises(GenomesynthError, match="another process"):
        with second:
            fill(second, 2.0)
            with first:  # starts later, finishes first
                fill(first, 1.0)
    with open_store(target) as store:
        assert float(store.latents[0, 0, 0]) == 1.0  # the first finisher's store, untouched
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # and no temporary left behind


def test_temporaries_of_killed_runs_are_removed_by_the_next_writer(tmp_path, real, capsys, cohort):
    from genomesynth.store import _HOST

    dead = tmp_path / f".r.zarr.tmp-{_HOST}-{2**22 + 12345}-0123abcd"  # above pid_max: never alive
    dead.mkdir()
    alive = tmp_path / f".r.zarr.tmp-{_HOST}-{os.getpid()}-0123abcd"
    alive.mkdir()
    code, _, err = run(capsys, "compress", str(cohort.vcf), "--genes", str(cohort.genes), "-o", str(tmp_path / "r.zarr"), "-q")
    assert code == 0, err
    assert not dead.exists() and alive.exists()


# -- 5. NaN and infinity never written ---------------------------------------------------------------


def test_non_finite_options_are_refused(tmp_path, capsys, trained):
    for option in ("--guidance", "--eta"):
        refused(capsys, "sample", str(trained), "-o", str(tmp_path / "s.zarr"), "-n", "4", option, "nan", "-q",
                words=(option, "finite"))
    refused(capsys, "train", str(trained.parent / "x.zarr"), "-o", str(tmp_path / "r"), "--lr", "inf", words=("--lr",))
    assert not (tmp_path / "s.zarr").exists()


def test_compress_filters_out_of_range_are_refused(tmp_path, capsys, cohort):
    """A NaN --min-maf once filtered nothing (every comparison with NaN is false); a MAF above 0.5 cannot exist."""
    for option, value in (("--min-maf", "nan"), ("--min-maf", "0.7"), ("--min-mac", "-1"), ("--flank", "-5")):
        refused(capsys, "compress", str(cohort.vcf), "--genes", str(cohort.genes), "-o", str(tmp_path / "r.zarr"),
                option, value, "-q", words=(option,))
    assert not (tmp_path / "r.zarr").exists()


def test_non_finite_latents_are_refused_at_every_read(tmp_path, capsys, real, trained):
    import zarr

    synthetic = tmp_path / "syn.zarr"
    code, _, err = run(capsys, "sample", str(trained), "-o", str(synthetic), "-n", "6", "--sampler", "ddim",
                       "--steps", "3", "-q")
    assert code == 0, err
    latents = zarr.open_group(str(synthetic), mode="r+")["latents"]
    block = latents[...]
    block[2, 0, 0] = np.nan
    latents[...] = block
    words = ("syn.zarr", "NaN", "person 2")
    refused(capsys, "decode", str(synthetic), "--codec", str(real), "-o", str(tmp_path / "d.vcf.gz"), "-q", words=words)
    refused(capsys, "eval", str(synthetic), "--real", str(real), "--metrics", "aa", "-q", words=words)
    assert not (tmp_path / "d.vcf.gz").exists()


def test_a_model_that_draws_nan_writes_nothing(tmp_path, trained, monkeypatch):
    from genomesynth import sample as module

    import torch

    diverged = lambda denoise, schedule, y, mask, **kwargs: torch.full((len(y), *mask.shape), float("nan"))  # noqa: E731
    monkeypatch.setattr(module, "draw", diverged)
    with pytest.raises(GenomesynthError, match="NaN"):
        module.sample(trained, tmp_path / "s.zarr", module.SampleConfig(n=4, sampler="ddim", steps=2))
    assert list(tmp_path.iterdir()) == []


# -- 6. the log of a resumed run equals an unbroken one's ------------------------------------------


def _log(run_dir: Path) -> list[dict]:
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


def test_a_kill_between_log_and_checkpoint_leaves_no_duplicate(tmp_path, real, monkeypatch):
    from genomesynth import train as module

    config = module.TrainConfig(epochs=4, batch_size=16, timesteps=50)
    module.train(real, tmp_path / "whole", config)

    save = module.save_checkpoint

    def killed_after_logging_epoch_2(path: Path, state: dict) -> None:
        if path.name == "last.pt" and state["epoch"] == 2:
            raise KeyboardInterrupt  # the log line of epoch 1 is written, its checkpoint is not
        save(path, state)

    monkeypatch.setattr(module, "save_checkpoint", killed_after_logging_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        module.train(real, tmp_path / "broken", config)
    monkeypatch.setattr(module, "save_checkpoint", save)
    assert [r["epoch"] for r in _log(tmp_path / "broken")] == [0, 1]
    module.train(real, tmp_path / "broken", config, resume=True)
    assert _log(tmp_path / "broken") == _log(tmp_path / "whole")


# -- 7. a diverged run says what is kept, and --resume can lower the rate ----------------------------


def test_divergence_names_the_command_that_goes_on(tmp_path, capsys, real, monkeypatch):
    from genomesynth import train as module

    run_dir = tmp_path / "run"
    calls = {"n": 0}
    loss = module._loss

    def diverging_in_epoch_2(*args, **kwargs):
        calls["n"] += 1
        value = loss(*args, **kwargs)
        return value * float("nan") if calls["n"] > 8 else value  # 4 steps per epoch: epoch 2 diverges

    monkeypatch.setattr(module, "_loss", diverging_in_epoch_2)
    line = refused(capsys, "train", str(real), "-o", str(run_dir), "--epochs", "4", "--batch-size", "16",
                   "--lr", "0.5", "-q", words=("step 8", "kept", "--resume --lr 0.05"))
    assert f"-o {run_dir}" in line
    monkeypatch.setattr(module, "_loss", loss)
    code, _, err = run(capsys, "train", str(real), "-o", str(run_dir), "--resume", "--lr", "0.05", "-q")
    assert code == 0, err
    state = module.load_checkpoint(run_dir, "last")
    assert state["config"]["lr"] == 0.05 and state["epoch"] == 4


def test_divergence_before_any_checkpoint_says_so(tmp_path, capsys, real, monkeypatch):
    from genomesynth import train as module

    monkeypatch.setattr(module, "_loss", lambda *a, **k: module.torch.tensor(float("nan")))
    refused(capsys, "train", str(real), "-o", str(tmp_path / "run"), "--lr", "1e6", "-q",
            words=("before any checkpoint", "--lr 100000"))


def test_resume_refuses_to_change_what_defines_the_run(tmp_path, capsys, real, trained):
    run_dir = copy_of(trained, tmp_path, "run")
    refused(capsys, "train", str(real), "-o", str(run_dir), "--resume", "--backbone", "unet-mlp", "-q",
            words=("--backbone 'baseline'", "only"))


# -- 8. user mistakes are exit 2, not "internal error" ------------------------------------------------


def test_user_mistakes_are_one_line_exit_2(tmp_path, capsys, real, trained, cohort):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    bad_config = tmp_path / "bad.json"
    bad_config.write_text(json.dumps({"max_steps": "many"}))
    folder = tmp_path / "folder"
    folder.mkdir()
    three = tmp_path / "three.vcf"
    write_vcf_text(three, ["S1", "S2", "S3"], ["chr1"] * 3, [10, 20, 30], np.array([[0, 1, 2], [1, 1, 0], [2, 0, 1]]))
    no_variants = copy_of(real, tmp_path, "novariants.zarr")
    shutil.rmtree(no_variants / "variants")
    t, r, s = str(trained), str(real), str(tmp_path / "s.zarr")
    cases = [
        (["train", r, "-o", str(tmp_path / "r1"), "--batch-size", "0"], ("--batch-size", "≥ 1")),
        (["train", r, "-o", str(tmp_path / "r2"), "--lr", "-1"], ("--lr", "> 0")),
        (["train", r, "-o", str(a_file)], ("a-file", "is a file")),
        (["train", r, "-o", str(tmp_path / "r3"), "--config", str(bad_config)], ("max_steps", "'many'", "int")),
        (["train", r, "-o", str(tmp_path / "r4"), "--max-steps", "0"], ("--max-steps", "≥ 1")),
        (["train", r, "-o", str(tmp_path / "r5"), "--epochs", "0"], ("--epochs",)),
        (["sample", t, "-o", s, "--batch-size", "0"], ("--batch-size",)),
        (["sample", t, "-o", s, "--sampler", "ddim", "--steps", "0"], ("--steps",)),
        (["sample", t, "-o", s, "--steps", "-5"], ("--steps",)),
        (["eval", s, "--real", r, "--k", "0"], ("--k", "≥ 1")),
        (["eval", s, "--real", r, "--k", "-3"], ("--k",)),
        (["eval", s, "--real", r, "--repeats", "0"], ("--repeats",)),
        (["compress", str(folder), "-o", str(tmp_path / "c1.zarr")], ("folder", "is a folder")),
        (["compress", str(cohort.vcf), "--labels", str(folder), "-o", str(tmp_path / "c2.zarr")], ("--labels", "folder")),
        (["decode", str(no_variants), "-o", str(tmp_path / "d.vcf.gz")], ("novariants.zarr", "variants")),
        (["eval", str(real), "--real", r, "--json", str(a_file)], ("a-file", "--overwrite")),
        (["plot", "curves", t, "-o", str(a_file)], ("a-file", "--overwrite")),
    ]
    for args, words in cases:
        refused(capsys, *args, words=words)
    assert a_file.read_text() == "x"
    # too few people: a 3-person store compresses but cannot be trained on; a 1-person store not evaluated
    code, _, err = run(capsys, "compress", str(three), "-o", str(tmp_path / "three.zarr"), "--block-size", "3",
                       "--test-fraction", "0", "-q")
    assert code == 0, err
    refused(capsys, "train", str(tmp_path / "three.zarr"), "-o", str(tmp_path / "r6"), "-q",
            words=("3 training people", "at least"))
    code, _, err = run(capsys, "sample", t, "-o", str(tmp_path / "one.zarr"), "-n", "1", "--sampler", "ddim", "--steps", "2", "-q")
    assert code == 0, err
    refused(capsys, "eval", str(tmp_path / "one.zarr"), "--real", r, "--metrics", "aa", "-q",
            words=("one.zarr", "1 synthetic people", "at least 2"))
