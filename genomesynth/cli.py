"""The `genomesynth` command: parse options, call the API, render with rich. No logic lives here."""

from __future__ import annotations

import sys
from pathlib import Path
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


def _table(title: str, rows: list[tuple[str, Any]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, str(value))
    return table


# -- compress / decode / info --------------------------------------------------------------


@app.command()
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
    pad_multiple: Annotated[int | None, typer.Option(help="Pad genes to a multiple of this power of two.")] = None,
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
        pad_multiple=pad_multiple, seed=seed,
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
        ("time", f"{s.seconds:.1f} s"),
    ]
    out.print(_table("compress", rows))


@app.command()
def decode(
    store: Annotated[Path, typer.Argument(help="A real or synthetic store.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="VCF to write (.vcf.gz, bgzipped).")],
    codec: Annotated[Path | None, typer.Option(help="The real store holding the codec (default: STORE).")] = None,
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """Decode latents to genotype calls and write a bgzipped VCF."""
    from genomesynth.compress import decode as run

    with make_progress(not quiet) as progress:
        s = run(store, output, codec_path=codec, overwrite=overwrite, progress=progress)
    out.print(_table("decode", [("output", s.output), ("people", f"{s.people:,}"),
                                    ("variants", f"{s.variants:,}"), ("time", f"{s.seconds:.1f} s")]))


@app.command()
def info(
    store: Annotated[Path, typer.Argument(help="Any genomesynth store.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Summarise a store: schema, shapes, labels, split, provenance."""
    import json

    from genomesynth.store import open_store

    with open_store(store) as s:
        d = s.describe()
    if json_out:
        typer.echo(json.dumps(d, indent=2))
        return
    prov = d["provenance"] or {}
    rows = [
        ("path", f"{d['path']} ({d['backend']}, schema v{d['schema_version']})"),
        ("role", d["role"]),
        ("latents", f"{' × '.join(map(str, d['latent_shape']))} float32, chunks {d['latent_chunks']}"),
        ("genes", f"{d['genes']:,} real of {d['genes_padded']:,}; {d['real_positions']:,} real positions"),
        ("variants", f"{d['variants']:,} (ploidy {d['ploidy']})"),
        ("labels", ", ".join(f"{k} {v:,}" for k, v in d["labels"].items()) + (f" (column {d['label_column']})" if d["label_column"] else "")),
        ("split", ", ".join(f"{k} {v:,}" for k, v in d["split"].items())),
        ("codec", d["codec_id"]),
        ("created", f"{prov.get('created', '?')} by genomesynth {prov.get('genomesynth_version', '?')}"),
        ("command", prov.get("argv") or prov.get("command", "")),
        ("inputs", "; ".join(f"{i['name']} sha256:{(i['sha256'] or '-')[:12]}" for i in prov.get("inputs", []))),
    ]
    if d.get("model"):
        rows.append(("model", d["model"]))
    out.print(_table(f"store {Path(d['path']).name}", rows))
