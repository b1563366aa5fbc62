"""The on-disk store every command reads and writes: one schema, a Zarr v3 and an HDF5 backend.

Layout (names follow sgkit / the VCF Zarr spec where a convention exists)::

    latents            float32 (people, genes_padded, 8)   chunked along people, compressed
    mask               bool    (genes_padded, 8)           True at real positions
    sample_id          str     (people,)
    label              int32   (people,)                   -1 = unknown; names in attrs["label_names"]
    split              str     (people,)                   "train" / "test" (real stores)
    stats/mean         float32 (genes_padded, 8)           standardisation, training people only
    stats/std          float32 (genes_padded, 8)           1 at padded positions
    genes/{name,contig,start,end,n_variants,n_components,variance_kept}
    variants/{variant_contig,variant_position,variant_id,variant_allele,variant_mean,
              variant_thresholds}                          one row per kept SNP (the decoder's output)
    codec/{gene_offset,membership_variant,membership_primary,loadings}
                                                           per gene: which variants, PCA loadings

Attributes: schema_version, role, ploidy, contigs, label_names, pad_multiple, provenance and,
for synthetic stores, the model run they came from.  Only this module opens store files.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from genomesynth import LATENT_DIM
from genomesynth.errors import GenomesynthError

SCHEMA_VERSION = 1
ROLES = ("real", "synthetic")
SUFFIXES = {".zarr": "zarr", ".h5": "h5", ".hdf5": "h5"}
CHUNK_BYTES = 4 * 2**20
"""Target size of one latents chunk: a few MB, so a batch read touches few chunks."""


def backend_for(path: Path) -> str:
    """The backend a store path asks for, by its suffix."""
    try:
        return SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise GenomesynthError(
            f"{path}: a store path must end in .zarr (default) or .h5; rename the output"
        ) from None


def people_per_chunk(n_genes_padded: int) -> int:
    return max(1, CHUNK_BYTES // (n_genes_padded * LATENT_DIM * 4))


class _ArrayLike(Protocol):
    shape: tuple[int, ...]

    def __getitem__(self, key: Any) -> Any: ...
    def __setitem__(self, key: Any, value: Any) -> None: ...


class _Backend(Protocol):
    def create(self, name: str, data: np.ndarray, chunks: tuple[int, ...] | None = None) -> None: ...
    def empty(self, name: str, shape: tuple[int, ...], dtype: str, chunks: tuple[int, ...]) -> _ArrayLike: ...
    def array(self, name: str) -> _ArrayLike: ...
    def has(self, name: str) -> bool: ...
    def read_strings(self, name: str) -> np.ndarray: ...
    def attrs(self) -> dict[str, Any]: ...
    def set_attrs(self, attrs: dict[str, Any]) -> None: ...
    def close(self) -> None: ...


class _ZarrBackend:
    def __init__(self, path: Path, mode: str) -> None:
        import zarr

        self._group = zarr.open_group(str(path), mode=mode)

    def create(self, name: str, data: np.ndarray, chunks: tuple[int, ...] | None = None) -> None:
        if data.dtype.kind in "UO":
            array = self._group.create_array(name, shape=data.shape, dtype=str)
            array[...] = data.astype(object)
        else:
            self._group.create_array(name, data=data, chunks=chunks or "auto")

    def empty(self, name: str, shape: tuple[int, ...], dtype: str, chunks: tuple[int, ...]) -> _ArrayLike:
        return self._group.create_array(name, shape=shape, dtype=dtype, chunks=chunks, fill_value=0)

    def array(self, name: str) -> _ArrayLike:
        return self._group[name]  # type: ignore[return-value]

    def has(self, name: str) -> bool:
        return name in self._group

    def read_strings(self, name: str) -> np.ndarray:
        return np.asarray(self._group[name][...], dtype=object).astype(str)

    def attrs(self) -> dict[str, Any]:
        return dict(self._group.attrs)

    def set_attrs(self, attrs: dict[str, Any]) -> None:
        self._group.attrs.update(attrs)

    def close(self) -> None:
        pass


class _H5Backend:
    _ATTRS = "genomesynth"  # HDF5 attributes hold scalars; the nested dict travels as JSON

    def __init__(self, path: Path, mode: str) -> None:
        import h5py

        self._h5py = h5py
        self._file = h5py.File(path, mode)

    def create(self, name: str, data: np.ndarray, chunks: tuple[int, ...] | None = None) -> None:
        if data.dtype.kind in "UO":
            self._file.create_dataset(
                name, data=data.astype(object), dtype=self._h5py.string_dtype()
            )
        elif data.ndim == 0 or data.size == 0:
            self._file.create_dataset(name, data=data)
        else:
            self._file.create_dataset(
                name, data=data, chunks=chunks or True, compression="gzip", compression_opts=1
            )

    def empty(self, name: str, shape: tuple[int, ...], dtype: str, chunks: tuple[int, ...]) -> _ArrayLike:
        return self._file.create_dataset(
            name, shape=shape, dtype=dtype, chunks=chunks, compression="gzip", compression_opts=1,
            fillvalue=0,
        )

    def array(self, name: str) -> _ArrayLike:
        return self._file[name]

    def has(self, name: str) -> bool:
        return name in self._file

    def read_strings(self, name: str) -> np.ndarray:
        return np.asarray(self._file[name].asstr()[...], dtype=str)

    def attrs(self) -> dict[str, Any]:
        raw = self._file.attrs.get(self._ATTRS)
        return json.loads(raw) if raw is not None else {}

    def set_attrs(self, attrs: dict[str, Any]) -> None:
        merged = {**self.attrs(), **attrs}
        self._file.attrs[self._ATTRS] = json.dumps(merged)

    def close(self) -> None:
        self._file.close()


def _open_backend(path: Path, mode: str, kind: str | None = None) -> _Backend:
    kind = kind or backend_for(path)
    return _ZarrBackend(path, mode) if kind == "zarr" else _H5Backend(path, mode)


class Store:
    """Read access to a store; arrays are read lazily, latents a batch of people at a time."""

    def __init__(self, path: Path, backend: _Backend) -> None:
        self.path = path
        self._backend = backend
        self.attrs: dict[str, Any] = backend.attrs()

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Store:
        path = Path(path)
        backend_for(path)
        if not path.exists():
            raise GenomesynthError(f"{path}: no such store; create one with `genomesynth compress`")
        try:
            backend = _open_backend(path, "r")
        except GenomesynthError:
            raise
        except Exception as exc:  # zarr/h5py raise many types for a damaged or foreign file
            raise GenomesynthError(f"{path}: not a readable genomesynth store ({exc})") from exc
        store = cls(path, backend)
        version = store.attrs.get("schema_version")
        if version != SCHEMA_VERSION or store.attrs.get("role") not in ROLES:
            backend.close()
            raise GenomesynthError(
                f"{path}: not a genomesynth store of schema version {SCHEMA_VERSION} "
                f"(found schema_version={version!r}, role={store.attrs.get('role')!r}); "
                "recreate it with this version of genomesynth"
            )
        return store

    def close(self) -> None:
        self._backend.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- shape and meaning -------------------------------------------------------------
    @property
    def role(self) -> str:
        return str(self.attrs["role"])

    @property
    def latents(self) -> _ArrayLike:
        """(people, genes_padded, 8) float32, un-standardised PCA scores; slice it, never load whole."""
        return self._backend.array("latents")

    @property
    def n_people(self) -> int:
        return int(self.latents.shape[0])

    @property
    def n_genes_padded(self) -> int:
        return int(self.latents.shape[1])

    @property
    def n_genes(self) -> int:
        return int(self.attrs["n_genes"])

    @property
    def label_names(self) -> list[str]:
        return list(self.attrs.get("label_names", []))

    @property
    def ploidy(self) -> int:
        return int(self.attrs["ploidy"])

    def has(self, name: str) -> bool:
        return self._backend.has(name)

    def read(self, name: str) -> np.ndarray:
        """One whole non-latent array (genes, variants, codec, labels…), strings as str."""
        array = self._backend.array(name)
        if np.dtype(getattr(array, "dtype", np.float32)).kind in "OUT" or _is_h5_string(array):
            return self._backend.read_strings(name)
        return np.asarray(array[...])

    def mask(self) -> np.ndarray:
        return self.read("mask").astype(bool)

    def sample_id(self) -> np.ndarray:
        return self.read("sample_id")

    def label(self) -> np.ndarray:
        return self.read("label").astype(np.int64)

    def split(self) -> np.ndarray:
        if not self.has("split"):  # synthetic stores have no split
            return np.full(self.n_people, "train" if self.role == "real" else "synthetic")
        return self.read("split")

    def describe(self) -> dict[str, Any]:
        """A JSON-able summary: schema, shapes, labels and split counts, provenance."""
        labels = self.label()
        names = self.label_names
        split = self.split()
        counts = {
            (names[c] if 0 <= c < len(names) else "unknown"): int((labels == c).sum())
            for c in np.unique(labels)
        }
        mask = self.mask()
        return {
            "path": str(self.path),
            "backend": backend_for(self.path),
            "schema_version": self.attrs.get("schema_version"),
            "role": self.role,
            "people": self.n_people,
            "genes": self.n_genes,
            "genes_padded": self.n_genes_padded,
            "latent_shape": list(self.latents.shape),
            "latent_chunks": list(getattr(self.latents, "chunks", []) or []),
            "real_positions": int(mask.sum()),
            "ploidy": self.attrs.get("ploidy"),
            "variants": int(self.read("variants/variant_position").shape[0]) if self.has("variants/variant_position") else 0,
            "labels": counts,
            "label_column": self.attrs.get("label_column"),
            "split": {s: int((split == s).sum()) for s in np.unique(split)},
            "codec_id": self.attrs.get("codec_id"),
            "provenance": self.attrs.get("provenance", {}),
            "model": self.attrs.get("model"),
        }

    def read_people(self, index: np.ndarray) -> np.ndarray:
        """Latents of the given people, in the given order: (len(index), genes_padded, 8)."""
        index = np.asarray(index, dtype=np.int64)
        order = np.argsort(index, kind="stable")
        wanted = index[order]
        unique, inverse = np.unique(wanted, return_inverse=True)
        block = np.empty((len(unique), self.n_genes_padded, LATENT_DIM), dtype=np.float32)
        # contiguous runs read as slices: both backends are fastest on plain slices
        starts = np.flatnonzero(np.diff(unique, prepend=-2) != 1)
        ends = np.append(starts[1:], len(unique))
        for a, b in zip(starts, ends):
            block[a:b] = self.latents[int(unique[a]) : int(unique[b - 1]) + 1]
        out = np.empty((len(index), self.n_genes_padded, LATENT_DIM), dtype=np.float32)
        out[order] = block[inverse]
        return out

    def iter_slabs(self, rows: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """(start, latents[start:start+rows]) over all people, a chunk-aligned slab at a time."""
        rows = rows or people_per_chunk(self.n_genes_padded) * 8
        for start in range(0, self.n_people, rows):
            yield start, np.asarray(self.latents[start : start + rows])


def _is_h5_string(array: Any) -> bool:
    try:
        import h5py

        return isinstance(array, h5py.Dataset) and h5py.check_string_dtype(array.dtype) is not None
    except ImportError:  # pragma: no cover
        return False


class StoreWriter:
    """Builds a store at a temporary sibling path and renames it into place when complete.

    An exception inside the `with` block removes the temporary store, so an interrupted run never
    leaves a store that looks finished.
    """

    def __init__(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        self.path = Path(path)
        backend_for(self.path)
        if self.path.exists() and not overwrite:
            raise GenomesynthError(f"{self.path}: already exists; pass --overwrite to replace it")
        parent = self.path.parent if str(self.path.parent) else Path(".")
        if not parent.is_dir():
            raise GenomesynthError(f"{self.path}: folder {parent} does not exist; create it first")
        try:  # a real probe: os.access says yes to root even on read-only file systems
            tempfile.TemporaryFile(dir=parent).close()
        except OSError:
            raise GenomesynthError(f"{self.path}: folder {parent} is not writable; choose another output") from None
        self.tmp_path = parent / f".{self.path.name}.tmp-{uuid.uuid4().hex[:8]}"
        self._backend: _Backend | None = None

    def __enter__(self) -> StoreWriter:
        self._backend = _open_backend(self.tmp_path, "w", backend_for(self.path))
        return self

    @property
    def backend(self) -> _Backend:
        assert self._backend is not None, "use StoreWriter as a context manager"
        return self._backend

    def write(self, name: str, data: np.ndarray) -> None:
        self.backend.create(name, np.asarray(data))

    def create_latents(self, n_people: int, n_genes_padded: int) -> _ArrayLike:
        chunks = (min(max(n_people, 1), people_per_chunk(n_genes_padded)), n_genes_padded, LATENT_DIM)
        return self.backend.empty("latents", (n_people, n_genes_padded, LATENT_DIM), "float32", chunks)

    def set_attrs(self, attrs: dict[str, Any]) -> None:
        self.backend.set_attrs(attrs)

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.backend.close()
        if exc_type is not None:
            _remove(self.tmp_path)
            return
        if self.path.exists():
            old = self.path.parent / f".{self.path.name}.old-{uuid.uuid4().hex[:8]}"
            self.path.rename(old)
            self.tmp_path.rename(self.path)
            _remove(old)
        else:
            self.tmp_path.rename(self.path)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()


@contextmanager
def open_store(path: str | os.PathLike[str]) -> Iterator[Store]:
    store = Store.open(path)
    try:
        yield store
    finally:
        store.close()


def copy_reference(source: Store, writer: StoreWriter) -> None:
    """Copy what makes a store decodable and comparable (genes, variants, codec, stats, mask)."""
    for name in _REFERENCE_ARRAYS:
        if source.has(name):
            writer.write(name, source.read(name))


_REFERENCE_ARRAYS = (
    "mask",
    "stats/mean",
    "stats/std",
    *(f"genes/{n}" for n in ("name", "contig", "start", "end", "n_variants", "n_components", "variance_kept")),
    *(
        f"variants/{n}"
        for n in (
            "variant_contig", "variant_position", "variant_id", "variant_allele", "variant_mean",
            "variant_thresholds",
        )
    ),
    *(f"codec/{n}" for n in ("gene_offset", "membership_variant", "membership_primary", "loadings")),
)
REFERENCE_ATTRS = ("n_genes", "pad_multiple", "ploidy", "contigs", "label_names", "codec_id")
