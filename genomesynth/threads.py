"""How many CPU threads a command computes with: the cores are shared with the other genomesynth jobs.

torch, OpenBLAS and OpenMP each start one worker per core and let idle workers spin. Two such jobs on
the same cores preempt each other's spinning workers and run many times slower than one after the
other (measured in docs/PERFORMANCE.md). The policy, in order:

1. `--threads N`: exactly N threads, for the whole command.
2. `OMP_NUM_THREADS` set in the environment: that number, fixed (torch and BLAS read it themselves).
3. Otherwise, automatic: the usable cores (CPU affinity and the cgroup quota) are shared equally
   among the genomesynth commands running on this machine, less the threads that fixed jobs claim,
   and the share is re-checked every second from the loops of long steps (`rebalance`), so a job
   that started alone gives up cores when a second starts and takes them back when it ends.

Every running command registers itself as one small file named by its process id in a folder under
the temporary directory; files of processes that died are removed by the next job that looks.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from genomesynth.errors import GenomesynthError

RECHECK_SECONDS = 1.0
"""How often, at most, an automatic job re-reads the register of running jobs."""


@dataclass
class Policy:
    source: str  # "--threads", "OMP_NUM_THREADS" or "auto"
    threads: int
    checked: float = float("-inf")

    @property
    def fixed(self) -> bool:
        return self.source != "auto"

    def describe(self) -> str:
        return f"{self.threads} ({self.source})"


_active: Policy | None = None


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity, capped by a cgroup v2 CPU quota if one is set."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        cores = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            cores = min(cores, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def register_folder() -> Path:
    return Path(tempfile.gettempdir()) / f"genomesynth-jobs-{os.getuid() if hasattr(os, 'getuid') else 'user'}"


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this host (one we may not signal counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_jobs() -> list[int]:
    """Thread claims of the genomesynth jobs running now, this one included: 0 for an automatic job."""
    claims = []
    try:
        entries = list(register_folder().iterdir())
    except OSError:
        return claims
    for entry in entries:
        try:
            pid = int(entry.name)
        except ValueError:
            continue
        if pid != os.getpid() and not pid_alive(pid):
            entry.unlink(missing_ok=True)
            continue
        try:
            claims.append(int(entry.read_text() or 0))
        except (OSError, ValueError):
            claims.append(0)
    return claims


def share(cores: int, claims: list[int]) -> int:
    """An automatic job's threads: the cores left by fixed jobs, split equally among automatic ones."""
    automatic = max(1, sum(1 for c in claims if c == 0))
    free = cores - sum(c for c in claims if c > 0)
    return max(1, free // automatic)


_applied: tuple[int, bool, bool] | None = None
_cap: int | None = None
"""At most this many threads, inside an `at_most` block, whatever the share."""


def _apply(threads: int) -> None:
    """Limit torch, OpenBLAS and OpenMP to `threads` (or the `at_most` cap), again whenever torch or scikit-learn
    was loaded since."""
    global _applied
    state = (threads if _cap is None else min(threads, _cap), "torch" in sys.modules, "sklearn" in sys.modules)
    if state == _applied:
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=state[0])
    if state[1]:
        import torch

        torch.set_num_threads(state[0])
    _applied = state


def rebalance() -> None:
    """Re-take this job's share of the cores if other jobs started or ended; cheap, call it from loops."""
    policy = _active
    if policy is None or policy.source == "OMP_NUM_THREADS":
        return
    now = time.monotonic()
    if not policy.fixed and now - policy.checked >= RECHECK_SECONDS:
        policy.checked = now
        policy.threads = share(usable_cores(), running_jobs())
    _apply(policy.threads)


def current() -> Policy | None:
    return _active


@contextmanager
def at_most(threads: int) -> Iterator[None]:
    """Compute with at most `threads` threads inside the block, then with the job's share again. eval's column
    computes its metrics with one thread while its classifiers train in worker processes that take the job's
    cores: 2 workers and a 2-thread process beside them on 2 cores took 5 % more CPU (docs/PERFORMANCE.md)."""
    global _cap
    if _active is None:  # outside a command: this process's own settings, restored after
        import torch
        from threadpoolctl import threadpool_limits

        before_torch = torch.get_num_threads()
        with threadpool_limits(limits=threads):
            torch.set_num_threads(min(before_torch, threads))
            try:
                yield
            finally:
                torch.set_num_threads(before_torch)
        return
    before = _cap
    _cap = threads if before is None else min(before, threads)
    _apply(_active.threads)
    try:
        yield
    finally:
        _cap = before
        _apply(_active.threads)


@contextmanager
def thread_policy(requested: int | None) -> Iterator[Policy]:
    """Register this command as a running job and set its threads (see the module's docstring)."""
    global _active, _applied
    if _active is not None:  # a command run from inside another keeps its policy
        yield _active
        return
    if requested is not None and requested < 1:
        raise GenomesynthError(f"--threads {requested}: give a whole number ≥ 1")
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if requested is not None:
        policy = Policy("--threads", requested)
    elif env.isdigit() and int(env) > 0:
        policy = Policy("OMP_NUM_THREADS", int(env))
    else:
        policy = Policy("auto", 0)
    folder = register_folder()
    entry = folder / str(os.getpid())
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        entry.write_text(str(policy.threads))
    except OSError:  # an unwritable temporary folder: run as if alone
        entry = None
    _active = policy
    rebalance()
    # torch and OpenMP size their pools when first loaded, usually after this point: start them at the
    # share too, or every job spins with all cores until its first progress update
    preset = policy.source != "OMP_NUM_THREADS" and "torch" not in sys.modules
    if preset:
        os.environ["OMP_NUM_THREADS"] = str(policy.threads)
    try:
        yield policy
    finally:
        if preset:
            os.environ.pop("OMP_NUM_THREADS", None)
        _active, _applied = None, None
        if entry is not None:
            entry.unlink(missing_ok=True)
