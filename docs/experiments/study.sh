#!/usr/bin/env bash
# The study behind docs/RESULTS.md: every backbone and both reference generators on the demo cohort
# and two real 1000 Genomes sets, chained through the CLI as a user would; then the tables.
#
# Usage: bash docs/experiments/study.sh [OUT_DIR]
#   env: STEPS=1000 DEVICE=auto SHARED=../shared/data STUDIES="demo 1kg-haplotypes 1kgp-snp500"
#   (STUDIES picks which cohorts to (re)run; the tables are made from every study found in OUT_DIR)
#   EVAL_ONLY=1 keeps the trained runs and synthetic stores of an earlier run and redoes the reference
#   generators, eval and plots (after a change to the metrics).
# Takes about 40 minutes on a 2-core CPU with the default 1,000 steps per backbone.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
shared="${SHARED:-$repo/../shared/data}"
out="${1:-runs/study}"
steps="${STEPS:-1000}"
device="${DEVICE:-auto}"
studies=" ${STUDIES:-demo 1kg-haplotypes 1kgp-snp500} "
backbones="baseline unet-mlp unet-cnn mlp+cnn transformer"
mkdir -p "$out"

train_count() {  # people in the train split of a real store
    genomesynth info --json "$1" | python -c 'import json,sys; print(json.load(sys.stdin)["split"]["train"])'
}

train_and_sample() {  # train_and_sample DIR COMPRESS-ARGS…
    local d=$1
    shift
    genomesynth compress "$@" -o "$d/real.zarr" --seed 0 --overwrite -q | tee "$d/compress.txt"
    local n
    n=$(train_count "$d/real.zarr")
    for b in $backbones; do
        rm -rf "$d/runs/$b"
        genomesynth train "$d/real.zarr" -o "$d/runs/$b" --backbone "$b" --max-steps "$steps" --epochs 1000000 \
            --val-every 5 --device "$device" --seed 0 -q | tee "$d/train-$b.txt"
        genomesynth sample "$d/runs/$b" -o "$d/synthetic/$b.zarr" -n "$n" --sampler ddim --steps 50 \
            --device "$device" --seed 0 --overwrite -q | tee "$d/sample-$b.txt"
    done
}

study() {  # study NAME COMPRESS-ARGS…
    local name=$1 d="$out/$1"
    shift
    [[ "$studies" == *" $name "* ]] || return 0
    mkdir -p "$d/synthetic"
    [[ -n "${EVAL_ONLY:-}" ]] || train_and_sample "$d" "$@"
    for m in gaussian mosaic; do
        genomesynth baseline "$d/real.zarr" -o "$d/synthetic/baseline-$m.zarr" --method "$m" --seed 0 --overwrite -q
    done
    local stores=() names=()
    for s in $backbones baseline-gaussian baseline-mosaic; do stores+=("$d/synthetic/$s.zarr"); names+=(--name "$s"); done
    genomesynth eval "${stores[@]}" "${names[@]}" --real "$d/real.zarr" --repeats 3 --json "$d/metrics.json" \
        --device "$device" -q > "$d/eval.txt"
    genomesynth plot umap "$d/real.zarr" "${stores[@]}" "${names[@]}" -o "$d/umap.png"
    genomesynth plot curves $(for b in $backbones; do echo "$d/runs/$b"; done) -o "$d/curves.png"
    genomesynth plot metrics "$d/metrics.json" -o "$d/metrics.png"
}

study demo "$repo/data/demo.vcf.gz" --genes "$repo/data/demo_genes.bed" --labels "$repo/data/demo_labels.tsv"
study 1kg-haplotypes "$shared/1kg-805snp/haplotypes.vcf.gz" --labels "$shared/1kg-805snp/haplotype_labels.tsv" \
    --block-size 20
study 1kgp-snp500 "$shared/1kgp-pheno/snp500/cohort.vcf.gz" --labels "$shared/1kgp-pheno/snp500/labels.tsv" \
    --block-size 20
python "$repo/docs/experiments/make_results.py" "$out" --steps "$steps"
