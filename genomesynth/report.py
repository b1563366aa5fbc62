"""The tables of an eval result (`evaluate.evaluate`), for the terminal (rich) and for reports (Markdown).

Each table has one column per synthetic store plus the real-data reference; its header names the
ideal value, and the synthetic value nearest the ideal (or the reference) in each row is bold.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.table import Table


@dataclass
class Row:
    label: str
    real: float | None
    values: list[float | None]
    target: str  # "max", "min", "ideal:<x>" or "real" (closest to the reference column)
    fmt: str = "{:.3f}"
    sd: list[float | None] | None = None
    real_sd: float | None = None


@dataclass
class Section:
    title: str
    ideal: str
    rows: list[Row]


def lookup(d: Any, *path: str | int) -> Any:
    """d[path[0]][path[1]]… (an int indexes a list), or None where a key is missing."""
    for key in path:
        if isinstance(d, list) and isinstance(key, int) and 0 <= key < len(d):
            d = d[key]
        elif isinstance(d, dict) and key in d:
            d = d[key]
        else:
            return None
    return d


class _Columns:
    """The real column and the synthetic stores of one eval result, read row by row."""

    def __init__(self, result: dict[str, Any]) -> None:
        self.names = list(result["synthetic"])
        self.syn = [result["synthetic"][n] for n in self.names]
        self.real = result["real"]
        self.settings = result.get("settings", {})

    def has(self, key: str) -> bool:
        """The real column, or the first store, holds this metric."""
        return lookup(self.real, key) is not None or bool(self.syn and lookup(self.syn[0], key))

    def row(self, label: str, real_path: tuple[str | int, ...] | None, path: tuple[str | int, ...], target: str,
            fmt: str = "{:.3f}", spread: str | None = None) -> Row:
        """One row: the real value at real_path (None: no reference), each store's at path, and with `spread` a ± beside
        each: "sd" where each path holds {"mean", "sd"}, "se" where a value's standard error sits beside it (`pc1_se`)."""

        def value(d: Any, at: tuple[str | int, ...]) -> Any:
            return lookup(d, *at, "mean") if spread == "sd" else lookup(d, *at)

        def error(d: Any, at: tuple[str | int, ...]) -> Any:
            return lookup(d, *at, "sd") if spread == "sd" else lookup(d, *at[:-1], f"{at[-1]}_se")

        return Row(label, value(self.real, real_path) if real_path else None, [value(s, path) for s in self.syn], target,
                   fmt, [error(s, path) for s in self.syn] if spread else None,
                   error(self.real, real_path) if spread and real_path else None)


def _dispersion(c: _Columns) -> Section | None:
    if not c.has("dispersion"):
        return None
    mix = " at each set's label mix" if lookup(c.real, "dispersion", "matched_mix") else ""
    rows = [c.row("per position (median)", ("dispersion", "per_position"), ("dispersion", "per_position"), "real")]
    rows += [c.row(label, ("dispersion", key), ("dispersion", key), "real", spread="se")
             for label, key in (("along real PC1", "pc1"), ("along real PC2", "pc2"), ("along real PC3", "pc3"),
                                ("along real PC1–10 (mean)", "pc_mean"))]
    return Section(f"Dispersion: variance relative to the real training people{mix} (real = held-out; ± the standard "
                   "error from each set's own people)", "as real; 0 = collapsed to the mean, ≫ 1 = too spread", rows)


def _utility(c: _Columns) -> Section | None:
    classifiers = list(lookup(c.real, "tstr") or (lookup(c.syn[0], "tstr") if c.syn else None) or {})
    if not classifiers:
        return None
    return Section("Utility: train on synthetic, test on real (real = train on real)", "higher; real is the ceiling", [
        c.row(f"{name} {short}", ("tstr", name, metric), ("tstr", name, metric), "max", spread="sd")
        for name in classifiers
        for metric, short in (("accuracy", "acc"), ("balanced_accuracy", "bal. acc"), ("roc_auc", "AUC"))])


def _nn_test(c: _Columns) -> Section | None:
    if not c.has("nn_test"):
        return None
    return Section(f"Nearest-neighbour test, k = {c.settings['k']}", "0.5", [
        c.row("vs train", ("nn_test",), ("nn_test", "train"), "ideal:0.5"),
        c.row("vs held-out", ("nn_test",), ("nn_test", "test"), "ideal:0.5"),
    ])


def _adversarial(c: _Columns) -> Section | None:
    if not c.has("aa"):
        return None
    return Section("Nearest-neighbour adversarial accuracy", "the real reference (train vs held-out), not necessarily 0.5", [
        c.row("AA_truth (train)", ("aa", "truth"), ("aa", "train", "truth"), "real"),
        c.row("AA_syn (train)", ("aa", "syn"), ("aa", "train", "syn"), "real"),
        c.row("AA (train)", ("aa", "aa"), ("aa", "train", "aa"), "real"),
        c.row("AA_truth (held-out)", None, ("aa", "test", "truth"), "real"),
        c.row("AA_syn (held-out)", None, ("aa", "test", "syn"), "real"),
        c.row("AA (held-out)", ("aa", "aa"), ("aa", "test", "aa"), "real"),
        c.row("AA_truth (whole train)", None, ("aa", "train_whole", "truth"), "ideal:0.5"),
        c.row("AA_syn (whole train)", None, ("aa", "train_whole", "syn"), "ideal:0.5"),
        c.row("AA (whole train; copies → 0)", None, ("aa", "train_whole", "aa"), "ideal:0.5"),
        c.row("privacy loss", None, ("privacy_loss",), "ideal:0"),
    ])


def _privacy(c: _Columns) -> Section | None:
    if not c.syn or lookup(c.syn[0], "mia_auc") is None:
        return None
    rows = [
        c.row("DCR to train (median)", None, ("dcr", "train_median"), "max", "{:.4f}"),
        c.row("DCR to held-out (median)", None, ("dcr", "test_median"), "max", "{:.4f}"),
        c.row("DCR ratio train/held-out (1)", None, ("dcr", "ratio"), "ideal:1"),
        c.row("share closer than real p5 (0.05)", None, ("dcr", "share_closer_than_p5"), "ideal:0.05"),
        c.row("exact copies (0)", None, ("dcr", "exact_copies"), "min", "{:.0f}"),
        c.row("membership inference AUC (0.5)", None, ("mia_auc",), "ideal:0.5"),
        c.row("membership inference AUC, standardised latents (0.5)", None, ("mia_auc_standardised",), "ideal:0.5"),
    ]
    if any(lookup(s, "mia_auc_label") is not None for s in c.syn):
        rows.append(c.row("membership inference AUC through the label's shift (0.5)", None, ("mia_auc_label",), "ideal:0.5"))
    if (people := lookup(c.syn[0], "mia_people")) is not None:
        rows.append(c.row(f"an AUC's s.e. by chance ({people:,} members, as many non-members)", None, ("mia_se",), "min",
                          "± {:.3f}"))
    return Section("Privacy: memorisation and membership inference", "see each row", rows)


def _augmentation(c: _Columns) -> Section | None:
    aug = lookup(c.real, "augment")
    if aug is None:
        return None
    rows = [Row(f"{f:.0%} real alone", v, [v for _ in c.syn], "real", "{:.3f}")
            for f, v in zip(aug["fractions"], aug["real_only"])]
    rows += [c.row(f"{f:.0%} real + added", ("augment", "augmented", i), ("augment", "augmented", i), "max")
             for i, f in enumerate(aug["fractions"])]
    rows.append(c.row("gain (mean over fractions)", ("augment", "gain"), ("augment", "gain"), "max", "{:+.3f}"))
    return Section(f"Augmentation: a small real subset plus synthetic people, balanced accuracy "
                   f"({aug['classifier']}; real = plus the other real people)", "higher; real is the ceiling", rows)


def _kinship(c: _Columns) -> Section | None:
    if lookup(c.real, "kinship") is None:
        return None
    rows = [c.row(text.format(label), ("kinship", key), ("kinship", where, key), target)
            for where, label in (("train", "train"), ("test", "held-out"))
            for text, key, target in (("duplicate of a {} person (0)", "duplicate", "min"),
                                      ("1st-degree relative in {}", "first_degree", "real"),
                                      ("2nd-degree relative in {}", "second_degree", "real"),
                                      ("closest kinship to {}, max", "max", "real"))]
    rows.append(c.row("membership AUC by closest synthetic kin (0.5)", None, ("kinship", "membership", "auc"), "ideal:0.5"))
    return Section("Kinship replay: share of people whose closest real relative passes KING's threshold "
                   "(real = held-out vs train)", "as real; a synthetic relative of a participant identifies them", rows)


def _gwas(c: _Columns) -> Section | None:
    if lookup(c.real, "gwas") is None:
        return None
    return Section("GWAS concordance: trend test against the label, real train vs each set (real = held-out)", "higher", [
        c.row(label, ("gwas", key), ("gwas", key), "max")
        for label, key in (("effect r", "effect_r"), ("−log10 p r", "logp_r"), ("top-hit recall", "top_recall"))])


def _genotypes(c: _Columns) -> Section | None:
    if not c.has("genotype"):
        return None
    return Section("Genotypes after decoding (real = held-out vs train)", "as real", [
        c.row(label, ("genotype", key), ("genotype", key), target, fmt)
        for label, key, target, fmt in (
            ("allele frequency r (1)", "allele_frequency_r", "max", "{:.3f}"),
            ("allele frequency MAE (0)", "allele_frequency_mae", "min", "{:.4f}"),
            ("LD r² correlation (1)", "ld_r2_r", "max", "{:.3f}"),
            ("heterozygosity", "heterozygosity_synthetic", "real", "{:.4f}"),
            ("PCA overlap (1)", "pca_overlap", "max", "{:.3f}"))])


_SECTIONS: tuple[Callable[[_Columns], Section | None], ...] = (
    _dispersion, _utility, _nn_test, _adversarial, _privacy, _augmentation, _kinship, _gwas, _genotypes)
"""The tables, in the order they are shown; each is left out where its metric was not run."""


def sections(result: dict[str, Any]) -> tuple[list[str], list[Section]]:
    """The store names (one column each) and the tables of an eval result."""
    columns = _Columns(result)
    return columns.names, [section for build in _SECTIONS if (section := build(columns)) is not None]


def _best(r: Row) -> int | None:
    scored = [(i, v) for i, v in enumerate(r.values) if v is not None and not math.isnan(v)]
    if not scored:
        return None
    if r.target == "max":
        key: Callable[[float], float] = lambda v: -v
    elif r.target == "min":
        key = lambda v: v
    elif r.target == "real":
        if r.real is None:
            return None
        key = lambda v: abs(v - r.real)  # type: ignore[operator]
    else:
        ideal = float(r.target.split(":")[1])
        key = lambda v: abs(v - ideal)
    if len({key(v) for _, v in scored}) == 1:
        return None  # a tie across every store: nothing to highlight
    return min(scored, key=lambda iv: key(iv[1]))[0]


def _cell(value: float | None, fmt: str, sd: float | None = None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = fmt.format(value)
    return f"{text} ± {fmt.format(sd)}" if sd is not None else text


def rich_tables(result: dict[str, Any]) -> list[Table]:
    names, secs = sections(result)
    tables = []
    for sec in secs:
        table = Table(title=f"{sec.title}  [dim](ideal: {sec.ideal})[/]", title_justify="left")
        table.add_column("metric", style="bold")
        table.add_column("real", style="cyan")
        for name in names:
            table.add_column(name)
        for r in sec.rows:
            best = _best(r)
            cells = [_cell(v, r.fmt, r.sd[i] if r.sd else None) for i, v in enumerate(r.values)]
            if best is not None and len(names) > 1:
                cells[best] = f"[bold green]{cells[best]}[/]"
            table.add_row(r.label, _cell(r.real, r.fmt, r.real_sd), *cells)
        tables.append(table)
    for key, title, column in (("flags", "[bold red]Privacy flags[/]", "flag"), ("notes", "Notes", "note")):
        rows = _per_store(result, key)
        if rows:
            table = Table(title=title, title_justify="left")
            table.add_column("store")
            table.add_column(column)
            for row in rows:
                table.add_row(*row)
            tables.append(table)
    return tables


def _per_store(result: dict[str, Any], key: str) -> list[tuple[str, str]]:
    """(store, line) for every line the real column or a synthetic store lists under `key` (flags, notes)."""
    return [("real", line) for line in result["real"].get(key, [])] + [
        (name, line) for name, s in result["synthetic"].items() for line in s.get(key, [])]


def markdown(result: dict[str, Any]) -> str:
    names, secs = sections(result)
    lines = []
    for sec in secs:
        lines += [f"**{sec.title}** (ideal: {sec.ideal})", "", "| metric | real | " + " | ".join(names) + " |",
                  "|---|---|" + "---|" * len(names)]
        for r in sec.rows:
            best = _best(r)
            cells = [_cell(v, r.fmt, r.sd[i] if r.sd else None) for i, v in enumerate(r.values)]
            if best is not None and len(names) > 1:
                cells[best] = f"**{cells[best]}**"
            lines.append(f"| {r.label} | {_cell(r.real, r.fmt, r.real_sd)} | " + " | ".join(cells) + " |")
        lines.append("")
    for key, title in (("flags", "Privacy flags"), ("notes", "Notes")):
        rows = _per_store(result, key)
        if rows:
            lines += [f"**{title}**", "", *(f"- {n}: {line}" for n, line in rows), ""]
    return "\n".join(lines)
