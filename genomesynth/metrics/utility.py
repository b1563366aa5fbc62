"""Train on synthetic, test on real (TSTR), with train-on-real (TRTR) as the reference, and augmentation.

The three classifiers of genomesynth/metrics/classifiers.py, trained through a FitRunner (in this
process or side by side in workers, genomesynth/metrics/runner.py). TSTR and TRTR get the same
budget; each is repeated over seeds and reported as mean ± sd of accuracy, balanced accuracy and
ROC AUC (one-vs-rest macro for > 2 classes) on the real held-out split.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from genomesynth.metrics.classifiers import CLASSIFIERS, ClassifierBudget, fit_and_score, validation_split
from genomesynth.metrics.runner import FitRunner, Part, People

__all__ = ["CLASSIFIERS", "AUGMENT_FRACTIONS", "ClassifierBudget", "augmentation_curve", "fit_and_score", "small_subsets",
           "submit_augmentation", "submit_tstr", "tstr", "validation_split"]


def tstr(
    runner: FitRunner, train: People, classifiers: tuple[str, ...] = CLASSIFIERS, repeats: int = 3, seed: int = 0,
) -> dict[str, dict[str, dict[str, float]]]:
    """{classifier: {metric: {"mean": …, "sd": …, "runs": [...]}}} over `repeats` seeds, each classifier trained on
    `train` (from `runner.people`) and scored on the runner's held-out people."""
    return submit_tstr(runner, train, classifiers, repeats, seed)()


def submit_tstr(
    runner: FitRunner, train: People, classifiers: tuple[str, ...] = CLASSIFIERS, repeats: int = 3, seed: int = 0,
) -> Callable[[], dict[str, dict[str, dict[str, float]]]]:
    """`tstr`'s fits submitted (the slowest kinds first, so that a runner with workers packs them well); call the
    returned function for the result. Submitting more fits before calling it lets them all run side by side."""
    slow_first = sorted(classifiers, key=lambda kind: SLOWEST_FIRST.index(kind))
    pending = {kind: [runner.submit(kind, [(train, None)], seed + r) for r in range(repeats)] for kind in slow_first}

    def result() -> dict[str, dict[str, dict[str, float]]]:
        out: dict[str, dict[str, dict[str, float]]] = {}
        for kind in classifiers:
            runs = [p.result() for p in pending[kind]]
            out[kind] = {m: {"mean": float(np.nanmean([r[m] for r in runs])),
                             "sd": float(np.nanstd([r[m] for r in runs])), "runs": [r[m] for r in runs]}
                         for m in runs[0]}
        return out

    return result


SLOWEST_FIRST = ("transformer", "cnn", "mlp")
"""The classifiers by the time a fit takes (docs/PERFORMANCE.md): long fits start first, short ones fill the gaps."""


AUGMENT_FRACTIONS = (0.05, 0.10, 0.25)
"""Shares of the training split the augmentation experiment starts from (the paper's own use case)."""


def small_subsets(y: np.ndarray, fractions: tuple[float, ...], repeats: int, seed: int) -> list[list[np.ndarray]]:
    """Per fraction, `repeats` stratified random subsets of the labelled people y (at least 2 per class)."""
    rng = np.random.default_rng(seed)
    out = []
    for fraction in fractions:
        draws = []
        for _ in range(repeats):
            parts = [rng.choice(np.flatnonzero(y == c), min((y == c).sum(), max(2, round(fraction * (y == c).sum()))),
                                replace=False) for c in np.unique(y)]
            draws.append(np.sort(np.concatenate(parts)))
        out.append(draws)
    return out


def augmentation_curve(
    runner: FitRunner, real: People, subsets: list[list[np.ndarray]], extra: People | None, seed: int,
    kind: str = "mlp", rest: bool = False,
) -> list[float]:
    """Mean balanced accuracy on the held-out people, per fraction, of a classifier trained on each
    small subset of the `real` training people — alone (extra None), with the `extra` people added, or
    (rest) with every other real training person added (the ceiling a perfect generator approaches)."""
    return submit_augmentation(runner, real, subsets, extra, seed, kind, rest)()


def submit_augmentation(
    runner: FitRunner, real: People, subsets: list[list[np.ndarray]], extra: People | None, seed: int,
    kind: str = "mlp", rest: bool = False,
) -> Callable[[], list[float]]:
    """`augmentation_curve`'s fits submitted; call the returned function for the curve."""
    n = len(real.y)
    pending = []
    for draws in subsets:
        row = []
        for r, subset in enumerate(draws):
            parts: list[Part] = [(real, subset)]
            if rest:
                parts.append((real, np.setdiff1d(np.arange(n), subset)))
            elif extra is not None:
                parts.append((extra, None))
            row.append(runner.submit(kind, parts, seed + r))
        pending.append(row)
    return lambda: [float(np.mean([p.result()["balanced_accuracy"] for p in row])) for row in pending]
