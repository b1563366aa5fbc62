"""Figures a paper can use: UMAP of real and synthetic people (Fig. 5), loss and reconstruction
curves (Fig. 3–4), and the utility-vs-privacy picture. PNG, SVG or PDF by suffix; headless."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from genomesynth.errors import GenomesynthError  # noqa: E402
from genomesynth.store import open_store  # noqa: E402

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
    """UMAP (cosine metric) of real train, real held-out and each synthetic store in its own colour."""
    import umap

    output = Path(output)
    _check_output(output)
    names = names or [Path(p).name.removesuffix(".zarr").removesuffix(".h5") for p in synthetic]
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
    data = np.concatenate([g[1] for g in groups])
    embedding = umap.UMAP(metric="cosine", random_state=seed, n_neighbors=15, min_dist=0.3).fit_transform(data)
    fig, ax = plt.subplots(figsize=(7.5, 6))
    colours = ["#8c8c8c", "#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#17becf", "#bcbd22", "#000000"]
    markers = ["o", "s", "^", "v", "D", "P", "X", "*"]
    start = 0
    for g, (title, x, y) in enumerate(groups):
        e = embedding[start : start + len(x)]
        start += len(x)
        if by_label and label_names:
            for c in np.unique(y):
                name = label_names[c] if c >= 0 else "unlabelled"
                sel = y == c
                ax.scatter(e[sel, 0], e[sel, 1], s=9, alpha=0.6, color=colours[g % len(colours)],
                           marker=markers[max(c, 0) % len(markers)], label=f"{title} · {name}")
        else:
            ax.scatter(e[:, 0], e[:, 1], s=9, alpha=0.6, color=colours[g % len(colours)], label=title)
    ax.set(title="UMAP of real and synthetic people (cosine metric)", xlabel="UMAP 1", ylabel="UMAP 2")
    ax.legend(markerscale=2, frameon=False, loc="best")
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
    """Utility (TSTR accuracy) against privacy (MIA AUC, and privacy loss), one point per store."""
    output = Path(output)
    _check_output(output)
    path = Path(metrics_json)
    if not path.exists():
        raise GenomesynthError(f"{path}: no such metrics file; write one with `genomesynth eval --json`")
    result = json.loads(path.read_text())
    real_acc = (result["real"].get("tstr", {}).get(classifier, {}).get("accuracy", {}) or {}).get("mean")
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    for ax, key, label, ideal in ((axes[0], "mia_auc", "membership-inference AUC (0.5 = no leakage)", 0.5),
                                  (axes[1], "privacy_loss", "privacy loss AA(held-out) − AA(train) (0 = none)", 0.0)):
        for i, (name, s) in enumerate(result["synthetic"].items()):
            acc = (s.get("tstr", {}).get(classifier, {}).get("accuracy", {}) or {}).get("mean")
            x = s.get(key)
            if acc is None or x is None:
                continue
            ax.scatter(x, acc, s=60, color=f"C{i}", zorder=3)
            ax.annotate(name, (x, acc), textcoords="offset points", xytext=(6, 4))
        if real_acc is not None:
            ax.axhline(real_acc, color="grey", ls="--", lw=1, label=f"train on real ({real_acc:.3f})")
        ax.axvline(ideal, color="grey", ls=":", lw=1)
        ax.set(xlabel=label, ylabel=f"TSTR accuracy ({classifier} classifier)")
        ax.legend(frameon=False, loc="best")
    fig.suptitle("Utility vs privacy: up is more useful, near the dotted line leaks less")
    _save(fig, output)
    return {"output": str(output), "stores": len(result["synthetic"])}
