#!/usr/bin/env bash
# The study behind docs/RESULTS.md: every backbone and both reference generators on the demo cohort
# and two real 1000 Genomes sets, chained through the CLI as a user would; then the tables.
#
# Usage: bash docs/experiments/study.sh [OUT_DIR]
#   env: STEPS=1000 DEVICE=auto SHARED=../shared/data STUDIES="demo chr15 chr15-labelled 1kg-haplotypes"
#   JOBS=2 trains and samples that many backbones side by side (each with one thread)
#   (STUDIES picks which cohorts to (re)run; the tables are made from every study found in OUT_DIR)
#   EVAL_ONLY=1 keeps the trained runs and synthetic stores of an earlier run and redoes the reference
#   generators, eval and plots (after a change to the metrics).
# Takes 35–50 minutes on a 2-core CPU with JOBS=2 and the default 1,000 steps per backbone.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
shared="${SHARED:-$repo/../shared/data}"
out="${1:-runs/study}"
steps="${STEPS:-1000}"
device="${DEVICE:-auto}"
studies=" ${STUDIES:-demo chr15 chr15-labelled 1kg-haplotypes} "
jobs="${JOBS:-1}"
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
    one() {  # one BACKBONE: train it and draw as many people as the training split
        local b=$1
        rm -rf "$d/runs/$b"
        genomesynth train "$d/real.zarr" -o "$d/runs/$b" --backbone "$b" --max-steps "$steps" --epochs 1000000 \
            --val-every 5 --device "$device" --seed 0 -q > "$d/train-$b.txt"
        genomesynth sample "$d/runs/$b" -o "$d/synthetic/$b.zarr" -n "$n" --sampler ddim --steps 50 \
            --device "$device" --seed 0 --overwrite -q > "$d/sample-$b.txt"
    }
    if [[ "$jobs" -gt 1 ]]; then  # side by side, one thread each (README: threads)
        for b in $backbones; do
            (export OMP_NUM_THREADS=1; one "$b") &
            while [[ $(jobs -rp | wc -l) -ge "$jobs" ]]; do wait -n; done
        done
        wait
    else
        for b in $backbones; do one "$b"; done
    fi
    cat "$d"/train-*.txt "$d"/sample-*.txt
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
    genomesynth eval "${stores[@]}" "${names[@]}" --real "$d/real.zarr" --repeats 3 --json "$d/metrics.json" --overwrite \
        --classifiers "${CLASSIFIERS:-mlp,transformer,cnn}" \
        --device "$device" -q > "$d/eval.txt"
    genomesynth plot umap "$d/real.zarr" "${stores[@]}" "${names[@]}" -o "$d/umap.png" --overwrite
    genomesynth plot curves $(for b in $backbones; do echo "$d/runs/$b"; done) -o "$d/curves.png" --overwrite
    genomesynth plot metrics "$d/metrics.json" -o "$d/metrics.png" --overwrite
}

study demo "$repo/data/demo.vcf.gz" --genes "$repo/data/demo_genes.bed" --labels "$repo/data/demo_labels.tsv"
study chr15 "$shared/1kg-chr15-10k/genotypes.vcf.gz" --block-size 50
study chr15-labelled "$shared/1kg-chr15-10k/genotypes.vcf.gz" --block-size 50 \
    --labels "$shared/1kg-chr15-10k/labels.tsv" --label-column super_population
study 1kg-haplotypes "$shared/1kg-805snp/haplotypes.vcf.gz" --labels "$shared/1kg-805snp/haplotype_labels.tsv" \
    --block-size 20
study 1kgp-snp500 "$shared/1kgp-pheno/snp500/cohort.vcf.gz" --labels "$shared/1kgp-pheno/snp500/labels.tsv" \
    --block-size 20
python "$repo/docs/experiments/make_results.py" "$out" --steps "$steps" --classifiers "${CLASSIFIERS:-mlp,transformer,cnn}"
