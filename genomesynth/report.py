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


def sections(result: dict[str, Any]) -> tuple[list[str], list[Section]]:
    names = list(result["synthetic"])
    syn = [result["synthetic"][n] for n in names]
    real = result["real"]
    out: list[Section] = []

    def row(label: str, real_path: tuple[str | int, ...] | None, path: tuple[str | int, ...], target: str, fmt: str = "{:.3f}",
            sd: bool = False) -> Row:
        get: Callable[[Any], Any] = (lambda d: lookup(d, *path, "mean")) if sd else (lambda d: lookup(d, *path))
        r = (lookup(real, *real_path, "mean") if sd else lookup(real, *real_path)) if real_path else None
        return Row(label, r, [get(s) for s in syn], target, fmt,
                   [lookup(s, *path, "sd") for s in syn] if sd else None,
                   lookup(real, *real_path, "sd") if sd and real_path else None)

    if lookup(real, "dispersion") is not None or (syn and lookup(syn[0], "dispersion")):
        mix = " at each set's label mix" if lookup(real, "dispersion", "matched_mix") else ""
        out.append(Section(f"Dispersion: variance relative to the real training people{mix} (real = held-out)",
                           "as real; 0 = collapsed to the mean, ≫ 1 = too spread", [
            row("per position (median)", ("dispersion", "per_position"), ("dispersion", "per_position"), "real"),
            row("along real PC1", ("dispersion", "pc1"), ("dispersion", "pc1"), "real"),
            row("along real PC2", ("dispersion", "pc2"), ("dispersion", "pc2"), "real"),
            row("along real PC3", ("dispersion", "pc3"), ("dispersion", "pc3"), "real"),
            row("along real PC1–10 (mean)", ("dispersion", "pc_mean"), ("dispersion", "pc_mean"), "real"),
        ]))
    classifiers = list(lookup(real, "tstr") or (lookup(syn[0], "tstr") if syn else None) or {})
    if classifiers:
        rows = []
        for c in classifiers:
            for metric, short in (("accuracy", "acc"), ("balanced_accuracy", "bal. acc"), ("roc_auc", "AUC")):
                rows.append(row(f"{c} {short}", ("tstr", c, metric), ("tstr", c, metric), "max", "{:.3f}", sd=True))
        out.append(Section("Utility: train on synthetic, test on real (real = train on real)", "higher; real is the ceiling", rows))
    if lookup(real, "nn_test") is not None or (syn and lookup(syn[0], "nn_test")):
        out.append(Section("Nearest-neighbour test, k = %s" % result["settings"]["k"], "0.5", [
            row("vs train", ("nn_test",), ("nn_test", "train"), "ideal:0.5"),
            row("vs held-out", ("nn_test",), ("nn_test", "test"), "ideal:0.5"),
        ]))
    if lookup(real, "aa") is not None or (syn and lookup(syn[0], "aa")):
        out.append(Section("Nearest-neighbour adversarial accuracy", "the real reference (train vs held-out), not necessarily 0.5", [
            row("AA_truth (train)", ("aa", "truth"), ("aa", "train", "truth"), "real"),
            row("AA_syn (train)", ("aa", "syn"), ("aa", "train", "syn"), "real"),
            row("AA (train)", ("aa", "aa"), ("aa", "train", "aa"), "real"),
            row("AA_truth (held-out)", None, ("aa", "test", "truth"), "real"),
            row("AA_syn (held-out)", None, ("aa", "test", "syn"), "real"),
            row("AA (held-out)", ("aa", "aa"), ("aa", "test", "aa"), "real"),
            row("AA_truth (whole train)", None, ("aa", "train_whole", "truth"), "ideal:0.5"),
            row("AA_syn (whole train)", None, ("aa", "train_whole", "syn"), "ideal:0.5"),
            row("AA (whole train; copies → 0)", None, ("aa", "train_whole", "aa"), "ideal:0.5"),
            row("privacy loss", None, ("privacy_loss",), "ideal:0"),
        ]))
    if syn and lookup(syn[0], "mia_auc") is not None:
        out.append(Section("Privacy: memorisation and membership inference", "see each row", [
            row("DCR to train (median)", None, ("dcr", "train_median"), "max", "{:.4f}"),
            row("DCR to held-out (median)", None, ("dcr", "test_median"), "max", "{:.4f}"),
            row("DCR ratio train/held-out (1)", None, ("dcr", "ratio"), "ideal:1"),
            row("share closer than real p5 (0.05)", None, ("dcr", "share_closer_than_p5"), "ideal:0.05"),
            row("exact copies (0)", None, ("dcr", "exact_copies"), "min", "{:.0f}"),
            row("membership inference AUC (0.5)", None, ("mia_auc",), "ideal:0.5"),
            row("membership inference AUC, standardised latents (0.5)", None, ("mia_auc_standardised",), "ideal:0.5"),
            *([row("membership inference AUC through the label's shift (0.5)", None, ("mia_auc_label",), "ideal:0.5")]
              if any(lookup(s, "mia_auc_label") is not None for s in syn) else []),
            *([row(f"an AUC's s.e. by chance ({lookup(syn[0], 'mia_people'):,} members, as many non-members)", None,
                   ("mia_se",), "min", "± {:.3f}")] if lookup(syn[0], "mia_people") is not None else []),
        ]))
    if lookup(real, "augment") is not None:
        aug = real["augment"]
        rows = [Row(f"{f:.0%} real alone", v, [v for _ in syn], "real", "{:.3f}")
                for f, v in zip(aug["fractions"], aug["real_only"])]
        rows += [row(f"{f:.0%} real + added", ("augment", "augmented", i), ("augment", "augmented", i), "max")
                 for i, f in enumerate(aug["fractions"])]
        rows.append(row("gain (mean over fractions)", ("augment", "gain"), ("augment", "gain"), "max", "{:+.3f}"))
        out.append(Section(f"Augmentation: a small real subset plus synthetic people, balanced accuracy "
                           f"({aug['classifier']}; real = plus the other real people)", "higher; real is the ceiling", rows))
    if lookup(real, "kinship") is not None:
        rows = []
        for where, label in (("train", "train"), ("test", "held-out")):
            rows += [
                row(f"duplicate of a {label} person (0)", ("kinship", "duplicate"), ("kinship", where, "duplicate"), "min"),
                row(f"1st-degree relative in {label}", ("kinship", "first_degree"), ("kinship", where, "first_degree"), "real"),
                row(f"2nd-degree relative in {label}", ("kinship", "second_degree"), ("kinship", where, "second_degree"), "real"),
                row(f"closest kinship to {label}, max", ("kinship", "max"), ("kinship", where, "max"), "real"),
            ]
        rows.append(row("membership AUC by closest synthetic kin (0.5)", None, ("kinship", "membership", "auc"), "ideal:0.5"))
        out.append(Section("Kinship replay: share of people whose closest real relative passes KING's threshold "
                           "(real = held-out vs train)", "as real; a synthetic relative of a participant identifies them", rows))
    if lookup(real, "gwas") is not None:
        out.append(Section("GWAS concordance: trend test against the label, real train vs each set (real = held-out)",
                           "higher", [
            row("effect r", ("gwas", "effect_r"), ("gwas", "effect_r"), "max"),
            row("−log10 p r", ("gwas", "logp_r"), ("gwas", "logp_r"), "max"),
            row("top-hit recall", ("gwas", "top_recall"), ("gwas", "top_recall"), "max"),
        ]))
    if lookup(real, "genotype") is not None or (syn and lookup(syn[0], "genotype")):
        out.append(Section("Genotypes after decoding (real = held-out vs train)", "as real", [
            row("allele frequency r (1)", ("genotype", "allele_frequency_r"), ("genotype", "allele_frequency_r"), "max"),
            row("allele frequency MAE (0)", ("genotype", "allele_frequency_mae"), ("genotype", "allele_frequency_mae"), "min", "{:.4f}"),
            row("LD r² correlation (1)", ("genotype", "ld_r2_r"), ("genotype", "ld_r2_r"), "max"),
            row("heterozygosity", ("genotype", "heterozygosity_synthetic"), ("genotype", "heterozygosity_synthetic"), "real", "{:.4f}"),
            row("PCA overlap (1)", ("genotype", "pca_overlap"), ("genotype", "pca_overlap"), "max"),
        ]))
    return names, out


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
