"""A cohort's blocks parsed by other processes while this one computes.

htslib's record parse runs on one core and holds the GIL, so a thread beside it does not help;
processes do. `compress` and `encode` take their blocks from `prefetched_blocks`:

- an indexed VCF/BCF (an up-to-date .tbi or .csi beside it) is cut into windows of a few blocks
  (`VcfCohort.windows`), dealt round-robin to one reader process per usable core; each parses its
  windows into its own bounded queue and this process takes the blocks window by window, in file
  order — the same blocks in the same order as one reader, parsed on every core;
- any other cohort (no index, PLINK, VCF Zarr) is parsed by one reader process into a bounded queue.

Either way this process assigns genes, fits PCA and writes meanwhile, with one thread (the readers
have the cores), and memory stays a few blocks per reader. With one usable core there is nothing to
overlap and the blocks are read here, as before.
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from genomesynth import threads
from genomesynth.errors import GenomesynthError
from genomesynth.io import BLOCK_VARIANTS, Cohort, VariantBlock, open_cohort

DEPTH = 4
"""Blocks each reader may be ahead by."""
WINDOW_BLOCKS = 2
"""Blocks of records per window: a reader can hold two windows in its queue while the others are read."""


@dataclass
class _Failure:
    message: str
    user_error: bool


class _WindowEnd:
    """Marks the end of one window in a reader's queue."""


def _read(path: Path, windows: list | None, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """A reader process: the blocks of each window (or of the whole file), each window closed by a
    _WindowEnd; then None, or the failure that stopped it."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)  # one core for the parse; the other processes have the rest
    try:
        cohort = open_cohort(path)
        for window in windows or [None]:
            for block in cohort.blocks(window) if window is not None else cohort.blocks():
                out.put(block)
            out.put(_WindowEnd())
        out.put(None)
    except GenomesynthError as exc:
        out.put(_Failure(str(exc), user_error=True))
    except KeyboardInterrupt:
        pass
    except BaseException as exc:  # a bug: report it as one, not as a hang
        out.put(_Failure(f"{type(exc).__name__}: {exc}", user_error=False))


def prefetched_blocks(cohort: Cohort) -> Iterator[VariantBlock]:
    """`cohort.blocks()`, parsed in other processes when there is more than one core.

    While it yields, this process computes with one thread (`threads.at_most(1)`, held from the first block
    to the last): the consumer's work between blocks runs under that cap. A consumer that opens its own
    `threads.at_most` must close it before taking the next block, so the caps unwind in order."""
    policy = threads.current()
    cores = policy.threads if policy is not None else threads.usable_cores()
    if cores < 2:
        yield from cohort.blocks()
        return
    windows = getattr(cohort, "windows", lambda _: None)(WINDOW_BLOCKS * BLOCK_VARIANTS)
    if windows is not None and len(windows) > 1:  # window w is read by reader w % readers
        readers, parts = min(cores, len(windows)), len(windows)
        plans: list[list | None] = [windows[r::readers] for r in range(readers)]
    else:  # one reader, the whole file as one part
        readers, parts, plans = 1, 1, [None]
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    queues = [context.Queue(maxsize=DEPTH) for _ in range(readers)]  # type: ignore[var-annotated]
    processes = [context.Process(target=_read, args=(cohort.path, plan, q), daemon=True, name=f"genomesynth-reader-{r}")
                 for r, (plan, q) in enumerate(zip(plans, queues, strict=True))]
    for process in processes:
        process.start()
    try:
        # the readers take the cores; this process's PCA between blocks computes with one thread beside them
        # (2 threads beside a reader on 2 cores: 9.2–9.6 s against 8.5–8.8 s for 4,000 people × 20,000 SNPs)
        with threads.at_most(1):
            for w in range(parts):
                r = w % readers
                while (item := _next(queues[r], processes[r], cohort.path)) is not None:
                    if isinstance(item, _WindowEnd):
                        break
                    yield item
    finally:
        for process, q in zip(processes, queues, strict=True):
            if process.is_alive():
                process.terminate()
            process.join()
            q.close()
            q.cancel_join_thread()


def _next(blocks: multiprocessing.Queue, reader: multiprocessing.process.BaseProcess,  # type: ignore[type-arg]
          path: Path) -> VariantBlock | _WindowEnd | None:
    """The reader's next item; its failure raised here; a reader that died without one is an error."""
    while True:
        try:
            item = blocks.get(timeout=1.0)
        except queue.Empty:
            if not reader.is_alive() and blocks.empty():
                raise GenomesynthError(
                    f"{path}: the process reading it stopped (exit code {reader.exitcode}) "
                    "before the end of the file; if the machine ran out of memory, free some and run again"
                ) from None
            continue
        if isinstance(item, _Failure):
            if item.user_error:
                raise GenomesynthError(item.message)
            raise RuntimeError(f"in the reader process: {item.message}")
        return item
