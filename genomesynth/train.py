"""The training loop: a real store's train split → a masked, label-conditioned DDPM in runs/NAME.

`train` reads top to bottom: the config (`_run_config`, with the checkpoint to resume from) → the
people (`_Cohort`) → the prior, network, EMA and optimiser (`_Run`, restored on resume) → per epoch,
its steps (`_epoch`), then validation, metrics.jsonl and checkpoints (`_close_epoch`). Resuming
restores every random state and skips the batches an epoch already consumed, so a resumed run
reproduces the uninterrupted loss curve exactly.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import resource
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.progress import Progress, TaskID

from genomesynth import __version__, checks
from genomesynth.backbones import backbone_config, build, parameter_count
from genomesynth.diffusion.loss import masked_mse, masked_mse_per_sample
from genomesynth.diffusion.precondition import PriorResidual
from genomesynth.diffusion.prior import PopulationPrior, PriorConfig, leading_axes
from genomesynth.diffusion.schedule import Schedule
from genomesynth.errors import GenomesynthError
from genomesynth.provenance import provenance
from genomesynth.store import Store, open_store
from genomesynth.ui import quiet

CHECKPOINT_FORMAT = 1


@dataclass
class TrainConfig:
    backbone: str = "baseline"  # the most faithful at equal privacy on real cohorts (docs/RESULTS.md)
    preset: str = "tiny"
    model: dict[str, Any] = field(default_factory=dict)  # overrides of the backbone preset
    epochs: int = 20
    max_steps: int | None = None
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 50
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    timesteps: int = 1000
    schedule: str = "linear"
    p_uncond: float = 0.1  # label dropped to the null class this often (classifier-free guidance)
    val_fraction: float = 0.1
    val_every: int = 1  # validate (and maybe save best.pt) every N epochs, and at the last one
    recon_bins: int = 10
    seed: int = 0
    device: str = "auto"
    memory_budget_gb: float = 4.0  # train data above this is streamed from the store in pools
    prior: str = "population"  # the denoiser F is a residual over: population (prior.py) or isotropic
    prior_rank: int = 128  # principal axes of the population prior, at most (prior.py: max_axes)
    prior_components: int = 8  # mixture components tried, at most (chosen by BIC)
    prior_shrinkage: float | None = None  # None: axes beyond the population axes shared; ν: each component's
    # covariance over every axis, shrunk toward the pooled one with the weight of ν people (prior.py)
    prior_reference: str | None = None  # a store of people outside the cohort, in its codec (`encode`), whose
    # principal axes the prior takes instead of the training people's own (prior.py; docs/RESULTS.md, finding 18)
    prior_label_effects: bool = True  # each label's shift beyond the populations, shrunk by empirical Bayes (prior.py;
    # docs/RESULTS.md, finding 20); False: the label moves only the populations' shares

    def __post_init__(self) -> None:
        checks.typed(self)
        for name in ("epochs", "batch_size", "timesteps", "val_every", "recon_bins", "prior_components"):
            checks.whole(name, getattr(self, name), 2 if name == "timesteps" else 1)
        checks.whole("max_steps", self.max_steps, optional=True)
        checks.whole("warmup_steps", self.warmup_steps, 0)
        checks.whole("prior_rank", self.prior_rank, 0)
        checks.number("lr", self.lr, 0, low_open=True)
        checks.number("weight_decay", self.weight_decay, 0)
        checks.number("ema_decay", self.ema_decay, 0, 1, high_open=True)
        checks.number("grad_clip", self.grad_clip, 0, low_open=True)
        checks.number("p_uncond", self.p_uncond, 0, 1, high_open=True)
        checks.number("val_fraction", self.val_fraction, 0, 1, high_open=True)
        checks.number("memory_budget_gb", self.memory_budget_gb, 0, low_open=True)
        if self.prior_shrinkage is not None:
            checks.number("prior_shrinkage", self.prior_shrinkage, 0)
        if self.prior_reference is not None and self.prior != "population":
            raise GenomesynthError(f"--prior-reference gives the population prior its axes; --prior {self.prior} has "
                                   "none: drop one of the two")


RESUMABLE = ("epochs", "max_steps", "device", "lr", "val_every")
"""Settings a resumed run may change; the others define the run and must stay as they were."""


@dataclass
class TrainSummary:
    run: str
    backbone: str
    parameters: int
    device: str
    steps: int
    epochs: int
    train_loss: float
    val_loss: float
    best_val_loss: float
    seconds: float
    samples_per_second: float
    peak_memory_mb: float
    prior_axes_from: dict[str, Any] | None = None  # with --prior-reference: the panel, its people used, left out


BF16_DEVICES: tuple[str, ...] = ("cuda",)
"""Device types on which the backbone runs under bf16 autocast (the prior's closed form never does: prior.py)."""


def mixed_precision(device: torch.device) -> torch.autocast:
    """bf16 autocast for the backbone's forward pass on a GPU; a no-op elsewhere. Tests add "cpu" to
    BF16_DEVICES to run a GPU's mixed-precision path on the CPU, whose autocast rounds matrix products alike."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type in BF16_DEVICES)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise GenomesynthError("--device cuda was asked for, but torch sees no GPU; use --device cpu or auto")
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise GenomesynthError(f"--device {name!r}: use auto, cpu or cuda")
    return torch.device(name)


@dataclass
class _Distributed:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def _init_distributed(device: torch.device) -> tuple[_Distributed, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Distributed(), device
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return _Distributed(dist.get_rank(), dist.get_world_size()), device


# -- data --------------------------------------------------------------------------------------


class LatentData:
    """Standardised latents of some people of a store, in memory when they fit, else read in pools.

    An epoch's order is a function of (seed, epoch) alone, so a resumed run sees the same batches.
    """

    def __init__(self, store: Store, people: np.ndarray, labels: np.ndarray, device: torch.device,
                 budget_gb: float) -> None:
        self.store, self.people, self.device = store, people, device
        self.labels = torch.as_tensor(labels, dtype=torch.long)
        self.mean = torch.as_tensor(store.read("stats/mean"))
        self.std = torch.as_tensor(store.read("stats/std"))
        self.mask = torch.as_tensor(store.mask())
        size_gb = len(people) * store.n_genes_padded * 8 * 4 / 2**30
        self.in_memory = size_gb <= budget_gb
        self._cache = self._load(np.arange(len(people))).to(device) if self.in_memory else None

    def __len__(self) -> int:
        return len(self.people)

    def _load(self, positions: np.ndarray) -> torch.Tensor:
        raw = torch.from_numpy(self.store.read_people(self.people[positions]))
        return (raw - self.mean) / self.std * self.mask

    def value_range(self, rows: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-position (min, max) of the standardised data: the box samplers clip x̂_0 to."""
        low = torch.full(self.mask.shape, torch.inf)
        high = torch.full(self.mask.shape, -torch.inf)
        for start in range(0, len(self), rows):
            x = (self._cache[start : start + rows].cpu() if self._cache is not None
                 else self._load(np.arange(start, min(start + rows, len(self)))))
            low, high = torch.minimum(low, x.amin(0)), torch.maximum(high, x.amax(0))
        return low * self.mask, high * self.mask

    def rows(self, limit: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """At most `limit` people (a seeded subsample beyond that) on the CPU, with their labels."""
        pick = np.arange(len(self))
        if len(pick) > limit:
            pick = np.sort(np.random.default_rng(seed).choice(len(self), limit, replace=False))
        x = self._cache[torch.as_tensor(pick).to(self._cache.device)].cpu() if self._cache is not None else self._load(pick)
        return x, self.labels[pick]

    def order(self, seed: int, epoch: int, pool: int) -> np.ndarray:
        rng = np.random.default_rng([seed, epoch])
        if self.in_memory:
            return rng.permutation(len(self))
        # pools of consecutive people (chunk-friendly reads), pools shuffled, people shuffled in pools
        starts = rng.permutation(np.arange(0, len(self), pool))
        return np.concatenate([rng.permutation(np.arange(s, min(s + pool, len(self)))) for s in starts])

    def batch(self, positions: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.as_tensor(positions)
        if self._cache is not None:
            x = self._cache[idx.to(self._cache.device)]
        else:
            x = self._load(positions).to(self.device)
        return x, self.labels[idx].to(self.device)


# -- checkpoint ----------------------------------------------------------------------------------


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(run: Path, which: str = "best") -> dict[str, Any]:
    """`which` is best or last (falls back to last when there is no best yet), or a .pt path."""
    run = Path(run)
    path = Path(which) if which.endswith(".pt") else run / f"{which}.pt"
    if not path.exists() and which == "best":
        path = run / "last.pt"
    if not path.exists():
        raise GenomesynthError(f"{run}: no checkpoint ({path.name}); train first with `genomesynth train`")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise GenomesynthError(f"{path}: not a readable checkpoint ({exc})") from exc
    if state.get("format") != CHECKPOINT_FORMAT:
        raise GenomesynthError(f"{path}: checkpoint format {state.get('format')!r} is not {CHECKPOINT_FORMAT}")
    state["path"] = str(path)
    return state


def model_from_checkpoint(state: dict[str, Any], weights: str = "ema") -> torch.nn.Module:
    """The denoiser ε̂(x_t, t, y) of a checkpoint: its backbone as a residual over the run's prior."""
    config = state["config"]
    bcfg = backbone_config(config["backbone"], config["preset"], config["model"])
    model = build(config["backbone"], state["store"]["n_genes_padded"], len(state["store"]["label_names"]), bcfg)
    model.load_state_dict(state[weights])
    return PriorResidual(model, Schedule.named(config["schedule"], config["timesteps"]), checkpoint_prior(state)).eval()


def checkpoint_prior(state: dict[str, Any]) -> PopulationPrior:
    """The run's prior; runs saved before priors existed were residuals over the isotropic one."""
    if "prior" in state:
        return PopulationPrior.from_state(state["prior"])
    return PopulationPrior.isotropic(state["store"]["mask"], len(state["store"]["label_names"]))


def fit_prior(config: TrainConfig, data: LatentData, n_classes: int) -> tuple[PopulationPrior, dict[str, Any] | None]:
    """The prior the backbone is a residual over (precondition.py), fitted on the training people; and, with
    `prior_reference`, where its axes came from: the panel, its people used, and those left out as duplicates of
    training people (the same person under another id: their genome would shape the axes as a participant's)."""
    if config.prior == "isotropic":
        return PopulationPrior.isotropic(data.mask, n_classes), None
    if config.prior != "population":
        raise GenomesynthError(f"prior {config.prior!r}: use population or isotropic")
    prior_config = PriorConfig(max_rank=config.prior_rank, max_components=config.prior_components, seed=config.seed,
                               component_shrinkage=config.prior_shrinkage, label_effects=config.prior_label_effects)
    x, y = data.rows(prior_config.max_people, config.seed)
    if config.prior_reference is None:
        return PopulationPrior.fit(x, data.mask, y, n_classes, prior_config), None
    reference, ids = reference_people(config.prior_reference, data, prior_config)
    twins = panel_duplicates(reference, x, data.mask, config.seed)
    keep = np.setdiff1d(np.arange(len(reference)), twins)
    if len(keep) < 2:
        raise GenomesynthError(f"--prior-reference {config.prior_reference}: {len(keep)} people outside the cohort "
                               f"({len(twins)} of its {len(reference)} are duplicates of training people); a reference "
                               "panel needs at least 2")
    prior = PopulationPrior.fit(x, data.mask, y, n_classes, prior_config, reference[torch.as_tensor(keep)])
    axes_from = {"panel": config.prior_reference, "people": len(keep), "left_out": [ids[i] for i in twins],
                 "coverage": panel_coverage(prior, x, prior_config.population_axes, config.seed)}
    return prior, axes_from


LOW_COVERAGE = 0.85
"""A panel coverage below this is called low (between chr15's 0.91 for full panels and 0.81 with a population out)."""


def panel_coverage(prior: PopulationPrior, x: torch.Tensor, axes: int, seed: int) -> float | None:
    """How much of the training people's variance the prior's first `axes` (panel) axes hold, against what their
    own first `axes` principal axes hold (which overstate it a little, being fitted to them): on chr15 0.91 for
    panels of the cohort's five populations, 0.81 with one left out (docs/RESULTS.md, finding 18)."""
    k = min(axes, prior.rank)
    if k == 0:
        return None
    xc = x.reshape(len(x), -1).double()
    xc = xc - xc.mean(0)
    along_panel = float(((xc @ prior.basis[:, :k].double()) ** 2).sum()) / max(len(xc) - 1, 1)
    own, _ = leading_axes(xc, k, seed)
    return round(along_panel / max(float(own[:k].sum()), 1e-12), 3)


def reference_people(path: str, data: LatentData, config: PriorConfig) -> tuple[torch.Tensor, list[str]]:
    """Every person of the reference store (a seeded subsample beyond `config.max_people`), standardised
    with the training people's statistics, and their sample ids; the store must share the cohort's codec."""
    how = (f"put the reference panel into the cohort's codec with "
           f"`genomesynth encode PANEL.vcf.gz --codec {data.store.path} --role real -o panel.zarr`")
    if not Path(path).exists():
        raise GenomesynthError(f"--prior-reference {path}: no such store; {how}")
    with open_store(path) as ref:
        if ref.attrs.get("codec_id") != data.store.attrs.get("codec_id"):
            raise GenomesynthError(f"--prior-reference {path}: its codec ({ref.attrs.get('codec_id')}) is not "
                                   f"{data.store.path}'s ({data.store.attrs.get('codec_id')}); {how}")
        encoded = ref.attrs.get("encode_summary") or {}
        absent, variants = int(encoded.get("absent", 0)), int(encoded.get("codec_variants", 0))
        if variants and absent > 0.5 * variants:
            raise GenomesynthError(f"--prior-reference {path}: {absent:,} of the codec's {variants:,} variants are absent "
                                   "from the panel (mean-imputed by encode), so its axes would miss them; use a panel "
                                   "genotyped or imputed at the cohort's sites")
        if ref.role != "real":
            raise GenomesynthError(f"--prior-reference {path}: role is {ref.role!r}, people drawn from a model of a "
                                   f"cohort; give real people outside the cohort ({how})")
        all_ids = np.asarray(ref.sample_id().tolist())
        shared = np.intersect1d(all_ids, np.asarray(data.store.sample_id().tolist()))
        if len(shared):
            raise GenomesynthError(f"--prior-reference {path}: {len(shared)} of its people are in the cohort (e.g. "
                                   f"{shared[0]}); the panel must be people outside it, or its axes are the "
                                   "participants' own")
        people = np.arange(ref.n_people)
        if len(people) > config.max_people:
            people = np.sort(np.random.default_rng(config.seed).choice(len(people), config.max_people, replace=False))
        raw = torch.from_numpy(ref.read_people(people))
        ids = [str(i) for i in all_ids[people]]
    return (raw - data.mean) / data.std * data.mask, ids


def panel_duplicates(panel: torch.Tensor, cohort: torch.Tensor, mask: torch.Tensor, seed: int) -> np.ndarray:
    """Rows of `panel` near-identical to a `cohort` person (neighbours.near_identical, on the real positions
    split.compared_columns draws with `seed`): the same person under another id."""
    from genomesynth.metrics.neighbours import near_identical
    from genomesynth.split import compared_columns

    compared = torch.as_tensor(compared_columns(mask.cpu().numpy(), seed))
    a, b = (t.reshape(len(t), -1)[:, compared].float().numpy() for t in (panel, cohort))
    return near_identical(a, b)


# -- the loop ------------------------------------------------------------------------------------


def train(
    store_path: str | Path,
    run_dir: str | Path,
    config: TrainConfig | None = None,
    *,
    resume: bool = False,
    changes: set[str] | None = None,
    progress: Progress | None = None,
) -> TrainSummary:
    """Train a backbone on a real store's train split; checkpoints and metrics go to run_dir.

    On `resume` the run's saved config wins, except the `changes` fields of `config` (default: the
    length of training and the device), which may only be RESUMABLE ones."""
    run_dir = Path(run_dir)
    progress = progress or quiet()
    config, state = _run_config(run_dir, config, resume, changes)
    dist, device = _init_distributed(resolve_device(config.device))
    torch.manual_seed(config.seed)

    with open_store(store_path) as store:
        cohort = _Cohort.load(store, config, device, state)
        run = _Run(config, store, cohort, device, dist, state)
        log = _open_run_dir(run_dir, run, resumed=state is not None)
        started, seen = time.perf_counter(), 0
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        task = progress.add_task(f"training {config.backbone}", total=run.total_steps, completed=run.at.step, status="")
        train_loss = val_loss = float("nan")
        while run.at.step < run.total_steps:
            seen += _epoch(run, cohort, progress, task, run_dir, store_path)
            record = _close_epoch(run, cohort, log, time.perf_counter() - started, run_dir)
            train_loss, val_loss = record["train_loss"], record.get("val_loss", val_loss)
            if record.get("partial"):
                break
        run.checkpoint(run_dir / "last.pt")
        if dist.world > 1:
            torch.distributed.barrier()
    seconds = time.perf_counter() - started
    peak = (torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return TrainSummary(
        run=str(run_dir), backbone=config.backbone, parameters=parameter_count(run.model), device=str(device),
        steps=run.at.step, epochs=run.at.epoch, train_loss=train_loss, val_loss=val_loss, best_val_loss=run.at.best_val,
        seconds=seconds, samples_per_second=seen / max(seconds, 1e-9), peak_memory_mb=peak,
        prior_axes_from=run.axes_from,
    )


def _run_config(run_dir: Path, config: TrainConfig | None, resume: bool,
                changes: set[str] | None) -> tuple[TrainConfig, dict[str, Any] | None]:
    """The run's config and, on `resume`, its last checkpoint; a folder that cannot take the run is refused."""
    if run_dir.exists() and not run_dir.is_dir():
        raise GenomesynthError(f"{run_dir}: is a file; give a folder for the run (-o)")
    state = load_checkpoint(run_dir, "last") if resume else None
    if state is not None:
        config = _resumed_config(run_dir, TrainConfig(**{"prior": "isotropic", **state["config"]}),  # pre-prior runs
                                 config, changes)
    if not resume and (run_dir / "last.pt").exists():
        raise GenomesynthError(f"{run_dir}: already holds a run; pass --resume to continue it or choose another -o")
    return config or TrainConfig(), state


@dataclass
class _Cohort:
    """The store's training people as a run sees them: the people it fits and its validation people (labels with
    the null class `null` for "no label"), the mask, and what a checkpoint keeps of the store (`reference`)."""

    data: LatentData
    val: LatentData | None
    mask: torch.Tensor
    names: list[str]
    null: int
    reference: dict[str, Any]

    @classmethod
    def load(cls, store: Store, config: TrainConfig, device: torch.device, state: dict[str, Any] | None) -> _Cohort:
        if store.role != "real":
            raise GenomesynthError(f"{store.path}: role is {store.role!r}; train on a real store from `compress`")
        if state is not None and state["store"]["codec_id"] != store.attrs.get("codec_id"):
            raise GenomesynthError(f"{store.path}: not the store this run was trained on; resume with the same store")
        labels = store.label()
        names = store.label_names
        train_people = np.flatnonzero(store.split() == "train")
        if len(train_people) < MIN_TRAIN_PEOPLE:
            raise GenomesynthError(
                f"{store.path}: {len(train_people)} training people; a model needs at least {MIN_TRAIN_PEOPLE} "
                "(compress a larger cohort, or lower --test-fraction)"
            )
        val_people, fit_people = validation_split(train_people, config.val_fraction, config.seed)
        null = len(names)
        y = np.where(labels >= 0, labels, null)
        data = LatentData(store, fit_people, y[fit_people], device, config.memory_budget_gb)
        val = LatentData(store, val_people, y[val_people], device, config.memory_budget_gb) if len(val_people) else None
        return cls(data, val, data.mask.to(device), names, null, _store_reference(store, data, labels[train_people]))


@dataclass
class _Counters:
    """Where a run stands: what a checkpoint saves besides the weights, and resume restores."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    best_val: float = float("inf")
    running: list[float] = field(default_factory=lambda: [0.0, 0])
    """The epoch's summed training loss and its number of steps so far."""


class _Run:
    """What a run trains and checkpoints: the prior, the network and its EMA, the optimiser, the schedule, the
    noise generator and the counters (`at`) — built new, or restored from a checkpoint's `state`."""

    def __init__(self, config: TrainConfig, store: Store, cohort: _Cohort, device: torch.device, dist: _Distributed,
                 state: dict[str, Any] | None) -> None:
        self.config, self.dist, self.device, self.store_reference = config, dist, device, cohort.reference
        if state is not None:
            prior, self.axes_from = checkpoint_prior(state), state.get("prior_axes_from")
        else:
            prior, self.axes_from = fit_prior(config, cohort.data, len(cohort.names))
        self.prior = prior.to(device)
        self.backbone = backbone_config(config.backbone, config.preset, config.model)
        self.model = build(config.backbone, store.n_genes_padded, len(cohort.names), self.backbone).to(device)
        self.ema = copy.deepcopy(self.model).eval().requires_grad_(False)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.schedule = Schedule.named(config.schedule, config.timesteps)
        self.per_rank = max(1, config.batch_size // dist.world)
        self.batches_per_epoch = math.ceil(len(cohort.data) / config.batch_size)
        self.total_steps = config.max_steps or config.epochs * self.batches_per_epoch
        self.generator = torch.Generator(device=device).manual_seed(config.seed * 1000 + dist.rank)
        self.at = _Counters()
        if state is not None:
            self.model.load_state_dict(state["model"])
            self.ema.load_state_dict(state["ema"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.generator.set_state(state["rng"]["generator"])
            self.at = _Counters(state["step"], state["epoch"], state["batch_in_epoch"], state["best_val"],
                                state["running"])
        net: torch.nn.Module = self.model
        if dist.world > 1:
            net = torch.nn.parallel.DistributedDataParallel(self.model,
                                                            device_ids=[device] if device.type == "cuda" else None)
        self.denoiser = PriorResidual(net, self.schedule, self.prior)
        self.ema_denoiser = PriorResidual(self.ema, self.schedule, self.prior)
        self.meta = {"genomesynth_version": __version__, "provenance": provenance(
            "train", [Path(store.path), *([Path(config.prior_reference)] if config.prior_reference else [])],
            config.seed, asdict(config))}

    def checkpoint(self, path: Path) -> None:
        """Save everything a resume or `sample` needs (the main process only)."""
        if not self.dist.main:
            return
        at = self.at
        save_checkpoint(path, {
            "format": CHECKPOINT_FORMAT, "config": asdict(self.config), "backbone_config": asdict(self.backbone),
            "model": self.model.state_dict(), "ema": self.ema.state_dict(), "optimizer": self.optimizer.state_dict(),
            "step": at.step, "epoch": at.epoch, "batch_in_epoch": at.batch_in_epoch, "best_val": at.best_val,
            "running": at.running, "rng": {"generator": self.generator.get_state()}, "store": self.store_reference,
            "prior": {k: v.cpu() for k, v in self.prior.state_dict().items()}, "prior_axes_from": self.axes_from,
            **self.meta,
        })


def _open_run_dir(run_dir: Path, run: _Run, resumed: bool) -> Path:
    """Create the run's folder, start (or trim, on resume) its metrics.jsonl and, for a new run, write config.json."""
    run_dir.mkdir(parents=True, exist_ok=True)
    log = run_dir / "metrics.jsonl"
    if run.dist.main:
        _start_log(log, resumed_at=run.at.step if resumed else None)
    if run.dist.main and not resumed:
        (run_dir / "config.json").write_text(json.dumps(
            {"train": asdict(run.config), "backbone": asdict(run.backbone), "parameters": parameter_count(run.model),
             "prior": {**run.prior.describe(), "axes_from": run.axes_from}, **run.meta},
            indent=2, default=str))
    return log


def _epoch(run: _Run, cohort: _Cohort, progress: Progress, task: TaskID, run_dir: Path, store_path: str | Path) -> int:
    """The rest of the current epoch's batches (from `at.batch_in_epoch`; until `total_steps`): one optimiser step
    each. Returns the people seen."""
    config, at, dist = run.config, run.at, run.dist
    order = cohort.data.order(config.seed, at.epoch, pool=config.batch_size * 16)
    batches = [order[i : i + config.batch_size] for i in range(0, len(order), config.batch_size)]
    run.model.train()
    seen = 0
    for k in range(at.batch_in_epoch, len(batches)):
        if at.step >= run.total_steps:
            break
        mine = batches[k][dist.rank * run.per_rank : (dist.rank + 1) * run.per_rank]
        if len(mine) == 0:
            mine = batches[k][:1]
        x0, y = cohort.data.batch(mine)
        loss = _loss(run.denoiser, run.schedule, x0, y, cohort.mask, cohort.null, config.p_uncond, run.generator,
                     run.device)
        if not torch.isfinite(loss):
            raise _diverged(run_dir, store_path, loss.item(), at.step, at.epoch, config.lr)
        _optimise(loss, run.model, run.ema, run.optimizer, config, at.step, run.total_steps)
        at.step += 1
        at.batch_in_epoch = k + 1
        seen += len(batches[k])
        at.running[0] += loss.item()
        at.running[1] += 1
        progress.update(task, completed=at.step, status=f"epoch {at.epoch} loss {at.running[0] / at.running[1]:.4f}")
    return seen


def _close_epoch(run: _Run, cohort: _Cohort, log: Path, seconds: float, run_dir: Path) -> dict[str, Any]:
    """The epoch's line of metrics.jsonl (with the validation loss where due) and its checkpoints — `best.pt` when
    the validation loss is the lowest yet, `last.pt` always; the counters move on to the next epoch unless
    max_steps stopped this one partway (the record is then `partial`)."""
    at = run.at
    partial = at.batch_in_epoch < run.batches_per_epoch
    record = _epoch_record(run.config, at.epoch, at.step, run.total_steps, at.running[0] / max(at.running[1], 1),
                           seconds, partial, run.model, run.ema_denoiser if run.dist.main else None, cohort.val,
                           cohort.mask)
    if not partial:
        at.epoch, at.batch_in_epoch, at.running = at.epoch + 1, 0, [0.0, 0]
    if run.dist.main:
        with open(log, "a") as handle:
            handle.write(json.dumps(record) + "\n")
        if cohort.val is not None and record.get("val_loss", float("inf")) < at.best_val:
            at.best_val = record["val_loss"]
            run.checkpoint(run_dir / "best.pt")
        run.checkpoint(run_dir / "last.pt")
    return record


def validation_split(train_people: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(validation people, fit people), sorted: the share of the training people a run holds out, drawn with its seed."""
    n_val = int(round(fraction * len(train_people))) if fraction > 0 else 0
    n_val = min(max(n_val, 1 if fraction > 0 else 0), len(train_people) - 1)
    shuffled = np.random.default_rng(seed).permutation(train_people)
    return np.sort(shuffled[:n_val]), np.sort(shuffled[n_val:])


MIN_TRAIN_PEOPLE = 4
"""Fewer training people leave no validation split and no population to learn (one person is a copy)."""


def _resumed_config(run_dir: Path, saved: TrainConfig, asked: TrainConfig | None, changes: set[str] | None) -> TrainConfig:
    """The saved config with the changes a resume may make; any other change is refused."""
    if asked is None:
        return saved
    changes = {"epochs", "max_steps", "device"} if changes is None else set(changes)
    refused = sorted(n for n in changes - set(RESUMABLE) if getattr(asked, n) != getattr(saved, n))
    if refused:
        was = ", ".join(f"{checks.flag(n)} {getattr(saved, n)!r}" for n in refused)
        raise GenomesynthError(
            f"{run_dir}: --resume continues the run as it was configured ({was}); only "
            f"{', '.join(checks.flag(n) for n in RESUMABLE)} may change — start a new run in another -o to change the rest"
        )
    return dataclasses.replace(saved, **{n: getattr(asked, n) for n in changes & set(RESUMABLE)})


def _store_reference(store: Store, data: LatentData, train_labels: np.ndarray) -> dict[str, Any]:
    """What a checkpoint keeps of the store it was trained on: which store (path, codec), its shape and labels, and
    the standardisation and value range of its training people, so that `sample` needs nothing else."""
    names = store.label_names
    return {
        "path": str(Path(store.path).resolve()),
        "codec_id": store.attrs.get("codec_id"),
        "n_genes": store.n_genes,
        "n_genes_padded": store.n_genes_padded,
        "label_names": names,
        "label_counts": [int((train_labels == c).sum()) for c in range(len(names))],
        "ploidy": store.ploidy,
        "mean": data.mean, "std": data.std, "mask": data.mask,
        "x0_range": data.value_range(),
    }


def _start_log(log: Path, resumed_at: int | None) -> None:
    """metrics.jsonl for a new run (emptied: nothing of an earlier failed attempt stays) or for one resumed at step
    `resumed_at`: the provisional partial epoch and whatever was logged after the checkpoint (a run killed between
    the two) are dropped, since the resumed run logs them again — so the log equals an unbroken run's."""
    if resumed_at is None or not log.exists():
        log.write_text("")
        return
    lines = [(line, json.loads(line)) for line in log.read_text().splitlines() if line.strip()]
    log.write_text("".join(f"{line}\n" for line, record in lines
                           if not record.get("partial") and record["step"] <= resumed_at))


def _optimise(loss: torch.Tensor, model: torch.nn.Module, ema: torch.nn.Module, optimizer: torch.optim.Optimizer,
              config: TrainConfig, step: int, total_steps: int) -> None:
    """One optimiser step from a batch's loss: clipped gradients, the step's learning rate, then the EMA weights."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
    for group in optimizer.param_groups:
        group["lr"] = _lr(config, step, total_steps)
    optimizer.step()
    _ema_update(ema, model, config.ema_decay, step)


def _epoch_record(config: TrainConfig, epoch: int, step: int, total_steps: int, train_loss: float, seconds: float,
                  partial: bool, model: torch.nn.Module, ema_denoiser: torch.nn.Module | None, val: LatentData | None,
                  mask: torch.Tensor) -> dict[str, Any]:
    """One line of metrics.jsonl: the epoch's training loss and learning rate; every `val_every` epochs and at the
    end, the EMA model's validation loss and reconstruction error (where `ema_denoiser` is given: the main process);
    the learned λ(t) of `mlp+cnn`. A `partial` epoch (stopped by max_steps) is provisional: --resume drops it."""
    record: dict[str, Any] = {"epoch": epoch, "step": step, "train_loss": train_loss,
                              "lr": _lr(config, step - 1, total_steps), "seconds": round(seconds, 3)}
    if partial:
        record["partial"] = True
    if ema_denoiser is not None and val is not None and (epoch % config.val_every == 0 or step >= total_steps):
        val_loss, recon = _validate(ema_denoiser, ema_denoiser.schedule, val, mask, config)
        record.update(val_loss=val_loss, recon_error=recon)
    if hasattr(model, "lam"):
        ts = torch.linspace(0, config.timesteps - 1, 11, device=mask.device).long()
        with torch.no_grad():
            record["lambda"] = {"t": ts.tolist(), "value": model.lam(ts).float().cpu().tolist()}
    return record


def _diverged(run_dir: Path, store_path: str | Path, value: float, step: int, epoch: int, lr: float) -> GenomesynthError:
    """The message for a loss that stopped being finite: what is kept and the command that goes on."""
    lower = f"{lr / 10:g}"
    last = run_dir / "last.pt"
    if last.exists():
        saved = torch.load(last, map_location="cpu", weights_only=False)
        return GenomesynthError(
            f"training loss became {value} at step {step} (epoch {epoch}) with --lr {lr:g}; the last good checkpoint "
            f"(step {saved['step']}) is kept — go on from it with a lower rate: genomesynth train {store_path} "
            f"-o {run_dir} --resume --lr {lower}"
        )
    return GenomesynthError(
        f"training loss became {value} at step {step} (epoch {epoch}) with --lr {lr:g}, before any checkpoint was "
        f"saved; start again with a lower rate: genomesynth train {store_path} -o {run_dir} --lr {lower}"
    )


def _loss(model: torch.nn.Module, schedule: Schedule, x0: torch.Tensor, y: torch.Tensor, mask: torch.Tensor,
          null: int, p_uncond: float, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    b = x0.shape[0]
    t = torch.randint(0, schedule.timesteps, (b,), generator=generator, device=device)
    noise = torch.randn(x0.shape, generator=generator, device=device) * mask
    drop = torch.rand(b, generator=generator, device=device) < p_uncond
    y = torch.where(drop, torch.full_like(y, null), y)
    x_t = schedule.q_sample(x0, t, noise)
    with mixed_precision(device):
        eps_hat = model(x_t, t, y)
    return masked_mse(eps_hat.float(), noise, mask)


def _lr(config: TrainConfig, step: int, total: int) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(total - config.warmup_steps, 1)
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


@torch.no_grad()
def _ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float, step: int) -> None:
    d = min(decay, (1 + step) / (10 + step))  # short runs should not be dominated by the init
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p, 1 - d)
    for e, b in zip(ema.buffers(), model.buffers()):
        e.copy_(b)


@torch.no_grad()
def _validate(model: torch.nn.Module, schedule: Schedule, val: LatentData, mask: torch.Tensor,
              config: TrainConfig) -> tuple[float, dict[str, list[float]]]:
    """Val loss at fixed (t, noise), and the x̂₀ reconstruction error in bins of t (paper Fig. 3–4)."""
    device = mask.device
    generator = torch.Generator(device=device).manual_seed(12345)
    total, count = 0.0, 0
    bins = config.recon_bins
    edges = torch.linspace(0, schedule.timesteps, bins + 1)
    centres = ((edges[:-1] + edges[1:]) / 2).long().clamp(max=schedule.timesteps - 1)
    recon = torch.zeros(bins)
    n_recon = 0
    for start in range(0, len(val), 256):
        positions = np.arange(start, min(start + 256, len(val)))
        x0, y = val.batch(positions)
        t = torch.randint(0, schedule.timesteps, (len(x0),), generator=generator, device=device)
        noise = torch.randn(x0.shape, generator=generator, device=device) * mask
        with mixed_precision(device):
            eps_hat = model(schedule.q_sample(x0, t, noise), t, y).float()
        total += masked_mse_per_sample(eps_hat, noise, mask).sum().item()
        count += len(x0)
        for i, c in enumerate(centres):
            tt = torch.full((len(x0),), int(c), device=device)
            x_t = schedule.q_sample(x0, tt, noise)
            with mixed_precision(device):
                x0_hat = schedule.predict_x0(x_t, tt, model(x_t, tt, y).float())
            recon[i] += masked_mse_per_sample(x0_hat * mask, x0, mask).sum().item()
        n_recon += len(x0)
    return total / max(count, 1), {"t": centres.tolist(), "mse": (recon / max(n_recon, 1)).tolist()}
