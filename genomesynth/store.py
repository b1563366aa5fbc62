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
              variant_thresholds,variant_call_gain}        one row per kept SNP (the decoder's output;
                                                           the call gain of drawn stores: calibration.py)
    codec/{gene_offset,membership_variant,membership_primary,loadings}
                                                           per gene: which variants, PCA loadings

Attributes: schema_version, role, ploidy, contigs, label_names, pad_multiple, provenance and,
for synthetic stores, the model run they came from.  Only this module opens store files.

Integrity: a store is built at a temporary sibling path and renamed into place only when complete
(never over a store that appeared meanwhile, unless --overwrite). Before the rename every array's
chunk grid and a CRC-32 per chunk go into attrs["integrity"]. Opening a store checks that every
chunk file is there (a deleted Zarr chunk would otherwise read back as zeros); every read of
latents refuses damaged chunks and non-finite values; `verify` re-reads and checks every chunk.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import tempfile
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from genomesynth import LATENT_DIM
from genomesynth.errors import GenomesynthError
from genomesynth.threads import pid_alive

if TYPE_CHECKING:
    from genomesynth.codec import Codec

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


def store_name(path: str | os.PathLike[str]) -> str:
    """A store's name for tables and legends: its file name without .zarr / .h5."""
    return Path(path).name.removesuffix(".zarr").removesuffix(".h5")


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
    def names(self) -> list[str]: ...
    def chunk_files(self, name: str) -> set[tuple[int, ...]] | None: ...
    def read_strings(self, name: str) -> np.ndarray: ...
    def attrs(self) -> dict[str, Any]: ...
    def set_attrs(self, attrs: dict[str, Any]) -> None: ...
    def close(self) -> None: ...


class _ZarrBackend:
    # every chunk is written, even one equal to the fill value: a missing chunk file then always
    # means damage (zarr would otherwise read it back as the fill value without a word)
    _CONFIG = {"write_empty_chunks": True}

    def __init__(self, path: Path, mode: str) -> None:
        import zarr

        self.path = path
        self._group = zarr.open_group(str(path), mode=mode)

    def create(self, name: str, data: np.ndarray, chunks: tuple[int, ...] | None = None) -> None:
        if data.dtype.kind in "UO":
            array = self._group.create_array(name, shape=data.shape, dtype=str, config=self._CONFIG)
            array[...] = data.astype(object)
        else:
            self._group.create_array(name, data=data, chunks=chunks or "auto", config=self._CONFIG)

    def empty(self, name: str, shape: tuple[int, ...], dtype: str, chunks: tuple[int, ...]) -> _ArrayLike:
        return self._group.create_array(name, shape=shape, dtype=dtype, chunks=chunks, fill_value=0,
                                        config=self._CONFIG)

    def names(self) -> list[str]:
        import zarr

        return sorted(name for name, node in self._group.members(max_depth=None) if isinstance(node, zarr.Array))

    def chunk_files(self, name: str) -> set[tuple[int, ...]]:
        """The grid indices of the chunk files present on disk (default chunk key encoding c/i/j/…)."""
        root = self.path / name / "c"
        found: set[tuple[int, ...]] = set()
        for folder, _, files in os.walk(root):
            rel = Path(folder).relative_to(root).parts
            for f in files:
                try:
                    found.add(tuple(int(part) for part in (*rel, f)))
                except ValueError:
                    continue
        return found

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

    def names(self) -> list[str]:
        found: list[str] = []
        self._file.visititems(lambda name, obj: found.append(name) if isinstance(obj, self._h5py.Dataset) else None)
        return sorted(found)

    def chunk_files(self, name: str) -> set[tuple[int, ...]] | None:
        return None  # one file: damage shows when a chunk is read

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


def _open_for_reading(path: Path) -> _Backend:
    backend_for(path)
    if not path.exists():
        raise GenomesynthError(f"{path}: no such store; create one with `genomesynth compress`")
    try:
        return _open_backend(path, "r")
    except GenomesynthError:
        raise
    except Exception as exc:  # zarr/h5py raise many types for a damaged or foreign file
        raise GenomesynthError(f"{path}: not a readable genomesynth store ({exc})") from exc


class Store:
    """Read access to a store; arrays are read lazily, latents a batch of people at a time."""

    def __init__(self, path: Path, backend: _Backend) -> None:
        self.path = path
        self._backend = backend
        self.attrs: dict[str, Any] = backend.attrs()

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Store:
        path = Path(path)
        backend = _open_for_reading(path)
        store = cls(path, backend)
        version = store.attrs.get("schema_version")
        if version != SCHEMA_VERSION or store.attrs.get("role") not in ROLES:
            backend.close()
            raise GenomesynthError(
                f"{path}: not a genomesynth store of schema version {SCHEMA_VERSION} "
                f"(found schema_version={version!r}, role={store.attrs.get('role')!r}); "
                "recreate it with this version of genomesynth"
            )
        missing = _missing_chunks(backend, store.attrs.get("integrity"))
        if missing:
            backend.close()
            name, chunks = next(iter(missing.items()))
            raise GenomesynthError(
                f"{path}: incomplete store: {sum(map(len, missing.values()))} chunk file(s) missing "
                f"({name} chunk {'.'.join(map(str, chunks[0]))} first); it was damaged after it was written. "
                f"Recreate it; `genomesynth info --verify {path}` lists every damaged chunk"
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
        """(people, genes_padded, 8) float32, un-standardised PCA scores; slice it, never load whole.
        Every read refuses an unreadable chunk or a non-finite value with a GenomesynthError."""
        return _CheckedArray(self._backend.array("latents"), self.path, "latents")

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
        if not self._backend.has(name):
            raise GenomesynthError(
                f"{self.path}: the store has no array {name!r}; it is damaged or from another tool — "
                "recreate it with `genomesynth compress` (or give the real store with --codec/--real)"
            )
        array = self._backend.array(name)
        try:
            if np.dtype(getattr(array, "dtype", np.float32)).kind in "OUT" or _is_h5_string(array):
                return self._backend.read_strings(name)
        except Exception as exc:
            raise _damaged(self.path, name, exc) from exc
        return np.asarray(_CheckedArray(array, self.path, name)[...])

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
            # held-out people compress or encode moved to training, near-identical to a training person
            "moved_to_training": (self.attrs.get("compress_summary") or self.attrs.get("encode_summary")
                                  or {}).get("moved_to_training", []),
            "codec_id": self.attrs.get("codec_id"),
            "rare_sites": self.rare_sites() if self.role == "real" else None,
            "provenance": self.attrs.get("provenance", {}),
            "model": self.attrs.get("model"),
        }

    def codec_people(self) -> int | None:
        """How many people the codec's mean dosages were taken over: a compressed store's training people, or what
        `sample` and `encode` recorded of the store they copied the codec from (None: an older store that did not)."""
        if self.attrs.get("codec_people") is not None:
            return int(self.attrs["codec_people"])
        if self.role == "real" and "encode_summary" not in self.attrs:
            return int((self.split() == "train").sum()) or None
        return None

    def codec(self) -> Codec:
        """The gene-wise PCA codec the store's latents were made with (its `codec/` and `variants/` arrays)."""
        from genomesynth.codec import Codec  # torch comes with it: only commands that decode pay for the import

        return Codec.from_arrays(
            self.read("codec/gene_offset"),
            self.read("codec/membership_variant"),
            self.read("codec/membership_primary").astype(bool),
            self.read("codec/loadings"),
            self.read("variants/variant_mean"),
            self.read("variants/variant_thresholds"),
            self.ploidy,
        )

    def minor_allele_counts(self) -> np.ndarray | None:
        """Each SNP's minor allele count among the people the codec was fitted on (from its mean dosages), or None
        where the store cannot say (no codec, or an older store without `codec_people`)."""
        people = self.codec_people()
        if people is None or not self.has("variants/variant_mean"):
            return None
        mean = self.read("variants/variant_mean").astype(np.float64)
        return np.rint(np.minimum(mean, self.ploidy - mean) * people).astype(np.int64)

    def rare_sites(self) -> dict[str, int] | None:
        """Of a real store's SNPs, how many have a minor allele seen once (`singleton`) or twice (`doubleton`) among
        the training people the codec was fitted on (from the codec's mean dosages): the sites whose presence in a
        released VCF points at the few who carry them (README, "Before you share"). None for a store from `encode`:
        its codec's dosages are the other cohort's, not its own people's."""
        if "encode_summary" in self.attrs:
            return None
        minor = self.minor_allele_counts()
        if minor is None:
            return None
        return {"singleton": int((minor == 1).sum()), "doubleton": int((minor == 2).sum()),
                "training_people": int(self.codec_people() or 0)}

    def read_people(self, index: np.ndarray) -> np.ndarray:
        """Latents of the given people, in the given order: (len(index), genes_padded, 8)."""
        index = np.asarray(index, dtype=np.int64)
        order = np.argsort(index, kind="stable")
        wanted = index[order]
        unique, inverse = np.unique(wanted, return_inverse=True)
        block = np.empty((len(unique), self.n_genes_padded, LATENT_DIM), dtype=np.float32)
        # one plain slice per chunk touched (both backends are fastest on plain slices, and a chunk is
        # decompressed once however many of its people are wanted), from its first wanted row to its last
        rows = (getattr(self.latents, "chunks", None) or (people_per_chunk(self.n_genes_padded),))[0]
        starts = np.flatnonzero(np.diff(unique // rows, prepend=-1) != 0)
        ends = np.append(starts[1:], len(unique))
        for a, b in zip(starts, ends):
            first = int(unique[a])
            span = np.asarray(self.latents[first : int(unique[b - 1]) + 1])
            block[a:b] = span[unique[a:b] - first]
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


def _damaged(path: Path, name: str, exc: Exception) -> GenomesynthError:
    return GenomesynthError(
        f"{path}: array {name} cannot be read ({type(exc).__name__}: {exc}); the store is damaged — "
        f"`genomesynth info --verify {path}` lists the damaged chunks; recreate the store"
    )


class _CheckedArray:
    """A store array whose reads fail with one clear line on damage or on NaN/inf values."""

    def __init__(self, array: Any, path: Path, name: str) -> None:
        self._array, self._path, self._name = array, path, name

    def __getattr__(self, attr: str) -> Any:  # shape, dtype, chunks …
        return getattr(self._array, attr)

    def __getitem__(self, key: Any) -> np.ndarray:
        try:
            block = np.asarray(self._array[key])
        except Exception as exc:  # zarr/h5py/numcodecs raise many types for a cut or corrupt chunk
            raise _damaged(self._path, self._name, exc) from exc
        if block.dtype.kind == "f" and not _acceptable(block, self._name):
            first = int(np.argwhere(~np.isfinite(block))[0][0]) if block.ndim else 0
            start = (key.start or 0) if isinstance(key, slice) else 0
            where = f" (person {start + first})" if self._name == "latents" else ""
            raise GenomesynthError(
                f"{self._path}: {self._name} holds {'NaN or infinite values' if self._name == 'latents' else 'NaN'}{where}; a store must hold finite "
                "numbers — it was written by a diverged model or damaged: recreate it"
            )
        return block


def _acceptable(block: np.ndarray, name: str) -> bool:
    """Latents must be finite; other float arrays may hold ±inf (decoder thresholds) but never NaN."""
    return bool(np.isfinite(block).all()) if name == "latents" else not bool(np.isnan(block).any())


INTEGRITY_FORMAT = 1


def _grid(array: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(chunk shape, chunks per dimension) of an array; an unchunked one is one chunk."""
    shape = tuple(int(n) for n in array.shape)
    chunks = tuple(int(c) for c in (getattr(array, "chunks", None) or shape))
    return chunks, tuple(math.ceil(n / c) if c else 0 for n, c in zip(shape, chunks))


def _chunk(array: Any, chunks: tuple[int, ...], index: tuple[int, ...]) -> np.ndarray:
    """The values of one chunk of the grid."""
    return np.asarray(array[tuple(slice(i * c, (i + 1) * c) for i, c in zip(index, chunks))])


def _crc(array: Any, block: np.ndarray) -> int:
    """CRC-32 of one chunk's values (strings as text, numbers as their bytes)."""
    if block.dtype.kind in "OUT" or _is_h5_string(array):
        text = "\x1f".join(x.decode() if isinstance(x, bytes) else str(x) for x in block.reshape(-1).tolist())
        return zlib.crc32(text.encode())
    return zlib.crc32(np.ascontiguousarray(block).tobytes())


def _integrity_record(backend: _Backend) -> dict[str, Any]:
    arrays: dict[str, Any] = {}
    for name in backend.names():
        array = backend.array(name)
        chunks, grid = _grid(array)
        arrays[name] = {"shape": list(array.shape), "chunks": list(chunks), "grid": list(grid),
                        "crc32": [_crc(array, _chunk(array, chunks, i)) for i in np.ndindex(*grid)]}
    return {"format": INTEGRITY_FORMAT, "arrays": arrays}


def _missing_chunks(backend: _Backend, record: dict[str, Any] | None) -> dict[str, list[tuple[int, ...]]]:
    """Chunk files (or whole arrays) the integrity record expects and the store lacks (Zarr only)."""
    missing: dict[str, list[tuple[int, ...]]] = {}
    if not record:
        return missing
    for name, info in record["arrays"].items():
        if not backend.has(name):
            missing[name] = [()]
            continue
        present = backend.chunk_files(name)
        if present is None:
            continue
        lost = [i for i in np.ndindex(*info["grid"]) if i not in present] if len(present) < math.prod(info["grid"]) else []
        if lost:
            missing[name] = lost
    return missing


@dataclass
class Verification:
    """What `verify` found: per array, its chunks checked and the problems, one line each."""

    path: str
    integrity_record: bool
    arrays: dict[str, int] = field(default_factory=dict)  # name → chunks checked
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(path: str | os.PathLike[str]) -> Verification:
    """Re-read every chunk of every array: missing files, unreadable chunks, checksum mismatches
    against the record written when the store was built, and non-finite values."""
    path = Path(path)
    backend = _open_for_reading(path)
    try:
        record = backend.attrs().get("integrity")
        report = Verification(str(path), record is not None)
        expected = record["arrays"] if record else {}
        for name, chunk_list in _missing_chunks(backend, record).items():
            if chunk_list == [()]:
                report.problems.append(f"{name}: array missing")
            else:
                report.problems += [f"{name} chunk {'.'.join(map(str, c))}: file missing" for c in chunk_list]
        for name in sorted(set(backend.names()) | set(expected)):
            if not backend.has(name):
                continue
            array = backend.array(name)
            chunks, grid = _grid(array)
            info = expected.get(name)
            if info is not None and (list(array.shape) != info["shape"] or list(grid) != info["grid"]):
                report.problems.append(f"{name}: shape {list(array.shape)} differs from the {info['shape']} it was written with")
                continue
            present = backend.chunk_files(name)
            numeric = np.dtype(getattr(array, "dtype", "O")).kind == "f"
            for k, index in enumerate(np.ndindex(*grid)):
                if present is not None and index not in present:
                    continue  # reported above as a missing file
                label = f"{name} chunk {'.'.join(map(str, index))}"
                try:
                    block = _chunk(array, chunks, index)  # read once: checksum and values
                    crc = _crc(array, block)
                    finite = _acceptable(block, name) if numeric else True
                except Exception as exc:
                    report.problems.append(f"{label}: unreadable ({type(exc).__name__}: {exc})")
                    continue
                if info is not None and crc != info["crc32"][k]:
                    report.problems.append(f"{label}: checksum differs from the one written with the store")
                if not finite:
                    report.problems.append(f"{label}: holds {'NaN or infinite values' if name == 'latents' else 'NaN'}")
            report.arrays[name] = math.prod(grid)
    finally:
        backend.close()
    return report


class StoreWriter:
    """Builds a store at a temporary sibling path and renames it into place when complete.

    An exception inside the `with` block removes the temporary store, so an interrupted run never
    leaves a store that looks finished. The rename never replaces a store that appeared while this
    one was being written (another writer to the same output) unless `overwrite`; temporary
    siblings left by killed runs on this host are removed when the next writer starts.
    """

    def __init__(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        self.path = Path(path)
        self.overwrite = overwrite
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
        _remove_stale_siblings(parent, self.path.name)
        self.tmp_path = parent / f".{self.path.name}.tmp-{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._backend: _Backend | None = None

    def __enter__(self) -> StoreWriter:
        self._backend = _open_backend(self.tmp_path, "w", backend_for(self.path))
        return self

    @property
    def backend(self) -> _Backend:
        assert self._backend is not None, "use StoreWriter as a context manager"
        return self._backend

    def write(self, name: str, data: np.ndarray) -> None:
        data = np.asarray(data)
        if data.dtype.kind == "f" and np.isnan(data).any():
            raise GenomesynthError(f"{self.path}: refusing to write NaN into {name}; nothing was written")
        self.backend.create(name, data)

    def create_latents(self, n_people: int, n_genes_padded: int) -> _ArrayLike:
        chunks = (min(max(n_people, 1), people_per_chunk(n_genes_padded)), n_genes_padded, LATENT_DIM)
        array = self.backend.empty("latents", (n_people, n_genes_padded, LATENT_DIM), "float32", chunks)
        return _FiniteWrites(array, self.path)

    def set_attrs(self, attrs: dict[str, Any]) -> None:
        self.backend.set_attrs(attrs)

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self.backend.close()
            _remove(self.tmp_path)
            return
        try:
            self.backend.set_attrs({"integrity": _integrity_record(self.backend)})
        finally:
            self.backend.close()
        self._publish()

    def _publish(self) -> None:
        """Move the finished store into place: atomically, and never over a newcomer unless asked."""
        if self.overwrite and self.path.exists():
            old = self.path.parent / f".{self.path.name}.old-{uuid.uuid4().hex[:8]}"
            self.path.rename(old)
            self.tmp_path.rename(self.path)
            _remove(old)
            return
        try:
            if self.tmp_path.is_dir():
                self.tmp_path.rename(self.path)  # fails on an existing non-empty folder
                return
            os.link(self.tmp_path, self.path)  # fails on an existing file, unlike rename
            self.tmp_path.unlink()
        except OSError:
            if not self.path.exists():
                raise
            _remove(self.tmp_path)
            raise GenomesynthError(
                f"{self.path}: was created by another process while this one was writing it; it was left as "
                "it is and this run's result discarded — write to another -o, or pass --overwrite to replace it"
            ) from None


class _FiniteWrites:
    """The latents being written: a block with NaN or inf is refused (the build then removes itself)."""

    def __init__(self, array: Any, path: Path) -> None:
        self._array, self._path = array, path

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._array, attr)

    def __getitem__(self, key: Any) -> Any:
        return self._array[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        if not np.isfinite(np.asarray(value)).all():
            raise GenomesynthError(
                f"{self._path}: refusing to write NaN or infinite latents; nothing was written — the model "
                "produced non-finite values (a diverged run, or non-finite options): retrain or check the options"
            )
        self._array[key] = value


_HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"


def _remove_stale_siblings(parent: Path, name: str) -> None:
    """Remove temporary builds of `name` left by killed processes of this host (pid no longer alive)."""
    pattern = re.compile(rf"^\.{re.escape(name)}\.tmp-{_HOST}-(\d+)-[0-9a-f]{{8}}$")
    for sibling in parent.iterdir():
        match = pattern.match(sibling.name)
        if match and not pid_alive(int(match.group(1))):
            _remove(sibling)


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
            "variant_thresholds", "variant_call_gain",
        )
    ),
    *(f"codec/{n}" for n in ("gene_offset", "membership_variant", "membership_primary", "loadings")),
)
REFERENCE_ATTRS = ("n_genes", "pad_multiple", "ploidy", "contigs", "label_names", "codec_id")


def reference_attrs(source: Store) -> dict[str, Any]:
    """The attributes a store made from `source`'s codec carries over: REFERENCE_ATTRS, and how many people the
    codec's mean dosages were taken over (`codec_people`: `decode --min-mac` counts alleles with it)."""
    return {**{k: source.attrs[k] for k in REFERENCE_ATTRS if k in source.attrs},
            "codec_people": source.codec_people()}
