"""A trained run → a synthetic store of the real store's schema, written a batch at a time."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from rich.progress import Progress

from genomesynth import checks
from genomesynth.diffusion.samplers import sample as draw
from genomesynth.diffusion.schedule import Schedule
from genomesynth.errors import GenomesynthError
from genomesynth.provenance import provenance
from genomesynth.store import REFERENCE_ATTRS, SCHEMA_VERSION, StoreWriter, copy_reference, open_store
from genomesynth.train import load_checkpoint, model_from_checkpoint, resolve_device
from genomesynth.ui import quiet


@dataclass
class SampleConfig:
    n: int = 1000
    label: str | None = None  # a label name (or code) for everyone
    label_ratio: Path | None = None  # follow this store's train-split label mix
    sampler: str = "ddpm"
    steps: int | None = None  # DDIM steps (default 50)
    eta: float = 0.0
    guidance: float = 0.0
    batch_size: int = 256
    clip: bool = False  # clip x̂_0 to the training data's per-position range (samplers.py)
    checkpoint: str = "best"
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        checks.whole("n", self.n)
        checks.whole("batch_size", self.batch_size)
        checks.whole("steps", self.steps, optional=True)
        checks.number("eta", self.eta, 0, 1)
        checks.number("guidance", self.guidance, 0)
        if self.sampler not in ("ddpm", "ddim"):
            raise GenomesynthError(f"--sampler {self.sampler!r}: use ddpm or ddim")


@dataclass
class SampleSummary:
    output: str
    n: int
    label_counts: dict[str, int]
    sampler: str
    steps: int
    seconds: float
    genomes_per_second: float


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
    train_config = state["config"]
    schedule = Schedule.named(train_config["schedule"], train_config["timesteps"])
    names = list(ref["label_names"])
    rng = np.random.default_rng(config.seed)
    labels = _labels(config, names, ref["label_counts"], rng)
    mask = ref["mask"].to(device)
    mean, std = ref["mean"].to(device), ref["std"].to(device)
    clip = tuple(v.to(device) for v in ref["x0_range"]) if config.clip else None
    generator = torch.Generator(device=device).manual_seed(config.seed)
    steps = train_config["timesteps"] if config.sampler == "ddpm" else (config.steps or 50)

    def denoise(x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            return model(x, t, y)

    started = time.perf_counter()
    with open_store(real_path) as real_store:
        if real_store.attrs.get("codec_id") != ref["codec_id"]:
            raise GenomesynthError(f"{real_path}: not the store this run was trained on (codec differs)")
        with writer:
            latents = writer.create_latents(config.n, ref["n_genes_padded"])
            task = progress.add_task(f"sampling ({config.sampler}, {steps} steps)", total=config.n, status="")
            for start in range(0, config.n, config.batch_size):
                y = torch.as_tensor(labels[start : start + config.batch_size], device=device)
                x = draw(denoise, schedule, y, mask, sampler=config.sampler, steps=config.steps, eta=config.eta,
                         guidance=config.guidance, null_class=len(names), generator=generator, clip=clip)
                if not torch.isfinite(x).all():
                    raise GenomesynthError(
                        f"{run_dir}: the model drew NaN or infinite values (people {start + 1}–{start + len(y)}); "
                        "nothing was written — the run diverged: sample an earlier checkpoint (--checkpoint) or retrain"
                    )
                x = (x * std + mean) * mask  # back from standardised space; padding exactly 0
                latents[start : start + len(y)] = x.float().cpu().numpy()
                progress.update(task, completed=start + len(y))
            copy_reference(real_store, writer)
            writer.write("sample_id", np.array([f"SYN{i + 1:06d}" for i in range(config.n)], dtype=object))
            writer.write("label", np.where(labels == len(names), -1, labels).astype(np.int32))
            writer.set_attrs({
                **{k: real_store.attrs[k] for k in REFERENCE_ATTRS if k in real_store.attrs},
                "schema_version": SCHEMA_VERSION,
                "role": "synthetic",
                "model": {
                    "run": str(Path(run_dir).resolve()), "checkpoint": state["path"], "backbone": train_config["backbone"],
                    "preset": train_config["preset"], "step": state["step"], "sampler": config.sampler, "steps": steps,
                    "guidance": config.guidance, "eta": config.eta, "clip_x0": config.clip,
                },
                "provenance": provenance("sample", [Path(state["path"])], config.seed,
                                         {k: str(v) if isinstance(v, Path) else v for k, v in vars(config).items()}),
            })
    seconds = time.perf_counter() - started
    counts = {("unlabelled" if c == len(names) else names[c]): int((labels == c).sum()) for c in np.unique(labels)}
    return SampleSummary(str(output), config.n, counts, config.sampler, steps, seconds, config.n / max(seconds, 1e-9))
