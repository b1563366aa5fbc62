"""Write the generated part of docs/RESULTS.md from a study folder (docs/experiments/study.sh).

    python docs/experiments/make_results.py runs/study [--steps N]

Replaces the text between the GENERATED markers of docs/RESULTS.md with the tables of every data
set (from its metrics.json) and copies the figures to docs/images/. Nothing in there is typed by hand.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from pathlib import Path

from genomesynth.report import lookup, markdown
from genomesynth.store import open_store

DOCS = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- GENERATED: begin -->", "<!-- GENERATED: end -->"
TITLES = {
    "demo": "Demo cohort (simulated: 600 people, 3 populations, 300 genes, case/control 30 %)",
    "chr15": "1000 Genomes chr15, 2,504 people × 10,000 SNPs in 200 blocks of 50, no labels",
    "chr15-labelled": "1000 Genomes chr15, 2,504 people × 10,000 SNPs in 200 blocks of 50, super-population labels",
    "1kg-haplotypes": "1000 Genomes, 805 population-informative SNPs, 961 haploid genomes, 5 super-populations",
    "1kgp-snp500": "1000 Genomes, 500 SNPs, 1,150 people, a weakly predictable binary phenotype",
}


def targets(result: dict) -> list[str]:
    """Each store against issue 9's targets: ✓ where met. Dispersion along the PCs is judged against
    the held-out reference column (new people of the cohort), the per-position ratio against 1."""
    real = result["real"]
    checks = [
        ("PC1–3, PC1–10 ×0.8–1.25 of held-out", lambda s: all(
            0.8 <= lookup(s, "dispersion", k) / lookup(real, "dispersion", k) <= 1.25 for k in ("pc1", "pc2", "pc3", "pc_mean")),
         lambda s: "/".join(f"{lookup(s, 'dispersion', k):.2f}" for k in ("pc1", "pc2", "pc3", "pc_mean"))),
        ("per position 0.9–1.1", lambda s: 0.9 <= lookup(s, "dispersion", "per_position") <= 1.1,
         lambda s: f"{lookup(s, 'dispersion', 'per_position'):.2f}"),
        ("PCA overlap ≥ 0.8 × real", lambda s: lookup(s, "genotype", "pca_overlap") >= 0.8 * lookup(real, "genotype", "pca_overlap"),
         lambda s: f"{lookup(s, 'genotype', 'pca_overlap'):.2f}"),
        ("AA train, held-out ± 0.06 of real", lambda s: all(
            abs(lookup(s, "aa", w, "aa") - lookup(real, "aa", "aa")) <= 0.06 for w in ("train", "test")),
         lambda s: f"{lookup(s, 'aa', 'train', 'aa'):.2f}/{lookup(s, 'aa', 'test', 'aa'):.2f}"),
        ("MIA ≤ 0.55 (stored / standardised" + (" / through the label)" if any(
            lookup(s, "mia_auc_label") is not None for s in result["synthetic"].values()) else ")"),
         lambda s: max(_attacks(s)) <= 0.55, lambda s: "/".join(f"{v:.3f}" for v in _attacks(s))),
        ("closer than p5 ≤ 0.07", lambda s: lookup(s, "dcr", "share_closer_than_p5") <= 0.07,
         lambda s: f"{lookup(s, 'dcr', 'share_closer_than_p5'):.3f}"),
        ("0 copies", lambda s: lookup(s, "dcr", "exact_copies") == 0, lambda s: f"{lookup(s, 'dcr', 'exact_copies'):.0f}"),
        ("privacy loss ≤ 0.05", lambda s: lookup(s, "privacy_loss") <= 0.05, lambda s: f"{lookup(s, 'privacy_loss'):.3f}"),
    ]
    if lookup(real, "tstr", "mlp") is not None:
        checks.append(("TSTR/TRTR (MLP) ≥ 0.95", lambda s: lookup(s, "tstr", "mlp", "accuracy", "mean")
                       >= 0.95 * lookup(real, "tstr", "mlp", "accuracy", "mean"),
                       lambda s: f"{lookup(s, 'tstr', 'mlp', 'accuracy', 'mean') / lookup(real, 'tstr', 'mlp', 'accuracy', 'mean'):.2f}"))
    errors = [lookup(real, "dispersion", f"{k}_se") for k in ("pc1", "pc2", "pc3", "pc_mean")]
    reference = (f"held-out reference: PC1/2/3/1–10 "
                 + "/".join(f"{lookup(real, 'dispersion', k):.2f}" for k in ("pc1", "pc2", "pc3", "pc_mean"))
                 + (" (± " + "/".join(f"{e:.2f}" for e in errors) + ")" if None not in errors else "")
                 + f", AA {lookup(real, 'aa', 'aa'):.2f}, PCA overlap {lookup(real, 'genotype', 'pca_overlap'):.2f}")
    lines = [f"**Issue 9's targets** (✓ met; {reference})", "",
             "| store | " + " | ".join(c[0] for c in checks) + " |", "|---|" + "---|" * len(checks)]
    for name, syn in result["synthetic"].items():
        cells = []
        for _, ok, show in checks:
            try:
                cells.append(("✓ " if ok(syn) else "✗ ") + show(syn))
            except TypeError:  # a metric the store lacks
                cells.append("–")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines + [""]


def _attacks(s: dict) -> list[float]:
    """A store's membership AUCs: as stored, standardised, and through the label's shift where it has labels."""
    return [lookup(s, "mia_auc"), lookup(s, "mia_auc_standardised"),
            *([lookup(s, "mia_auc_label")] if lookup(s, "mia_auc_label") is not None else [])]


def residual_scales(synthetic: Path) -> list[str]:
    """The residual scale `sample` used for each backbone's store (`--residual-scale`, README) and each draw's
    membership audit."""
    cells, audits = [], []
    for store in sorted(synthetic.glob("*.zarr")):
        with open_store(store) as s:
            model = s.attrs.get("model") or {}
        chosen, audit = model.get("residual_scale"), model.get("membership")
        if chosen:
            test = f", slope z {chosen['slope_z']:+.1f}" if "slope_z" in chosen else ""
            cells.append(f"{store.stem} {chosen['scale']:g} ({chosen['chosen']}{test})")
        if audit and "raw" in audit:
            label = f" / {audit['label']:.3f}" if "label" in audit else ""
            audits.append(f"{store.stem} {audit['raw']:.3f} / {audit['standardised']:.3f}{label}")
            people, se, labelled = audit["people"], audit["se"], "label" in audit
    lines = [f"Residual scale of each backbone's draw (`sample --residual-scale`): {'; '.join(cells)}.", ""] if cells else []
    if audits:
        readings = "as stored / standardised / through the label's shift" if labelled else "as stored / standardised"
        lines += [f"Membership audit of each draw (`sample`: the run's training people against its validation people, "
                  f"{people:,} each, ± {se:.3f} by chance; {readings}): {'; '.join(audits)}.", ""]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("study", type=Path)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--classifiers", default="mlp,transformer,cnn")
    args = parser.parse_args()
    images = DOCS / "images"
    images.mkdir(exist_ok=True)
    parts = [BEGIN, "", f"Generated by `docs/experiments/make_results.py {args.study}` "
             f"(`study.sh`, {args.steps} training steps per backbone, DDIM 50 sampling steps, "
             f"classifiers: {args.classifiers}).", ""]
    cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    model = subprocess.run(["bash", "-c", "lscpu | sed -n 's/^Model name: *//p' | head -1"],
                           capture_output=True, text=True).stdout.strip()
    parts += [f"Machine: {cores} CPU cores ({model or 'unknown model'}), no GPU.", ""]
    for name, title in TITLES.items():
        d = args.study / name
        if not (d / "metrics.json").exists():
            continue
        result = json.loads((d / "metrics.json").read_text())
        with open_store(d / "real.zarr") as real:
            info = real.describe()
        parts += [f"### {title}", "",
                  f"Real store: {info['people']:,} people ({info['split'].get('train', 0):,} train, "
                  f"{info['split'].get('test', 0):,} held-out), {info['genes']} genes, labels "
                  + ", ".join(f"{k} {v}" for k, v in info["labels"].items()) + ".", "", *targets(result),
                  *residual_scales(d / "synthetic"), markdown(result)]
        for fig in ("umap", "curves", "metrics"):
            if (d / f"{fig}.png").exists():
                shutil.copy(d / f"{fig}.png", images / f"study-{name}-{fig}.png")
                parts.append(f"![{name} {fig}](images/study-{name}-{fig}.png)")
        parts.append("")
    parts.append(END)
    results = DOCS / "RESULTS.md"
    text = results.read_text() if results.exists() else f"# Results\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    results.write_text(head + "\n".join(parts) + tail)
    print(f"wrote {results}")


if __name__ == "__main__":
    main()
