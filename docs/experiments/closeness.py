"""What makes two real people nearest neighbours, and whether synthetic people can be (docs/RESULTS.md, finding 11).

    python docs/experiments/closeness.py REAL.zarr [SYNTHETIC.zarr …] [--segments OUT [--draws 4]] [--seed 0]

Prints, in the standardised latents of a real store (rows: people, columns: real positions):

1. *Anatomy of a nearest neighbour*: the squared distance from each held-out person to the nearest
   training person, and to a random one, split into its parts along the training people's first 8
   principal axes (populations), along axes 9–128 (what the population prior can keep) and the rest;
   the same from the held-out people to each synthetic store, and within each store.
2. *Shared blocks*: the share of genes whose latent is identical (the same genotypes, up to the
   codec) between a held-out person and the nearest training person, against a random one; the
   longest run of adjacent identical genes; how many training people carry that same run.
3. With `--segments OUT` and a synthetic store: that store with each gene replaced by a genotype
   pattern carried by ≥ 5 training people, drawn from a posterior per person (`segment_posterior`), and
   `genomesynth eval`'s dispersion, AA, privacy and genotype metrics of every variant; then one variant
   drawn `--draws` times with other random streams (AA over 10 subsamples), beside the store itself.
4. With `--copying OUT` and a synthetic store: haplotype copying in the manner of Li and Stephens
   (2003) over k-anonymous segments (`copying`): each synthetic person copies runs of adjacent genes
   from donors among the training people nearest it along the population axes, a run ending where
   fewer than k training people carry it; the same metrics for a few settings, then one setting
   drawn `--draws` times.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from sklearn.mixture import GaussianMixture

sys.path.insert(0, str(Path(__file__).parent))
from frontier import write  # noqa: E402

from genomesynth.evaluate import EvalConfig, evaluate  # noqa: E402
from genomesynth.store import open_store  # noqa: E402

POPULATION_AXES, PRIOR_AXES = 8, 128


def squared(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a**2).sum(1)[:, None] + (b**2).sum(1)[None] - 2 * a @ b.T


def anatomy(axes: np.ndarray, a: np.ndarray, b: np.ndarray, same: bool, rng: np.random.Generator) -> str:
    """Mean squared distance of each row of a to its nearest row of b (and to a random one), in three parts."""
    d = squared(a, b)
    if same:
        np.fill_diagonal(d, np.inf)
    parts = []
    for partner in (d.argmin(1), rng.integers(0, len(b), len(a))):
        diff = a - b[partner]
        scores = diff @ axes.T
        pop, prior = (scores[:, :POPULATION_AXES] ** 2).sum(1), (scores[:, POPULATION_AXES:] ** 2).sum(1)
        parts.append((pop.mean(), prior.mean(), ((diff**2).sum(1) - pop - prior).mean()))
    (p, q, r), (rp, rq, rr) = parts
    return f"{p:.0f} / {q:.0f} / {r:.0f} = {p + q + r:.0f} | {rp:.0f} / {rq:.0f} / {rr:.0f} = {rp + rq + rr:.0f} |"


def identical(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(people, genes): gene latents equal between rows of a and b (raw latents, genes × 8)."""
    return np.all(np.abs(a - b) < 1e-3, axis=2)


def longest_run(row: np.ndarray) -> tuple[int, int]:
    """(length, last index) of the longest run of True."""
    best, run = (0, -1), 0
    for i, value in enumerate(row):
        run = run + 1 if value else 0
        if run > best[0]:
            best = (run, i)
    return best


def patterns(x: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A gene's distinct latents carried by ≥ m people, their counts, and each person's pattern (−1: rarer)."""
    unique, inverse, counts = np.unique(np.round(x, 4), axis=0, return_inverse=True, return_counts=True)
    keep = counts >= m
    index = np.full(len(unique), -1)
    index[keep] = np.arange(keep.sum())
    return unique[keep], counts[keep], index[inverse.ravel()]


def population_coordinates(train: np.ndarray, synthetic: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The genes present, and both sets' coordinates along the training people's first 8 principal axes."""
    genes = np.flatnonzero(np.abs(train).sum((0, 2)) > 0)
    flat_train, flat_syn = train[:, genes].reshape(len(train), -1), synthetic[:, genes].reshape(len(synthetic), -1)
    centre = flat_train.mean(0)
    axes = np.linalg.svd(flat_train - centre, full_matrices=False)[2][:POPULATION_AXES].T
    return genes, (flat_train - centre) @ axes, (flat_syn - centre) @ axes


def segment_posterior(train: np.ndarray, synthetic: np.ndarray, m: int, noise: float, chain: bool,
                      clusters: int, keep_rare: bool, rng: np.random.Generator) -> np.ndarray:
    """Each synthetic person's genes replaced by k-anonymous training patterns (genes × 8 standardised latents).

    The synthetic latent y of a gene is read as √(1 − noise)·pattern + √noise·ε and a pattern drawn from its
    posterior, with the pattern's training count as prior. `chain`: adjacent genes' patterns follow a Markov
    chain whose transitions are the pairs seen in ≥ m training people (plus one pseudo-transition to the
    pattern frequencies), drawn by forward filtering, backward sampling. `clusters` > 1: counts and transitions per population cluster
    (a Gaussian mixture on the first 8 principal axes), the synthetic person's cluster read from its own axes.
    `keep_rare`: one more state per gene, "a pattern carried by fewer than m people", whose likelihood is a
    Gaussian with those people's mean and variance per position (noised as the patterns are); a person drawn
    into it keeps the generator's own latent for that gene.
    """
    genes, train_z, syn_z = population_coordinates(train, synthetic)
    mixture = GaussianMixture(clusters, covariance_type="full", n_init=2, random_state=0).fit(train_z)
    train_cluster, syn_cluster = mixture.predict(train_z), mixture.predict(syn_z)
    scale = math.sqrt(1 - noise)
    tables, likelihood = [], []
    width = train.shape[2]
    for g in genes:
        unique, counts, index = patterns(train[:, g], m)
        log = -squared(synthetic[:, g], scale * unique) / (2 * noise) - width / 2 * np.log(2 * np.pi * noise)
        rare = index < 0
        if keep_rare and rare.sum() >= m:
            spread = scale**2 * (train[rare, g].var(0) + 1e-6) + noise
            log_rare = -((synthetic[:, g] - scale * train[rare, g].mean(0)) ** 2 / (2 * spread)).sum(1) \
                - 0.5 * np.log(2 * np.pi * spread).sum()
            log = np.concatenate([log, log_rare[:, None]], 1)
            index = np.where(rare, len(unique), index)
            counts = np.append(counts, rare.sum())
            unique = np.concatenate([unique, np.full((1, width), np.nan)])  # NaN: keep the generator's latent
        per_cluster = np.zeros((clusters, len(unique)))
        np.add.at(per_cluster, (train_cluster[index >= 0], index[index >= 0]), 1)
        tables.append((unique, counts, index, per_cluster))
        likelihood.append(np.exp(log - log.max(1, keepdims=True)))
    transitions = []
    forward = []
    for i, (unique, counts, index, per_cluster) in enumerate(tables):
        # each cluster's pattern frequencies, with one pseudo-person of the whole cohort's
        marginal = (per_cluster + counts[None] / counts.sum()) / (per_cluster.sum(1, keepdims=True) + 1)
        if i == 0 or not chain:
            prior = marginal[syn_cluster]
        else:
            before = tables[i - 1]
            both = (before[2] >= 0) & (index >= 0)
            pairs = np.zeros((clusters, len(before[0]), len(unique)))
            np.add.at(pairs, (train_cluster[both], before[2][both], index[both]), 1)
            pairs[pairs < m] = 0
            pairs += marginal[:, None, :]  # one pseudo-transition per pattern, to the cluster's frequencies
            pairs /= pairs.sum(2, keepdims=True)
            transitions.append(pairs)
            prior = np.empty((len(synthetic), len(unique)))
            for c in range(clusters):
                prior[syn_cluster == c] = forward[-1][syn_cluster == c] @ pairs[c]
        post = prior * likelihood[i]
        forward.append(post / post.sum(1, keepdims=True))

    def draw(p: np.ndarray) -> np.ndarray:
        cumulative = p.cumsum(1)
        return (cumulative < rng.random((len(p), 1)) * cumulative[:, -1:]).sum(1)

    out = synthetic.copy()
    state = draw(forward[-1])
    for i in range(len(genes) - 1, -1, -1):
        chosen = tables[i][0][state]
        kept = np.isnan(chosen[:, 0])
        chosen[kept] = synthetic[kept, genes[i]]
        out[:, genes[i]] = chosen
        if i:
            state = draw(forward[i - 1] * transitions[i - 1][syn_cluster, :, state] if chain else forward[i - 1])
    return out


def copying(train: np.ndarray, synthetic: np.ndarray, k: int, neighbours: int, switch: float, follow_donor: bool,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each synthetic person's genes copied, run by run, from training people (genes × 8 standardised latents),
    and the lengths of the runs copied.

    A run starts at a donor drawn from the `neighbours` training people nearest the synthetic person along the
    first 8 principal axes (the donors follow the generator's population latent); if fewer than k training
    people carry the donor's pattern of that gene, the person keeps the generator's own latent there and the
    next gene starts a new run. Otherwise the run goes on, gene by gene, with probability 1 − `switch`: with
    `follow_donor` it copies the donor's next pattern, else a pattern drawn from those of the people who
    carry the run so far (as often as they carry it); either way only while ≥ k training people carry the
    whole run, so every copied segment is one that at least k training people share.
    """
    genes, train_z, syn_z = population_coordinates(train, synthetic)
    near = np.argsort(squared(syn_z, train_z), 1)[:, :neighbours]
    ids = np.stack([patterns(train[:, g], 1)[2] for g in genes])  # each person's pattern of each gene
    counts = [np.bincount(row) for row in ids]
    out, lengths = synthetic.copy(), []
    for s in range(len(synthetic)):
        carriers: np.ndarray | None = None
        donor, run = -1, 0
        for j, g in enumerate(genes):
            if carriers is not None and rng.random() >= switch:
                values, carried = np.unique(ids[j, carriers], return_counts=True)
                allowed = (carried >= k) & ((values == ids[j, donor]) if follow_donor else True)
                if allowed.any():
                    pattern = rng.choice(values[allowed], p=carried[allowed] / carried[allowed].sum())
                    carriers = carriers[ids[j, carriers] == pattern]
                    out[s, g] = train[carriers[0], g]
                    run += 1
                    continue
            if run:
                lengths.append(run)
            donor, run, carriers = near[s, rng.integers(neighbours)], 0, None
            if counts[j][ids[j, donor]] >= k:
                carriers = np.flatnonzero(ids[j] == ids[j, donor])
                out[s, g] = train[donor, g]
                run = 1
        if run:
            lengths.append(run)
    return out, np.array(lengths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("real", type=Path)
    parser.add_argument("synthetic", type=Path, nargs="*")
    parser.add_argument("--segments", type=Path, help="folder for the segment-posterior variants of the first store")
    parser.add_argument("--copying", type=Path, help="folder for the haplotype-copying variants of the first store")
    parser.add_argument("--draws", type=int, default=4, help="with --segments or --copying: draws of one variant")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    with open_store(args.real) as store:
        mask, mean, std = store.mask(), store.read("stats/mean"), store.read("stats/std")
        split = store.split()
        raw_train, raw_test = store.read_people(np.flatnonzero(split == "train")), store.read_people(np.flatnonzero(split == "test"))
    train, test = ((raw_train - mean) / std) * mask, ((raw_test - mean) / std) * mask
    flat = train[:, mask]
    axes = np.linalg.svd(flat - flat.mean(0), full_matrices=False)[2][:PRIOR_AXES]
    stores = {}
    for path in args.synthetic:
        with open_store(path) as store:
            stores[path.stem] = ((store.read_people(np.arange(store.n_people)) - mean) / std) * mask

    print(f"Squared distance (standardised latents, {mask.sum()} positions) as axes 1–{POPULATION_AXES} / "
          f"{POPULATION_AXES + 1}–{PRIOR_AXES} / rest = total")
    print("\n| from → to | nearest | random |\n|---|---|---|")
    print(f"| held-out → training | {anatomy(axes, test[:, mask], flat, False, rng)}")
    print(f"| training → training | {anatomy(axes, flat, flat, True, rng)}")
    for name, syn in stores.items():
        print(f"| held-out → {name} | {anatomy(axes, test[:, mask], syn[:, mask], False, rng)}")
        print(f"| {name} → {name} | {anatomy(axes, syn[:, mask], syn[:, mask], True, rng)}")

    genes = np.flatnonzero(mask.any(1))
    nearest = squared(test[:, genes].reshape(len(test), -1), train[:, genes].reshape(len(train), -1)).argmin(1)
    shared = identical(raw_test[:, genes], raw_train[nearest][:, genes])
    random_shared = identical(raw_test[:, genes], raw_train[rng.integers(0, len(train), len(test))][:, genes])
    runs = [longest_run(row) for row in shared]
    carriers = np.array([identical(raw_train[:, genes[end - n + 1:end + 1]], raw_test[i, genes[end - n + 1:end + 1]][None]).all(1).sum()
                         for i, (n, end) in enumerate(runs) if n])
    print(f"\nIdentical genes, held-out person and nearest training person: {shared.mean():.3f} (random pair "
          f"{random_shared.mean():.3f}); longest run of adjacent identical genes, median {np.median([n for n, _ in runs]):.0f} "
          f"(random pair {np.median([longest_run(r)[0] for r in random_shared]):.0f}); training people carrying that run: "
          f"median {np.median(carriers):.0f}, fewer than 5 for {np.mean(carriers < 5):.2f}, only the neighbour for "
          f"{np.mean(carriers == 1):.2f}")

    if args.segments and stores:
        name, syn = next(iter(stores.items()))
        variants = {name: syn}
        for label, chain, clusters, keep_rare in [("per gene", False, 1, False), ("per gene per cluster", False, 7, False),
                                                  ("chain per cluster", True, 7, False),
                                                  ("per gene per cluster, rare kept", False, 7, True),
                                                  ("chain per cluster, rare kept", True, 7, True)]:
            variants[label] = segment_posterior(train, syn, 5, 0.3, chain, clusters, keep_rare, rng)
        print(table(args.real, mask, variants, args.segments / "variants", EvalConfig(metrics=METRICS, seed=args.seed)))
        # one variant drawn again with other random streams, AA averaged over 10 subsamples instead of 3
        draws = {name: syn} | {f"per gene per cluster, rare kept, draw {i + 1}": segment_posterior(
            train, syn, 5, 0.3, False, 7, True, np.random.default_rng(args.seed + 100 + i)) for i in range(args.draws)}
        print(table(args.real, mask, draws, args.segments / "draws", EvalConfig(metrics=METRICS, seed=args.seed, repeats=10)))

    if args.copying and stores:
        name, syn = next(iter(stores.items()))
        variants, runs = {name: syn}, {}
        for k, neighbours, switch, follow in [(5, 20, 0.1, False), (5, 20, 0.1, True), (5, 20, 0.02, True),
                                              (5, 5, 0.1, True), (10, 20, 0.1, False)]:
            label = f"copy k={k}, {neighbours} donors, switch {switch}{', follow the donor' if follow else ''}"
            variants[label], runs[label] = copying(train, syn, k, neighbours, switch, follow, rng)
        for label, lengths in runs.items():
            print(f"{label}: runs of a median {np.median(lengths):.0f} genes (mean {lengths.mean():.1f}), "
                  f"{lengths.sum() / (len(syn) * len(genes)):.2f} of the genes copied")
        print(table(args.real, mask, variants, args.copying / "variants", EvalConfig(metrics=METRICS, seed=args.seed)))
        draws = {name: syn} | {f"copy k=5, 20 donors, switch 0.02, follow the donor, draw {i + 1}": copying(
            train, syn, 5, 20, 0.02, True, np.random.default_rng(args.seed + 200 + i))[0] for i in range(args.draws)}
        print(table(args.real, mask, draws, args.copying / "draws", EvalConfig(metrics=METRICS, seed=args.seed, repeats=10)))


METRICS = ("dispersion", "aa", "privacy", "genotype")


def table(real_path: Path, mask: np.ndarray, stores: dict[str, np.ndarray], folder: Path, config: EvalConfig) -> str:
    """The stores (standardised latents) written under `folder`, evaluated together, as a markdown table."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, values in enumerate(stores.values()):
        paths.append(folder / f"{i:02d}.zarr")
        write(real_path, paths[-1], values[:, mask].astype(np.float32))
    result = evaluate(paths, real_path, config, names=list(stores))
    real = result["real"]
    rows = ["", "| store | PC1 / PC1–10 | per position | PCA overlap | AA train (truth/syn) | AA held-out | MIA AUC | "
            "closer than p5 | privacy loss | heterozygosity | LD r² r |", "|---|---|---|---|---|---|---|---|---|---|---|",
            f"| real held-out | {real['dispersion']['pc1']:.2f} / {real['dispersion']['pc_mean']:.2f} | "
            f"{real['dispersion']['per_position']:.2f} | {real['genotype']['pca_overlap']:.2f} | {real['aa']['aa']:.3f} "
            f"({real['aa']['truth']:.2f}/{real['aa']['syn']:.2f}) | {real['aa']['aa']:.3f} | – | – | – | "
            f"{real['genotype']['heterozygosity_real']:.3f} | {real['genotype']['ld_r2_r']:.3f} |"]
    for label, s in result["synthetic"].items():
        aa, d = s["aa"], s["dispersion"]
        rows.append(f"| {label} | {d['pc1']:.2f} / {d['pc_mean']:.2f} | {d['per_position']:.2f} | {s['genotype']['pca_overlap']:.2f} | "
                    f"{aa['train']['aa']:.3f} ({aa['train']['truth']:.2f}/{aa['train']['syn']:.2f}) | {aa['test']['aa']:.3f} | "
                    f"{s['mia_auc']:.3f} | {s['dcr']['share_closer_than_p5']:.3f} | {s['privacy_loss']:.3f} | "
                    f"{s['genotype']['heterozygosity_synthetic']:.3f} | {s['genotype']['ld_r2_r']:.3f} |")
    return "\n".join(rows)

if __name__ == "__main__":
    main()
