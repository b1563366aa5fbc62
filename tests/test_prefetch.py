"""Blocks parsed by a reader process equal the blocks read here, and its failures surface as one error."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from genomesynth.errors import GenomesynthError
from genomesynth.io import open_cohort, prefetch
from conftest import make_cohort


@pytest.fixture
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prefetch.threads, "usable_cores", lambda: 2)


def test_prefetched_blocks_equal_the_blocks_read_here(tmp_path: Path, two_cores: None,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("genomesynth.io.vcf.BLOCK_VARIANTS", 7)  # several blocks per contig
    vcf = make_cohort(tmp_path, n_people=30, missing=0.05).vcf
    here = list(open_cohort(vcf).blocks())
    there = list(prefetch.prefetched_blocks(open_cohort(vcf)))
    assert len(here) == len(there) > 2
    for a, b in zip(here, there):
        assert a.contig == b.contig
        assert np.array_equal(a.position, b.position) and np.array_equal(a.dosage, b.dosage)
        assert a.variant_id.tolist() == b.variant_id.tolist() and a.alt.tolist() == b.alt.tolist()


def test_one_core_reads_in_this_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prefetch.threads, "usable_cores", lambda: 1)
    monkeypatch.setattr(prefetch.multiprocessing, "get_context", lambda *_: pytest.fail("no process with one core"))
    vcf = make_cohort(tmp_path, n_people=10).vcf
    here = sum(len(b) for b in open_cohort(vcf).blocks())
    assert sum(len(b) for b in prefetch.prefetched_blocks(open_cohort(vcf))) == here > 0


def test_a_reader_that_dies_is_an_error_not_a_hang(tmp_path: Path, two_cores: None,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    cohort = open_cohort(make_cohort(tmp_path, n_people=10).vcf)
    monkeypatch.setattr(prefetch, "open_cohort", lambda path: os._exit(3))  # the forked reader exits at once
    with pytest.raises(GenomesynthError, match="exit code 3"):
        list(prefetch.prefetched_blocks(cohort))


# -- an indexed file, parsed window by window on several cores ---------------------------------------

INDEXED = Path(__file__).parent / "data" / "indexed.vcf.gz"
"""make_cohort(n_people=40, missing=0.05, seed=3), bgzipped and tabix-indexed (pysam 0.24)."""


def indexed_copy(tmp_path: Path, index: bool = True) -> Path:
    """The fixture with its index written after it (a checkout may give the index the older mtime)."""
    vcf = tmp_path / "indexed.vcf.gz"
    vcf.write_bytes(INDEXED.read_bytes())
    if index:
        Path(f"{vcf}.tbi").write_bytes(Path(f"{INDEXED}.tbi").read_bytes())
        later = vcf.stat().st_mtime + 1
        os.utime(f"{vcf}.tbi", (later, later))
    return vcf


def records(blocks) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    blocks = list(blocks)
    return ([b.contig for b in blocks for _ in range(len(b))], np.concatenate([b.position for b in blocks]),
            np.concatenate([b.dosage for b in blocks]), [v for b in blocks for v in b.variant_id.tolist()])


def test_the_fixture_is_make_cohorts_file(tmp_path: Path) -> None:
    plain = make_cohort(tmp_path, n_people=40, missing=0.05, seed=3).vcf
    a, b = records(open_cohort(plain).blocks()), records(open_cohort(indexed_copy(tmp_path)).blocks())
    assert a[0] == b[0] and a[3] == b[3] and np.array_equal(a[1], b[1]) and np.array_equal(a[2], b[2])


def test_windows_cover_every_record_once_in_file_order(tmp_path: Path) -> None:
    cohort = open_cohort(indexed_copy(tmp_path))
    windows = cohort.windows(4)
    assert windows is not None and len(windows) >= 8 and {w.contig for w in windows} == {"chr1", "chr2"}
    whole = records(cohort.blocks())
    parts = records(b for w in windows for b in open_cohort(cohort.path).blocks(w))
    assert parts[0] == whole[0] and parts[3] == whole[3]
    assert np.array_equal(parts[1], whole[1]) and np.array_equal(parts[2], whole[2])


def test_no_windows_without_an_up_to_date_index(tmp_path: Path) -> None:
    assert open_cohort(indexed_copy(tmp_path, index=False)).windows(4) is None
    vcf = indexed_copy(tmp_path / "stale" if (tmp_path / "stale").mkdir() is None else tmp_path)
    earlier = vcf.stat().st_mtime - 10
    os.utime(f"{vcf}.tbi", (earlier, earlier))  # the file changed after it was indexed
    assert open_cohort(vcf).windows(4) is None


def test_several_readers_give_the_blocks_of_one(tmp_path: Path, two_cores: None,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prefetch, "BLOCK_VARIANTS", 2)  # windows of 4 records: a dozen windows, two readers
    monkeypatch.setattr("genomesynth.io.vcf.BLOCK_VARIANTS", 3)
    cohort = open_cohort(indexed_copy(tmp_path))
    assert len(cohort.windows(prefetch.WINDOW_BLOCKS * 2)) > 4
    whole, parallel = records(cohort.blocks()), records(prefetch.prefetched_blocks(cohort))
    assert parallel[0] == whole[0] and parallel[3] == whole[3]
    assert np.array_equal(parallel[1], whole[1]) and np.array_equal(parallel[2], whole[2])


def test_compress_of_an_indexed_file_is_the_same_on_one_core_and_two(tmp_path: Path, two_cores: None,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from genomesynth.compress import CompressConfig, compress
    from genomesynth.store import open_store
    from genomesynth.threads import thread_policy

    monkeypatch.setattr(prefetch, "BLOCK_VARIANTS", 2)
    plain = make_cohort(tmp_path, n_people=40, missing=0.05, seed=3)
    vcf = indexed_copy(tmp_path)
    config = CompressConfig(genes=plain.genes, labels=plain.labels, seed=1)
    with thread_policy(1):
        compress(vcf, tmp_path / "one.zarr", config)
    with thread_policy(2):
        compress(vcf, tmp_path / "two.zarr", config)
    with open_store(tmp_path / "one.zarr") as one, open_store(tmp_path / "two.zarr") as two:
        assert one.attrs["codec_id"] == two.attrs["codec_id"]
        for name in ("latents", "mask", "variants/variant_position", "codec/loadings", "stats/std"):
            assert np.array_equal(one.read(name), two.read(name)), name
