"""Exact k-NN (angular) against scikit-learn's brute-force cosine NearestNeighbors; UMAP time.

    python benchmarks/bench_knn.py [--device cuda] [--sizes 2000,4000,10000] [--dim 2560]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import peak_rss_mb, save, timed  # noqa: E402

from genomesynth.metrics.neighbours import knn  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="2000,4000,10000")
    parser.add_argument("--dim", type=int, default=2560, help="latent positions (demo: 2,392 real of 2,560)")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--umap", action="store_true", help="also time UMAP (cosine) on the smallest size")
    parser.add_argument("--skip-sklearn-above", type=int, default=10000)
    args = parser.parse_args()
    from sklearn.neighbors import NearestNeighbors

    rows = []
    for n in map(int, args.sizes.split(",")):
        rng = np.random.default_rng(0)
        a = rng.normal(size=(n, args.dim)).astype(np.float32)
        b = rng.normal(size=(n, args.dim)).astype(np.float32)
        ours_s, (dist, idx) = timed(lambda: knn(a, b, args.k, device=args.device), repeats=2)
        row = {"n": n, "dim": args.dim, "k": args.k, "device": args.device, "genomesynth_s": round(ours_s, 3)}
        if n <= args.skip_sklearn_above:
            model = NearestNeighbors(n_neighbors=args.k, metric="cosine", algorithm="brute", n_jobs=-1)
            sk_s, (sk_d, sk_i) = timed(lambda: model.fit(b).kneighbors(a), repeats=1)
            row.update(sklearn_s=round(sk_s, 3), speedup=round(sk_s / ours_s, 2),
                       same_neighbours=float(np.mean(idx == sk_i)),
                       max_distance_diff=float(np.abs(dist - np.arccos(np.clip(1 - sk_d, -1, 1)) / np.pi).max()))
        row["peak_rss_mb"] = round(peak_rss_mb())
        print(row, flush=True)
        rows.append(row)
    if args.umap:
        import umap

        n = int(args.sizes.split(",")[0])
        x = np.random.default_rng(1).normal(size=(n, args.dim)).astype(np.float32)
        umap_s, _ = timed(lambda: umap.UMAP(metric="cosine", random_state=0).fit_transform(x))
        rows.append({"umap_n": n, "dim": args.dim, "umap_s": round(umap_s, 2)})
        print(rows[-1])
    print(save(f"knn-{args.device}", rows))


if __name__ == "__main__":
    main()
