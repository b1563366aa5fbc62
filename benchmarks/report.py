"""Render benchmarks/results/*.json as the tables of docs/PERFORMANCE.md (between GENERATED markers).

    python benchmarks/report.py
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent
DOC = HERE.parent / "docs" / "PERFORMANCE.md"
BEGIN, END = "<!-- GENERATED: begin -->", "<!-- GENERATED: end -->"


def table(rows: list[dict], columns: list[tuple[str, str]]) -> list[str]:
    out = ["| " + " | ".join(h for _, h in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = []
        for key, _ in columns:
            v = row.get(key, "–")
            if isinstance(v, int):
                cells.append(f"{v:,}")
            elif isinstance(v, float):
                cells.append(f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}")
            else:
                cells.append(str(v))
        out.append("| " + " | ".join(cells) + " |")
    return out


def machine(m: dict) -> str:
    gpu = f", GPU {m['gpu']}" if "gpu" in m else ", no GPU"
    return f"{m['cpu_cores']} CPU cores ({m['processor']}), torch {m['torch']} ({m['torch_threads']} threads){gpu}"


def main() -> None:
    parts = [BEGIN, ""]
    sections = [
        ("compress", "compress vs the raw single-threaded cyvcf2 read of the same file: one core, every core, "
         "every core with a tabix index", [
            ("cohort", "cohort"), ("genes", "genes"), ("raw_read_s", "raw read (s)"), ("cores", "cores"),
            ("compress_1core_s", "compress, 1 core (s)"), ("ratio_1core", "1 core / raw"),
            ("compress_s", "compress (s)"), ("ratio", "compress / raw"),
            ("compress_indexed_s", "indexed (s)"), ("ratio_indexed", "indexed / raw"),
            ("compress_genotypes_per_s", "compress genotypes/s")]),
        ("compress-cores", "compress as the cores grow (`bench_compress.py --cores 1,2,4,8,16 --people 4000 "
         "--variants 40000`): plain file (one reader process) and tabix-indexed (one reader per core)", [
            ("run", "run"), ("cohort", "cohort"), ("cores", "cores (--threads)"), ("raw_read_s", "raw read, 1 core (s)"),
            ("compress_s", "plain (s)"), ("ratio", "plain / raw"), ("compress_indexed_s", "indexed (s)"),
            ("ratio_indexed", "indexed / raw"), ("indexed_speedup", "indexed speed-up vs 1 core"),
            ("indexed_genotypes_per_s", "indexed genotypes/s")]),
        ("decode", "`decode` of a drawn store (Gaussian reference on 1000 Genomes chr15) to a bgzipped VCF: the codec's "
         "thresholds vs calls fitted on the drawn people's own dosages (`bench_decode.py`)", [
            ("people", "people"), ("snps", "SNPs"), ("fixed_s", "--calls fixed (s)"), ("auto_s", "--calls auto (s)"),
            ("auto_calls", "auto decoded as"), ("ratio", "auto / fixed")]),
        ("model-tiny-cpu", "train and sample, tiny presets", [
            ("backbone", "backbone"), ("genes", "genes"), ("parameters", "parameters"),
            ("train_samples_per_s", "train samples/s"), ("sample_ddim50_genomes_per_s", "DDIM-50 genomes/s"),
            ("sample_ddpm1000_genomes_per_s", "DDPM-1000 genomes/s"), ("peak_memory_mb", "peak MB")]),
        ("model-paper-cuda", "train and sample, paper presets at the paper shape (18,432 × 8)", [
            ("backbone", "backbone"), ("genes", "genes"), ("parameters", "parameters"),
            ("train_samples_per_s", "train samples/s"), ("sample_ddim50_genomes_per_s", "DDIM-50 genomes/s"),
            ("sample_ddpm1000_genomes_per_s", "DDPM-1000 genomes/s"), ("peak_memory_mb", "peak MB")]),
        ("paper-shape-gpu", "every backbone at the paper shape (18,279 genes → 18,432 × 8, paper presets, "
         "2,000 people, batch 64; `bench_paper_shape.py`)", [
            ("backbone", "backbone"), ("step", "step"), ("parameters", "parameters"), ("s_per_step", "s/step"),
            ("peak_memory_mb", "peak GPU MB"), ("sample_64_ddim50_seconds", "sample 64, DDIM-50 (s)"),
            ("seconds", "seconds")]),
        ("paper-shape-cpu", "every backbone at the paper shape on the CPU (paper presets, batch 64; "
         "`bench_paper_shape.py --people 256 --steps 4 --device cpu --no-eval`)", [
            ("backbone", "backbone"), ("step", "step"), ("parameters", "parameters"), ("s_per_step", "s/step"),
            ("peak_memory_mb", "peak MB"), ("sample_64_ddim50_seconds", "sample 64, DDIM-50 (s)"),
            ("seconds", "seconds"), ("error", "error")]),
        ("knn-cpu", "exact k-NN (k = 10, angular) vs scikit-learn brute-force cosine", [
            ("n", "people per set"), ("dim", "dimensions"), ("genomesynth_s", "genomesynth (s)"),
            ("sklearn_s", "scikit-learn (s)"), ("speedup", "speed-up"), ("same_neighbours", "same neighbours"),
            ("peak_rss_mb", "peak RSS MB"), ("umap_n", "UMAP people"), ("umap_s", "UMAP (s)")]),
        ("judge", "judging any generator: `encode` and the metrics of issue 11 (`bench_judge.py`; one "
         "synthetic store, eval restricted to one metric at a time, its fixed cost included)", [
            ("people", "people"), ("snps", "SNPs"), ("encode_s", "encode (s)"), ("aa_s", "AA, both kinds (s)"),
            ("kinship_s", "kinship (s)"), ("gwas_s", "GWAS (s)"), ("augment_s", "augmentation (s)")]),
        ("shard", "sharded vs unsharded sampling (`bench_shard.py`: `baseline` on the demo cohort, DDIM-50, the "
         "parts drawn one after another, then merged)", [
            ("people", "people"), ("shards", "shards"), ("unsharded_s", "unsharded (s)"),
            ("slowest_shard_s", "slowest shard (s)"), ("shards_total_s", "all shards (s)"), ("merge_s", "merge (s)"),
            ("identical", "merged = unsharded")]),
        ("threads", "jobs side by side: wall time per job, 1, 2 or 4 started at once, per thread policy "
         "(`bench_threads.py`; train = unet-mlp 300 steps on the demo cohort, eval = one store, AA/NN/TSTR-MLP/privacy)", [
            ("workload", "workload"), ("policy", "policy"), ("jobs", "jobs at once"),
            ("seconds_per_job", "s per job"), ("slowest_s", "slowest (s)"), ("vs_solo", "× solo (auto)")]),
        ("eval-cpu", "`eval` per store on 1000 Genomes chr15 (2,254 training people, 200 genes; every metric, "
         "3 classifiers × 3 repeats; `bench_eval.py`)", [
            ("early_stopping", "classifier early stopping"), ("cores", "cores"), ("set", "column"), ("seconds", "seconds"),
            ("mlp_balanced_accuracy", "MLP bal. acc."), ("mlp_epochs", "MLP epoch kept"),
            ("transformer_balanced_accuracy", "transformer bal. acc."), ("transformer_epochs", "transformer epoch kept"),
            ("cnn_balanced_accuracy", "CNN bal. acc."), ("cnn_epochs", "CNN epoch kept")]),
        ("eval-cores", "`eval` per store on 1000 Genomes chr15 as the cores grow (`bench_eval.py --stores 1 "
         "--cores 16,4,2`; the default eval under `--threads N`)", [
            ("cores", "cores"), ("set", "column"), ("seconds", "seconds"),
            ("mlp_balanced_accuracy", "MLP bal. acc."), ("transformer_balanced_accuracy", "transformer bal. acc."),
            ("cnn_balanced_accuracy", "CNN bal. acc."), ("cnn_epochs", "CNN epoch kept")]),
        ("knn-cuda", "exact k-NN on the GPU", [
            ("n", "people per set"), ("dim", "dimensions"), ("genomesynth_s", "genomesynth (s)")]),
    ]
    for name, title, columns in sections:
        path = HERE / "results" / f"{name}.json"
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        parts += [f"### {title}", "", f"Machine: {machine(data['machine'])}.", "",
                  *table(data["rows"], columns), ""]
    parts.append(END)
    text = DOC.read_text() if DOC.exists() else f"# Performance\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    DOC.write_text(head + "\n".join(parts) + rest.split(END, 1)[1])
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
