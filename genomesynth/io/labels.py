"""Phenotype / group labels from a TSV: one row per sample, a sample column and a label column."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genomesynth.errors import GenomesynthError

MISSING = {"", "na", "nan", "-9", "none", "null", "."}


@dataclass
class Labels:
    codes: np.ndarray  # int32 (people,), -1 = unknown
    names: list[str]  # code -> name
    column: str
    unknown_ids: list[str] = field(default_factory=list)  # in the TSV, not in the cohort
    unlabelled: list[str] = field(default_factory=list)  # in the cohort, no label


def read_labels(path: Path, samples: list[str], column: str | None = None) -> Labels:
    """Align a label TSV to the cohort's samples. The first column (or `sample_id`) holds ids."""
    if not path.exists():
        raise GenomesynthError(f"{path}: no such label file")
    if path.is_dir():
        raise GenomesynthError(f"{path}: is a folder; --labels takes a tab-separated file (sample id, label)")
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    if not rows or len(rows[0]) < 2:
        raise GenomesynthError(
            f"{path}: line 1: expected a tab-separated header with a sample column and a label column"
        )
    header = [h.strip() for h in rows[0]]
    id_col = header.index("sample_id") if "sample_id" in header else 0
    if column is None:
        label_col = header.index("label") if "label" in header else (1 if id_col == 0 else 0)
    elif column in header:
        label_col = header.index(column)
    else:
        raise GenomesynthError(
            f"{path}: no column {column!r} (columns: {', '.join(header)}); pass --label-column with one of them"
        )
    values: dict[str, str] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(id_col, label_col):
            raise GenomesynthError(f"{path}: line {number} has {len(row)} columns, the header has {len(header)}")
        sample = row[id_col].strip()
        if sample in values:
            raise GenomesynthError(f"{path}: line {number}: sample {sample!r} appears twice; keep one row per sample")
        values[sample] = row[label_col].strip()
    index = {s: i for i, s in enumerate(samples)}
    present = [v for s, v in values.items() if s in index and v.lower() not in MISSING]
    names = _label_names(present)
    code_of = {n: i for i, n in enumerate(names)}
    codes = np.full(len(samples), -1, dtype=np.int32)
    for sample, value in values.items():
        if sample in index and value.lower() not in MISSING:
            codes[index[sample]] = code_of[value]
    return Labels(
        codes=codes,
        names=names,
        column=header[label_col],
        unknown_ids=[s for s in values if s not in index],
        unlabelled=[s for s, c in zip(samples, codes) if c < 0],
    )


def _label_names(values: list[str]) -> list[str]:
    """Distinct labels in a stable order: numerically for integer labels (0 < 1), else sorted."""
    distinct = set(values)
    try:
        return [str(v) for v in sorted(distinct, key=int)]
    except ValueError:
        return sorted(distinct)
