"""Membership through the label's effect (Homer et al. 2008's attack on released case/control statistics, here on
a synthetic set; docs/RESULTS.md, finding 20).

The attacker knows a person's genotype latents and label. From the synthetic set they estimate each label's
shift beyond its first 8 principal axes (every position regressed on the axes' scores and the label), and score
the person by their residual off those axes · their own label's shift: a member's own genotypes are part of any
shift that was estimated from them and not shrunk away. ROC AUC of training people (members) against held-out
people, one label mix, over 20 subsamples of the members (the AUC's chance standard error is about
√((2n + 1) / 12n²) for n a side).

    python docs/experiments/label_attack.py REAL.zarr SYNTHETIC.zarr [SYNTHETIC.zarr …]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from genomesynth.metrics.privacy import chance_se, matched_sets
from genomesynth.store import open_store

AXES = 8


def standardised(path: Path, mean: np.ndarray, std: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with open_store(path) as store:
        x = store.read_people(np.arange(store.n_people))
        return ((x - mean) / std)[:, mask], store.label()


def label_shifts(z: np.ndarray, y: np.ndarray) -> tuple[dict[int, np.ndarray], np.ndarray, np.ndarray]:
    """Each label's coefficient at every position, net of the first AXES principal axes; the centre and the axes."""
    centre = z.mean(0)
    axes = np.linalg.svd(z - centre, full_matrices=False)[2][:AXES]
    scores = (z - centre) @ axes.T
    shifts = {}
    for c in np.unique(y):
        design = np.column_stack([np.ones(len(y)), scores, (y == c).astype(float)])
        shifts[int(c)] = np.linalg.lstsq(design, z, rcond=None)[0][-1]
    return shifts, centre, axes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("real", type=Path)
    parser.add_argument("synthetic", type=Path, nargs="+")
    args = parser.parse_args()
    with open_store(args.real) as store:
        mask, split = store.mask(), np.asarray(store.split().tolist())
        mean, std = store.read("stats/mean"), store.read("stats/std")
    z, y = standardised(args.real, mean, std, mask)
    train, test = np.flatnonzero(split == "train"), np.flatnonzero(split == "test")
    for path in args.synthetic:
        shifts, centre, axes = label_shifts(*standardised(path, mean, std, mask))
        residual = z - centre
        residual -= (residual @ axes.T) @ axes
        score = np.array([residual[i] @ shifts[int(y[i])] if int(y[i]) in shifts else 0.0 for i in range(len(y))])
        rng = np.random.default_rng(0)
        aucs = []
        for _ in range(20):
            members, others = matched_sets(len(train), len(test), y[train], y[test], rng)
            aucs.append(roc_auc_score(np.r_[np.ones(len(members)), np.zeros(len(others))],
                                      np.r_[score[train][members], score[test][others]]))
        print(f"{path}: label-effect attack AUC {np.mean(aucs):.3f} (sd over subsamples {np.std(aucs):.3f}; "
              f"{len(members)} a side, ± {chance_se(len(members)):.3f} by chance)")


if __name__ == "__main__":
    main()
