"""The dispersion diagnostic on constructed cases: a copy, a shrunk copy, a shuffled-genes mosaic."""

import numpy as np

from genomesynth.metrics.dispersion import dispersion


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
