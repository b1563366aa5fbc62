"""Where eval's classifiers train: one after another in this process, or side by side in worker processes.

A classifier fit is small (a few hundred thousand weights, seconds of compute), and torch spreads
such models over several cores poorly: on 2 cores the transformer classifier's epoch takes 0.77 s
with 2 threads and 0.99 s with 1, so two fits side by side, one thread each, finish in about 1.3×
the time of one instead of 2× (docs/PERFORMANCE.md). On the CPU, with more than one core to this
job, the fits are therefore handed to single-threaded worker processes, at most as many at once
as the job's current share of the cores (genomesynth/threads.py); the people travel in shared
memory, once per set, never copied per fit. Workers fork from a server process that imports torch
once (about 2.5 s of CPU; each worker paid it before), where the platform has one: they start with
the runner, while eval computes its other metrics, and eval asks for them only where fits take
seconds (a transformer or CNN classifier; an MLP fit takes a fraction of one).
People that do not fit in the free shared memory (/dev/shm is 64 MB in a default Docker container)
are trained on here instead, as a write past its end would kill the process. A fit computes with
one thread wherever it runs, so the scores do not depend on how many cores the machine has
(tested). On a GPU every fit runs here, in turn.
"""

from __future__ import annotations

import multiprocessing
import shutil
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch

from genomesynth import threads
from genomesynth.errors import GenomesynthError
from genomesynth.metrics.classifiers import ClassifierBudget, fit_and_score


@dataclass(frozen=True)
class People:
    """Training people (standardised latents x, labels y) as the runner holds them: arrays here, shared tensors for workers."""

    x: np.ndarray | torch.Tensor
    y: np.ndarray | torch.Tensor


Part = tuple[People, np.ndarray | None]
"""Some of a set's people (rows; None: all of them); a fit trains on its parts concatenated."""


@dataclass(frozen=True)
class _Task:
    """What every fit of one runner shares: the held-out people it is scored on and the training budget."""

    test_x: np.ndarray | torch.Tensor
    test_y: np.ndarray | torch.Tensor
    mask: np.ndarray
    n_classes: int
    budget: ClassifierBudget
    device: str


def _fit(task: _Task, kind: str, parts: Sequence[Part], seed: int) -> dict[str, float]:
    """Train and score one classifier on its parts (in this process or in a worker)."""
    xs = [_array(p.x) if rows is None else _array(p.x)[rows] for p, rows in parts]
    ys = [_array(p.y) if rows is None else _array(p.y)[rows] for p, rows in parts]
    x, y = (xs[0], ys[0]) if len(parts) == 1 else (np.concatenate(xs), np.concatenate(ys))
    return fit_and_score(kind, x, y, _array(task.test_x), _array(task.test_y), task.mask, task.n_classes, seed,
                         task.budget, task.device)


def _array(a: np.ndarray | torch.Tensor) -> np.ndarray:
    return a.numpy() if isinstance(a, torch.Tensor) else a


_worker_task: _Task | None = None


def _start_worker(task: _Task) -> None:
    global _worker_task
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)
    torch.set_num_threads(1)
    _worker_task = task


def _ready() -> None:
    """A task that only makes the executor start a worker."""


def _worker_fit(kind: str, parts: Sequence[Part], seed: int) -> dict[str, float]:
    assert _worker_task is not None
    return _fit(_worker_task, kind, parts, seed)


class Pending:
    """The scores of one submitted fit; `result()` waits for them."""

    def __init__(self, runner: FitRunner, future: Future[dict[str, float]] | None, value: dict[str, float] | None,
                 job: tuple[str, Sequence[Part], int] | None = None) -> None:
        self._runner, self._future, self._value, self._job = runner, future, value, job

    def result(self) -> dict[str, float]:
        if self._value is None:
            self._value = self._runner._wait(self)
        return self._value


class FitRunner:
    """Trains eval's classifiers: in this process (`workers` ≤ 1, or a GPU), else in a pool of `workers` processes
    (None: this job's share of the cores; one outside a command), started now. Use it in a `with` block, which
    closes the pool."""

    def __init__(self, test_x: np.ndarray, test_y: np.ndarray, mask: np.ndarray, n_classes: int,
                 budget: ClassifierBudget, device: str = "cpu", workers: int | None = None) -> None:
        if workers is None:
            policy = threads.current()
            workers = policy.threads if policy is not None else 1
        self.workers = workers if device == "cpu" else 1
        test = self._share(test_x, test_y) if self.workers > 1 else None
        if test is None:
            self.workers = 1
        self._task = _Task(test.x if test else test_x, test.y if test else test_y, mask, n_classes, budget, device)
        self._pool: ProcessPoolExecutor | None = None
        self._queued: list[Pending] = []
        self._running: dict[Future[dict[str, float]], Pending] = {}
        if self.workers > 1:
            self._start_pool()  # the workers import torch while the caller computes its other metrics

    def people(self, x: np.ndarray, y: np.ndarray) -> People:
        """Hand a set's training people to the runner once; every fit on them then names them by rows."""
        return (self._share(x, y) if self.workers > 1 else None) or People(x, y)

    def submit(self, kind: str, parts: Sequence[Part], seed: int) -> Pending:
        """Train and score classifier `kind` on `parts` with `seed`; in this process that happens now."""
        if self.workers <= 1 or any(isinstance(people.x, np.ndarray) for people, _ in parts):
            threads.rebalance()  # between fits, never inside one: a fit keeps its one thread throughout
            # one thread on the CPU, as a worker computes, so that scores do not depend on where a fit ran
            with threads.at_most(1) if self._task.device == "cpu" else nullcontext():
                return Pending(self, None, _fit(self._task, kind, parts, seed))
        pending = Pending(self, None, None, (kind, parts, seed))
        self._queued.append(pending)
        self._dispatch()
        return pending

    def __enter__(self) -> FitRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _limit(self) -> int:
        """Fits running at once: the job's share of the cores now (it shrinks while other jobs run), at most `workers`."""
        threads.rebalance()
        policy = threads.current()
        return max(1, min(self.workers, policy.threads if policy is not None else self.workers))

    def _start_pool(self) -> None:
        self._pool = ProcessPoolExecutor(self.workers, mp_context=_worker_context(),
                                         initializer=_start_worker, initargs=(self._task,))
        for _ in range(self.workers):  # the executor starts a process per task waiting for one
            self._pool.submit(_ready)

    def _dispatch(self) -> None:
        assert self._pool is not None
        self._running = {future: p for future, p in self._running.items() if not future.done()}
        while self._queued and len(self._running) < self._limit():
            pending = self._queued.pop(0)
            assert pending._job is not None
            future = self._pool.submit(_worker_fit, *pending._job)
            pending._future = future
            self._running[future] = pending

    def _wait(self, pending: Pending) -> dict[str, float]:
        try:
            while pending._future is None or not pending._future.done():
                self._dispatch()
                wait(list(self._running), timeout=threads.RECHECK_SECONDS, return_when=FIRST_COMPLETED)
            return pending._future.result()
        except BrokenProcessPool:
            raise GenomesynthError(
                "eval: a classifier worker process died (out of memory?); rerun with --threads 1 to train the "
                "classifiers one at a time in this process"
            ) from None

    @staticmethod
    def _share(x: np.ndarray, y: np.ndarray) -> People | None:
        """x and y as CPU tensors in shared memory (workers receive a handle, not a copy); None if they do not fit."""
        if x.nbytes + y.nbytes > shared_memory_free() // 2:
            return None
        return People(*(torch.from_numpy(np.ascontiguousarray(a)).share_memory_() for a in (x, y)))


def _worker_context() -> multiprocessing.context.BaseContext:
    """How workers start: forked from a server process that imported torch once (fresh, so no OpenMP pool is copied
    into a fork), where the platform has one; else each worker started afresh and importing torch itself."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["genomesynth.metrics.runner"])
    return context


def shared_memory_free() -> int:
    """Free bytes in /dev/shm, where torch puts shared tensors on Linux (unbounded where there is none)."""
    try:
        return shutil.disk_usage("/dev/shm").free
    except OSError:
        return 2**62
