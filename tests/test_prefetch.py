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
