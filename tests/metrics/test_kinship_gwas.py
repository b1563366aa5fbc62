"""Kinship replay, GWAS concordance and copy-sensitive AA on constructed cases whose answer is known."""

from __future__ import annotations

import numpy as np

from genomesynth.metrics.gwas import gwas_concordance, trend_test
from genomesynth.metrics.kinship import king_robust, kinship_replay


def haplotypes(rng: np.random.Generator, n: int, snps: int, freq: np.ndarray) -> np.ndarray:
    return (rng.random((n, snps)) < freq).astype(np.int8)


def test_king_robust_reads_duplicates_parents_and_strangers():
    rng = np.random.default_rng(0)
    freq = rng.uniform(0.1, 0.9, 5000)
    mother, father = haplotypes(rng, 2, 5000, freq), haplotypes(rng, 2, 5000, freq)
    child = mother[0] + father[1]
    parent = mother[0] + mother[1]
    strangers = haplotypes(rng, 20, 5000, freq) + haplotypes(rng, 20, 5000, freq)
    people = np.vstack([parent, parent, child, strangers])
    k = king_robust(people, people)
    assert abs(k[0, 1] - 0.5) < 0.02  # a duplicate
    assert abs(k[0, 2] - 0.25) < 0.04  # parent and child
    off_diagonal = k[3:, 3:][~np.eye(20, dtype=bool)]
    assert np.all(off_diagonal < 0.0884) and abs(off_diagonal.mean()) < 0.02  # unrelated


def test_kinship_replay_flags_copies_and_not_new_people():
    rng = np.random.default_rng(1)
    freq = rng.uniform(0.1, 0.9, 3000)
    draw = lambda n: haplotypes(rng, n, 3000, freq) + haplotypes(rng, n, 3000, freq)  # noqa: E731
    train, test = draw(200), draw(50)
    copies = train[rng.choice(200, 100, replace=False)]
    new = draw(100)
    flagged = kinship_replay(train, test, copies)
    assert flagged["real_test_vs_train"]["first_degree"] == 0.0
    # copies of training people are duplicates of whoever of them is searched (50 of 200 here)
    assert 0.1 < flagged["train"]["duplicate"] and flagged["test"]["duplicate"] == 0.0
    clean = kinship_replay(train, test, new)
    assert clean["train"]["first_degree"] == 0.0 and clean["test"]["first_degree"] == 0.0
    # the membership attack by kinship: a training person with a copy among the synthetic people is told apart
    assert flagged["membership"]["people"] == 50 and flagged["membership"]["auc"] > 0.65
    assert kinship_replay(train, test, train)["membership"]["auc"] > 0.99
    assert abs(clean["membership"]["auc"] - 0.5) < 3 * clean["membership"]["se"]


def test_the_kinship_attack_finds_synthetic_children_of_participants():
    """A generator that passes on one haplotype of a participant (a 'child' of theirs, φ ≈ 0.25 — no copy, no
    duplicate) reveals them: members read a closer synthetic relative than non-members do."""
    rng = np.random.default_rng(3)
    freq = rng.uniform(0.1, 0.9, 3000)
    first, second = haplotypes(rng, 250, 3000, freq), haplotypes(rng, 250, 3000, freq)
    people = first + second
    train, test = people[:200], people[200:]
    children = first[:200] + haplotypes(rng, 200, 3000, freq)  # one haplotype of each member, one new
    result = kinship_replay(train, test, children)
    assert result["train"]["duplicate"] == 0.0 and result["train"]["first_degree"] > 0.15  # parents: 50 of the 200 searched
    assert result["membership"]["auc"] > 0.95


def test_gwas_finds_a_planted_causal_snp_and_copies_agree():
    rng = np.random.default_rng(2)
    calls = (rng.random((600, 400)) < 0.3).astype(np.int8) + (rng.random((600, 400)) < 0.3).astype(np.int8)
    risk = 1 / (1 + np.exp(-(1.5 * calls[:, 7] - 1.0)))
    label = (rng.random(600) < risk).astype(int)
    r, logp = trend_test(calls, label)
    assert int(np.argmax(logp)) == 7 and logp[7] > 10 and r[7] > 0
    same = gwas_concordance(calls[:300], label[:300], calls[:300], label[:300])
    assert same["effect_r"] > 0.999 and same["top_recall"] == 1.0
    shuffled = gwas_concordance(calls[:300], label[:300], calls[300:], rng.permutation(label[300:]))
    assert abs(shuffled["effect_r"]) < 0.3


def test_augmentation_gains_from_new_people_and_not_from_copies_of_the_subset():
    from genomesynth.metrics.runner import FitRunner
    from genomesynth.metrics.utility import ClassifierBudget, augmentation_curve, small_subsets

    rng = np.random.default_rng(3)
    mask = np.zeros((16, 8), bool)
    mask[:, :4] = True

    def people(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 2, n)
        x = rng.normal(size=(n, 16, 8)).astype(np.float32)
        x[:, :, 0] += 0.35 * (2 * y[:, None] - 1)  # a weak signal on every gene: learnable from many people
        return x * mask, y

    x, y = people(400)
    x_test, y_test = people(300)
    subsets = small_subsets(y, (0.03,), repeats=2, seed=0)
    runner = FitRunner(x_test, y_test, mask, 2, ClassifierBudget(epochs=15))
    real = runner.people(x, y)
    alone = augmentation_curve(runner, real, subsets, None, 0)
    first = [[subsets[0][0]]]
    first_alone = augmentation_curve(runner, real, first, None, 0)
    copies = augmentation_curve(runner, real, first, runner.people(x[first[0][0]], y[first[0][0]]), 0)
    new = augmentation_curve(runner, real, subsets, runner.people(*people(400)), 0)
    assert new[0] > alone[0] + 0.1
    assert abs(copies[0] - first_alone[0]) < 0.08


def test_a_label_of_three_classes_is_scanned_class_against_rest():
    from genomesynth.metrics.gwas import scans

    rng = np.random.default_rng(4)
    calls = (rng.random((900, 200)) < 0.4).astype(np.int8) + (rng.random((900, 200)) < 0.4).astype(np.int8)
    label = rng.integers(0, 2, 900)
    label[calls[:, 5] == 2] = 2  # class 2: the carriers of two ALT alleles at SNP 5
    r, logp = scans(calls, label, 3)
    assert r.shape == logp.shape == (3, 200)
    assert np.unravel_index(np.argmax(logp), logp.shape) == (2, 5)
    for c in range(3):  # every class's scan is the correlation of each SNP with that class against the rest
        expected = [np.corrcoef(calls[:, j], label == c)[0, 1] for j in range(200)]
        np.testing.assert_allclose(r[c], expected, rtol=0, atol=1e-12)


def test_trend_test_p_values_stay_finite_for_huge_associations():
    label = np.repeat([0, 1], 1500)
    calls = np.stack([label * 2, (np.arange(3000) % 3)], 1).astype(np.int8)  # SNP 0 is the label itself
    r, logp = trend_test(calls, label)
    assert np.all(np.isfinite(logp)) and logp[0] > 600 and abs(r[0] - 1) < 1e-9
