"""Installed, not only cloned (issue 11, part 3): a wheel built from this tree carries the demo
cohort, and the installed package — not the source tree — compresses it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_wheel_ships_the_demo_cohort_and_runs_from_an_install(tmp_path):
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
                            "-w", str(tmp_path / "dist"), "-q"], capture_output=True, text=True, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("genomesynth-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for f in ("demo.vcf.gz", "demo_genes.bed", "demo_labels.tsv"):
        assert f"genomesynth/data/{f}" in names
    site = tmp_path / "site"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(site), str(wheel), "-q"],
                               capture_output=True, text=True, cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr
    # the installed copy first on the path, run from a folder outside the repository
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "import genomesynth, genomesynth.demo as demo\n"
        "assert genomesynth.__file__.startswith(sys.argv[1]), genomesynth.__file__\n"
        "from genomesynth.compress import CompressConfig, compress\n"
        "d = demo.DemoConfig().data\n"
        "s = compress(d / 'demo.vcf.gz', 'real.zarr', CompressConfig(genes=d / 'demo_genes.bed', labels=d / 'demo_labels.tsv'))\n"
        "print(s.people, s.genes)\n"
    )
    run = subprocess.run([sys.executable, "-c", script, str(site)], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["600", "300"]
