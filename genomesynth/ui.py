"""Rich progress bars shared by the long-running API functions (disabled when nobody watches)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from genomesynth.threads import rebalance

console = Console(stderr=True)
"""Progress and messages go to stderr, so stdout stays clean for JSON and pipes."""


class _Progress(Progress):
    """Every long loop reports here, so this is also where a job re-takes its share of the cores
    (genomesynth/threads.py): an automatic job gives up threads when another job starts."""

    def update(self, *args: Any, **kwargs: Any) -> None:
        rebalance()
        super().update(*args, **kwargs)

    def advance(self, *args: Any, **kwargs: Any) -> None:
        rebalance()
        super().advance(*args, **kwargs)


def make_progress(enabled: bool = True) -> Progress:
    return _Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
    )


def quiet() -> Progress:
    return make_progress(enabled=False)
