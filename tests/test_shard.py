"""`sample --shard K/N` and `merge` (issue 12, part 5): the parts of one seeded draw are disjoint and
their union, merged, is the unsharded store; merge refuses parts of different draws or a missing part."""

from __future__ import annotations

import numpy as np
import pytest

from genomesynth.errors import GenomesynthError
from genomesynth.merge import merge
from genomesynth.sample import SampleConfig, sample, shard_people
from genomesynth.store import open_store
from genomesynth.train import TrainConfig, train


@pytest.fixture(scope="module")
def run_dir(real_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("shard") / "run"
    train(real_store, out, TrainConfig(max_steps=3, batch_size=16, timesteps=30))
    return out


def draw(run_dir, path, shard=None, seed=5, residual_scale="validated"):
    return sample(run_dir, path, SampleConfig(n=23, batch_size=4, sampler="ddim", steps=3, seed=seed, shard=shard,
                                              residual_scale=residual_scale))


def test_shards_partition_the_batches():
    runs = [shard_people(23, 4, (k, 3)) for k in (1, 2, 3)]
    assert runs[0][0] == 0 and runs[-1][1] == 23
    assert all(a[1] == b[0] for a, b in zip(runs, runs[1:]))  # contiguous, disjoint
    assert all(start % 4 == 0 for start, _ in runs)  # whole batches
    with pytest.raises(GenomesynthError, match="only 6 batches"):
        shard_people(23, 4, (1, 7))


def test_merged_shards_equal_the_unsharded_draw(run_dir, tmp_path):
    draw(run_dir, tmp_path / "whole.zarr")
    for k in (3, 1, 2):
        draw(run_dir, tmp_path / f"part{k}.zarr", (k, 3))
    summary = merge([tmp_path / f"part{k}.zarr" for k in (2, 3, 1)], tmp_path / "merged.zarr")
    assert summary.people == 23 and summary.parts == 3
    with open_store(tmp_path / "whole.zarr") as whole, open_store(tmp_path / "merged.zarr") as merged:
        assert np.array_equal(np.asarray(whole.latents[...]), np.asarray(merged.latents[...]))
        assert whole.sample_id().tolist() == merged.sample_id().tolist()
        assert np.array_equal(whole.label(), merged.label())
        audit = merged.attrs["model"]["membership"]  # a part's audit is not the merged draw's
        assert "merged draw" in audit["skipped"] and len(audit["parts"]) == 3
    with open_store(tmp_path / "part2.zarr") as part:
        assert part.n_people < 23 and part.sample_id()[0] != "SYN000001"


def test_merge_refuses_a_missing_part_or_another_draw(run_dir, tmp_path):
    for k in (1, 2):
        draw(run_dir, tmp_path / f"p{k}.zarr", (k, 2))
    draw(run_dir, tmp_path / "other.zarr", (2, 2), seed=6)
    with pytest.raises(GenomesynthError, match="missing 2"):
        merge([tmp_path / "p1.zarr"], tmp_path / "m.zarr")
    with pytest.raises(GenomesynthError, match="seed"):
        merge([tmp_path / "p1.zarr", tmp_path / "other.zarr"], tmp_path / "m.zarr")
    draw(run_dir, tmp_path / "shrunk.zarr", (2, 2), residual_scale="0.5")
    with pytest.raises(GenomesynthError, match="residual scale"):
        merge([tmp_path / "p1.zarr", tmp_path / "shrunk.zarr"], tmp_path / "m.zarr")
    with pytest.raises(GenomesynthError, match="K/N"):
        SampleConfig(shard=(3, 2))
    assert not (tmp_path / "m.zarr").exists()


def test_shards_decoded_on_one_shards_fit_are_the_merged_store_decoded_so(run_dir, real_store, tmp_path):
    """decode --calibrate-on part1.zarr: every part's VCF uses the same fitted calls, so the parts' calls side by
    side are the merged store's calls decoded the same way."""
    from genomesynth.decode import decode

    from conftest import vcf_calls

    parts = [tmp_path / f"part{k}.zarr" for k in (1, 2, 3)]
    for k, part in enumerate(parts, 1):
        draw(run_dir, part, (k, 3))
    merge(parts, tmp_path / "merged.zarr")
    for part in parts:
        decode(part, part.with_suffix(".vcf.gz"), calibrate_on=parts[0])
    decode(tmp_path / "merged.zarr", tmp_path / "merged.vcf.gz", calibrate_on=parts[0])
    meta, merged = vcf_calls(tmp_path / "merged.vcf.gz")
    assert any("fitted on part1.zarr" in line for line in meta)
    assert np.array_equal(np.concatenate([vcf_calls(part.with_suffix(".vcf.gz"))[1] for part in parts]), merged)
    decode(parts[1], tmp_path / "own.vcf.gz")  # part 2 fitted on its own people: another fit, other calls
    assert not np.array_equal(vcf_calls(tmp_path / "own.vcf.gz")[1], vcf_calls(parts[1].with_suffix(".vcf.gz"))[1])
    with pytest.raises(GenomesynthError, match="keep the codec's thresholds"):
        decode(real_store, tmp_path / "real.vcf.gz", calibrate_on=parts[0])


def test_eval_takes_the_parts_of_a_draw_as_one_store(run_dir, real_store, tmp_path):
    from genomesynth.evaluate import EvalConfig, evaluate

    for k in (2, 1, 3):
        draw(run_dir, tmp_path / f"part{k}.zarr", (k, 3))
    merge([tmp_path / f"part{k}.zarr" for k in (1, 2, 3)], tmp_path / "merged.zarr")
    config = EvalConfig(metrics=("dispersion", "aa", "nn", "privacy", "tstr"), classifiers=("mlp",), repeats=1,
                        classifier_epochs=2, k=3)
    parts = evaluate([tmp_path / f"part{k}.zarr" for k in (3, 1, 2)], real_store, config)
    merged = evaluate([tmp_path / "merged.zarr"], real_store, config, names=["part"])
    assert list(parts["synthetic"]) == ["part"]  # one column, named after the parts
    assert parts["inputs"]["synthetic"]["part"] == [str(tmp_path / f"part{k}.zarr") for k in (1, 2, 3)]
    a, b = (dict(r["synthetic"]["part"]) for r in (parts, merged))
    a.pop("seconds"), b.pop("seconds")
    assert a == b and a["people"] == 23
    with pytest.raises(GenomesynthError, match="missing 2"):
        evaluate([tmp_path / "part1.zarr", tmp_path / "part3.zarr"], real_store, config)
