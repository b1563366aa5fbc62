#!/usr/bin/env bash
# The main job on the bundled demo cohort, chained through the CLI as a user would.
# Usage: bash docs/experiments/demo.sh [OUTPUT_DIR]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-runs/demo}"
mkdir -p "$out"
genomesynth compress "$repo/data/demo.vcf.gz" --genes "$repo/data/demo_genes.bed" \
    --labels "$repo/data/demo_labels.tsv" -o "$out/real.zarr" --seed 0 --overwrite
genomesynth info "$out/real.zarr"
genomesynth decode "$out/real.zarr" -o "$out/real.decoded.vcf.gz" --overwrite
