"""Reference generators every model must beat (`genomesynth baseline`): cheap and instructive.

- gaussian: per label, N(mean, S) with S the training covariance of the latents. Drawn exactly
  without forming S (which is D × D, D up to 147,456): x = mean + X_cᵀ z / sqrt(n − 1), z ~ N(0, I_n),
  where X_c are the label's centred training people — so every draw lies in their span.
- mosaic: per label, each gene of a synthetic person copied from a random training person of the
  same label: every gene is real, only the combination is new.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from rich.progress import Progress

from genomesynth.calibration import add_call_gain
from genomesynth.errors import GenomesynthError
from genomesynth.provenance import provenance
from genomesynth.store import SCHEMA_VERSION, StoreWriter, copy_reference, open_store, reference_attrs
from genomesynth.ui import quiet

METHODS = ("gaussian", "mosaic")


def reference_generator(
    real: str | Path, output: str | Path, method: str = "gaussian", *, n: int | None = None, seed: int = 0,
    overwrite: bool = False, progress: Progress | None = None, batch: int = 512,
) -> dict[str, object]:
    """Write a synthetic store drawn by a reference generator from the real store's train split."""
    if method not in METHODS:
        raise GenomesynthError(f"--method {method!r}: use gaussian or mosaic")
    progress = progress or quiet()
    started = time.perf_counter()
    writer = StoreWriter(output, overwrite=overwrite)
    rng = np.random.default_rng(seed)
    with open_store(real) as store:
        if store.role != "real":
            raise GenomesynthError(f"{real}: role is {store.role!r}; baselines are drawn from a real store")
        mask = store.mask()
        train = np.flatnonzero(store.split() == "train")
        labels = store.label()[train]
        n = n or len(train)
        groups = np.unique(labels)
        # the training label mix, exactly
        share = np.array([(labels == g).sum() for g in groups]) / len(labels)
        quota = np.floor(share * n).astype(int)
        quota[np.argsort(-(share * n - quota))[: n - quota.sum()]] += 1
        out_labels = rng.permutation(np.repeat(groups, quota))
        x_train = store.read_people(train)[:, mask]  # (train, real positions)
        with writer:
            latents = writer.create_latents(n, store.n_genes_padded)
            task = progress.add_task(f"baseline {method}", total=n, status="")
            gene_of = np.nonzero(mask)[0]
            for start in range(0, n, batch):
                want = out_labels[start : start + batch]
                block = np.zeros((len(want), *mask.shape), dtype=np.float32)
                values = np.zeros((len(want), x_train.shape[1]), dtype=np.float32)
                for g in np.unique(want):
                    rows, donors = np.flatnonzero(want == g), x_train[labels == g]
                    if method == "gaussian":
                        centre = donors.mean(0)
                        z = rng.standard_normal((len(rows), len(donors)))
                        values[rows] = centre + z @ (donors - centre) / np.sqrt(max(len(donors) - 1, 1))
                    else:
                        pick = rng.integers(0, len(donors), (len(rows), store.n_genes_padded))
                        values[rows] = donors[pick[:, gene_of], np.arange(len(gene_of))]
                block[:, mask] = values
                latents[start : start + len(want)] = block
                progress.update(task, completed=start + len(want))
            copy_reference(store, writer)
            add_call_gain(store, writer)
            writer.write("sample_id", np.array([f"SYN{i + 1:06d}" for i in range(n)], dtype=object))
            writer.write("label", out_labels.astype(np.int32))
            writer.set_attrs({
                **reference_attrs(store),
                "schema_version": SCHEMA_VERSION, "role": "synthetic",
                "model": {"baseline": method, "real": str(Path(real).resolve())},
                "provenance": provenance("baseline", [Path(real)], seed, {"method": method, "n": n}),
            })
    return {"output": str(output), "method": method, "n": n, "seconds": time.perf_counter() - started}
