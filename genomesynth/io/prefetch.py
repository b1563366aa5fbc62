"""A cohort's blocks read by a second process while this one computes.

htslib's record parse runs on one core and holds the GIL, so a thread beside it does not help; a
process does. `compress` and `encode` take their blocks from `prefetched_blocks`: a reader process
opens the cohort again and parses it into a bounded queue (a few blocks: the memory bound stays
one block per slot), while this process assigns genes, fits PCA and writes. The wall time then
approaches the slower of the two sides instead of their sum. With one usable core there is nothing
to overlap and the blocks are read here, as before.
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from genomesynth import threads
from genomesynth.errors import GenomesynthError
from genomesynth.io import Cohort, VariantBlock, open_cohort

DEPTH = 4
"""Blocks the reader may be ahead by."""


@dataclass
class _Failure:
    message: str
    user_error: bool


def _read(path: Path, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """The reader process: every block of the cohort, then None (or the failure that stopped it)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)  # one core for the parse; the other process has the rest
    try:
        for block in open_cohort(path).blocks():
            out.put(block)
        out.put(None)
    except GenomesynthError as exc:
        out.put(_Failure(str(exc), user_error=True))
    except KeyboardInterrupt:
        pass
    except BaseException as exc:  # a bug: report it as one, not as a hang
        out.put(_Failure(f"{type(exc).__name__}: {exc}", user_error=False))


def prefetched_blocks(cohort: Cohort) -> Iterator[VariantBlock]:
    """`cohort.blocks()`, parsed in a second process when there is a second core."""
    policy = threads.current()
    cores = policy.threads if policy is not None else threads.usable_cores()
    if cores < 2:
        yield from cohort.blocks()
        return
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    blocks: multiprocessing.Queue = context.Queue(maxsize=DEPTH)  # type: ignore[type-arg]
    reader = context.Process(target=_read, args=(cohort.path, blocks), daemon=True, name="genomesynth-reader")
    reader.start()
    try:
        while True:
            try:
                item = blocks.get(timeout=1.0)
            except queue.Empty:
                if not reader.is_alive() and blocks.empty():
                    raise GenomesynthError(
                        f"{cohort.path}: the process reading it stopped (exit code {reader.exitcode}) "
                        "before the end of the file; if the machine ran out of memory, free some and run again"
                    ) from None
                continue
            if item is None:
                return
            if isinstance(item, _Failure):
                if item.user_error:
                    raise GenomesynthError(item.message)
                raise RuntimeError(f"in the reader process: {item.message}")
            yield item
    finally:
        if reader.is_alive():
            reader.terminate()
        reader.join()
        blocks.close()
        blocks.cancel_join_thread()
