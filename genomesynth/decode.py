"""`decode`: a store's latents → genotype calls → a bgzipped VCF that plink, scikit-allel or a GWAS tool reads.

Dosages come back through the store's codec (`Store.codec`); calls follow the codec's frequency-matched
thresholds, or for drawn people their own population's allele frequencies (calibration.py). The VCF is written
to a temporary file beside the output and renamed when complete.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.progress import Progress

from genomesynth import checks
from genomesynth.calibration import DrawnCalls, calibrate, stored_call_gain, subsample, use_calibrated
from genomesynth.codec import Codec
from genomesynth.errors import GenomesynthError
from genomesynth.io.vcf import write_vcf
from genomesynth.store import Store, open_store
from genomesynth.ui import quiet


@dataclass
class DecodeSummary:
    output: str
    people: int
    variants: int
    seconds: float
    calls: str = "fixed"
    codec_people: int | None = None  # people the codec's allele counts are over (None: the store cannot say)
    dropped_rare: int = 0  # sites left out by --min-mac
    singleton_sites: int | None = None  # written sites whose minor allele at most one of those people carries


def decode(
    store_path: str | Path,
    output: str | Path,
    *,
    codec_path: str | Path | None = None,
    calls: str = "auto",
    seed: int = 0,
    calibrate_on: str | Path | None = None,
    min_mac: int = 0,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> DecodeSummary:
    """Latents → dosages (through the codec) → calls → a bgzipped VCF. The calls use the codec's
    frequency-matched thresholds, or for drawn people individual allele frequencies fitted on their own
    dosages (`calls`: auto, calibrated or fixed; genomesynth/calibration.py; `seed` picks the people they are
    fitted on) — or, with `calibrate_on`, on another store's people of the same draw (one fit for every shard).
    `min_mac` leaves out the sites whose minor allele the people the codec was fitted on carry fewer times
    (plink's --mac, at release: a rare site in a released VCF points at its carriers)."""
    checks.whole("min_mac", min_mac, 0)
    progress = progress or quiet()
    started = time.perf_counter()
    output = _checked_output(Path(output), overwrite)
    with open_store(store_path) as store, open_store(codec_path or store_path) as reference:
        codec = _codec(store, reference)
        minor, codec_people = reference.minor_allele_counts(), reference.codec_people()
        if min_mac > 0 and minor is None:
            raise GenomesynthError(f"--min-mac: {reference.path} does not say how many people its codec was fitted on "
                                   "(a store of an older genomesynth); pass --codec REAL.zarr, the real store")
        written = np.flatnonzero(minor >= min_mac) if minor is not None else np.arange(len(codec.gene))
        caller, cut_note = _caller(store, reference, codec, calls, calibrate_on, seed)
        samples = list(store.sample_id())
        dropped = len(codec.gene) - len(written)
        tmp = Path(tempfile.mkdtemp(prefix=".genomesynth-", dir=output.parent))
        try:
            called = _called(store, caller, tmp / "calls.npy", (len(codec.gene), len(samples)), progress)
            contigs = list(reference.attrs["contigs"])
            header = [f"##source=genomesynth decode of {store.path.name} (role {store.role})",
                      "##genomesynth_calls=" + (f"calibrated (from individual allele frequencies along the drawn "
                                                f"people's {caller.axes.shape[0]} population axes, seed {seed}{cut_note})"
                                                if isinstance(caller, DrawnCalls)
                                                else "fixed (the codec's frequency-matched thresholds)")]
            if min_mac > 0:
                header.append(f"##genomesynth_min_mac={min_mac} (left out: {dropped} sites whose minor "
                              f"allele the codec's {codec_people} people carry fewer times)")
            part = tmp / output.name
            write_vcf(part, samples, contigs, _rows(reference, contigs, called, written, output.name, progress),
                      store.ploidy, header)
            part.replace(output)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return DecodeSummary(str(output), len(samples), len(written), time.perf_counter() - started,
                         f"calibrated ({caller.axes.shape[0]} population axes{cut_note})"
                         if isinstance(caller, DrawnCalls) else "fixed",
                         codec_people=codec_people, dropped_rare=dropped,
                         singleton_sites=None if minor is None else int((minor[written] <= 1).sum()))


def _checked_output(output: Path, overwrite: bool) -> Path:
    """The output, once it names a .vcf.gz in an existing folder that may be written (new, or `overwrite`)."""
    if not output.name.endswith((".vcf.gz", ".vcf.bgz")):
        raise GenomesynthError(f"{output}: the output must end in .vcf.gz (a bgzipped VCF)")
    if output.exists() and not overwrite:
        raise GenomesynthError(f"{output}: already exists; pass --overwrite to replace it")
    if not output.parent.is_dir():
        raise GenomesynthError(f"{output}: folder {output.parent} does not exist; create it first")
    return output


def _codec(store: Store, reference: Store) -> Codec:
    """The codec that decodes the store: `reference`'s, which must be the one the store was made with."""
    if not reference.has("codec/loadings"):
        raise GenomesynthError(f"{reference.path}: holds no codec; pass --codec with the real store")
    if store.attrs.get("codec_id") != reference.attrs.get("codec_id"):
        raise GenomesynthError(
            f"{store.path}: its codec ({store.attrs.get('codec_id')}) differs from {reference.path}'s "
            f"({reference.attrs.get('codec_id')}); decode with the real store it was made from"
        )
    return reference.codec()


def _caller(store: Store, reference: Store, codec: Codec, calls: str, calibrate_on: str | Path | None,
            seed: int) -> tuple[Codec | DrawnCalls, str]:
    """What turns the store's latents into calls — the codec's thresholds, or individual allele frequencies fitted on
    people of the draw (`calls`, `calibrate_on`, `seed`) — and what the VCF header and the summary add to its name."""
    calibrated = use_calibrated(calls, dict(store.attrs), store.ploidy)
    if calibrate_on is not None and not calibrated:
        raise GenomesynthError(f"--calibrate-on {calibrate_on}: {store.path}'s calls keep the codec's thresholds "
                               "(not a drawn store, or --calls fixed); pass --calls calibrated to fit them")
    if not calibrated:
        return codec, ""
    gain = stored_call_gain(reference)
    note = ", without the cohort's call gain (pass --codec REAL.zarr)" if gain is None else ""  # an older real store
    with ExitStack() as opened:
        cut_on = store if calibrate_on is None else opened.enter_context(open_store(calibrate_on))
        if cut_on.attrs.get("codec_id") != store.attrs.get("codec_id"):
            raise GenomesynthError(f"--calibrate-on {calibrate_on}: its codec ({cut_on.attrs.get('codec_id')}) "
                                   f"differs from {store.path}'s; fit the calls on a part of the same draw")
        caller = calibrate(codec, cut_on.read_people(subsample(cut_on.n_people, seed)), gain)
    if calibrate_on is not None:
        note += f", fitted on {Path(calibrate_on).name}"
    return caller, note


def _called(store: Store, caller: Codec | DrawnCalls, path: Path, shape: tuple[int, int],
            progress: Progress) -> np.ndarray:
    """Every person's calls, (variants, people) int8, in a memory map at `path` (written in slabs of people)."""
    called = np.lib.format.open_memmap(path, mode="w+", dtype=np.int8, shape=shape)
    task = progress.add_task("decoding people", total=shape[1], status="")
    for start, slab in store.iter_slabs(rows=256):
        called[:, start : start + len(slab)] = caller.genotypes(slab).T
        progress.update(task, completed=start + len(slab))
    return called


def _rows(reference: Store, contigs: list[str], called: np.ndarray, written: np.ndarray, name: str,
          progress: Progress) -> Iterator[tuple[str, int, str, str, str, np.ndarray]]:
    """The VCF's records of the `written` variants: contig, position, id, REF, ALT and every person's calls."""
    contig = reference.read("variants/variant_contig")
    position = reference.read("variants/variant_position")
    ids = reference.read("variants/variant_id")
    alleles = reference.read("variants/variant_allele")
    task = progress.add_task("writing VCF", total=len(written), status=name)
    for i, v in enumerate(written):
        if i % 1024 == 0:
            progress.update(task, completed=i)
        yield contigs[contig[v]], int(position[v]), ids[v], alleles[v, 0], alleles[v, 1], called[v]
    progress.update(task, completed=len(written))
