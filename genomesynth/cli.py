"""The `genomesynth` command: parse options, call the API, render with rich. No logic lives here."""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
from pathlib import Path
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.table import Table

from genomesynth import __version__
from genomesynth.errors import GenomesynthError
from rich.console import Console

from genomesynth.ui import console, make_progress

out = Console()
"""Tables and JSON go to stdout (progress and errors go to stderr)."""

app = typer.Typer(
    name="genomesynth",
    help="Synthetic genomes from a real cohort: gene-wise PCA latents and masked diffusion models.",
    rich_markup_mode="rich",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace the output if it exists.")]
Seed = Annotated[int, typer.Option("--seed", help="Seed for every random draw.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
FigureOverwrite = Annotated[bool, typer.Option("--overwrite", help="Replace the figure if it exists.")]
MaxDecoded = Annotated[int, typer.Option("--max-people", help="People decoded per set.")]
Threads = Annotated[int | None, typer.Option(
    "--threads", help="CPU threads (default: OMP_NUM_THREADS if set, else this machine's cores shared among "
                      "the genomesynth jobs running).")]


def _version(value: bool) -> None:
    if value:
        console.print(f"genomesynth {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """genomesynth turns a real cohort into a generator of synthetic genomes."""


def main() -> None:
    """Console entry point: user errors become one line on stderr and exit code 2."""
    debug = "--debug" in sys.argv
    try:
        app()
    except GenomesynthError as exc:
        if debug:
            raise
        console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("[bold red]interrupted[/]: nothing was left half-written")
        sys.exit(130)
    except Exception as exc:  # a bug, not bad input: still one line unless --debug
        if debug:
            raise
        console.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
            highlight=False, soft_wrap=True,
        )
        sys.exit(1)


def _computes(command: Callable[..., None]) -> Callable[..., None]:
    """A command that computes runs under the thread policy of its --threads option (genomesynth/threads.py)."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        from genomesynth.threads import thread_policy

        with thread_policy(kwargs.get("threads")):
            command(*args, **kwargs)

    return run


def _new_output(path: Path | None, overwrite: bool) -> None:
    """Figures and JSON follow the stores' rule: an existing file is replaced only with --overwrite."""
    if path is None:
        return
    if path.exists() and not overwrite:
        raise GenomesynthError(f"{path}: already exists; pass --overwrite to replace it")
    if not path.parent.is_dir():
        raise GenomesynthError(f"{path}: folder {path.parent} does not exist; create it first")


def _write_text(path: Path, text: str) -> None:
    """Write a file whole or not at all (a temporary sibling, then a rename)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def _table(title: str, rows: list[tuple[str, Any]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, str(value))
    return table


# -- compress / decode / info --------------------------------------------------------------


@app.command()
@_computes
def compress(
    cohort: Annotated[Path, typer.Argument(help="VCF/VCF.gz/BCF, PLINK bed prefix, or VCF Zarr store.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Store to write (.zarr or .h5).")],
    genes: Annotated[Path | None, typer.Option(help="Gene intervals: .bed, .gtf or .gff3 (optionally .gz).")] = None,
    flank: Annotated[int, typer.Option(help="Bases added to both sides of every gene.")] = 0,
    block_size: Annotated[int, typer.Option(help="SNPs per block when no --genes is given.")] = 20,
    labels: Annotated[Path | None, typer.Option(help="TSV: sample_id + a label column.")] = None,
    label_column: Annotated[str | None, typer.Option(help="Label column (default: 'label' or the 2nd).")] = None,
    max_components: Annotated[int, typer.Option(help="Most PCA components per gene (≤ 8).")] = 8,
    variance: Annotated[float, typer.Option(help="Share of each gene's variance to keep.")] = 0.99,
    test_fraction: Annotated[float, typer.Option(help="Held-out real people, balanced by label.")] = 0.1,
    min_maf: Annotated[float, typer.Option(help="Drop SNPs with a minor allele frequency below this.")] = 0.0,
    min_mac: Annotated[int, typer.Option(help="Drop SNPs whose minor allele is carried fewer than this many times "
                                              "(plink's --mac; 2 drops singletons).")] = 0,
    pad_multiple: Annotated[int | None, typer.Option(help="Pad genes to a multiple of this power of two.")] = None,
    threads: Threads = None,
    seed: Seed = 0,
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """Compress a cohort into a store of gene-wise PCA latents ([italic]people × genes × 8[/])."""
    from genomesynth.compress import CompressConfig
    from genomesynth.compress import compress as run

    config = CompressConfig(
        genes=genes, flank=flank, block_size=block_size, labels=labels, label_column=label_column,
        max_components=max_components, variance=variance, test_fraction=test_fraction, min_maf=min_maf,
        min_mac=min_mac, pad_multiple=pad_multiple, seed=seed,
    )
    with make_progress(not quiet) as progress:
        s = run(cohort, output, config, overwrite=overwrite, progress=progress)
    skipped = ", ".join(f"{k} {v:,}" for k, v in s.skipped.items() if v) or "none"
    labels_text = ", ".join(s.label_names) if s.label_names else "none"
    rows = [
        ("output", s.output),
        ("people", f"{s.people:,} (train {s.train:,}, held-out {s.test:,}), ploidy {s.ploidy}"),
        ("labels", f"{labels_text}; {s.unlabelled_people} people unlabelled, "
                   f"{s.unknown_label_ids} label ids not in the cohort"),
        ("variants", f"read {s.variants_read:,}, kept {s.variants_kept:,}, skipped: {skipped}"),
        ("missing calls", f"{s.missing_calls_imputed:,} mean-imputed"),
        ("genes", f"{s.genes:,} (padded to {s.genes_padded:,}); {s.genes_without_snps:,} without SNPs dropped"),
        ("components / gene", f"{s.mean_components:.2f} on average"),
        ("variance kept", f"{s.mean_variance_kept:.4f} mean, {s.min_variance_kept:.4f} min"),
        ("genotype concordance", f"{s.concordance_train:.4f} train, {s.concordance_test:.4f} held-out "
                                 "(decode round trip)"),
        ("near-identical people", _near_identical_text(s.near_identical, s.moved_to_training)),
        ("time", f"{s.seconds:.1f} s"),
    ]
    out.print(_table("compress", rows))


def _near_identical_text(pairs: list[list[str]], moved: list[str]) -> str:
    if not pairs:
        return "none"
    def first_five(items: list[str]) -> str:
        return ", ".join(items[:5]) + (", …" if len(items) > 5 else "")

    text = (f"{len(pairs)} pair{'s' * (len(pairs) > 1)} ({first_five([f'{a}~{b}' for a, b in pairs])}): "
            "one person under two ids, or twins")
    if moved:
        who = "person" if len(moved) == 1 else "people"
        text += f"; {len(moved)} held-out {who} moved to training ({first_five(moved)})"
    return text + "; keep one of each before compress if they are duplicates (plink2 --king-cutoff 0.354)"


@app.command()
@_computes
def decode(
    store: Annotated[Path, typer.Argument(help="A real or synthetic store.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="VCF to write (.vcf.gz, bgzipped).")],
    codec: Annotated[Path | None, typer.Option(help="The real store holding the codec (default: STORE).")] = None,
    calls: Annotated[str, typer.Option(help="auto (drawn people called from individual allele frequencies fitted "
                                            "on their own dosages), calibrated, or fixed (the codec's thresholds).")] = "auto",
    calibrate_on: Annotated[Path | None, typer.Option(
        help="Fit the drawn people's calls on this store's people instead (a part of the same draw): decode "
             "every shard with the same one for one fit.")] = None,
    min_mac: Annotated[int, typer.Option(
        help="Leave out the sites whose minor allele the cohort's training people carry fewer than this many times "
             "(2: their singletons): a rare site in a released VCF points at its carriers (README: Before you share).")] = 0,
    threads: Threads = None,
    seed: Seed = 0,
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """Decode latents to genotype calls and write a bgzipped VCF."""
    from genomesynth.decode import decode as run

    with make_progress(not quiet) as progress:
        s = run(store, output, codec_path=codec, calls=calls, seed=seed, calibrate_on=calibrate_on,
                min_mac=min_mac, overwrite=overwrite, progress=progress)
    variants = f"{s.variants:,}"
    if min_mac:
        variants += (f" ({s.dropped_rare:,} left out: minor allele seen fewer than {min_mac} times among the "
                     f"{s.codec_people:,} training people)")
    rows = [("output", s.output), ("people", f"{s.people:,}"), ("variants", variants), ("calls", s.calls)]
    if s.singleton_sites:
        rows.append(("rare sites", f"{s.singleton_sites:,} written sites have a minor allele seen at most once among the "
                                   f"{s.codec_people:,} training people: their presence points at who carries them "
                                   "(README: Before you share; --min-mac 2 leaves them out)"))
    out.print(_table("decode", [*rows, ("time", f"{s.seconds:.1f} s")]))


def _axes_from_text(axes_from: dict[str, Any]) -> str:
    """train's table row for a prior whose axes came from a reference panel."""
    text = f"from {Path(axes_from['panel']).name}: {axes_from['people']:,} people"
    if left := axes_from["left_out"]:
        text += f"; {len(left)} left out as duplicates of training people (e.g. {left[0]})"
    if (coverage := axes_from.get("coverage")) is not None:
        text += f"; its population axes hold {coverage:.2f} of the variance the cohort's own do"
        from genomesynth.train import LOW_COVERAGE

        if coverage < LOW_COVERAGE:
            text += " — low: a population of the cohort may be missing from the panel (docs/RESULTS.md, finding 18)"
    return text


@app.command()
@_computes
def encode(
    cohort: Annotated[Path, typer.Argument(help="VCF/VCF.gz/BCF, PLINK bed prefix, or VCF Zarr store: any generator's output.")],
    codec: Annotated[Path, typer.Option(help="The real store whose codec (genes, PCA, statistics) to encode into.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Store to write (.zarr or .h5).")],
    labels: Annotated[Path | None, typer.Option(help="TSV: sample_id + a label column (the codec store's label names).")] = None,
    label_column: Annotated[str | None, typer.Option(help="Label column (default: 'label' or the 2nd).")] = None,
    role: Annotated[str, typer.Option(help="synthetic (to evaluate) or real (a replication cohort, gets a split).")] = "synthetic",
    test_fraction: Annotated[float, typer.Option(help="Held-out share when --role real.")] = 0.1,
    threads: Threads = None,
    seed: Seed = 0,
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """Project another cohort into an existing store's codec, so `eval` and `decode` accept it."""
    from genomesynth.encode import EncodeConfig
    from genomesynth.encode import encode as run

    config = EncodeConfig(labels=labels, label_column=label_column, role=role, test_fraction=test_fraction, seed=seed)
    with make_progress(not quiet) as progress:
        s = run(cohort, codec, output, config, overwrite=overwrite, progress=progress)
    out.print(_table("encode", [
        ("output", f"{s.output} ({role})"), ("people", f"{s.people:,}"),
        ("codec variants", f"{s.codec_variants:,}: {s.matched:,} matched ({s.flipped:,} with REF/ALT swapped), "
                           f"{s.absent:,} absent (mean-imputed)"),
        ("other records", f"{s.unmatched:,} at no codec variant, {s.multiallelic:,} multi-allelic, "
                          f"{s.duplicates:,} duplicates (not used)"),
        ("missing calls", f"{s.missing_calls_imputed:,} mean-imputed"),
        ("labels", ("unknown to the codec: " + ", ".join(s.unknown_labels)) if s.unknown_labels else
                   ("none" if labels is None else "all known")),
        *([("near-identical people", _near_identical_text(s.near_identical, s.moved_to_training))]
          if role == "real" else []),
        ("time", f"{s.seconds:.1f} s"),
    ]))


@app.command()
def info(
    store: Annotated[Path, typer.Argument(help="Any genomesynth store.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    verify: Annotated[bool, typer.Option("--verify", help="Re-read every chunk: missing, damaged or non-finite ones.")] = False,
) -> None:
    """Summarise a store: schema, shapes, labels, split, provenance."""
    import json

    from genomesynth.store import open_store

    if verify:
        _verify(store, json_out)
        return

    with open_store(store) as s:
        d = s.describe()
    if json_out:
        typer.echo(json.dumps(d, indent=2))
        return
    prov = d["provenance"] or {}
    variants = f"{d['variants']:,} (ploidy {d['ploidy']})"
    if rare := d.get("rare_sites"):
        variants += (f"; minor allele seen once at {rare['singleton']:,}, twice at {rare['doubleton']:,} among the "
                     f"{rare['training_people']:,} training people (README: Before you share)")
    rows = [
        ("path", f"{d['path']} ({d['backend']}, schema v{d['schema_version']})"),
        ("role", d["role"]),
        ("latents", f"{' × '.join(map(str, d['latent_shape']))} float32, chunks {d['latent_chunks']}"),
        ("genes", f"{d['genes']:,} real of {d['genes_padded']:,}; {d['real_positions']:,} real positions"),
        ("variants", variants),
        ("labels", ", ".join(f"{k} {v:,}" for k, v in d["labels"].items()) + (f" (column {d['label_column']})" if d["label_column"] else "")),
        ("split", ", ".join(f"{k} {v:,}" for k, v in d["split"].items())
                  + (f"; moved to training, near-identical to a training person: {', '.join(d['moved_to_training'])}"
                     if d["moved_to_training"] else "")),
        ("codec", d["codec_id"]),
        ("created", f"{prov.get('created', '?')} by genomesynth {prov.get('genomesynth_version', '?')}"),
        ("command", prov.get("argv") or prov.get("command", "")),
        ("inputs", "; ".join(f"{i['name']} sha256:{(i['sha256'] or '-')[:12]}" for i in prov.get("inputs", []))),
    ]
    if d.get("model"):
        rows.append(("model", d["model"]))
    out.print(_table(f"store {Path(d['path']).name}", rows))


def _verify(store: Path, json_out: bool) -> None:
    """`info --verify`: every chunk re-read and checked; exit 2 naming what is damaged."""
    import dataclasses as dc
    import json

    from genomesynth.store import verify

    with console.status("verifying every chunk…"):
        report = verify(store)
    if json_out:
        typer.echo(json.dumps({**dc.asdict(report), "ok": report.ok}, indent=2))
    else:
        chunks = sum(report.arrays.values())
        basis = ("checksums written with the store" if report.integrity_record
                 else "no checksums (written before genomesynth recorded them): readability and finite values only")
        out.print(_table(f"verify {store.name}", [
            ("arrays", f"{len(report.arrays)} ({chunks:,} chunks read)"), ("against", basis),
            ("result", "intact" if report.ok else f"{len(report.problems)} problem(s)"),
        ]))
        for line in report.problems:
            out.print(f"  {line}", highlight=False, soft_wrap=True)
    if not report.ok:
        raise GenomesynthError(f"{store}: {len(report.problems)} problem(s) with missing or damaged chunks (listed above); recreate the store")


# -- train / sample ------------------------------------------------------------------------------


def _load_config_file(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    import json
    import tomllib

    if not path.exists():
        raise GenomesynthError(f"{path}: no such config file")
    try:
        data = tomllib.loads(path.read_text()) if path.suffix == ".toml" else json.loads(path.read_text())
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise GenomesynthError(f"{path}: not valid {'TOML' if path.suffix == '.toml' else 'JSON'} ({exc})") from exc
    return data.get("train", data)


@app.command()
@_computes
def train(
    store: Annotated[Path, typer.Argument(help="A real store from `compress`.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Run folder (checkpoints, metrics.jsonl).")],
    backbone: Annotated[str | None, typer.Option(help="baseline (default), unet-mlp, unet-cnn, mlp+cnn or transformer.")] = None,
    preset: Annotated[str | None, typer.Option(help="Model size: tiny (CPU) or paper.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Passes over the training people.")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this many optimiser steps.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="People per step (across all GPUs).")] = None,
    lr: Annotated[float | None, typer.Option(help="Peak learning rate (AdamW, warm-up + cosine).")] = None,
    timesteps: Annotated[int | None, typer.Option(help="Diffusion steps T.")] = None,
    schedule: Annotated[str | None, typer.Option(help="Noise schedule: linear or cosine.")] = None,
    val_every: Annotated[int | None, typer.Option(help="Validate every N epochs (and at the last).")] = None,
    prior: Annotated[str | None, typer.Option(
        help="What the network is a residual over: population (mixture with shared axes) or isotropic.")] = None,
    prior_rank: Annotated[int | None, typer.Option(help="Principal axes of the population prior, at most.")] = None,
    prior_shrinkage: Annotated[float | None, typer.Option(
        help="Give each population its own covariance over every axis, shrunk toward the pooled one with the "
             "weight of this many people (more realism, more privacy loss; docs/RESULTS.md finding 10) "
             "[default: inf: the axes beyond the population axes shared].")] = None,
    prior_reference: Annotated[Path | None, typer.Option(
        help="A store of people outside the cohort (a public panel put into this store's codec with `encode "
             "--codec`): the prior takes its principal axes instead of the training people's own (less "
             "membership signal; docs/RESULTS.md finding 18).")] = None,
    prior_label_effects: Annotated[bool | None, typer.Option(
        "--prior-label-effects/--no-prior-label-effects",
        help="Give each label its own shift beyond the populations (a case/control difference at the genes behind "
             "the phenotype), shrunk by empirical Bayes so that only effects standing out of the noise stay "
             "(docs/RESULTS.md finding 20) [default: on].")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu or cuda.")] = None,
    threads: Threads = None,
    seed: Annotated[int | None, typer.Option(help="Seed for every random draw.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in OUTPUT where it stopped.")] = False,
    config: Annotated[Path | None, typer.Option(help="JSON or TOML file of training settings.")] = None,
    quiet: Quiet = False,
) -> None:
    """Train a masked, label-conditioned DDPM on a real store's train split."""
    from genomesynth.backbones import NAMES
    from genomesynth.train import TrainConfig
    from genomesynth.train import train as run

    settings = _load_config_file(config)
    given = {"backbone": backbone, "preset": preset, "epochs": epochs, "max_steps": max_steps,
             "batch_size": batch_size, "lr": lr, "timesteps": timesteps, "schedule": schedule,
             "val_every": val_every, "prior": prior, "prior_rank": prior_rank, "prior_shrinkage": prior_shrinkage,
             "prior_reference": None if prior_reference is None else str(prior_reference.resolve()),
             "prior_label_effects": prior_label_effects, "device": device, "seed": seed}
    settings.update({k: v for k, v in given.items() if v is not None})
    if settings.get("prior_shrinkage") == float("inf"):  # inf on the command line: the shared axes (None)
        settings["prior_shrinkage"] = None
    unknown = set(settings) - {f.name for f in dataclasses.fields(TrainConfig)}
    if unknown:
        raise GenomesynthError(f"{config}: unknown settings {', '.join(sorted(unknown))}")
    try:
        train_config = TrainConfig(**settings)
    except TypeError as exc:
        raise GenomesynthError(f"{config}: {exc}") from exc
    if train_config.backbone not in NAMES:
        raise GenomesynthError(f"unknown backbone {train_config.backbone!r}; choose one of {', '.join(NAMES)}")
    if train_config.schedule not in ("linear", "cosine"):
        raise GenomesynthError(f"--schedule {train_config.schedule!r}: use linear or cosine")
    with make_progress(not quiet) as progress:
        s = run(store, output, train_config, resume=resume, changes=set(settings), progress=progress)
    if int(os.environ.get("RANK", "0")) != 0:
        return
    out.print(_table(f"train {s.backbone}", [
        ("run", s.run), ("parameters", f"{s.parameters:,}"), ("device", s.device),
        ("steps / epochs", f"{s.steps:,} / {s.epochs}"),
        ("loss", f"train {s.train_loss:.4f}, val {s.val_loss:.4f} (best {s.best_val_loss:.4f})"),
        ("throughput", f"{s.samples_per_second:,.0f} samples/s"), ("peak memory", f"{s.peak_memory_mb:,.0f} MB"),
        *([("prior axes", _axes_from_text(s.prior_axes_from))] if s.prior_axes_from else []),
        ("time", f"{s.seconds:.1f} s"),
    ]))


@app.command()
@_computes
def sample(
    run_dir: Annotated[Path, typer.Argument(help="A run folder from `train`.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Synthetic store to write (.zarr or .h5).")],
    n: Annotated[int, typer.Option("-n", help="Synthetic people to draw.")] = 1000,
    label: Annotated[str | None, typer.Option(help="Give everyone this label (a name the model saw).")] = None,
    label_ratio: Annotated[Path | None, typer.Option(help="Follow this store's label mix (default: training mix).")] = None,
    sampler: Annotated[str, typer.Option(help="ddim (default: 10-13x faster, as faithful) or ddpm (all T steps).")] = "ddim",
    steps: Annotated[int | None, typer.Option(help="DDIM steps (default 50).")] = None,
    eta: Annotated[float, typer.Option(help="DDIM noise: 0 deterministic, 1 = ancestral (DDPM on the respaced schedule).")] = 0.0,
    clip: Annotated[bool, typer.Option("--clip/--no-clip", help="Clip x̂₀ to the training data's range.")] = False,
    guidance: Annotated[float, typer.Option(help="Classifier-free guidance weight w (0 = plain conditional).")] = 0.0,
    residual_scale: Annotated[str, typer.Option(
        help="The network's residual over the prior, ε̂ = prior + s·F: validated (1 unless the run's validation "
             "people show a smaller s denoises better), or a number (1: as trained, 0: the prior alone).")] = "validated",
    batch_size: Annotated[int, typer.Option(help="People drawn at once.")] = 256,
    checkpoint: Annotated[str, typer.Option(help="best, last, or a .pt path.")] = "best",
    real: Annotated[Path | None, typer.Option(help="The real store, if it moved since training.")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    shard: Annotated[str | None, typer.Option(help="K/N: draw only the K-th of N disjoint parts (join them with `merge`).")] = None,
    threads: Threads = None,
    seed: Seed = 0,
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """Draw synthetic genomes from a trained run into a store of the real store's schema."""
    from genomesynth.sample import SampleConfig
    from genomesynth.sample import sample as run

    config = SampleConfig(n=n, label=label, label_ratio=label_ratio, sampler=sampler, steps=steps, eta=eta,
                          residual_scale=residual_scale,
                          clip=clip, guidance=guidance, batch_size=batch_size, checkpoint=checkpoint, seed=seed, device=device,
                          shard=_parse_shard(shard))
    with make_progress(not quiet) as progress:
        s = run(run_dir, output, config, real=real, overwrite=overwrite, progress=progress)
    out.print(_table("sample", [
        ("output", s.output), ("people", f"{s.n:,}"), ("labels", ", ".join(f"{k} {v:,}" for k, v in s.label_counts.items())),
        ("sampler", f"{s.sampler}, {s.steps} steps"),
        ("residual scale", f"{s.residual_scale:g} ({s.residual_chosen})"),
        ("membership AUC", _membership_text(s.membership)),
        ("speed", f"{s.genomes_per_second:,.1f} genomes/s"), ("time", f"{s.seconds:.1f} s"),
    ]))


def _membership_text(audit: dict | None) -> str:
    """sample's membership audit in one cell (README, `sample`)."""
    if not audit or "skipped" in audit:
        return f"not measured: {audit['skipped']}" if audit else "not measured"
    label = f", {audit['label']:.3f} through the label's shift" if "label" in audit else ""
    text = (f"{audit['raw']:.3f} as stored, {audit['standardised']:.3f} standardised{label} (training vs validation "
            f"people, {audit['people']:,} each; ±{audit['se']:.3f} by chance)")
    from genomesynth.metrics.privacy import FLAGGED_AUC

    if max(audit["raw"], audit["standardised"]) > FLAGGED_AUC:
        text += (" — high: the draw sits nearer the people it was fitted to; a smaller --residual-scale leaks less, "
                 "as do a reference panel's axes (train --prior-reference; README: Before you share)")
    if audit.get("label", 0.0) > FLAGGED_AUC:
        text += (" — high through the label: the drawn labels carry the training people's own genotypes; "
                 "fewer people per label leak more (README: Before you share)")
    return text


def _parse_shard(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        k, parts = (int(x) for x in text.split("/"))
    except ValueError:
        raise GenomesynthError(f"--shard {text!r}: give K/N, e.g. --shard 3/8") from None
    return k, parts


@app.command()
@_computes
def merge(
    parts: Annotated[list[Path], typer.Argument(help="The stores of `sample --shard K/N`, every K once.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Store to write (.zarr or .h5).")],
    threads: Threads = None,
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """Join the parts of a sharded draw into one store, equal to the unsharded draw."""
    from genomesynth.merge import merge as run

    with make_progress(not quiet) as progress:
        s = run(parts, output, overwrite=overwrite, progress=progress)
    out.print(_table("merge", [("output", s.output), ("parts", s.parts), ("people", f"{s.people:,}"),
                               ("time", f"{s.seconds:.1f} s")]))


# -- baseline / eval ----------------------------------------------------------------------------


@app.command()
@_computes
def baseline(
    real: Annotated[Path, typer.Argument(help="A real store from `compress`.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Synthetic store to write.")],
    method: Annotated[str, typer.Option(help="gaussian (per-label Gaussian) or mosaic (per-label gene mosaic).")] = "gaussian",
    n: Annotated[int | None, typer.Option("-n", help="People to draw (default: as many as train).")] = None,
    threads: Threads = None,
    seed: Seed = 0,
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """Draw a reference synthetic cohort that any model must beat."""
    from genomesynth.baselines import reference_generator

    with make_progress(not quiet) as progress:
        s = reference_generator(real, output, method, n=n, seed=seed, overwrite=overwrite, progress=progress)
    out.print(_table(f"baseline {method}", [("output", s["output"]), ("people", f"{s['n']:,}"),
                                            ("time", f"{s['seconds']:.1f} s")]))


@app.command("eval")
@_computes
def evaluate(
    synthetic: Annotated[list[Path], typer.Argument(help="One or more synthetic stores (the parts of a sharded draw count as one).")],
    real: Annotated[Path, typer.Option(help="The real store they imitate (with a held-out split).")],
    metrics: Annotated[str, typer.Option(help="all, or a list of dispersion,aa,nn,tstr,privacy,genotype.")] = "all",
    classifiers: Annotated[str, typer.Option(help="TSTR classifiers: mlp,transformer,cnn.")] = "mlp,transformer,cnn",
    k: Annotated[int, typer.Option("--k", help="Neighbours in the NN test.")] = 10,
    repeats: Annotated[int, typer.Option(help=(
        "Classifier seeds averaged; and the fewest rounds of equal-size subsamples for AA and the NN test, which use "
        "every person of the larger set (⌊larger / smaller⌋ rounds where more)."))] = 3,
    max_people: Annotated[int, typer.Option(help="People per set for the distance metrics.")] = 5000,
    classifier_epochs: Annotated[int, typer.Option(help="Most epochs of every TSTR/TRTR/augmentation classifier.")] = 30,
    classifier_patience: Annotated[int, typer.Option(
        help="Stop a classifier after this many epochs without a lower loss on its 10 % validation split "
             "(the best epoch's weights are kept); 0: train every epoch on all people.")] = 3,
    calls: Annotated[str, typer.Option(help="Synthetic genotype calls: auto (drawn people's from individual allele "
                                            "frequencies, as decode makes them), calibrated, or fixed.")] = "auto",
    name: Annotated[list[str] | None, typer.Option("--name", help="Column name per store (repeat).")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the result as JSON here.")] = None,
    reference: Annotated[Path | None, typer.Option(
        help="An earlier eval's --json of the same real store and settings: reuse its real column's classifier "
             "scores instead of training them again (its other real metrics are recomputed and must match).")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    threads: Threads = None,
    seed: Seed = 0,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the --json file if it exists.")] = False,
    quiet: Quiet = False,
) -> None:
    """Fidelity, utility and privacy of synthetic stores, side by side with the real reference."""
    import json

    from genomesynth.evaluate import METRICS, EvalConfig
    from genomesynth.evaluate import evaluate as run
    from genomesynth.report import rich_tables
    from genomesynth.train import resolve_device

    _new_output(json_path, overwrite)
    chosen = METRICS if metrics == "all" else tuple(m.strip() for m in metrics.split(",") if m.strip())
    config = EvalConfig(metrics=chosen, classifiers=tuple(c.strip() for c in classifiers.split(",") if c.strip()),
                        k=k, repeats=repeats, max_people=max_people, classifier_epochs=classifier_epochs,
                        classifier_patience=classifier_patience, seed=seed, calls=calls,
                        device=str(resolve_device(device)), reference=reference)
    with make_progress(not quiet) as progress:
        result = run(synthetic, real, config, names=name or None, progress=progress)
    for table in rich_tables(result):
        out.print(table)
    if json_path:
        _write_text(json_path, json.dumps(result, indent=2))
        console.print(f"wrote {json_path}")


# -- plot ----------------------------------------------------------------------------------------

plot_app = typer.Typer(help="Figures: umap, curves, metrics, augment, kinship, gwas (PNG, SVG or PDF by suffix).",
                       no_args_is_help=True)
app.add_typer(plot_app, name="plot")


@plot_app.command("umap")
@_computes
def plot_umap(
    real: Annotated[Path, typer.Argument(help="The real store.")],
    synthetic: Annotated[list[Path], typer.Argument(help="Synthetic stores.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Figure to write.")],
    name: Annotated[list[str] | None, typer.Option("--name", help="Legend name per synthetic store (repeat).")] = None,
    by_label: Annotated[bool, typer.Option("--by-label", help="Marker per label.")] = False,
    max_people: Annotated[int, typer.Option(help="People drawn per set.")] = 2000,
    threads: Threads = None,
    seed: Seed = 0,
    overwrite: FigureOverwrite = False,
) -> None:
    """UMAP (cosine) of real train, real held-out and each synthetic store (paper Fig. 5)."""
    from genomesynth.plots import umap_plot

    _new_output(output, overwrite)
    with console.status("UMAP…"):
        s = umap_plot(real, synthetic, output, names=name or None, by_label=by_label, max_people=max_people, seed=seed)
    console.print(f"wrote {s['output']} ({s['points']:,} people: {', '.join(s['groups'])})")


@plot_app.command("curves")
def plot_curves(
    runs: Annotated[list[Path], typer.Argument(help="Run folders from `train`.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Figure to write.")],
    name: Annotated[list[str] | None, typer.Option("--name", help="Legend name per run (repeat).")] = None,
    overwrite: FigureOverwrite = False,
) -> None:
    """Loss curves and reconstruction error vs noise level per run (paper Fig. 3–4)."""
    from genomesynth.plots import curves_plot

    _new_output(output, overwrite)
    s = curves_plot(runs, output, names=name or None)
    console.print(f"wrote {s['output']} ({s['runs']} runs)")


@plot_app.command("metrics")
def plot_metrics(
    metrics_json: Annotated[Path, typer.Argument(help="JSON from `genomesynth eval --json`.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Figure to write.")],
    classifier: Annotated[str, typer.Option(help="Whose TSTR accuracy: mlp, transformer or cnn.")] = "mlp",
    overwrite: FigureOverwrite = False,
) -> None:
    """Utility vs privacy: TSTR accuracy (adversarial accuracy without labels) against MIA AUC and privacy loss."""
    from genomesynth.plots import metrics_plot

    _new_output(output, overwrite)
    s = metrics_plot(metrics_json, output, classifier=classifier)
    against = "TSTR accuracy" if s["y"] == "tstr" else "adversarial accuracy (no TSTR in this eval)"
    console.print(f"wrote {s['output']} ({s['stores']} stores, {against} against privacy)")


@plot_app.command("augment")
def plot_augment(
    metrics_json: Annotated[Path, typer.Argument(help="JSON from `genomesynth eval --json` (with augment).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Figure to write.")],
    overwrite: FigureOverwrite = False,
) -> None:
    """Augmentation curve: small real subsets alone, with the other real people, with each store."""
    from genomesynth.plots import augment_plot

    _new_output(output, overwrite)
    s = augment_plot(metrics_json, output)
    console.print(f"wrote {s['output']} ({s['stores']} stores)")


@plot_app.command("kinship")
@_computes
def plot_kinship(
    real: Annotated[Path, typer.Argument(help="The real store.")],
    synthetic: Annotated[list[Path], typer.Argument(help="Synthetic stores.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Figure to write.")],
    name: Annotated[list[str] | None, typer.Option("--name", help="Legend name per synthetic store (repeat).")] = None,
    max_people: MaxDecoded = 2000,
    threads: Threads = None,
    seed: Seed = 0,
    overwrite: FigureOverwrite = False,
) -> None:
    """Closest-kinship histograms (KING-robust) to the real training people, with degree thresholds."""
    from genomesynth.plots import kinship_plot

    _new_output(output, overwrite)
    with console.status("decoding and computing kinship…"):
        s = kinship_plot(real, synthetic, output, names=name or None, max_people=max_people, seed=seed)
    console.print(f"wrote {s['output']} ({s['stores']} stores)")


@plot_app.command("gwas")
@_computes
def plot_gwas(
    real: Annotated[Path, typer.Argument(help="The real store (with a label).")],
    synthetic: Annotated[list[Path], typer.Argument(help="Synthetic stores.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Figure to write.")],
    name: Annotated[list[str] | None, typer.Option("--name", help="Panel name per synthetic store (repeat).")] = None,
    max_people: MaxDecoded = 2000,
    threads: Threads = None,
    seed: Seed = 0,
    overwrite: FigureOverwrite = False,
) -> None:
    """Manhattan plots (real train, then each store) and a QQ plot of the trend test against the label."""
    from genomesynth.plots import gwas_plot

    _new_output(output, overwrite)
    with console.status("decoding and scanning…"):
        s = gwas_plot(real, synthetic, output, names=name or None, max_people=max_people, seed=seed)
    console.print(f"wrote {s['output']} ({s['stores']} stores)")


# -- demo ----------------------------------------------------------------------------------------


@app.command()
@_computes
def demo(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the report and everything made.")] = Path("runs/demo"),
    backbones: Annotated[str, typer.Option(help="Comma-separated backbones (default: all five).")] = "baseline,unet-mlp,unet-cnn,mlp+cnn,transformer",
    steps: Annotated[int, typer.Option(help="Training steps per backbone.")] = 1000,
    data: Annotated[Path | None, typer.Option(help="Folder with demo.vcf.gz, demo_genes.bed, demo_labels.tsv.")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    threads: Threads = None,
    seed: Seed = 0,
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """The main job on the bundled cohort: compress, train, sample, decode, eval, plot, report."""
    from genomesynth.demo import DemoConfig, run_demo

    config = DemoConfig(backbones=tuple(b.strip() for b in backbones.split(",") if b.strip()), steps=steps,
                        device=device, seed=seed)
    if data is not None:
        config.data = data
    with make_progress(not quiet) as progress:
        s = run_demo(output, config, overwrite=overwrite, progress=progress)
    t = s["timings"]
    out.print(_table("demo", [
        ("report", f"{s['output']}/report.md (+ metrics.json and the figures it shows)"),
        ("machine", s["machine"]),
        ("time", f"total {t['total'] / 60:.1f} min: train {t['train']:.0f} s, sample {t['sample']:.0f} s, "
                 f"eval {t['eval']:.0f} s, plots {t['plots']:.0f} s"),
    ]))
