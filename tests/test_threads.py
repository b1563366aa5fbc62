"""The thread policy: --threads, OMP_NUM_THREADS, and automatic sharing of the cores among running jobs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from genomesynth import threads
from genomesynth.errors import GenomesynthError


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A register of our own (other genomesynth jobs on this machine must not count) and torch's threads restored."""
    folder = tmp_path / "jobs"
    monkeypatch.setattr(threads, "register_folder", lambda: folder)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    yield folder
    torch.set_num_threads(before)


@pytest.fixture
def other_job(isolated: Path) -> Iterator[Path]:
    """A live process registered as an automatic genomesynth job."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    isolated.mkdir(exist_ok=True)
    entry = isolated / str(process.pid)
    entry.write_text("0")
    yield entry
    process.kill()
    process.wait()


def test_share_splits_the_cores_left_by_fixed_jobs() -> None:
    assert threads.share(8, [0]) == 8
    assert threads.share(8, [0, 0]) == 4
    assert threads.share(8, [0, 0, 0]) == 2
    assert threads.share(8, [6, 0]) == 2  # a fixed job's threads are taken off first
    assert threads.share(2, [0, 0, 0, 0]) == 1  # never fewer than one
    assert threads.share(2, [4, 0]) == 1


def test_a_job_registers_while_it_runs_and_dead_jobs_are_forgotten(isolated: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    isolated.mkdir()
    (isolated / str(dead.pid)).write_text("0")
    with threads.thread_policy(None):
        assert (isolated / str(os.getpid())).exists()
        assert threads.running_jobs() == [0]
        assert not (isolated / str(dead.pid)).exists()
    assert not (isolated / str(os.getpid())).exists()


def test_threads_option_is_exact_and_registered(isolated: Path) -> None:
    with threads.thread_policy(1) as policy:
        assert (policy.source, policy.threads) == ("--threads", 1)
        assert torch.get_num_threads() == 1
        assert (isolated / str(os.getpid())).read_text() == "1"
    with pytest.raises(GenomesynthError, match="--threads 0"):
        with threads.thread_policy(0):
            pass


def test_omp_num_threads_is_respected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    torch.set_num_threads(2)
    with threads.thread_policy(None) as policy:
        threads.rebalance()
        assert (policy.source, policy.threads, policy.fixed) == ("OMP_NUM_THREADS", 3, True)
        assert torch.get_num_threads() == 2  # left to torch, which read the variable when it started


def test_automatic_job_gives_up_cores_when_another_starts_and_takes_them_back(
    monkeypatch: pytest.MonkeyPatch, isolated: Path
) -> None:
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    monkeypatch.setattr(threads, "RECHECK_SECONDS", 0.0)
    with threads.thread_policy(None) as policy:
        assert (policy.source, policy.threads) == ("auto", 4)
        assert torch.get_num_threads() == 4
        process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        try:
            (isolated / str(process.pid)).write_text("0")
            threads.rebalance()
            assert policy.threads == 2 and torch.get_num_threads() == 2
        finally:
            process.kill()
            process.wait()
        threads.rebalance()  # the other job ended: its register entry is removed, the cores come back
        assert policy.threads == 4 and torch.get_num_threads() == 4
        assert not (isolated / str(process.pid)).exists()


def test_cli_records_the_policy_and_refuses_zero(tmp_path: Path, real_store: Path, other_job: Path) -> None:
    from typer.testing import CliRunner

    from genomesynth.cli import app
    from genomesynth.store import open_store

    runner = CliRunner()
    bad = runner.invoke(app, ["train", str(real_store), "-o", str(tmp_path / "run"), "--threads", "0"])
    assert bad.exit_code != 0
    out = tmp_path / "gaussian.zarr"
    ok = runner.invoke(app, ["baseline", str(real_store), "-o", str(out), "-n", "8", "--threads", "1", "--quiet"])
    assert ok.exit_code == 0, ok.output
    with open_store(out) as store:
        assert store.attrs["provenance"]["threads"] == "1 (--threads)"


def test_at_most_caps_the_threads_inside_the_block_and_gives_them_back(
    monkeypatch: pytest.MonkeyPatch, isolated: Path
) -> None:
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    monkeypatch.setattr(threads, "RECHECK_SECONDS", 0.0)
    with threads.thread_policy(None):
        assert torch.get_num_threads() == 4
        with threads.at_most(1):
            assert torch.get_num_threads() == 1
            threads.rebalance()  # a progress bar's re-check inside the block keeps the cap
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 4
    torch.set_num_threads(3)
    with threads.at_most(1):  # outside a command: this process's own setting, restored after
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 3
