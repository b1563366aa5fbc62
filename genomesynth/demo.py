"""`demo`: the main job on the bundled cohort, in one command, with a report beside it.

compress data/ → train every backbone (tiny presets) → sample → decode synthetic VCFs → reference
generators → eval side by side → plots → report.md + metrics.json. Every step is a call of the same
API the other commands use; `report.md` lists the equivalent shell commands.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.progress import Progress

from genomesynth import __version__
from genomesynth.backbones import NAMES
from genomesynth.baselines import reference_generator
from genomesynth.compress import CompressConfig, compress
from genomesynth.decode import decode
from genomesynth.errors import GenomesynthError
from genomesynth.evaluate import EvalConfig, evaluate
from genomesynth.plots import augment_plot, curves_plot, gwas_plot, kinship_plot, metrics_plot, umap_plot
from genomesynth.report import markdown
from genomesynth.sample import SampleConfig, sample
from genomesynth.train import TrainConfig, resolve_device, train
from genomesynth.ui import quiet

PACKAGE_DATA = Path(__file__).resolve().parent / "data"
"""The demo cohort, shipped inside the package (data/ in the repository links to it)."""


@dataclass
class DemoConfig:
    backbones: tuple[str, ...] = NAMES
    steps: int = 1000  # optimiser steps per backbone (batch 64)
    batch_size: int = 64
    val_every: int = 5
    sampler: str = "ddim"
    sample_steps: int = 50
    baselines: tuple[str, ...] = ("gaussian", "mosaic")
    repeats: int = 2
    classifier_epochs: int = 20
    device: str = "auto"
    seed: int = 0
    data: Path = field(default_factory=lambda: PACKAGE_DATA)

    @property
    def store_names(self) -> list[str]:
        """The synthetic stores the demo makes and evaluates: each backbone's, then each reference generator's."""
        return list(self.backbones) + [f"baseline-{m}" for m in self.baselines]


def _machine(device: torch.device) -> str:
    cpu = platform.processor() or platform.machine()
    text = f"{os.cpu_count()} CPU cores ({cpu}), torch {torch.__version__} with {torch.get_num_threads()} threads"
    if device.type == "cuda":
        text += f", GPU {torch.cuda.get_device_name(device)}"
    return text


def run_demo(output: str | Path, config: DemoConfig | None = None, *, overwrite: bool = False,
             progress: Progress | None = None) -> dict[str, Any]:
    """Run the whole pipeline into `output`; returns the summary also written to report.md."""
    config = config or DemoConfig()
    out = Path(output)
    cohort, genes, labels = _inputs(out, config, overwrite)
    device = resolve_device(config.device)
    started = time.perf_counter()
    stages = _Stages(progress or quiet(), 4 + 3 * len(config.backbones) + len(config.baselines))
    with stages("compress"):
        compressed = compress(cohort, out / "real.zarr", CompressConfig(genes=genes, labels=labels, seed=config.seed),
                              overwrite=True, progress=stages.progress)
    trained, sampled, decoded = _generate(out, config, str(device), compressed.train, overwrite, stages)
    names = config.store_names
    stores = [out / "synthetic" / f"{n}.zarr" for n in names]
    with stages("eval"):
        result = evaluate(stores, out / "real.zarr", EvalConfig(repeats=config.repeats, seed=config.seed,
                          classifier_epochs=config.classifier_epochs, device=str(device)), names=names,
                          progress=stages.progress)
        (out / "metrics.json").write_text(json.dumps(result, indent=2))
    with stages("plots"):
        _plots(out, config, result, stores, names)
    timings = {"compress": stages.seconds["compress"], "train": sum(s.seconds for s in trained.values()),
               "sample": sum(s.seconds for s in sampled.values()), "eval": stages.seconds["eval"],
               "plots": stages.seconds["plots"], "total": time.perf_counter() - started}
    summary = {"output": str(out), "machine": _machine(device), "config": {k: str(v) for k, v in asdict(config).items()},
               "compress": asdict(compressed), "train": {b: asdict(s) for b, s in trained.items()},
               "sample": {b: asdict(s) for b, s in sampled.items()},
               "decode": {b: asdict(s) for b, s in decoded.items()}, "timings": timings}
    with stages("report"):
        (out / "report.md").write_text(_report(summary, result, config))
    return summary


def _inputs(out: Path, config: DemoConfig, overwrite: bool) -> tuple[Path, Path, Path]:
    """The demo cohort's VCF, genes and labels, checked, and the output's folders made."""
    unknown = set(config.backbones) - set(NAMES)
    if unknown:
        raise GenomesynthError(f"--backbones: unknown {', '.join(sorted(unknown))}; choose from {', '.join(NAMES)}")
    cohort, genes, labels = (config.data / n for n in ("demo.vcf.gz", "demo_genes.bed", "demo_labels.tsv"))
    if not cohort.exists():
        raise GenomesynthError(f"{config.data}: no demo cohort here; pass --data with a folder holding demo.vcf.gz, demo_genes.bed and demo_labels.tsv")
    if (out / "report.md").exists() and not overwrite:
        raise GenomesynthError(f"{out}: holds a finished demo; pass --overwrite or choose another -o")
    for sub in ("runs", "synthetic", "vcf"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    return cohort, genes, labels


class _Stages:
    """The demo's stages on one progress bar: `with stages(name):` shows the stage, times it into `seconds` and
    advances the bar when it is done."""

    def __init__(self, progress: Progress, total: int) -> None:
        self.progress = progress
        self.task = progress.add_task("demo", total=total, status="")
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        self.progress.update(self.task, status=name)
        started = time.perf_counter()
        yield
        self.seconds[name] = time.perf_counter() - started
        self.progress.advance(self.task)


def _generate(out: Path, config: DemoConfig, device: str, n: int, overwrite: bool, stages: _Stages,
              ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Every backbone trained, `n` people drawn from it and decoded to a VCF; then the reference generators' stores.
    Returns the train, sample and decode summaries by backbone."""
    trained, sampled, decoded = {}, {}, {}
    for backbone in config.backbones:
        run = out / "runs" / backbone
        with stages(f"train {backbone}"):
            if run.exists() and overwrite:
                for f in run.iterdir():
                    f.unlink()
            trained[backbone] = train(out / "real.zarr", run, TrainConfig(
                backbone=backbone, epochs=10**6, max_steps=config.steps, batch_size=config.batch_size,
                val_every=config.val_every, seed=config.seed, device=device), progress=stages.progress)
        with stages(f"sample {backbone}"):
            sampled[backbone] = sample(run, out / "synthetic" / f"{backbone}.zarr", SampleConfig(
                n=n, sampler=config.sampler, steps=config.sample_steps, seed=config.seed, device=device),
                overwrite=True, progress=stages.progress)
        with stages(f"decode {backbone}"):
            decoded[backbone] = decode(out / "synthetic" / f"{backbone}.zarr", out / "vcf" / f"{backbone}.vcf.gz",
                                       overwrite=True, progress=stages.progress)
    for method in config.baselines:
        with stages(f"baseline {method}"):
            reference_generator(out / "real.zarr", out / "synthetic" / f"baseline-{method}.zarr", method,
                                seed=config.seed, overwrite=True, progress=stages.progress)
    return trained, sampled, decoded


def _plots(out: Path, config: DemoConfig, result: dict[str, Any], stores: list[Path], names: list[str]) -> None:
    """The report's figures: UMAP, training curves and metrics; augmentation, kinship and GWAS where eval made them."""
    umap_plot(out / "real.zarr", stores, out / "umap.png", names=names, seed=config.seed)
    curves_plot([out / "runs" / b for b in config.backbones], out / "curves.png", names=list(config.backbones))
    metrics_plot(out / "metrics.json", out / "metrics.png")
    if "augment" in result["real"]:
        augment_plot(out / "metrics.json", out / "augment.png")
    if "kinship" in result["real"]:
        kinship_plot(out / "real.zarr", stores, out / "kinship.png", names=names, seed=config.seed)
    if "gwas" in result["real"]:  # a binary label: the first three stores beside the real scan
        gwas_plot(out / "real.zarr", stores[:3], out / "gwas.png", names=names[:3], seed=config.seed)


def _rare_sites_note(summary: dict[str, Any]) -> str:
    """What the decoded VCFs' site lists say of the participants (README, "Before you share")."""
    first = next(iter(summary.get("decode", {}).values()), None)
    if not first or first.get("singleton_sites") is None:
        return "its sites are the cohort's"
    return (f"lists {first['variants']:,} sites, {first['singleton_sites']:,} of them carried at most once among the "
            f"{first['codec_people']:,} training people, whose presence points at their carriers: before sharing "
            "such a file read README's \"Before you share\" (`decode --min-mac 2` leaves them out)")


def _report(summary: dict[str, Any], result: dict[str, Any], config: DemoConfig) -> str:
    """report.md: the cohort, each backbone's training and draw, eval's tables, the figures, the files and the same
    run as shell commands."""
    made = _optional_figures(result, config)
    lines = [
        "# genomesynth demo report",
        "",
        f"genomesynth {__version__}; machine: {summary['machine']}; total {summary['timings']['total'] / 60:.1f} min.",
        "",
        *_cohort(summary["compress"]),
        *_training(summary),
        *_evaluation(result, config),
        *_figures(made),
        *_files(summary),
        *_commands(summary, config, made),
    ]
    return "\n".join(lines)


def _optional_figures(result: dict[str, Any], config: DemoConfig) -> list[tuple[str, str, str]]:
    """(figure, title, command) of each figure beyond the three that eval's metrics allowed (`_plots` made them)."""
    names = config.store_names
    optional = {
        "augment": ("augment.png", "Augmentation", "genomesynth plot augment metrics.json -o augment.png"),
        "kinship": ("kinship.png", "Kinship replay", "genomesynth plot kinship real.zarr synthetic/*.zarr -o kinship.png"),
        "gwas": ("gwas.png", "GWAS: Manhattan and QQ",
                 "genomesynth plot gwas real.zarr " + " ".join(f"synthetic/{n}.zarr" for n in names[:3]) + " -o gwas.png"),
    }
    return [figure for key, figure in optional.items() if key in result["real"]]


def _cohort(c: dict[str, Any]) -> list[str]:
    return [
        "## Cohort and compression",
        "",
        f"{c['people']} people ({c['train']} train, {c['test']} held-out, balanced by label), "
        f"{c['variants_read']:,} variants read, {c['variants_kept']:,} SNPs kept in {c['genes']} genes "
        f"(padded to {c['genes_padded']}); {c['mean_components']:.2f} components per gene keep "
        f"{c['mean_variance_kept']:.3f} of the variance on average; decode round trip concordance "
        f"{c['concordance_train']:.4f} (train) and {c['concordance_test']:.4f} (held-out).",
        "",
    ]


def _training(summary: dict[str, Any]) -> list[str]:
    lines = [
        "## Training (tiny presets) and sampling",
        "",
        "| backbone | parameters | steps | train loss | val loss (EMA) | train time | samples/s | sampling | residual scale "
        "| membership audit |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for b, s in summary["train"].items():
        smp = summary["sample"][b]
        lines.append(f"| {b} | {s['parameters']:,} | {s['steps']} | {s['train_loss']:.4f} | {s['val_loss']:.4f} | "
                     f"{s['seconds']:.0f} s | {s['samples_per_second']:.0f} | {smp['n']} in {smp['seconds']:.0f} s "
                     f"({smp['sampler']}, {smp['steps']} steps) | {smp['residual_scale']:g} ({smp['residual_chosen']}) | "
                     f"{_audit_cell(smp.get('membership'))} |")
    return lines + [
        "",
        "*Residual scale*: how much of its network's residual over the population prior each draw used, "
        "ε̂ = prior + s·F — below 1 only where the run's own validation people showed, beyond 2 standard errors, "
        "that the network adds more than it explains on people it was not fitted to (README, `sample`). "
        "*Membership audit*: the membership attack on the draw with the run's training people as members and its "
        "validation people as non-members, on latents as stored / standardised / through the label's shift, ± its "
        "standard error by chance (README, `sample`; 0.5 = no leakage).",
        "",
    ]


def _evaluation(result: dict[str, Any], config: DemoConfig) -> list[str]:
    return [
        "## Evaluation",
        "",
        f"Synthetic stores are compared with the real train split and the balanced held-out split on equal-size "
        f"subsamples ({result['settings']['subsample']}; at least {config.repeats}; the same real people for every "
        "store); the *real* column is the same metric between real train and real held-out people. TSTR: classifiers "
        f"trained on each store ({config.repeats} seeds), tested on the real held-out people; *real* = trained on real "
        "train. Baselines are reference generators (`genomesynth baseline`) that any model should beat on privacy or "
        "fidelity.",
        "",
        markdown(result),
    ]


def _figures(made: list[tuple[str, str, str]]) -> list[str]:
    return [
        "## Figures",
        "",
        "![UMAP](umap.png)",
        "",
        "![Loss and reconstruction curves](curves.png)",
        "",
        "![Utility vs privacy](metrics.png)",
        "",
        *[f"![{title}]({figure})\n" for figure, title, _ in made],
    ]


def _files(summary: dict[str, Any]) -> list[str]:
    return [
        "## Files",
        "",
        "- `real.zarr`: the compressed cohort; `runs/<backbone>/`: checkpoints and metrics.jsonl;",
        "- `synthetic/<name>.zarr`: synthetic stores; `vcf/<backbone>.vcf.gz`: decoded synthetic VCFs — each "
        + _rare_sites_note(summary) + ";",
        "- `metrics.json`: every number above, in the `genomesynth eval --json` schema.",
        "",
    ]


def _commands(summary: dict[str, Any], config: DemoConfig, made: list[tuple[str, str, str]]) -> list[str]:
    return [
        "## The same run as shell commands",
        "",
        "```bash",
        f"genomesynth compress {config.data}/demo.vcf.gz --genes {config.data}/demo_genes.bed "
        f"--labels {config.data}/demo_labels.tsv -o real.zarr --seed {config.seed}",
        *[f"genomesynth train real.zarr -o runs/{b} --backbone {b} --max-steps {config.steps} "
          f"--batch-size {config.batch_size} --val-every {config.val_every} --seed {config.seed}\n"
          f"genomesynth sample runs/{b} -o synthetic/{b}.zarr -n {summary['compress']['train']} "
          f"--sampler {config.sampler} --steps {config.sample_steps} --seed {config.seed}\n"
          f"genomesynth decode synthetic/{b}.zarr -o vcf/{b}.vcf.gz" for b in config.backbones],
        *[f"genomesynth baseline real.zarr -o synthetic/baseline-{m}.zarr --method {m} --seed {config.seed}"
          for m in config.baselines],
        f"genomesynth eval synthetic/*.zarr --real real.zarr --repeats {config.repeats} "
        f"--classifier-epochs {config.classifier_epochs} --json metrics.json",
        "genomesynth plot umap real.zarr synthetic/*.zarr -o umap.png",
        "genomesynth plot curves " + " ".join(f"runs/{b}" for b in config.backbones) + " -o curves.png",
        "genomesynth plot metrics metrics.json -o metrics.png",
        *[command for _, _, command in made],
        "```",
        "",
    ]


def _audit_cell(audit: dict | None) -> str:
    """A draw's membership audit in the report's sampling table: as stored / standardised / through the label's shift
    (± s.e. by chance)."""
    if not audit or "raw" not in audit:
        return "–"
    label = f" / {audit['label']:.3f}" if "label" in audit else ""
    return f"{audit['raw']:.3f} / {audit['standardised']:.3f}{label} (± {audit['se']:.3f})"
