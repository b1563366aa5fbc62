"""Figures a paper can use: UMAP of real and synthetic people (Fig. 5), loss and reconstruction
curves (Fig. 3–4), and the utility-vs-privacy picture. PNG, SVG or PDF by suffix; headless."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402

from genomesynth.errors import GenomesynthError  # noqa: E402
from genomesynth.store import open_store, store_name  # noqa: E402

SUFFIXES = (".png", ".svg", ".pdf")
plt.rcParams.update({"font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "legend.fontsize": 9,
                     "figure.dpi": 110, "savefig.bbox": "tight"})


def _check_output(path: Path) -> None:
    if path.suffix.lower() not in SUFFIXES:
        raise GenomesynthError(f"{path}: the figure must end in .png, .svg or .pdf")
    if not path.parent.exists():
        raise GenomesynthError(f"{path}: folder {path.parent} does not exist")


def _save(fig: plt.Figure, path: Path) -> None:
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)


def umap_plot(real: str | Path, synthetic: list[str | Path], output: str | Path, *, names: list[str] | None = None,
              by_label: bool = False, max_people: int = 2000, seed: int = 0) -> dict[str, Any]:
    """UMAP (cosine metric) fitted on the real training people, with the real held-out people and every
    synthetic store placed into it (`UMAP.transform`); one panel per synthetic store."""
    import warnings

    warnings.filterwarnings("ignore", message="n_jobs value .* overridden", category=UserWarning)  # seeded UMAP is serial
    import umap

    output = Path(output)
    _check_output(output)
    names = names or [store_name(p) for p in synthetic]
    rng = np.random.default_rng(seed)
    groups: list[tuple[str, np.ndarray, np.ndarray]] = []
    with open_store(real) as store:
        mask, split, labels, label_names = store.mask(), store.split(), store.label(), store.label_names
        for part, title in (("train", "real train"), ("test", "real held-out")):
            idx = np.flatnonzero(split == part)
            idx = np.sort(rng.choice(idx, min(len(idx), max_people), replace=False))
            if len(idx):
                groups.append((title, store.read_people(idx)[:, mask], labels[idx]))
    for name, path in zip(names, synthetic):
        with open_store(path) as syn:
            idx = np.sort(rng.choice(syn.n_people, min(syn.n_people, max_people), replace=False))
            groups.append((name, syn.read_people(idx)[:, mask], syn.label()[idx]))
    # The embedding is fitted on the real training people and every other set, the real held-out
    # people included, is placed into it (UMAP.transform). Fitted on everything at once, sets that sit
    # very near the training people (copies, the Gaussian reference) form dense clumps with them and
    # push the other sets aside, so one store would move another. Placed points settle differently
    # from fitted ones (towards the rims of clusters), so the held-out people, placed the same way,
    # show where a faithful synthetic set would land.
    reducer = umap.UMAP(metric="cosine", random_state=seed, n_neighbors=15, min_dist=0.3).fit(groups[0][1])
    placed = [(groups[0][0], reducer.embedding_, groups[0][2])]
    placed += [(title, reducer.transform(x), y) for title, x, y in groups[1:]]
    n_real = sum(1 for g in groups if g[0].startswith("real "))
    reals, synthetic_sets = placed[:n_real], placed[n_real:]
    data = np.concatenate([g[1] for g in groups])
    # one panel per synthetic store over the real people: overlaid in a single panel, the stores
    # drawn last would hide the others
    panels = synthetic_sets or [None]
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.6 * rows), sharex=True, sharey=True, squeeze=False)
    real_style = {"real train": ("#b0b0b0", 6), "real held-out": ("#000000", 8)}
    markers = ["o", "s", "^", "v", "D", "P", "X", "*"]

    def draw(ax: plt.Axes, title: str, e: np.ndarray, y: np.ndarray, colour: str, size: float) -> None:
        if by_label and label_names:
            for c in np.unique(y):
                sel = y == c
                name = label_names[c] if c >= 0 else "unlabelled"
                ax.scatter(e[sel, 0], e[sel, 1], s=size, alpha=0.6, color=colour, marker=markers[max(c, 0) % len(markers)],
                           label=f"{title} · {name}", linewidths=0)
        else:
            ax.scatter(e[:, 0], e[:, 1], s=size, alpha=0.6, color=colour, label=title, linewidths=0)

    for i, (ax, panel) in enumerate(zip(axes.flat, panels)):
        for title, e, y in reals[:1]:  # the training people underneath
            draw(ax, title, e, y, *real_style[title])
        if panel is not None:
            draw(ax, panel[0], panel[1], panel[2], f"C{i % 10}", 9)
        for title, e, y in reals[1:]:  # the held-out people on top: the yardstick for placed points
            draw(ax, title, e, y, *real_style[title])
        ax.set_title(panel[0] if panel is not None else "real people")
        ax.legend(markerscale=2, frameon=False, loc="best", fontsize=8)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("UMAP 1")
    for ax in axes[:, 0]:
        ax.set_ylabel("UMAP 2")
    fig.suptitle("UMAP of the real training people (cosine metric); held-out and synthetic people placed into it")
    fig.tight_layout()
    _save(fig, output)
    return {"output": str(output), "points": int(len(data)), "groups": [g[0] for g in groups]}


def _metrics(run: Path) -> list[dict[str, Any]]:
    path = run / "metrics.jsonl"
    if not path.exists():
        raise GenomesynthError(f"{run}: no metrics.jsonl; is this a run folder from `genomesynth train`?")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def curves_plot(runs: list[str | Path], output: str | Path, *, names: list[str] | None = None) -> dict[str, Any]:
    """Train/val loss per epoch, and x̂₀ reconstruction error vs noise level (last epoch), per run."""
    output = Path(output)
    _check_output(output)
    names = names or [Path(r).name for r in runs]
    fig, (loss_ax, recon_ax) = plt.subplots(1, 2, figsize=(12, 4.6))
    for i, (name, run) in enumerate(zip(names, runs)):
        records = _metrics(Path(run))
        colour = f"C{i}"
        epochs = [r["epoch"] for r in records]
        loss_ax.plot(epochs, [r["train_loss"] for r in records], color=colour, label=f"{name} train")
        validated = [r for r in records if "val_loss" in r]
        if validated:
            loss_ax.plot([r["epoch"] for r in validated], [r["val_loss"] for r in validated], color=colour, ls="--",
                         label=f"{name} val")
            recon = validated[-1]["recon_error"]
            recon_ax.plot(recon["t"], recon["mse"], color=colour, marker="o", ms=3, label=name)
    loss_ax.set(title="Training and validation loss", xlabel="epoch", ylabel="masked ε-MSE", yscale="log")
    recon_ax.set(title="Reconstruction error of x̂₀ vs noise (last epoch)", xlabel="diffusion step t",
                 ylabel="masked MSE(x̂₀, x₀)", yscale="log")
    loss_ax.legend(frameon=False, ncol=2)
    recon_ax.legend(frameon=False)
    _save(fig, output)
    return {"output": str(output), "runs": len(runs)}


def metrics_plot(metrics_json: str | Path, output: str | Path, *, classifier: str = "mlp") -> dict[str, Any]:
    """Utility (TSTR accuracy) against privacy (MIA AUC, and privacy loss), one point per store; where the eval has
    both membership readings, a hollow point for the latents as stored joined to a filled one for standardised.
    Without TSTR (an unlabelled cohort) fidelity takes utility's place: the nearest-neighbour adversarial accuracy
    against the held-out people, with the real held-out people's own as the reference line."""
    output = Path(output)
    _check_output(output)
    path = Path(metrics_json)
    if not path.exists():
        raise GenomesynthError(f"{path}: no such metrics file; write one with `genomesynth eval --json`")
    result = json.loads(path.read_text())
    stores = result["synthetic"]

    def tstr(metrics: dict[str, Any]) -> float | None:
        return (metrics.get("tstr", {}).get(classifier, {}).get("accuracy", {}) or {}).get("mean")

    def aa(metrics: dict[str, Any]) -> float | None:
        held_out = metrics.get("aa", {})
        return held_out.get("test", held_out).get("aa") if held_out else None

    utility = any(tstr(s) is not None for s in stores.values())
    y_of, y_label = (tstr, f"TSTR accuracy ({classifier} classifier)") if utility else (
        aa, "adversarial accuracy vs held-out (0.5 ideal)")
    reference = y_of(result["real"])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    both = any("mia_auc_standardised" in s for s in stores.values())
    mia_label = ("membership-inference AUC, ○ as stored, ● standardised (0.5 = no leakage)" if both
                 else "membership-inference AUC (0.5 = no leakage)")
    plotted = 0
    for ax, key, label, ideal in ((axes[0], "mia_auc", mia_label, 0.5),
                                  (axes[1], "privacy_loss", "privacy loss AA(held-out) − AA(train) (0 = none)", 0.0)):
        for i, (name, s) in enumerate(stores.items()):
            y, x = y_of(s), s.get(key)
            if y is None or x is None:
                continue
            plotted += 1
            sharper = s.get("mia_auc_standardised") if key == "mia_auc" else None
            if sharper is not None:
                ax.plot([x, sharper], [y, y], color=f"C{i}", lw=1, zorder=2)
                ax.scatter(x, y, s=60, facecolors="none", edgecolors=f"C{i}", zorder=3)
                x = sharper
            ax.scatter(x, y, s=60, color=f"C{i}", zorder=3)
            ax.annotate(name, (x, y), textcoords="offset points", xytext=(6, 4))
        if reference is not None:
            what = "train on real" if utility else "real held-out people"
            ax.axhline(reference, color="grey", ls="--", lw=1, label=f"{what} ({reference:.3f})")
        ax.axvline(ideal, color="grey", ls=":", lw=1)
        ax.set(xlabel=label, ylabel=y_label)
        ax.margins(x=0.2, y=0.1)  # room for the names beside the points
        ax.xaxis.set_major_locator(MaxNLocator(6))
        ax.legend(frameon=False, loc="best")
    if not plotted:
        plt.close(fig)
        raise GenomesynthError(f"{path}: no store has TSTR or adversarial accuracy with a privacy metric; "
                               "run eval with --metrics including tstr or aa, and privacy")
    fig.suptitle("Utility vs privacy: up is more useful, near the dotted line leaks less" if utility else
                 "Fidelity vs privacy (no labels, no TSTR): near the dashed line is realistic, the dotted leaks less")
    _save(fig, output)
    return {"output": str(output), "stores": len(stores), "y": "tstr" if utility else "aa"}


def _load_json(metrics_json: str | Path) -> dict[str, Any]:
    path = Path(metrics_json)
    if not path.exists():
        raise GenomesynthError(f"{path}: no such metrics file; write one with `genomesynth eval --json`")
    return json.loads(path.read_text())


def augment_plot(metrics_json: str | Path, output: str | Path) -> dict[str, Any]:
    """The augmentation curve: balanced accuracy of a classifier trained on a small real subset alone,
    plus the other real people (the ceiling), and plus each synthetic store."""
    output = Path(output)
    _check_output(output)
    result = _load_json(metrics_json)
    aug = result["real"].get("augment")
    if aug is None:
        raise GenomesynthError(f"{metrics_json}: holds no augmentation results; run eval with --metrics augment on a labelled store")
    x = np.array(aug["fractions"]) * 100
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    ax.plot(x, aug["real_only"], "o-", color="black", label="real subset alone")
    ax.plot(x, aug["augmented"], "o--", color="grey", label="+ the other real people (ceiling)")
    for i, (name, s) in enumerate(result["synthetic"].items()):
        if "augment" in s:
            ax.plot(x, s["augment"]["augmented"], "o-", color=f"C{i}", label=f"+ {name} (gain {s['augment']['gain']:+.3f})")
    ax.set(xlabel="real training people used (%)", ylabel=f"balanced accuracy, held-out ({aug['classifier']})",
           title="Augmentation: small real subsets with synthetic people added")
    ax.legend(frameon=False)
    _save(fig, output)
    return {"output": str(output), "stores": len(result["synthetic"])}


def _decoded_sets(real: str | Path, synthetic: list[str | Path], names: list[str], max_people: int,
                  seed: int) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], Any, list[str]]:
    """Genotype calls and labels of real train, real held-out and each synthetic store (subsampled); drawn
    stores' calls from individual allele frequencies, as decode and eval make them (genomesynth/calibration.py)."""
    from genomesynth.calibration import calibrate, stored_call_gain, use_calibrated

    rng = np.random.default_rng(seed)
    sets: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    with open_store(real) as store:
        codec, split, labels, label_names = store.codec(), store.split(), store.label(), store.label_names
        for part, title in (("train", "real train"), ("test", "real held-out")):
            idx = np.flatnonzero(split == part)
            idx = np.sort(rng.choice(idx, min(len(idx), max_people), replace=False))
            sets[title] = (codec.genotypes(store.read_people(idx)), labels[idx])
        gain = stored_call_gain(store) if codec.ploidy == 2 else None
    for name, path in zip(names, synthetic):
        with open_store(path) as syn:
            idx = np.sort(rng.choice(syn.n_people, min(syn.n_people, max_people), replace=False))
            people = syn.read_people(idx)
            own = calibrate(codec, people, gain) if use_calibrated("auto", dict(syn.attrs), codec.ploidy) else codec
            sets[name] = (own.genotypes(people), syn.label()[idx])
    return sets, codec, label_names


def kinship_plot(real: str | Path, synthetic: list[str | Path], output: str | Path, *, names: list[str] | None = None,
                 max_people: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Histograms of each person's closest KING-robust kinship to the real training people: real
    held-out people (the reference) and every synthetic store, with KING's degree thresholds."""
    from genomesynth.metrics.kinship import THRESHOLDS, king_robust

    output = Path(output)
    _check_output(output)
    names = names or [store_name(p) for p in synthetic]
    sets, codec, _ = _decoded_sets(real, synthetic, names, max_people, seed)
    if codec.ploidy != 2:
        raise GenomesynthError(f"{real}: kinship needs diploid genotypes (this cohort has ploidy {codec.ploidy})")
    train = sets.pop("real train")[0]
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for i, (name, (calls, _)) in enumerate(sets.items()):
        nearest = king_robust(calls, train).max(1)
        ax.hist(nearest, bins=60, histtype="step", lw=1.6, density=True, color="black" if i == 0 else f"C{i - 1}",
                label=name)
    for label, t in THRESHOLDS.items():
        ax.axvline(t, color="grey", ls=":", lw=1)
        ax.annotate(label.replace("_", " "), (t, 1), xycoords=("data", "axes fraction"), rotation=90, va="top",
                    ha="right", fontsize=8, color="grey")
    ax.set(xlabel="closest KING-robust kinship to a real training person", ylabel="density",
           title="Kinship replay: synthetic people should be no closer kin to participants than new people are")
    ax.legend(frameon=False)
    _save(fig, output)
    return {"output": str(output), "stores": len(names)}


def gwas_plot(real: str | Path, synthetic: list[str | Path], output: str | Path, *, names: list[str] | None = None,
              max_people: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Manhattan plots of the trend test against the label (per SNP the strongest class-vs-rest scan
    when it has more than two classes): real training people on top, each synthetic store below on
    the same axes; and a QQ plot of all."""
    from genomesynth.metrics.gwas import scans as gwas_scans

    output = Path(output)
    _check_output(output)
    names = names or [store_name(p) for p in synthetic]
    sets, _, label_names = _decoded_sets(real, synthetic, names, max_people, seed)
    if len(label_names) < 2:
        raise GenomesynthError(f"{real}: GWAS plots need a label of at least 2 classes; compress with --labels")
    sets.pop("real held-out")
    with open_store(real) as store:
        contig = store.read("variants/variant_contig")
    scans = {}  # per SNP the strongest of the label's scans (one per class beyond two)
    for name, (calls, labels) in sets.items():
        scans[name] = gwas_scans(calls, labels, len(label_names))[1].max(0)
    top = max(float(np.nanmax(p)) for p in scans.values()) * 1.05
    fig, axes = plt.subplots(len(scans) + 1, 1, figsize=(10, 2.2 * (len(scans) + 1)), squeeze=False)
    x = np.arange(len(contig))
    colours = np.where(contig % 2 == 0, "#3b6ea8", "#9bb7d4")
    for ax, (name, logp) in zip(axes[:-1, 0], scans.items()):
        ax.scatter(x, logp, s=3, c=colours, rasterized=True)
        ax.set(ylim=(0, top), ylabel="−log10 p", title=name)
        ax.set_xticks([])
    qq = axes[-1, 0]
    for i, (name, logp) in enumerate(scans.items()):
        observed = np.sort(logp[np.isfinite(logp)])[::-1]
        expected = -np.log10((np.arange(1, len(observed) + 1) - 0.5) / len(observed))
        qq.plot(expected, observed, ".", ms=3, color="black" if i == 0 else f"C{i - 1}", label=name)
    qq.plot([0, expected.max()], [0, expected.max()], color="grey", lw=1)
    qq.set(xlabel="expected −log10 p", ylabel="observed", title="QQ")
    qq.legend(frameon=False, markerscale=4)
    fig.suptitle("GWAS concordance: trend test against the label, SNPs in genome order")
    fig.tight_layout()
    _save(fig, output)
    return {"output": str(output), "stores": len(names)}
