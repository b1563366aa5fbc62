"""A trained run → a synthetic store of the real store's schema, written a batch at a time."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.progress import Progress

from genomesynth import checks
from genomesynth.calibration import add_call_gain
from genomesynth.diffusion.loss import masked_mean_per_sample
from genomesynth.diffusion.samplers import sample as draw
from genomesynth.diffusion.schedule import Schedule
from genomesynth.errors import GenomesynthError
from genomesynth.metrics.privacy import label_membership, matched_sets, membership_audit
from genomesynth.provenance import provenance
from genomesynth.store import SCHEMA_VERSION, Store, StoreWriter, copy_reference, open_store, reference_attrs
from genomesynth.train import (LatentData, load_checkpoint, mixed_precision, model_from_checkpoint, resolve_device,
                               validation_split)
from genomesynth.ui import quiet


@dataclass
class SampleConfig:
    n: int = 1000
    label: str | None = None  # a label name (or code) for everyone
    label_ratio: Path | None = None  # follow this store's train-split label mix
    sampler: str = "ddim"  # DDPM-1000 was 10-13x slower and no more faithful (docs/RESULTS.md)
    steps: int | None = None  # DDIM steps (default 50)
    eta: float = 0.0
    guidance: float = 0.0
    batch_size: int = 256
    clip: bool = False  # clip x̂_0 to the training data's per-position range (samplers.py)
    checkpoint: str = "best"
    seed: int = 0
    device: str = "auto"
    shard: tuple[int, int] | None = None  # (K, N): draw only the K-th of N disjoint parts (1-based)
    residual_scale: str = "validated"
    """The backbone's residual ε̂ = prior + s·F: `validated` (1 unless the run's own validation people show that a
    smaller s denoises better: `_residual_scale`), or a number ≥ 0 (1: as trained, 0: the prior alone)."""

    def __post_init__(self) -> None:
        if self.shard is not None:
            k, parts = self.shard
            if not (isinstance(k, int) and isinstance(parts, int) and 1 <= k <= parts):
                raise GenomesynthError(f"--shard {k}/{parts}: give K/N with 1 ≤ K ≤ N, e.g. --shard 3/8")
        checks.whole("n", self.n)
        checks.whole("batch_size", self.batch_size)
        checks.whole("steps", self.steps, optional=True)
        checks.number("eta", self.eta, 0, 1)
        checks.number("guidance", self.guidance, 0)
        if self.sampler not in ("ddpm", "ddim"):
            raise GenomesynthError(f"--sampler {self.sampler!r}: use ddpm or ddim")
        if self.residual_scale != "validated":
            try:
                scale = float(self.residual_scale)
            except ValueError:
                scale = -1.0
            if not scale >= 0:
                raise GenomesynthError(f"--residual-scale {self.residual_scale!r}: give validated or a number ≥ 0, e.g. 1")


def shard_people(n: int, batch_size: int, shard: tuple[int, int] | None) -> tuple[int, int]:
    """The people [start, stop) of shard K of N: whole batches, N contiguous near-equal runs of them.
    Every batch draws its noise from its own seed, so the parts' union is the unsharded draw."""
    n_batches = math.ceil(n / batch_size)
    if shard is None:
        return 0, n
    k, parts = shard
    if parts > n_batches:
        raise GenomesynthError(
            f"--shard {k}/{parts}: {n:,} people in batches of {batch_size} make only {n_batches} batches; "
            "use at most that many shards or a smaller --batch-size"
        )
    first, last = (k - 1) * n_batches // parts, k * n_batches // parts
    return first * batch_size, min(last * batch_size, n)


def batch_seed(seed: int, batch: int) -> int:
    """The noise seed of one batch of people (independent of how the draw is sharded)."""
    return (seed * 1_000_003 + batch) % 2**63


@dataclass
class SampleSummary:
    output: str
    n: int
    label_counts: dict[str, int]
    sampler: str
    steps: int
    seconds: float
    genomes_per_second: float
    residual_scale: float = 1.0
    residual_chosen: str = "given"
    membership: dict[str, Any] | None = None


def _labels(config: SampleConfig, names: list[str], counts: list[int], rng: np.random.Generator) -> np.ndarray:
    """One label code per synthetic person; the null class (len(names)) when the run is unlabelled."""
    null = len(names)
    if config.label is not None and config.label_ratio is not None:
        raise GenomesynthError("pass either --label or --label-ratio, not both")
    if config.label is not None:
        if not names:
            raise GenomesynthError("--label: this model was trained without labels; drop --label")
        if config.label in names:
            code = names.index(config.label)
        elif config.label.lstrip("-").isdigit() and 0 <= int(config.label) < len(names):
            code = int(config.label)
        else:
            raise GenomesynthError(
                f"--label {config.label!r}: the model never saw this label; it knows {', '.join(names)}"
            )
        return np.full(config.n, code)
    if config.label_ratio is not None:
        with open_store(config.label_ratio) as ref:
            if ref.label_names != names:
                raise GenomesynthError(f"{config.label_ratio}: its labels {ref.label_names} differ from the model's {names}")
            labels = ref.label()[ref.split() != "test"]
            counts = [int((labels == c).sum()) for c in range(len(names))]
    if not names or sum(counts) == 0:
        return np.full(config.n, null)
    p = np.asarray(counts, dtype=float) / sum(counts)
    # exact proportions (largest remainder), then shuffled: n = 1000 at 30 % cases gives 300 cases
    quota = np.floor(p * config.n).astype(int)
    quota[np.argsort(-(p * config.n - quota))[: config.n - quota.sum()]] += 1
    return rng.permutation(np.repeat(np.arange(len(names)), quota))


def sample(
    run_dir: str | Path,
    output: str | Path,
    config: SampleConfig | None = None,
    *,
    real: str | Path | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> SampleSummary:
    """Draw config.n synthetic people from a run's EMA weights into a store at `output`."""
    config = config or SampleConfig()
    progress = progress or quiet()
    writer = StoreWriter(output, overwrite=overwrite)
    state = load_checkpoint(Path(run_dir), config.checkpoint)
    ref = state["store"]
    real_path = Path(real) if real else Path(ref["path"])
    if not real_path.exists():
        raise GenomesynthError(f"{real_path}: the real store this run was trained on is gone; pass --real PATH")
    device = resolve_device(config.device)
    model = model_from_checkpoint(state).to(device)
    names = list(ref["label_names"])
    labels = _labels(config, names, ref["label_counts"], np.random.default_rng(config.seed))
    first, stop = shard_people(config.n, config.batch_size, config.shard)
    steps = state["config"]["timesteps"] if config.sampler == "ddpm" else (config.steps or 50)
    started = time.perf_counter()
    with open_store(real_path) as real_store:
        if real_store.attrs.get("codec_id") != ref["codec_id"]:
            raise GenomesynthError(f"{real_path}: not the store this run was trained on (codec differs)")
        residual = _residual_scale(config.residual_scale, model, state, real_store, device)
        model.residual_scale = residual["scale"]
        with writer:
            latents = writer.create_latents(stop - first, ref["n_genes_padded"])
            task = progress.add_task(f"sampling ({config.sampler}, {steps} steps)", total=stop - first, status="")
            for done, x in _draws(model, state, config, labels, first, stop, device, Path(run_dir)):
                latents[done - len(x) : done] = x
                progress.update(task, completed=done)
            copy_reference(real_store, writer)
            add_call_gain(real_store, writer)
            drawn_labels = np.where(labels[first:stop] == len(names), -1, labels[first:stop]).astype(np.int32)
            audit = _membership_audit(real_store, state, latents, drawn_labels, config.seed, device)
            writer.write("sample_id", np.array([f"SYN{i + 1:06d}" for i in range(first, stop)], dtype=object))
            writer.write("label", drawn_labels)
            writer.set_attrs(reference_attrs(real_store) | _draw_attrs(Path(run_dir), state, config, steps, residual,
                                                                      audit, first, stop))
    seconds = time.perf_counter() - started
    mine = labels[first:stop]
    counts = {("unlabelled" if c == len(names) else names[c]): int((mine == c).sum()) for c in np.unique(mine)}
    return SampleSummary(str(output), stop - first, counts, config.sampler, steps, seconds,
                         (stop - first) / max(seconds, 1e-9), residual["scale"], residual["chosen"], audit)


def _draws(model: torch.nn.Module, state: dict, config: SampleConfig, labels: np.ndarray, first: int, stop: int,
           device: torch.device, run_dir: Path) -> Iterator[tuple[int, np.ndarray]]:
    """People first … stop − 1 drawn a batch at a time, each batch from its own seed (so shards draw what the whole
    draw would), in the store's latent scale: (people drawn so far, this batch's latents)."""
    ref, train_config = state["store"], state["config"]
    schedule = Schedule.named(train_config["schedule"], train_config["timesteps"])
    mask = ref["mask"].to(device)
    mean, std = ref["mean"].to(device), ref["std"].to(device)
    clip = tuple(v.to(device) for v in ref["x0_range"]) if config.clip else None
    null_class = len(ref["label_names"])

    def denoise(x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with mixed_precision(device):
            return model(x, t, y)

    for start in range(first, stop, config.batch_size):
        y = torch.as_tensor(labels[start : start + config.batch_size], device=device)
        generator = torch.Generator(device=device).manual_seed(batch_seed(config.seed, start // config.batch_size))
        x = draw(denoise, schedule, y, mask, sampler=config.sampler, steps=config.steps, eta=config.eta,
                 guidance=config.guidance, null_class=null_class, generator=generator, clip=clip)
        if not torch.isfinite(x).all():
            raise GenomesynthError(
                f"{run_dir}: the model drew NaN or infinite values (people {start + 1}–{start + len(y)}); "
                "nothing was written — the run diverged: sample an earlier checkpoint (--checkpoint) or retrain"
            )
        x = (x * std + mean) * mask  # back from standardised space; padding exactly 0
        yield start - first + len(y), x.float().cpu().numpy()


def _draw_attrs(run_dir: Path, state: dict, config: SampleConfig, steps: int, residual: dict[str, Any],
                audit: dict[str, Any], first: int, stop: int) -> dict[str, Any]:
    """A synthetic store's own attributes: the model and draw behind it, its shard, its provenance."""
    train_config = state["config"]
    return {
        "schema_version": SCHEMA_VERSION,
        "role": "synthetic",
        "model": {
            "run": str(run_dir.resolve()), "checkpoint": state["path"], "backbone": train_config["backbone"],
            "preset": train_config["preset"], "step": state["step"], "sampler": config.sampler, "steps": steps,
            "guidance": config.guidance, "eta": config.eta, "clip_x0": config.clip, "residual_scale": residual,
            "membership": audit,
        },
        "shard": {"k": config.shard[0], "of": config.shard[1], "start": first, "stop": stop, "total": config.n,
                  "batch_size": config.batch_size, "seed": config.seed} if config.shard else None,
        "provenance": provenance("sample", [Path(state["path"])], config.seed,
                                 {k: str(v) if isinstance(v, Path) else v for k, v in vars(config).items()}),
    }


def _run_split(real_store: Store, config: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(validation people, fit people) of the run whose saved train config is `config`: the split `train` made."""
    return validation_split(np.flatnonzero(real_store.split() == "train"), config["val_fraction"], config["seed"])


def _membership_audit(real_store: Store, state: dict, drawn: Any, drawn_labels: np.ndarray, seed: int,
                      device: torch.device) -> dict[str, Any]:
    """eval's membership attacks on the run's own split (metrics/privacy.py): as many of the people the run was
    fitted to as it has validation people, with their label mix, scored by their distance to this draw's people (at
    most AUDIT_PEOPLE; `membership_audit`) and, where the draw has two labels or more, through the label's shift
    (`label_membership`, under "label"); only those people are read."""
    val_people, fit_people = _run_split(real_store, state["config"])
    if len(val_people) < 2:
        return {"skipped": f"{len(val_people)} validation people (--val-fraction)"}
    labels = real_store.label()
    pick_fit, pick_val = matched_sets(len(fit_people), len(val_people), labels[fit_people], labels[val_people],
                                      np.random.default_rng(seed))
    mask = real_store.mask()
    picked = [np.sort(group[pick]) for group, pick in ((fit_people, pick_fit), (val_people, pick_val))]
    people = [real_store.read_people(rows)[:, mask] for rows in picked]
    scale = (real_store.read("stats/mean")[mask], real_store.read("stats/std")[mask])
    synthetic = np.asarray(drawn[:AUDIT_PEOPLE])[:, mask]
    audit = membership_audit(synthetic, *people, scale, seed=seed, device=str(device))
    # the people are already matched (one label mix), so every one of them is scored
    by_label = label_membership(synthetic, drawn_labels[:AUDIT_PEOPLE], people[0], labels[picked[0]], people[1],
                                labels[picked[1]], scale, seed)
    return audit | ({"label": by_label} if by_label is not None else {}) | {"against": "the run's validation people"}


AUDIT_PEOPLE = 2000
"""Drawn people the membership audit scores the run's fit and validation people against."""
VALIDATION_DRAWS = 16
"""Draws of (t, noise) per validation person."""
VALIDATION_PEOPLE = 1024
"""At most this many of the run's validation people (evenly spaced) judge the scale."""
SHRINK_Z = 2.0
"""`validated` shrinks the residual only when the validation loss's slope at s = 1 is this many standard errors
above 0 (one-sided, about 2 % of runs whose network is as good below 1 as at 1)."""


def _residual_scale(asked: str, model: torch.nn.Module, state: dict, real_store: Store,
                    device: torch.device) -> dict[str, Any]:
    """{"scale": s, "chosen": how}. For `validated`: each validation person's denoising loss is exactly quadratic
    in s, L_i(s) = a_i + 2s·b_i + s²·c_i (a: the prior's error, b: its product with the residual F, c: F's power,
    averaged over paired draws of t and noise). The residual is shrunk, to the s in [0, 1] minimising the mean loss,
    only when the slope at s = 1 (b_i + c_i) is significantly positive: then the network adds, on people it was not
    fitted to, more than it explains (docs/RESULTS.md: the demo's `baseline`); otherwise s = 1, the model as trained."""
    if asked != "validated":
        return {"scale": float(asked), "chosen": "given"}
    config = state["config"]
    val_people, _ = _run_split(real_store, config)
    if len(val_people) < 2:
        return {"scale": 1.0, "chosen": f"{len(val_people)} validation people: too few to judge by (--val-fraction)"}
    if len(val_people) > VALIDATION_PEOPLE:
        val_people = val_people[np.linspace(0, len(val_people) - 1, VALIDATION_PEOPLE).round().astype(int)]
    labels = real_store.label()[val_people]
    y = np.where(labels >= 0, labels, len(state["store"]["label_names"]))  # unlabelled: the null class, as in training
    val = LatentData(real_store, val_people, y, device, config["memory_budget_gb"])
    schedule, mask = model.schedule, val.mask.to(device)
    coefficients = torch.zeros(3, len(val), dtype=torch.float64)  # a, b, c per person
    generator = torch.Generator(device=device).manual_seed(12345)
    with torch.no_grad():
        for start in range(0, len(val), 256):
            x0, yb = val.batch(np.arange(start, min(start + 256, len(val))))
            for _ in range(VALIDATION_DRAWS):
                t = torch.randint(0, schedule.timesteps, (len(x0),), generator=generator, device=device)
                noise = torch.randn(x0.shape, generator=generator, device=device) * mask
                x_t = schedule.q_sample(x0, t, noise)
                error = model.prior.eps(x_t, t, yb, schedule) - noise
                with mixed_precision(device):  # the network as it draws (bf16 on a GPU)
                    residual = model.backbone(x_t, t, yb).float()
                for row, product in enumerate((error * error, error * residual, residual * residual)):
                    coefficients[row, start : start + len(x0)] += masked_mean_per_sample(product, mask).double().cpu()
    return {"chosen": "validated", "people": len(val), "draws": VALIDATION_DRAWS,
            **validated_scale(*(coefficients / VALIDATION_DRAWS))}


def validated_scale(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> dict[str, Any]:
    """The scale from per-person loss coefficients L_i(s) = a_i + 2s·b_i + s²·c_i: the minimiser of the mean loss over
    [0, 1] when the slope at 1 is significantly positive (z > SHRINK_Z), else 1; with the test and the losses."""
    slope = b + c  # half of dL_i/ds at s = 1
    spread = float(slope.std()) if len(slope) > 1 else 0.0
    z = float(slope.mean()) / (spread / math.sqrt(len(slope))) if spread > 0 else 0.0
    best = round(float((-b.sum() / c.sum()).clamp(0, 1)), 2) if float(c.sum()) > 0 else 1.0

    def loss(s: float) -> float:
        return round(float((a + 2 * s * b + s * s * c).mean()), 6)

    return {"scale": best if z > SHRINK_Z else 1.0, "slope_z": round(z, 2), "best": best,
            "val_loss": {f"{s:g}": loss(s) for s in sorted({0.0, 0.5, best, 1.0})}}
