"""What every store and run records about how it was made."""

from __future__ import annotations

import hashlib
import os
import platform
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from genomesynth import __version__


def sha256_of(path: Path) -> str | None:
    """sha256 of a file; of a folder (a VCF Zarr store), of its files' relative names and bytes."""
    digest = hashlib.sha256()
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
    else:
        return None
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(2**20), b""):
                digest.update(block)
    return digest.hexdigest()


def provenance(command: str, inputs: list[Path], seed: int | None, config: dict[str, Any]) -> dict[str, Any]:
    """A JSON-able record: command line, inputs with checksums, version, seed, config, threads, time."""
    from genomesynth.threads import current

    policy = current()
    return {
        "command": command,
        "argv": shlex.join(sys.argv) if sys.argv and sys.argv[0] else "",
        "inputs": [
            {"path": os.fspath(p), "name": p.name, "sha256": sha256_of(p)} for p in inputs
        ],
        "genomesynth_version": __version__,
        "python": platform.python_version(),
        "seed": seed,
        "config": config,
        "threads": policy.describe() if policy is not None else None,  # the CPU threads it started with
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
