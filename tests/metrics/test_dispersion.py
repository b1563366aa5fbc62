"""The dispersion diagnostic on constructed cases: a copy, a shrunk copy, a shuffled-genes mosaic; its standard errors."""

import numpy as np

from genomesynth.metrics.dispersion import dispersion, principal_axes


def _structured(n=600, genes=40, seed=0):
    """People in two populations whose difference spans every gene, plus per-position noise."""
    rng = np.random.default_rng(seed)
    population = rng.integers(0, 2, n)
    direction = np.random.default_rng(99).normal(size=genes * 8)  # the same populations in every call
    return population[:, None] * 3 * direction / np.linalg.norm(direction) * np.sqrt(genes) \
        + rng.normal(size=(n, genes * 8))


def test_a_copy_reads_one():
    train = _structured()
    d = dispersion(train, train.copy())
    assert abs(d["per_position"] - 1) < 1e-9 and np.allclose(d["pc"], 1)


def test_a_shrunk_copy_reads_the_square_of_the_shrinkage():
    train = _structured()
    centre = train.mean(0)
    d = dispersion(train, centre + 0.5 * (train - centre))
    assert abs(d["per_position"] - 0.25) < 1e-9 and np.allclose(d["pc"], 0.25)


def test_a_shuffled_genes_mosaic_keeps_positions_but_loses_structure():
    """Each gene from a different random person: every position's spread is real, the axis that
    spans genes (the populations) is gone."""
    train, rng = _structured(), np.random.default_rng(1)
    n, genes = len(train), train.shape[1] // 8
    donors = rng.integers(0, n, (n, genes))
    mosaic = train.reshape(n, genes, 8)[donors, np.arange(genes)].reshape(n, -1)
    d = dispersion(train, mosaic)
    assert 0.9 < d["per_position"] < 1.1
    assert d["pc1"] < 0.2  # the population axis carries a few genes' worth, not all of them


def test_new_people_of_the_same_populations_read_near_one():
    d = dispersion(_structured(seed=0), _structured(n=300, seed=2))
    assert 0.9 < d["per_position"] < 1.1 and 0.8 < d["pc1"] < 1.25


def _mixed(share: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """People of two populations, `share` of them in population 1: (latents, labels)."""
    rng = np.random.default_rng(seed)
    population = (rng.random(n) < share).astype(int)
    direction = np.random.default_rng(99).normal(size=320)
    x = population[:, None] * 3 * direction / np.linalg.norm(direction) * np.sqrt(40) + rng.normal(size=(n, 320))
    return x, population


def test_a_label_balanced_set_is_compared_with_the_training_people_at_its_own_mix():
    """Held-out people of the same two populations, balanced 50/50 against a 20/80 training mix: their variance
    along the population axis is the mix's, not a generator's or a new person's (as drawn ≈ 0.25/0.16 = 1.5);
    against the training people weighted to their mix they read 1. A set at the training mix is unchanged."""
    from genomesynth.metrics.dispersion import label_weights

    train, train_labels = _mixed(0.2, 3000, 0)
    balanced, balanced_labels = _mixed(0.5, 1000, 1)
    as_drawn = dispersion(train, balanced)
    matched = dispersion(train, balanced, train_weights=label_weights(train_labels, balanced_labels))
    assert as_drawn["pc1"] > 1.35 and not as_drawn["matched_mix"]
    assert abs(matched["pc1"] - 1) < 0.08 and matched["matched_mix"]
    same_mix = train_labels[np.random.default_rng(2).permutation(3000)]  # the training mix exactly
    weights = label_weights(train_labels, same_mix)
    assert np.allclose(weights, 1 / 3000)
    other = _mixed(0.2, 3000, 3)[0]
    assert np.allclose(dispersion(train, other, train_weights=weights)["pc"], dispersion(train, other)["pc"])
    assert label_weights(train_labels, np.r_[balanced_labels, -1]) is None  # an unlabelled person: no mix
    assert label_weights(train_labels, np.r_[balanced_labels, 2]) is None  # a label training never saw


def test_each_ratio_s_standard_error_is_its_spread_over_new_sets_of_people():
    """The PC ratios of 300 sets of 100 new people (two populations) spread over the sets as their own standard
    errors say, on average within 20 % for PC1, PC3 and PC1–10 (a delta-method error, first order in the
    people); a set four times larger has about half the error."""
    train = _structured(seed=0)
    axes = principal_axes(train)
    runs = [dispersion(train, _structured(n=100, seed=10 + i), axes) for i in range(300)]
    for key in ("pc1", "pc3", "pc_mean"):
        spread = np.std([r[key] for r in runs], ddof=1)
        said = np.mean([r[f"{key}_se"] for r in runs])
        assert abs(said / spread - 1) < 0.2, (key, said, spread)
    assert runs[0]["pc_se"][0] == runs[0]["pc1_se"]
    larger = dispersion(train, _structured(n=400, seed=5), axes)
    assert 0.35 < larger["pc_mean_se"] / np.mean([r["pc_mean_se"] for r in runs]) < 0.65

