"""Join the parts of a sharded draw (`sample --shard K/N`) into one store, equal to the unsharded draw.

The parts must come from one draw: the same run and checkpoint, sampler settings, seed, total, batch
size and codec, and every K of N exactly once. They are copied slab by slab in K order (memory: one
slab), with the reference arrays of the first part.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.progress import Progress

from genomesynth.errors import GenomesynthError
from genomesynth.provenance import provenance
from genomesynth.store import SCHEMA_VERSION, StoreWriter, copy_reference, open_store, reference_attrs
from genomesynth.ui import quiet

_SAME = ("run", "checkpoint", "step", "sampler", "steps", "guidance", "eta", "clip_x0")


@dataclass
class MergeSummary:
    output: str
    parts: int
    people: int
    seconds: float


def merge(parts: list[str | Path], output: str | Path, *, overwrite: bool = False,
          progress: Progress | None = None) -> MergeSummary:
    """Merge the parts of one sharded draw into the store at `output`."""
    progress = progress or quiet()
    started = time.perf_counter()
    writer = StoreWriter(output, overwrite=overwrite)
    infos = draw_parts(parts)
    _, first_path, first, model, _ = infos[0]
    total = first["total"]
    with open_store(first_path) as head, writer:
        latents = writer.create_latents(total, head.n_genes_padded)
        ids, labels = [], []
        task = progress.add_task("merging", total=total, status="")
        for _, path, shard, _, _ in infos:
            with open_store(path) as part:
                for start, slab in part.iter_slabs():
                    a = shard["start"] + start
                    latents[a : a + len(slab)] = slab
                    progress.update(task, completed=a + len(slab))
                ids.append(part.sample_id())
                labels.append(part.label())
        copy_reference(head, writer)
        writer.write("sample_id", np.concatenate(ids).astype(object))
        writer.write("label", np.concatenate(labels).astype(np.int32))
        writer.set_attrs({
            **reference_attrs(head),
            "schema_version": SCHEMA_VERSION,
            "role": "synthetic",
            "model": model | {"membership": {  # each part audited itself (sample): the merged draw was not
                "skipped": "a merged draw: its parts' audits are listed; `eval` judges the whole",
                "parts": [info[3].get("membership") for info in infos]}},
            "shard": None,
            "merged_from": [str(info[1]) for info in infos],
            "provenance": provenance("merge", [info[1] for info in infos], first["seed"],
                                     {"parts": len(infos), "total": total}),
        })
    return MergeSummary(str(output), len(infos), total, time.perf_counter() - started)


PartInfo = tuple[int, Path, dict, dict, str | None]
"""(K, path, shard, model, codec id) of one part of a sharded draw."""


def part_info(path: str | Path) -> PartInfo | None:
    """The part record of a store, or None if it is not a part of a sharded draw."""
    with open_store(path) as store:
        shard = store.attrs.get("shard")
        if store.role != "synthetic" or not shard:
            return None
        return shard["k"], Path(path), shard, store.attrs.get("model") or {}, store.attrs.get("codec_id")


def draw_parts(parts: list[str | Path]) -> list[PartInfo]:
    """The records of the parts in K order, after checking that they are every K of N of one draw."""
    infos = []
    for path in parts:
        info = part_info(path)
        if info is None:
            raise GenomesynthError(f"{path}: not a part of a sharded draw; merge takes the stores of `sample --shard K/N`")
        infos.append(info)
    return check_draw(infos)


def _drawn_scale(model: dict) -> float:
    """The scale a part's network residual was drawn with (1 for stores drawn before the option existed)."""
    return float((model.get("residual_scale") or {}).get("scale", 1.0))


def check_draw(infos: list[PartInfo]) -> list[PartInfo]:
    """`infos` in K order, after checking that they are every K of N of one draw: the same run,
    checkpoint, sampler settings, residual scale, seed, total, batch size and codec."""
    infos = sorted(infos, key=lambda info: info[0])
    _, first_path, first, model, codec = infos[0]
    for k, path, shard, other, other_codec in infos[1:]:
        differs = [key for key in ("of", "total", "batch_size", "seed") if shard[key] != first[key]]
        differs += [key for key in _SAME if other.get(key) != model.get(key)]
        if _drawn_scale(other) != _drawn_scale(model):
            differs.append("residual scale")
        if other_codec != codec:
            differs.append("codec")
        if differs:
            raise GenomesynthError(f"{path}: not from the same draw as {first_path} ({', '.join(differs)} differ); "
                                   "merge the parts of one `sample` command line")
    ks = [info[0] for info in infos]
    missing = sorted(set(range(1, first["of"] + 1)) - set(ks))
    if missing or len(ks) != len(set(ks)):
        twice = sorted({k for k in ks if ks.count(k) > 1})
        raise GenomesynthError(
            f"shards of {first['of']}: " + (f"missing {', '.join(map(str, missing))}" if missing else "")
            + ("; " if missing and twice else "") + (f"given twice {', '.join(map(str, twice))}" if twice else "")
            + " — give every part exactly once"
        )
    return infos
