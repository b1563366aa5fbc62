"""Metrics on constructed cases whose answers are known."""

import numpy as np
import pytest

from genomesynth.metrics.adversarial import adversarial_accuracy, nn_test
from genomesynth.metrics.neighbours import knn
from genomesynth.metrics.privacy import chance_se, label_membership, membership_audit, privacy
from genomesynth.metrics.runner import FitRunner
from genomesynth.metrics.utility import ClassifierBudget, tstr


def _cloud(n, d=40, seed=0, shift=0.0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) + shift


def test_knn_matches_scikit_learn_brute_force_cosine():
    from sklearn.neighbors import NearestNeighbors

    q, r = _cloud(300, seed=1), _cloud(257, seed=2)
    dist, idx = knn(q, r, 7, block=64)
    ref = NearestNeighbors(n_neighbors=7, metric="cosine", algorithm="brute").fit(r)
    ref_dist, ref_idx = ref.kneighbors(q)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(dist, np.arccos(1 - ref_dist) / np.pi, atol=1e-5)
    assert np.all(np.diff(dist, axis=1) >= 0)


def test_knn_excludes_self_across_blocks():
    x = _cloud(130, seed=3)
    _, idx = knn(x, x, 3, exclude_self=True, block=32)
    assert not np.any(idx == np.arange(130)[:, None])


def test_copies_of_the_training_set():
    train, test = _cloud(200, seed=4), _cloud(200, seed=5)
    copies = train + 1e-9
    aa = adversarial_accuracy(train, copies)
    assert aa["truth"] == 0 and aa["syn"] == 0  # every point's nearest neighbour is its copy
    assert nn_test(copies, train, k=1) == 0  # each copy's nearest neighbour is its real twin
    # beyond the twin, neighbours come in (real, copy) pairs: 4.5 of the other 9 are copies
    assert nn_test(copies, train, k=10) == pytest.approx(0.45, abs=0.02)
    p = privacy(copies, train, test)
    assert p["dcr"]["train_median"] < 1e-4 and p["dcr"]["exact_copies"] == 200
    assert p["dcr"]["share_closer_than_p5"] == 1.0
    assert p["mia_auc"] > 0.95
    assert any("exact copies" in f for f in p["flags"]) and any("membership" in f for f in p["flags"])


def test_an_independent_draw_from_the_same_distribution():
    train, test, syn = _cloud(400, seed=6), _cloud(400, seed=7), _cloud(400, seed=8)
    aa = adversarial_accuracy(train, syn)
    assert abs(aa["aa"] - 0.5) < 0.06, aa
    assert abs(nn_test(syn, train, k=10) - 0.5) < 0.06
    p = privacy(syn, train, test)
    assert p["mia_people"] == 400 and p["mia_se"] == pytest.approx(chance_se(400))  # ≈ 0.0144
    assert abs(p["mia_auc"] - 0.5) < 4 * p["mia_se"]
    assert p["dcr"]["exact_copies"] == 0 and p["dcr"]["share_closer_than_p5"] < 0.12
    assert not p["flags"]


def test_a_leak_in_the_small_components_shows_in_standardised_latents():
    """Synthetic people drawn afresh along a few large components but carrying training people's values along
    the many small ones: raw distances are the large components' and see nothing; standardised ones see it."""
    rng = np.random.default_rng(11)
    sd = np.r_[np.full(4, 10.0), np.full(60, 0.1)]
    train, test = rng.normal(size=(300, 64)) * sd, rng.normal(size=(300, 64)) * sd
    syn = rng.normal(size=(300, 64)) * sd
    syn[:, 4:] = train[rng.permutation(300), 4:] + rng.normal(size=(300, 60)) * 0.03
    p = privacy(syn, train, test, scale=(np.zeros(64), sd))
    assert abs(p["mia_auc"] - 0.5) < 0.07
    assert p["mia_auc_standardised"] > 0.9
    assert any("standardised latents" in f for f in p["flags"])
    fresh = privacy(rng.normal(size=(300, 64)) * sd, train, test, scale=(np.zeros(64), sd))
    assert abs(fresh["mia_auc_standardised"] - 0.5) < 0.07 and not fresh["flags"]
    assert "mia_auc_standardised" not in privacy(syn, train, test)  # raw latents only unless a scale is given


def test_the_membership_audit_reads_copies_of_members_and_fresh_people():
    rng = np.random.default_rng(12)
    sd = np.r_[np.full(4, 10.0), np.full(28, 0.1)]
    members, others = rng.normal(size=(300, 32)) * sd, rng.normal(size=(60, 32)) * sd
    scale = (np.zeros(32), sd)
    copied = membership_audit(members + 1e-3 * sd, members, others, scale)
    assert copied["people"] == 60 and copied["raw"] > 0.95 and copied["standardised"] > 0.95
    fresh = membership_audit(rng.normal(size=(300, 32)) * sd, members, others, scale)
    assert abs(fresh["raw"] - 0.5) < 3 * fresh["se"] and abs(fresh["standardised"] - 0.5) < 3 * fresh["se"]
    assert fresh["se"] == pytest.approx(np.sqrt(121 / (12 * 3600)))


def test_the_label_attack_reads_a_shift_made_of_the_members_own_genotypes():
    """Cases and controls of one population in 2,000 dimensions, a true case shift at 20 positions. Synthetic people
    fresh from the population, with labels whose shift is the training cases' mean against the training controls'
    (what copying the label's means does), give the members away; with the true shift instead they do not."""
    rng = np.random.default_rng(0)
    p = 2000
    effect = np.zeros(p)
    effect[:20] = 0.5

    def people(n):
        y = (rng.random(n) < 0.3).astype(int)
        return rng.normal(size=(n, p)) + np.outer(y, effect), y

    train, train_y = people(600)
    test, test_y = people(200)
    scale = (np.zeros(p), np.ones(p))
    syn, syn_y = people(600)
    syn -= np.outer(syn_y, effect)
    copied = syn + np.outer(syn_y, train[train_y == 1].mean(0) - train[train_y == 0].mean(0))
    truth = syn + np.outer(syn_y, effect)
    leaky = label_membership(copied, syn_y, train, train_y, test, test_y, scale)
    fresh = label_membership(truth, syn_y, train, train_y, test, test_y, scale)
    assert leaky > 0.75
    assert abs(fresh - 0.5) < 3 * chance_se(200)
    result = privacy(copied, train, test, train_labels=train_y, test_labels=test_y, scale=scale, synthetic_labels=syn_y)
    assert result["mia_auc_label"] == leaky and any("label's shift" in f for f in result["flags"])
    assert "mia_auc_label" not in privacy(copied, train, test, scale=scale)  # no labels, no attack
    assert label_membership(truth, np.zeros(600, int), train, train_y, test, test_y, scale) is None  # one label


def _two_labels(n_a, n_b, seed):
    """Two labelled clusters (low dimension, where the density of a set shows in its neighbour distances)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_a + n_b, 4))
    x[:n_a, 0] += 4
    x[n_a:, 1] += 4
    return x, np.r_[np.zeros(n_a, int), np.ones(n_b, int)]


def test_membership_attack_is_not_fooled_by_the_balanced_held_out_split():
    """A fresh draw that follows the training label mix (80/20) leaks nothing, but its people sit nearer
    the majority label; against a 50/50 held-out split only label-matched members read 0.5."""
    train, train_y = _two_labels(1200, 300, seed=10)
    test, test_y = _two_labels(300, 300, seed=20)
    syn, _ = _two_labels(1200, 300, seed=30)
    unmatched = privacy(syn, train, test)["mia_auc"]
    matched = privacy(syn, train, test, train_labels=train_y, test_labels=test_y)["mia_auc"]
    assert unmatched > 0.54  # the confound the matching removes
    assert abs(matched - 0.5) < 0.04


def test_a_far_away_set():
    """Far in angle: the sets live on orthogonal coordinates, so every cross pair is at 0.5."""
    train, far = _cloud(200, seed=9), _cloud(200, seed=10)
    train[:, 20:] = 0
    far[:, :20] = 0
    aa = adversarial_accuracy(train, far)
    assert aa["truth"] == 1 and aa["syn"] == 1
    assert nn_test(far, train, k=10) == 1.0


@pytest.mark.parametrize("share", [0.25, 0.5])
def test_nn_test_on_a_known_mixture(share):
    """Synthetic = a mix of copies of real points (share) and far points: NN test ≈ (1 - share)."""
    real = _cloud(400, seed=11)
    n_copy = int(share * 400)
    syn = np.concatenate([real[:n_copy] + 1e-9, _cloud(400 - n_copy, seed=12, shift=8.0)])
    # a copy's nearest neighbour is its twin (real) and then the real cloud; far points only see each other
    score = nn_test(syn, real, k=1)
    assert score == pytest.approx(1 - share, abs=0.02)


def test_tstr_on_separable_toy_data():
    rng = np.random.default_rng(0)
    mask = np.zeros((16, 8), bool)
    mask[:, :4] = True

    def draw(n, seed):
        r = np.random.default_rng(seed)
        y = r.integers(0, 2, n)
        x = r.normal(size=(n, 16, 8)).astype(np.float32)
        x[:, :4, :2] += np.where(y == 1, 1.5, -1.5)[:, None, None]
        return x * mask, y

    (xs, ys), (xt, yt) = draw(300, 1), draw(200, 2)
    runner = FitRunner(xt, yt, mask, 2, ClassifierBudget())
    result = tstr(runner, runner.people(xs, ys), repeats=2, seed=int(rng.integers(100)))
    for kind in ("mlp", "cnn", "transformer"):
        assert result[kind]["accuracy"]["mean"] > 0.9, (kind, result[kind])
        assert result[kind]["roc_auc"]["mean"] > 0.95
    # labels shuffled: nothing to learn, chance level
    chance = tstr(runner, runner.people(xs, rng.permutation(ys)), classifiers=("mlp",), repeats=2)
    assert chance["mlp"]["accuracy"]["mean"] < 0.65


def test_validation_split_is_stratified_and_disjoint():
    from genomesynth.metrics.utility import validation_split

    y = np.array([0] * 50 + [1] * 20 + [2] * 3 + [3])
    fit, held = validation_split(y, 0.1, seed=0)
    assert len(np.intersect1d(fit, held)) == 0 and len(fit) + len(held) == len(y)
    assert [int((y[held] == c).sum()) for c in range(4)] == [5, 2, 1, 0]  # a single person is never held out


def test_early_stopping_keeps_the_best_epoch_and_stops():
    """Noise labels: the validation loss is lowest early and training stops; without patience every epoch runs."""
    from genomesynth.metrics.utility import ClassifierBudget, fit_and_score

    rng = np.random.default_rng(0)
    mask = np.ones((8, 8), bool)
    x, y = rng.normal(size=(200, 8, 8)).astype(np.float32), rng.integers(0, 2, 200)
    xt, yt = rng.normal(size=(50, 8, 8)).astype(np.float32), rng.integers(0, 2, 50)
    early = fit_and_score("mlp", x, y, xt, yt, mask, 2, 0, ClassifierBudget(epochs=30, patience=2))
    assert early["epochs"] < 20
    full = fit_and_score("mlp", x, y, xt, yt, mask, 2, 0, ClassifierBudget(epochs=30, patience=None))
    assert full["epochs"] == 30


@pytest.mark.parametrize("length", [9, 10, 200])
def test_the_cnns_pool_is_relu_then_maxpool_to_the_bit_gradients_included(length):
    import torch
    from torch import nn

    from genomesynth.metrics.classifiers import _ReluMaxPool2

    torch.manual_seed(length)
    h = torch.randn(8, 32, length)
    h[0, :, 1 : length // 2 * 2 : 2] = h[0, :, 0 : length // 2 * 2 : 2]  # ties: the gradient goes to the first
    h.requires_grad_(True)
    plain = nn.functional.max_pool1d(torch.relu(h), 2)
    upstream = torch.randn_like(plain)
    plain.backward(upstream)
    expected, h.grad = h.grad.clone(), None
    ours = _ReluMaxPool2()(h)
    ours.backward(upstream)
    assert torch.equal(ours, plain) and torch.equal(h.grad, expected)


def test_the_transformers_dropout_drops_p_of_its_values_from_a_stream_of_its_own():
    import torch

    from genomesynth.metrics.classifiers import _Dropout, _Transformer, seed_dropouts

    model = _Transformer(torch.ones(16, 8, dtype=torch.bool), 3)
    seed_dropouts(model, 7)
    dropouts = [m for m in model.modules() if isinstance(m, _Dropout)]
    assert len(dropouts) == 6  # three a layer, each layer its own (the encoder deep-copies one layer)
    x = torch.ones(200, 50, 64)
    masks = [d(x) for d in dropouts]
    for out in masks:
        assert torch.equal(out.unique(), torch.tensor([0.0, 1 / 0.9]))
        assert abs(float((out == 0).float().mean()) - 0.1) < 0.005  # 640,000 values: sd 0.0004
    assert all(not torch.equal(masks[0], other) for other in masks[1:])
    seed_dropouts(model, 7)
    assert torch.equal(dropouts[0](x), masks[0])  # the same seed, the same masks
    model.eval()
    assert torch.equal(dropouts[0](x), x)


def test_auc_when_the_held_out_set_holds_two_of_three_classes():
    """A small held-out set can miss a class: the AUC is then the two-class one, not an error."""
    from genomesynth.metrics.utility import ClassifierBudget, fit_and_score

    rng = np.random.default_rng(0)
    mask = np.ones((4, 8), bool)
    y_train = np.arange(90) % 3
    x_train = rng.normal(size=(90, 4, 8)) + y_train[:, None, None]
    y_test = np.array([0, 2] * 10)
    x_test = rng.normal(size=(20, 4, 8)) + y_test[:, None, None]
    scores = fit_and_score("mlp", x_train, y_train, x_test, y_test, mask, 3, 0, ClassifierBudget(epochs=20))
    assert scores["roc_auc"] > 0.9


def test_classifiers_score_the_same_in_worker_processes_as_here():
    """Two single-threaded workers, fits side by side, give exactly the scores of fits run one after another
    here; the augmentation parts (a subset of one set plus another whole set) travel in shared memory."""
    from genomesynth.metrics.utility import augmentation_curve, small_subsets

    rng = np.random.default_rng(5)
    mask = np.zeros((16, 8), bool)
    mask[:, :4] = True
    y = rng.integers(0, 3, 260)
    x = (rng.normal(size=(260, 16, 8)) * mask).astype(np.float32)
    x[:, :3, 0] += y[:, None] * 2.0
    train, test, extra = slice(0, 120), slice(120, 200), slice(200, 260)
    budget = ClassifierBudget(epochs=8)
    scores = []
    for workers in (1, 2):
        with FitRunner(x[test], y[test], mask, 3, budget, workers=workers) as runner:
            real = runner.people(x[train], y[train])
            subsets = small_subsets(y[train], (0.1, 0.3), repeats=2, seed=0)
            scores.append((tstr(runner, real, repeats=2), augmentation_curve(runner, real, subsets,
                                                                            runner.people(x[extra], y[extra]), 0)))
            assert (runner._pool is not None) == (workers > 1)  # the second time, the fits did go to workers
    assert scores[0] == scores[1]
    assert scores[0][0]["mlp"]["accuracy"]["mean"] > 0.5  # it learned something, so equality is not trivial


def test_the_runner_keeps_to_the_jobs_current_share_of_the_cores(monkeypatch):
    """A pool of 2 workers runs one fit at a time while the thread policy gives the job one core (another job
    started meanwhile), and still returns every fit."""
    from genomesynth import threads

    rng = np.random.default_rng(6)
    mask = np.ones((4, 8), bool)
    y = rng.integers(0, 2, 120)
    x = rng.normal(size=(120, 4, 8)).astype(np.float32)
    # an OMP_NUM_THREADS policy: rebalance() leaves the process's own thread settings alone
    monkeypatch.setattr(threads, "_active", threads.Policy("OMP_NUM_THREADS", 1))
    with FitRunner(x[:40], y[:40], mask, 2, ClassifierBudget(epochs=2), workers=2) as runner:
        people = runner.people(x[40:], y[40:])
        pending = [runner.submit("mlp", [(people, None)], seed) for seed in range(3)]
        assert len(runner._running) == 1 and len(runner._queued) == 2
        assert all(0 <= p.result()["accuracy"] <= 1 for p in pending)


def test_people_that_do_not_fit_in_shared_memory_are_trained_on_here(monkeypatch):
    """With too little free /dev/shm the runner keeps the people in this process and trains on them here."""
    import genomesynth.metrics.runner as runner_module

    rng = np.random.default_rng(7)
    mask = np.ones((4, 8), bool)
    y = rng.integers(0, 2, 120)
    x = rng.normal(size=(120, 4, 8)).astype(np.float32)
    monkeypatch.setattr(runner_module, "shared_memory_free", lambda: 0)
    with FitRunner(x[:40], y[:40], mask, 2, ClassifierBudget(epochs=2), workers=2) as runner:
        assert runner.workers == 1 and runner._pool is None
        assert 0 <= runner.submit("mlp", [(runner.people(x[40:], y[40:]), None)], 0).result()["accuracy"] <= 1
