"""Regenerate the demo cohort in data/ (deterministic for a given seed; needs `pip install msprime`).

    python data/make_demo.py            # writes data/demo.vcf.gz, data/demo_genes.bed, data/demo_labels.tsv
    python data/make_demo.py --people-per-population 600 --out runs/demo1800   # a cohort 3x larger (RESULTS finding 23)

What it simulates (msprime, coalescent with recombination):
- three populations (POP_A, POP_B, POP_C) split from one ancestor 2,000 and 800 generations ago,
  200 diploid people each; 6 contigs of 400 kb; Ne 10,000, μ 1.25e-8, r 1e-8.
- 50 genes per contig (300 in all), 2-12 kb long, placed at random; a few overlap, as real genes do.
- SNPs inside genes (± 2 kb) are kept, plus 3 % of intergenic ones (compress counts and drops those);
  sites with more than one mutation stay multi-allelic (compress skips and counts them); 0.1 % of
  calls are set missing (compress imputes and counts them).
- a polygenic case/control phenotype: 40 causal SNPs in 20 genes, liability = genetic score
  (h² = 0.6) + a population shift + noise; the top 30 % of liabilities are cases (label 1).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

POPULATIONS = ("POP_A", "POP_B", "POP_C")
PEOPLE_PER_POP = 200
CONTIGS = 6
CONTIG_LENGTH = 400_000
GENES_PER_CONTIG = 50
FLANK = 2_000
CASE_RATE = 0.30


def simulate(seed: int, people_per_pop: int = PEOPLE_PER_POP):
    import msprime

    demography = msprime.Demography()
    for name in (*POPULATIONS, "ANC_BC", "ANC"):
        demography.add_population(name=name, initial_size=10_000)
    demography.add_population_split(time=800, derived=["POP_B", "POP_C"], ancestral="ANC_BC")
    demography.add_population_split(time=2_000, derived=["POP_A", "ANC_BC"], ancestral="ANC")
    for contig in range(CONTIGS):
        ts = msprime.sim_ancestry(
            samples={p: people_per_pop for p in POPULATIONS}, demography=demography,
            sequence_length=CONTIG_LENGTH, recombination_rate=1e-8, random_seed=seed + contig,
        )
        yield msprime.sim_mutations(ts, rate=1.25e-8, random_seed=seed + 100 + contig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "genomesynth" / "data")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--people-per-population", type=int, default=PEOPLE_PER_POP)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    n = args.people_per_population * len(POPULATIONS)
    samples = [f"DEMO{i + 1:04d}" for i in range(n)]
    population = np.repeat(POPULATIONS, args.people_per_population)

    genes: list[tuple[str, int, int, str]] = []  # contig, bed start, bed end, name
    records: list[tuple[str, int, list[str], np.ndarray]] = []  # contig, pos, alleles, (n, 2) genotypes
    for contig, ts in enumerate(simulate(args.seed, args.people_per_population), start=1):
        name = f"chr{contig}"
        starts = np.sort(rng.integers(1_000, CONTIG_LENGTH - 15_000, GENES_PER_CONTIG))
        lengths = rng.integers(2_000, 12_000, GENES_PER_CONTIG)
        intervals = [(int(s), int(s + l)) for s, l in zip(starts, lengths)]
        for g, (s, e) in enumerate(intervals):
            genes.append((name, s, e, f"G{contig}_{g + 1:03d}"))
        for variant in ts.variants():
            pos = int(variant.site.position) + 1
            in_gene = any(s - FLANK < pos <= e + FLANK for s, e in intervals)
            if not in_gene and rng.random() > 0.03:
                continue
            haplotypes = variant.genotypes.reshape(n, 2)
            records.append((name, pos, list(variant.alleles), haplotypes.copy()))

    # phenotype from biallelic SNPs inside genes
    biallelic = [i for i, r in enumerate(records) if len(r[2]) == 2 and 0.05 < r[3].mean() < 0.95]
    causal_genes = rng.choice(len(genes), 20, replace=False)
    causal = []
    for g in causal_genes:
        contig, s, e, _ = genes[g]
        inside = [i for i in biallelic if records[i][0] == contig and s < records[i][1] <= e]
        causal += list(rng.choice(inside, min(2, len(inside)), replace=False)) if inside else []
    dosage = np.stack([records[i][3].sum(1) for i in causal], axis=1).astype(float)
    dosage = (dosage - dosage.mean(0)) / dosage.std(0)
    score = dosage @ rng.normal(0, 1, len(causal))
    score = (score - score.mean()) / score.std()
    shift = {"POP_A": 0.3, "POP_B": 0.0, "POP_C": -0.3}
    liability = np.sqrt(0.6) * score + np.array([shift[p] for p in population]) + np.sqrt(0.4) * rng.normal(size=n)
    case = (liability >= np.quantile(liability, 1 - CASE_RATE)).astype(int)

    missing = rng.random((len(records), n)) < 0.001
    write(args.out, samples, population, case, genes, records, missing)


def write(out: Path, samples, population, case, genes, records, missing) -> None:
    import cyvcf2

    out.mkdir(parents=True, exist_ok=True)
    with open(out / "demo_genes.bed", "w") as handle:
        for contig, s, e, name in sorted(genes, key=lambda g: (int(g[0][3:]), g[1])):
            handle.write(f"{contig}\t{s}\t{e}\t{name}\n")
    with open(out / "demo_labels.tsv", "w") as handle:
        handle.write("sample_id\tlabel\tpopulation\n")
        for sample, label, pop in zip(samples, case, population):
            handle.write(f"{sample}\t{label}\t{pop}\n")
    header = [
        "##fileformat=VCFv4.2",
        "##source=genomesynth data/make_demo.py (msprime coalescent simulation)",
        *(f"##contig=<ID=chr{c},length={CONTIG_LENGTH}>" for c in range(1, CONTIGS + 1)),
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *samples]),
    ]
    writer = cyvcf2.Writer.from_string(str(out / "demo.vcf.gz"), "\n".join(header) + "\n", mode="wz")
    for r, (contig, pos, alleles, haplotypes) in enumerate(records):
        calls = [f"{a}|{b}" for a, b in haplotypes]
        for i in np.flatnonzero(missing[r]):
            calls[i] = "./."
        line = "\t".join([contig, str(pos), f"{contig}_{pos}", alleles[0], ",".join(alleles[1:]),
                          ".", "PASS", ".", "GT", *calls])
        writer.write_record(writer.variant_from_string(line))
    writer.close()


if __name__ == "__main__":
    main()
