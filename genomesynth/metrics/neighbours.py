"""Exact k-nearest neighbours under the angular distance (paper Eq. 10), blocked and memory bounded.

    d(x, y) = arccos( x·y / (|x| |y|) ) / π          ∈ [0, 1]

Queries and references are L2-normalised once; each block of queries meets each block of
references in one matrix product, and a running top-k is kept. Peak extra memory is one
(query block × reference block) similarity tile, never an n² × d tensor. Runs on the GPU when asked.
"""

from __future__ import annotations

import numpy as np
import torch


def _normalised(x: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    t = torch.as_tensor(x, dtype=torch.float32, device=device)
    return t / t.norm(dim=1, keepdim=True).clamp(min=1e-12)


def knn(
    query: np.ndarray | torch.Tensor,
    reference: np.ndarray | torch.Tensor,
    k: int = 1,
    *,
    exclude_self: bool = False,
    device: str | torch.device = "cpu",
    block: int = 2048,
) -> tuple[np.ndarray, np.ndarray]:
    """Angular distances (n, k) and indices (n, k) of each query's k nearest references, nearest first.

    exclude_self: query and reference are the same set; a point is not its own neighbour.
    """
    device = torch.device(device)
    q, r = _normalised(query, device), _normalised(reference, device)
    n, m = q.shape[0], r.shape[0]
    k_eff = min(k, m - (1 if exclude_self else 0))
    if k_eff < 1:
        raise ValueError("not enough reference points for k-NN")
    best_sim = torch.full((n, k_eff), -2.0, device=device)
    best_idx = torch.zeros((n, k_eff), dtype=torch.long, device=device)
    for a in range(0, n, block):
        qa = q[a : a + block]
        sims, idxs = best_sim[a : a + block], best_idx[a : a + block]
        for b in range(0, m, block):
            tile = qa @ r[b : b + block].T  # (query block, reference block)
            if exclude_self:
                rows = torch.arange(a, a + len(qa), device=device)
                cols = rows - b
                inside = (cols >= 0) & (cols < tile.shape[1])
                tile[inside.nonzero().squeeze(1), cols[inside]] = -3.0
            both_sim = torch.cat([sims, tile], dim=1)
            both_idx = torch.cat([idxs, torch.arange(b, b + tile.shape[1], device=device).expand(len(qa), -1)], dim=1)
            sims, order = both_sim.topk(k_eff, dim=1)
            idxs = both_idx.gather(1, order)
        best_sim[a : a + block], best_idx[a : a + block] = sims, idxs
    distance = torch.arccos(best_sim.clamp(-1, 1)) / torch.pi
    close = best_sim > CLOSE
    if close.any():
        rows, cols = close.nonzero(as_tuple=True)
        distance[rows, cols] = _angles(q[rows], r[best_idx[rows, cols]])
    return distance.cpu().numpy(), best_idx.cpu().numpy()


CLOSE = 0.9999
"""Above this cosine, float32 arccos cannot resolve the angle (~1e-4 steps): recompute it exactly."""


def _angles(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Angular distance of row pairs of unit vectors, 2·atan2(|u − v|, |u + v|) / π: exact near 0,
    so that copies are seen as copies."""
    return 2 * torch.atan2((u - v).norm(dim=-1), (u + v).norm(dim=-1)) / torch.pi


def nearest_distance(query: np.ndarray, reference: np.ndarray, *, same: bool = False,
                     device: str | torch.device = "cpu") -> np.ndarray:
    """(n,) angular distance of each query to its nearest reference (itself excluded when same)."""
    return knn(query, reference, 1, exclude_self=same, device=device)[0][:, 0]


NEAR_IDENTICAL = 0.5
"""Near-identical: nearer than this share of the reference people's median nearest-neighbour distance."""


def near_identical(query: np.ndarray, reference: np.ndarray, device: str = "cpu") -> np.ndarray:
    """Rows of `query` (standardised latents) nearer a `reference` person than half the reference people's own
    median nearest-neighbour distance: the same person under another id (or an identical twin). On 1000 Genomes
    chr15 the three pairs it finds among 2,504 people have KING kinship 0.39–0.50; a person re-genotyped with 1 %
    of calls changed sits at a third of the median, the nearest other person at two thirds (docs/RESULTS.md,
    finding 18)."""
    return np.flatnonzero(nearest_distance(query, reference, device=device) < _near_bound(reference, device))


def near_identical_pairs(people: np.ndarray, reference: np.ndarray, device: str = "cpu") -> list[tuple[int, int]]:
    """Pairs (i, j), i < j, of rows of `people` (standardised latents) near-identical to each other: one is the
    other's nearest person, nearer than near_identical's bound, the typical distance taken among the rows that
    `reference` (a boolean row mask, e.g. the training people) selects."""
    bound = _near_bound(people[reference], device)
    distance, nearest = knn(people, people, 1, exclude_self=True, device=device)
    close = np.flatnonzero(distance[:, 0] < bound)
    return sorted({(min(i, int(nearest[i, 0])), max(i, int(nearest[i, 0]))) for i in map(int, close)})


def _near_bound(reference: np.ndarray, device: str) -> float:
    """NEAR_IDENTICAL × the reference people's median distance to their nearest other reference person."""
    return NEAR_IDENTICAL * float(np.median(nearest_distance(reference, reference, same=True, device=device)))
