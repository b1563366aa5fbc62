"""The command line: every bad input is one clear line, exit code 2, no traceback, no partial store."""

import gzip
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genomesynth.cli import app

from conftest import make_cohort

runner = CliRunner()


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "genomesynth", *args], capture_output=True, text=True, cwd=cwd)


def _assert_clean_failure(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    message = " ".join(lines)
    assert message.startswith("error:"), result.stderr
    for word in words:
        assert word in message, message


def test_compress_info_decode_through_the_cli(tmp_path):
    c = make_cohort(tmp_path)
    result = runner.invoke(app, ["compress", str(c.vcf), "-o", str(tmp_path / "r.zarr"), "--genes", str(c.genes),
                                 "--labels", str(c.labels), "-q"])
    assert result.exit_code == 0, result.output
    assert "genotype concordance" in result.output
    info = runner.invoke(app, ["info", str(tmp_path / "r.zarr")])
    assert info.exit_code == 0 and "60 × 32 × 8" in info.output
    out = runner.invoke(app, ["decode", str(tmp_path / "r.zarr"), "-o", str(tmp_path / "r.vcf.gz"), "-q"])
    assert out.exit_code == 0 and (tmp_path / "r.vcf.gz").exists()


def _bad_inputs(tmp: Path) -> dict[str, tuple[list[str], list[str]]]:
    c = make_cohort(tmp)
    empty = tmp / "empty.vcf"
    empty.write_text("")
    no_samples = tmp / "nosamples.vcf"
    no_samples.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr1\t5\t.\tA\tC\t.\t.\t.\n")
    truncated = tmp / "trunc.vcf.gz"
    data = gzip.compress(c.vcf.read_bytes())
    truncated.write_bytes(data[: len(data) // 2])
    dup_labels = tmp / "dup.tsv"
    dup_labels.write_text("sample_id\tlabel\nS000\t1\nS000\t0\n")
    bad_bed = tmp / "bad.bed"
    bad_bed.write_text("chr1\tstart\tend\tX\n")
    existing = tmp / "exists.zarr"
    existing.mkdir()
    vcf = str(c.vcf)
    return {
        "empty vcf": ([str(empty), "-o", str(tmp / "o1.zarr")], ["empty.vcf", "empty"]),
        "no samples": ([str(no_samples), "-o", str(tmp / "o2.zarr")], ["no samples"]),
        "truncated": ([str(truncated), "-o", str(tmp / "o3.zarr")], ["trunc.vcf.gz", "truncated"]),
        "duplicate label ids": ([vcf, "-o", str(tmp / "o4.zarr"), "--labels", str(dup_labels)], ["dup.tsv", "line 3", "twice"]),
        "missing label column": ([vcf, "-o", str(tmp / "o5.zarr"), "--labels", str(c.labels), "--label-column", "nope"],
                                 ["labels.tsv", "--label-column"]),
        "gene file format": ([vcf, "-o", str(tmp / "o6.zarr"), "--genes", str(bad_bed)], ["bad.bed", "line 1", "BED"]),
        "output exists": ([vcf, "-o", str(existing)], ["exists.zarr", "--overwrite"]),
        "unwritable": ([vcf, "-o", "/proc/genomesynth-test.zarr"], ["/proc", "not writable"]),
        "bad suffix": ([vcf, "-o", str(tmp / "o.txt")], [".zarr", ".h5"]),
        "missing input": ([str(tmp / "nope.vcf"), "-o", str(tmp / "o7.zarr")], ["nope.vcf", "no such file"]),
    }


@pytest.mark.parametrize("case", ["empty vcf", "no samples", "truncated", "duplicate label ids", "missing label column",
                                  "gene file format", "output exists", "unwritable", "bad suffix", "missing input"])
def test_bad_input_is_one_line_exit_2_and_no_partial_store(tmp_path, case):
    args, words = _bad_inputs(tmp_path)[case]
    before = set(tmp_path.iterdir())
    _assert_clean_failure(_cli("compress", *args), *words)
    assert set(tmp_path.iterdir()) == before  # nothing written, not even a temporary store


def test_debug_shows_the_traceback(tmp_path):
    result = _cli("--debug", "compress", str(tmp_path / "nope.vcf"), "-o", str(tmp_path / "o.zarr"))
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_info_refuses_a_foreign_store(tmp_path):
    import zarr

    zarr.open_group(str(tmp_path / "foreign.zarr"), mode="w").attrs["hello"] = 1
    _assert_clean_failure(_cli("info", str(tmp_path / "foreign.zarr")), "not a genomesynth store")


def test_an_interrupted_write_leaves_no_store(tmp_path, monkeypatch):
    from genomesynth import compress as module

    c = make_cohort(tmp_path)

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(module.StoreWriter, "set_attrs", boom)
    with pytest.raises(RuntimeError):
        module.compress(c.vcf, tmp_path / "r.zarr", module.CompressConfig(genes=c.genes))
    assert not (tmp_path / "r.zarr").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
