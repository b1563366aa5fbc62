"""Memorisation and membership leakage, beyond the paper (angular distances throughout).

- DCR (distance to closest record) of every synthetic person to the real train and to the real
  held-out people. A generator that memorised sits closer to train than to held-out people.
- The 5th percentile p5 of the held-out people's distances to their nearest train person is what
  "close" means between two real people; the share of synthetic people nearer than p5 to a train
  person is expected near 5 % (ideal), far above it when people are copied.
- Exact copies: synthetic people at distance ≤ 1e-6 of a train person.
- Membership inference (distance attack): score every real person by minus their distance to the
  nearest synthetic person; ROC AUC of train (members) vs held-out (non-members), equal sizes.
  0.5 = no leakage; → 1 when the synthetic set reveals who was trained on. When labels are given,
  the members are drawn with the held-out people's label mix: the held-out split is balanced by
  label and the training set is not, and without the matching a generator that merely follows the
  training label mix would score above 0.5 (its people are nearer the majority label's members).
- The same attack in standardised latents (each position minus its training mean, over its training
  sd), when `scale` gives them: raw latents weigh a gene's leading components by their variance,
  standardised ones weigh every position alike — as the diffusion model sees them, and as an
  attacker with the store's `stats/` may — so a generator that sits nearer its members along the
  small, rare-haplotype components shows there (docs/RESULTS.md, finding 16). A store is as private
  as the worse of the two readings.
- Membership through the label's shift (Homer et al. 2008's attack on case/control statistics), when
  labels are given: the attacker holds a person's genotypes and label, estimates from the synthetic
  set each label's mean shift, and scores the person by their own standardised latents · their
  label's shift, both off the leading axes of the synthetic people's spread within labels. A
  generator whose labels differ by the training cases' own noise — a class mean of a few hundred
  people over thousands of positions — gives its members away here while the distance attacks see
  nothing (docs/RESULTS.md, finding 20).
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import roc_auc_score

from genomesynth.metrics.adversarial import equal_subsamples
from genomesynth.metrics.neighbours import nearest_distance

EXACT = 1e-6
FLAGGED_AUC = 0.6
"""A membership AUC above this is flagged (eval) and called high (sample's audit)."""


def privacy(synthetic: np.ndarray, train: np.ndarray, test: np.ndarray, seed: int = 0,
            device: str = "cpu", train_labels: np.ndarray | None = None,
            test_labels: np.ndarray | None = None,
            scale: tuple[np.ndarray, np.ndarray] | None = None,
            synthetic_labels: np.ndarray | None = None) -> dict[str, object]:
    """DCR, exact copies and the membership attack on raw latents; with scale = (mean, sd) per position, the
    attack again on standardised ones (`mia_auc_standardised`), and with every set's labels the attack through
    the label's shift (`mia_auc_label`)."""
    dcr_train = nearest_distance(synthetic, train, device=device)
    dcr_test = nearest_distance(synthetic, test, device=device)
    p5 = float(np.percentile(nearest_distance(test, train, device=device), 5))
    attack = membership_audit(synthetic, train, test, scale, train_labels, test_labels, seed, device)
    mia, mia_std = attack["raw"], attack.get("standardised")
    mia_label = (label_membership(synthetic, synthetic_labels, train, train_labels, test, test_labels, scale, seed)
                 if scale is not None else None)
    close = float(np.mean(dcr_train < p5))
    exact = int(np.sum(dcr_train <= EXACT))
    flags = []
    if exact:
        flags.append(f"{exact} exact copies of training people")
    if close > 0.10:
        flags.append(f"{close:.0%} of synthetic people are closer to a training person than 95 % of real pairs")
    if mia > FLAGGED_AUC:
        flags.append(f"membership inference AUC {mia:.2f}: the synthetic set reveals who was trained on")
    if mia_std is not None and mia_std > FLAGGED_AUC:
        flags.append(f"membership inference AUC {mia_std:.2f} in standardised latents: the synthetic set reveals "
                     "who was trained on")
    if mia_label is not None and mia_label > FLAGGED_AUC:
        flags.append(f"membership inference AUC {mia_label:.2f} through the label's shift: the synthetic labels carry "
                     "the training people's own genotypes")
    return {
        "dcr": {"train_median": float(np.median(dcr_train)), "test_median": float(np.median(dcr_test)),
                "ratio": float(np.median(dcr_train) / max(np.median(dcr_test), 1e-12)),
                "real_p5": p5, "share_closer_than_p5": close, "exact_copies": exact},
        "mia_auc": mia,
        "mia_people": attack["people"], "mia_se": attack["se"],  # a side, and every AUC's s.e. with no leakage
        **({"mia_auc_standardised": mia_std} if mia_std is not None else {}),
        **({"mia_auc_label": mia_label} if mia_label is not None else {}),
        "flags": flags,
    }


def membership_audit(synthetic: np.ndarray, members: np.ndarray, others: np.ndarray,
                     scale: tuple[np.ndarray, np.ndarray] | None = None, member_labels: np.ndarray | None = None,
                     other_labels: np.ndarray | None = None, seed: int = 0, device: str = "cpu") -> dict[str, float]:
    """The distance attack: as many members as non-members (one label mix when labels are given), each scored by
    minus their distance to the nearest synthetic person; ROC AUC on raw latents and, with scale = (mean, sd) per
    position, on standardised ones; the people per side and the AUC's standard error under no leakage,
    √((2n + 1) / (12 n²)). `privacy` attacks with train vs held-out people, `sample` with its run's fit vs
    validation people (whom neither its prior nor its network saw, but its codec did)."""
    pick_members, pick_others = matched_sets(len(members), len(others), member_labels, other_labels,
                                             np.random.default_rng(seed))
    sets = (members[pick_members], others[pick_others], synthetic)
    n = len(pick_members)
    out = {"people": n, "raw": membership_auc(*sets, device=device), "se": chance_se(n)}
    if scale is not None:
        mean, sd = scale
        out["standardised"] = membership_auc(*((x - mean) / sd for x in sets), device=device)
    return out


LABEL_AXES = 8
"""Principal axes of the synthetic people's spread within labels that the label attack takes off (as the prior's
population axes are off its shifts)."""


def label_membership(synthetic: np.ndarray, synthetic_labels: np.ndarray | None, members: np.ndarray,
                     member_labels: np.ndarray | None, others: np.ndarray, other_labels: np.ndarray | None,
                     scale: tuple[np.ndarray, np.ndarray], seed: int = 0) -> float | None:
    """ROC AUC of members against as many non-members (one label mix, the distance attack's people) scored by their
    standardised latents off the first LABEL_AXES principal axes of the synthetic people's spread within their
    labels (its populations, a person's largest variation) · their own label's shift there (that label's
    synthetic mean against the other labels'); None without labels or with fewer than two labels of at least two
    synthetic people."""
    if synthetic_labels is None or member_labels is None or other_labels is None:
        return None
    classes = [c for c in np.unique(synthetic_labels) if c >= 0 and np.sum(synthetic_labels == c) >= 2]
    if len(classes) < 2:
        return None
    from sklearn.utils.extmath import randomized_svd

    mean, sd = scale
    z = ((synthetic - mean) / sd).astype(np.float32)  # one copy, float32: it may be 10,000 × 147,456
    centre = z.mean(0, dtype=np.float64)
    means = {c: z[synthetic_labels == c].mean(0, dtype=np.float64) for c in np.unique(synthetic_labels)}
    for c, m in means.items():  # in place: the spread within labels, so that the shifts between them are no axis
        z[synthetic_labels == c] -= m.astype(np.float32)
    k = min(LABEL_AXES, len(z) - 1, z.shape[1])
    axes = randomized_svd(z, k, random_state=seed)[2].astype(np.float64) if k > 0 else np.zeros((0, z.shape[1]))
    shifts = {}
    for c in classes:
        n_c = int(np.sum(synthetic_labels == c))
        rest = (centre * len(z) - means[c] * n_c) / (len(z) - n_c)
        own = means[c] - rest
        shifts[int(c)] = own - (own @ axes.T) @ axes

    def scores(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
        r = (x - mean) / sd - centre
        r -= (r @ axes.T) @ axes
        return np.array([r[i] @ shifts[int(c)] if int(c) in shifts else 0.0 for i, c in enumerate(labels)])

    pick_members, pick_others = matched_sets(len(members), len(others), member_labels, other_labels,
                                             np.random.default_rng(seed))
    score = np.r_[scores(members[pick_members], member_labels[pick_members]),
                  scores(others[pick_others], other_labels[pick_others])]
    return float(roc_auc_score(np.r_[np.ones(len(pick_members)), np.zeros(len(pick_others))], score))


def chance_se(n: int) -> float:
    """The standard error of a ROC AUC of n members against n non-members when nothing tells them apart."""
    return math.sqrt((2 * n + 1) / (12 * n * n)) if n else float("nan")


def membership_auc(members: np.ndarray, others: np.ndarray, synthetic: np.ndarray, device: str = "cpu") -> float:
    """ROC AUC of members against as many non-members, each scored by minus their distance to the nearest synthetic person."""
    score = -np.concatenate([nearest_distance(members, synthetic, device=device),
                             nearest_distance(others, synthetic, device=device)])
    return float(roc_auc_score(np.r_[np.ones(len(members)), np.zeros(len(others))], score))


def matched_sets(n_train: int, n_test: int, train_labels: np.ndarray | None, test_labels: np.ndarray | None,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Equal-size member (train) and non-member (held-out) indices, with one label mix when labels are known."""
    if train_labels is None or test_labels is None:
        members, others = equal_subsamples([n_train, n_test], rng)
        return members, others
    members, others = [], []
    for label in np.unique(test_labels):
        in_train, in_test = np.flatnonzero(train_labels == label), np.flatnonzero(test_labels == label)
        n = min(len(in_train), len(in_test))
        members.append(rng.choice(in_train, n, replace=False))
        others.append(rng.choice(in_test, n, replace=False))
    return np.concatenate(members), np.concatenate(others)
