import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from genomesynth.errors import GenomesynthError
from genomesynth.metrics.privacy import label_membership, matched_sets
from genomesynth.sample import SampleConfig, sample, validated_scale
from genomesynth.store import open_store
from genomesynth.train import TrainConfig, train


def _losses(run: Path) -> list[tuple[float, float]]:
    return [(r["train_loss"], r["val_loss"]) for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())]


def test_a_tiny_model_learns_two_labelled_clusters(toy_store, tmp_path):
    config = TrainConfig(backbone="baseline", epochs=1000, max_steps=3000, batch_size=64, lr=2e-3, timesteps=200,
                         warmup_steps=20, ema_decay=0.99, seed=0, recon_bins=2)
    train(toy_store, tmp_path / "run", config)
    sample(tmp_path / "run", tmp_path / "syn.zarr", SampleConfig(n=200, sampler="ddpm", seed=1, checkpoint="last"))
    with open_store(tmp_path / "syn.zarr") as syn, open_store(toy_store) as real:
        x, y, mask = syn.latents[:], syn.label(), real.mask()
        assert syn.role == "synthetic" and set(y) == {0, 1} and abs((y == 0).sum() - 100) <= 1
        assert np.all(x[:, ~mask] == 0)
        for label, centre in ((0, 2.0), (1, -2.0)):
            values = x[y == label][:, mask]
            assert abs(values.mean() - centre) < 0.3, (label, values.mean())
            assert 0.35 < values.std() < 0.65, (label, values.std())
            # every person lands in its own cluster, not the other one
            assert np.all(np.sign(values.mean(axis=1)) == np.sign(centre))


def test_resume_reproduces_the_uninterrupted_loss_curve(toy_store, tmp_path):
    config = TrainConfig(backbone="unet-mlp", epochs=3, batch_size=64, timesteps=100, seed=4, recon_bins=2)
    train(toy_store, tmp_path / "full", config)
    # interrupted mid-epoch 1 (6 steps per epoch), then resumed
    train(toy_store, tmp_path / "part", TrainConfig(**{**config.__dict__, "max_steps": 8}))
    records = [json.loads(l) for l in (tmp_path / "part" / "metrics.jsonl").read_text().splitlines()]
    assert [r.get("partial", False) for r in records] == [False, True]  # epoch 1 logged as provisional
    train(toy_store, tmp_path / "part", config, resume=True)
    assert _losses(tmp_path / "part") == _losses(tmp_path / "full")
    full = torch.load(tmp_path / "full" / "last.pt", weights_only=False)
    part = torch.load(tmp_path / "part" / "last.pt", weights_only=False)
    for key in full["ema"]:
        torch.testing.assert_close(full["ema"][key], part["ema"][key], rtol=0, atol=0)


def test_metrics_hold_losses_reconstruction_by_noise_and_lambda(toy_store, tmp_path):
    train(toy_store, tmp_path / "mix", TrainConfig(backbone="mlp+cnn", epochs=2, timesteps=100, recon_bins=4))
    records = [json.loads(l) for l in (tmp_path / "mix" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [0, 1]
    last = records[-1]
    assert len(last["recon_error"]["t"]) == 4 and last["recon_error"]["t"] == sorted(last["recon_error"]["t"])
    # reconstructing x0 gets harder as noise grows
    assert last["recon_error"]["mse"][0] < last["recon_error"]["mse"][-1]
    assert all(0 <= v <= 1 for v in last["lambda"]["value"])
    assert (tmp_path / "mix" / "best.pt").exists() and (tmp_path / "mix" / "config.json").exists()


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(toy_store, tmp_path, monkeypatch):
    import genomesynth.train as module

    real_loss, calls = module._loss, {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        loss = real_loss(*args, **kwargs)
        return loss * float("nan") if calls["n"] == 9 else loss

    monkeypatch.setattr(module, "_loss", flaky)
    with pytest.raises(GenomesynthError, match="loss became nan at step 8"):
        train(toy_store, tmp_path / "run", TrainConfig(backbone="baseline", epochs=3, timesteps=50))
    saved = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    assert saved["step"] == 6 and all(torch.isfinite(v).all() for v in saved["model"].values())


def test_label_choice_and_label_mix(toy_store, tmp_path):
    train(toy_store, tmp_path / "run", TrainConfig(backbone="transformer", epochs=1, timesteps=20))
    sample(tmp_path / "run", tmp_path / "one.zarr", SampleConfig(n=10, label="1", sampler="ddim", steps=3))
    with open_store(tmp_path / "one.zarr") as s:
        assert set(s.label()) == {1}
    sample(tmp_path / "run", tmp_path / "mix.h5", SampleConfig(n=101, sampler="ddpm", batch_size=40))
    with open_store(tmp_path / "mix.h5") as s:
        assert abs((s.label() == 0).sum() - 50.5) <= 1 and s.n_people == 101
        assert list(s.sample_id()[:2]) == ["SYN000001", "SYN000002"]
    with pytest.raises(GenomesynthError, match="never saw this label"):
        sample(tmp_path / "run", tmp_path / "bad.zarr", SampleConfig(n=2, label="case"))
    assert not (tmp_path / "bad.zarr").exists()


def test_label_ratio_from_a_store_and_the_label_requests_sample_refuses(toy_store, tmp_path):
    from conftest import write_latent_store

    train(toy_store, tmp_path / "run", TrainConfig(backbone="baseline", epochs=1, timesteps=10))
    mask = np.zeros((32, 8), bool)
    mask[:20, :5] = True
    # 7 of label 0 and 3 of label 1 train; the held-out people (all label 1) must not count
    labels, split = np.array([0] * 7 + [1] * 3 + [1] * 5), np.array(["train"] * 10 + ["test"] * 5)
    mix = write_latent_store(tmp_path / "mix.zarr", np.zeros((15, 32, 8)), labels, mask, split=split)
    sample(tmp_path / "run", tmp_path / "ratio.zarr", SampleConfig(n=20, label_ratio=mix, sampler="ddim", steps=2))
    with open_store(tmp_path / "ratio.zarr") as s:
        assert np.bincount(s.label(), minlength=2).tolist() == [14, 6]
    other = write_latent_store(tmp_path / "other.zarr", np.zeros((4, 32, 8)), np.array([0, 1, 0, 1]), mask,
                               label_names=["control", "case"])
    refused = {
        "differ from the model's": SampleConfig(n=2, label_ratio=other),
        "either --label or --label-ratio": SampleConfig(n=2, label="1", label_ratio=mix),
    }
    for message, config in refused.items():
        with pytest.raises(GenomesynthError, match=message):
            sample(tmp_path / "run", tmp_path / "bad.zarr", config)
    with pytest.raises(GenomesynthError, match="is gone; pass --real"):
        sample(tmp_path / "run", tmp_path / "bad.zarr", SampleConfig(n=2), real=tmp_path / "moved.zarr")
    moved = write_latent_store(tmp_path / "moved.zarr", np.zeros((4, 32, 8)), np.array([0, 1, 0, 1]), mask,
                               codec_id="another")
    with pytest.raises(GenomesynthError, match="codec differs"):
        sample(tmp_path / "run", tmp_path / "bad.zarr", SampleConfig(n=2), real=moved)
    assert not (tmp_path / "bad.zarr").exists()
    unlabelled = write_latent_store(tmp_path / "u.zarr", np.random.default_rng(0).normal(size=(40, 32, 8)),
                                    np.full(40, -1), mask, label_names=[])
    train(unlabelled, tmp_path / "u-run", TrainConfig(backbone="baseline", epochs=1, timesteps=10))
    with pytest.raises(GenomesynthError, match="trained without labels"):
        sample(tmp_path / "u-run", tmp_path / "bad.zarr", SampleConfig(n=2, label="0"))


def test_same_seed_same_samples(toy_store, tmp_path):
    train(toy_store, tmp_path / "run", TrainConfig(backbone="unet-cnn", epochs=1, timesteps=20))
    for name in ("a", "b"):
        sample(tmp_path / "run", tmp_path / f"{name}.zarr", SampleConfig(n=8, sampler="ddim", steps=5, seed=9))
    with open_store(tmp_path / "a.zarr") as a, open_store(tmp_path / "b.zarr") as b:
        np.testing.assert_array_equal(a.latents[:], b.latents[:])


def test_training_refuses_bad_requests(toy_store, tmp_path):
    from conftest import write_latent_store

    syn = write_latent_store(tmp_path / "syn.zarr", np.zeros((4, 32, 8)), np.zeros(4, int), np.ones((32, 8), bool), role="synthetic")
    with pytest.raises(GenomesynthError, match="train on a real store"):
        train(syn, tmp_path / "r1", TrainConfig(epochs=1))
    with pytest.raises(GenomesynthError, match="unknown backbone"):
        train(toy_store, tmp_path / "r2", TrainConfig(backbone="gan"))
    if not torch.cuda.is_available():
        with pytest.raises(GenomesynthError, match="no GPU"):
            train(toy_store, tmp_path / "r3", TrainConfig(device="cuda"))
    with pytest.raises(GenomesynthError, match="no checkpoint"):
        sample(tmp_path / "empty", tmp_path / "s.zarr")
    train(toy_store, tmp_path / "r4", TrainConfig(backbone="baseline", epochs=1, timesteps=10))
    with pytest.raises(GenomesynthError, match="--resume"):
        train(toy_store, tmp_path / "r4", TrainConfig(backbone="baseline", epochs=1, timesteps=10))


def test_two_process_ddp_on_gloo(toy_store, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29517",
         "-m", "genomesynth", "train", str(toy_store), "-o", str(tmp_path / "ddp"), "--backbone", "unet-mlp",
         "--epochs", "2", "--timesteps", "50", "--device", "cpu", "-q"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    records = _losses(tmp_path / "ddp")
    assert len(records) == 2  # rank 0 alone writes metrics
    saved = torch.load(tmp_path / "ddp" / "last.pt", weights_only=False)
    assert saved["step"] == 12


@pytest.fixture(scope="module")
def structured_store(tmp_path_factory):
    """Two populations, unlabelled, apart along one direction that spans every gene (ancestry)."""
    from conftest import write_latent_store

    rng = np.random.default_rng(3)
    n, genes = 400, 32
    mask = np.zeros((genes, 8), bool)
    mask[:30, :4] = True
    direction = rng.normal(size=(genes, 8)) * mask
    direction /= np.linalg.norm(direction)
    population = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    latents = (population[:, None, None] * 2.5 * direction * np.sqrt(mask.sum())
               + 0.6 * rng.normal(size=(n, genes, 8))) * mask
    return write_latent_store(tmp_path_factory.mktemp("pop") / "pop.zarr", latents, np.full(n, -1), mask)


@pytest.mark.parametrize("backbone", ["baseline", "unet-mlp", "unet-cnn", "mlp+cnn", "transformer"])
def test_every_backbone_trains_and_keeps_population_structure(structured_store, tmp_path, backbone):
    """The population prior gives every backbone the structure across genes from the first steps
    (the labels say nothing of it here)."""
    from genomesynth.metrics.dispersion import dispersion

    def pc1_ratio(prior: str) -> float:
        run = tmp_path / prior
        config = TrainConfig(backbone=backbone, max_steps=20, epochs=1000, batch_size=64, timesteps=100,
                             prior=prior, seed=0, recon_bins=2)
        summary = train(structured_store, run, config)
        assert np.isfinite(summary.train_loss)
        sample(run, tmp_path / f"{prior}.zarr", SampleConfig(n=300, sampler="ddim", steps=20, seed=0, checkpoint="last"))
        with open_store(tmp_path / f"{prior}.zarr") as syn, open_store(structured_store) as real:
            mask = real.mask()
            return dispersion(real.latents[:][:, mask], syn.latents[:][:, mask])["pc1"]

    assert 0.8 < pc1_ratio("population") < 1.25


def test_a_run_saved_before_priors_existed_samples_and_resumes_as_isotropic(toy_store, tmp_path):
    config = TrainConfig(backbone="transformer", max_steps=6, epochs=100, batch_size=64, timesteps=50, seed=0,
                         recon_bins=2)
    train(toy_store, tmp_path / "run", config)
    for name in ("last.pt", "best.pt"):  # strip what this version adds, as an older checkpoint lacks it
        state = torch.load(tmp_path / "run" / name, weights_only=False)
        del state["prior"]
        for key in ("prior", "prior_rank", "prior_components", "prior_shrinkage"):
            state["config"].pop(key)
        torch.save(state, tmp_path / "run" / name)
    sample(tmp_path / "run", tmp_path / "syn.zarr", SampleConfig(n=8, sampler="ddim", steps=5, seed=0))
    summary = train(toy_store, tmp_path / "run", TrainConfig(max_steps=9, epochs=100), resume=True)
    assert summary.steps == 9
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    assert state["config"]["prior"] == "isotropic" and state["prior"]["basis"].shape[1] == 0


def test_prior_shrinkage_from_the_command_line(toy_store, tmp_path):
    """`--prior-shrinkage` reaches the prior: a number is recorded as given, inf as null (the shared axes)."""
    from typer.testing import CliRunner

    from genomesynth.cli import app

    for value, recorded in (("64", 64.0), ("inf", None)):
        run = tmp_path / value
        result = CliRunner().invoke(app, ["train", str(toy_store), "-o", str(run), "--max-steps", "2",
                                          "--prior-shrinkage", value, "-q"])
        assert result.exit_code == 0, result.output
        assert json.loads((run / "config.json").read_text())["train"]["prior_shrinkage"] == recorded
    refused = CliRunner().invoke(app, ["train", str(toy_store), "-o", str(tmp_path / "bad"), "--max-steps", "2",
                                       "--prior-shrinkage", "-1", "-q"])
    assert refused.exit_code != 0 and "--prior-shrinkage must be" in str(refused.exception)


def test_prior_label_effects_from_the_command_line(toy_store, tmp_path):
    """Label effects are on by default and recorded; `--no-prior-label-effects` leaves the prior's shifts at zero.
    (A store whose cases also differ at one gene beyond the two populations, so that there is a shift to find.)"""
    from typer.testing import CliRunner

    from genomesynth.cli import app
    from conftest import write_latent_store

    rng = np.random.default_rng(0)
    mask = np.zeros((32, 8), bool)
    mask[:20, :5] = True
    labels = np.arange(400) % 2
    latents = np.where(rng.random(400) < 0.5, 2.0, -2.0)[:, None, None] + 0.5 * rng.normal(size=(400, 32, 8))
    latents[:, 3, :4] += 0.5 * labels[:, None]
    store = write_latent_store(tmp_path / "cases.zarr", latents, labels, mask)
    for flag, on in (([], True), (["--no-prior-label-effects"], False)):
        run = tmp_path / str(on)
        result = CliRunner().invoke(app, ["train", str(store), "-o", str(run), "--max-steps", "2", *flag, "-q"])
        assert result.exit_code == 0, result.output
        assert json.loads((run / "config.json").read_text())["train"]["prior_label_effects"] is on
        shift = torch.load(run / "last.pt", weights_only=False)["prior"]["shift"]
        assert shift.shape[0] == 3 and not shift[-1].any()  # two labels and the null class, which has none
        assert bool(shift.any()) is on


def test_prior_reference_from_the_command_line(toy_store, tmp_path):
    """`--prior-reference` takes the prior's axes from a panel in the cohort's codec (recorded as an input of the
    run, and the axes differ from the training people's own); a panel in another codec is refused in one line
    that says how to encode it."""
    from typer.testing import CliRunner

    from conftest import write_latent_store
    from genomesynth.cli import app

    with open_store(toy_store) as real:
        mask = real.mask()
    rng = np.random.default_rng(5)
    labels = np.arange(200) % 2
    panel = np.where(labels == 0, 2.0, -2.0)[:, None, None] + 0.5 * rng.normal(size=(200, 32, 8))
    panel[:, :, 0] += 1.5 * rng.normal(size=(200, 1))  # a direction the panel varies along and the cohort does not
    good = write_latent_store(tmp_path / "panel.zarr", panel, labels, mask, id_prefix="REF")
    other = write_latent_store(tmp_path / "other.zarr", panel, labels, mask, codec_id="another", id_prefix="REF")
    runs = {}
    for name, extra in (("own", []), ("panel", ["--prior-reference", str(good)])):
        runs[name] = tmp_path / name
        result = CliRunner().invoke(app, ["train", str(toy_store), "-o", str(runs[name]), "--max-steps", "2", "-q", *extra])
        assert result.exit_code == 0, result.output
    config = json.loads((runs["panel"] / "config.json").read_text())
    assert config["train"]["prior_reference"] == str(good.resolve())
    assert config["prior"]["axes_from"]["people"] == 200 and 0 < config["prior"]["axes_from"]["coverage"] <= 1.05
    state = torch.load(runs["panel"] / "last.pt", weights_only=False)
    assert any(Path(i["path"]) == good.resolve() for i in state["provenance"]["inputs"])
    panel_only = torch.zeros(32, 8, dtype=torch.float64)
    panel_only[:20, 0] = 1 / 20**0.5  # the panel's own direction, in the prior's flattened positions
    captured = {name: float((torch.load(run / "last.pt", weights_only=False)["prior"]["basis"].double().T
                             @ panel_only.reshape(-1)).norm()) for name, run in runs.items()}
    assert captured["panel"] > 0.9 and captured["own"] < 0.6  # own: about what a random subspace of its rank holds
    refused = CliRunner().invoke(app, ["train", str(toy_store), "-o", str(tmp_path / "bad"), "--max-steps", "2",
                                       "--prior-reference", str(other), "-q"])
    assert refused.exit_code != 0 and "genomesynth encode" in str(refused.exception) and "another" in str(refused.exception)
    with pytest.raises(GenomesynthError, match="--prior isotropic has none"):
        TrainConfig(prior="isotropic", prior_reference=str(good))
    itself = CliRunner().invoke(app, ["train", str(toy_store), "-o", str(tmp_path / "self"), "--max-steps", "2",
                                      "--prior-reference", str(toy_store), "-q"])  # the cohort as its own panel
    assert itself.exit_code != 0 and "400 of its people are in the cohort" in str(itself.exception)
    drawn = write_latent_store(tmp_path / "drawn.zarr", panel, labels, mask, role="synthetic", id_prefix="SYN")
    for path, message in ((tmp_path / "none.zarr", "no such store; put the reference panel into the cohort's codec"),
                          (drawn, "role is 'synthetic', people drawn from a model")):
        with pytest.raises(GenomesynthError, match=message):
            train(toy_store, tmp_path / "refused", TrainConfig(max_steps=2, prior_reference=str(path)))
    with pytest.raises(GenomesynthError, match="not the store this run was trained on; resume with the same store"):
        train(other, runs["own"], TrainConfig(max_steps=4), resume=True)  # another codec's store under a run


def test_residual_scale_zero_samples_the_prior_alone_and_validated_shrinks_a_harmful_residual(toy_store, tmp_path):
    """--residual-scale 0 draws what the same run with its network zeroed draws; the default (`validated`) shrinks a
    network made harmful to the scale with the lowest loss on the run's validation people, recorded in the store,
    and keeps a zero network (no slope) at 1."""
    train(toy_store, tmp_path / "run", TrainConfig(epochs=2, timesteps=20))
    state = torch.load(tmp_path / "run" / "best.pt", weights_only=False)
    zeroed = {**state, "ema": {k: torch.zeros_like(v) for k, v in state["ema"].items()}}
    harmful = {**state, "ema": {k: v * 30 if v.is_floating_point() else v for k, v in state["ema"].items()}}
    torch.save(zeroed, tmp_path / "zeroed.pt")
    torch.save(harmful, tmp_path / "harmful.pt")
    config = dict(n=12, sampler="ddim", steps=4, seed=3)
    sample(tmp_path / "run", tmp_path / "prior.zarr", SampleConfig(**config, residual_scale="0"))
    zero = sample(tmp_path / "run", tmp_path / "zeroed.zarr",
                  SampleConfig(**config, checkpoint=str(tmp_path / "zeroed.pt")))
    assert zero.residual_scale == 1.0 and zero.residual_chosen == "validated"
    with open_store(tmp_path / "prior.zarr") as a, open_store(tmp_path / "zeroed.zarr") as b:
        np.testing.assert_allclose(a.latents[:], b.latents[:], rtol=0, atol=1e-6)
        assert a.attrs["model"]["residual_scale"] == {"scale": 0.0, "chosen": "given"}
    summary = sample(tmp_path / "run", tmp_path / "v.zarr", SampleConfig(**config, checkpoint=str(tmp_path / "harmful.pt")))
    assert summary.residual_scale < 0.1 and summary.residual_chosen == "validated"
    with open_store(tmp_path / "v.zarr") as v:
        recorded = v.attrs["model"]["residual_scale"]
        assert recorded["slope_z"] > 2 and recorded["best"] == summary.residual_scale
        losses = recorded["val_loss"]
        assert losses[f"{summary.residual_scale:g}"] <= min(losses["0"], losses["0.5"]) < losses["1"]
    train(toy_store, tmp_path / "all", TrainConfig(epochs=1, timesteps=20, val_fraction=0))
    unvalidated = sample(tmp_path / "all", tmp_path / "all.zarr", SampleConfig(**config))
    assert unvalidated.residual_scale == 1.0 and "0 validation people" in unvalidated.residual_chosen
    assert "0 validation people" in unvalidated.membership["skipped"]
    for bad in ("-1", "half"):
        with pytest.raises(GenomesynthError, match="--residual-scale"):
            SampleConfig(residual_scale=bad)


def test_a_gpus_mixed_precision_draws_the_prior_exactly(toy_store, tmp_path, monkeypatch):
    """On a GPU the backbone runs under bf16 autocast (the CPU's autocast, turned on here, rounds matrix products
    alike). The prior's part of a draw must not: with the network's residual at 0 a draw is the same, bitwise, with
    mixed precision as without — whichever call builds the prior's per-t table (it was once built in bf16 when a
    draw's first call came under autocast: docs/PERFORMANCE.md)."""
    import genomesynth.train as module

    train(toy_store, tmp_path / "run", TrainConfig(epochs=2, timesteps=20))
    config = dict(n=12, sampler="ddim", steps=4, seed=3, residual_scale="0")
    sample(tmp_path / "run", tmp_path / "plain.zarr", SampleConfig(**config))
    monkeypatch.setattr(module, "BF16_DEVICES", ("cuda", "cpu"))
    sample(tmp_path / "run", tmp_path / "mixed.zarr", SampleConfig(**config))
    sample(tmp_path / "run", tmp_path / "network.zarr", SampleConfig(**{**config, "residual_scale": "1"}))
    with (open_store(tmp_path / "plain.zarr") as plain, open_store(tmp_path / "mixed.zarr") as mixed,
          open_store(tmp_path / "network.zarr") as network):
        np.testing.assert_array_equal(plain.latents[:], mixed.latents[:])
        drawn, padding = network.latents[:], ~network.read("mask")
        assert np.isfinite(drawn).all() and np.all(drawn[:, padding] == 0) and not np.array_equal(drawn, mixed.latents[:])


def test_sample_audits_membership_on_the_runs_own_validation_people(toy_store, tmp_path):
    """Every draw records eval's membership attack with the people its run was fitted to as members and the run's
    validation people as non-members; a "draw" that is the fitted people themselves reads as one."""
    from genomesynth.sample import _membership_audit
    from genomesynth.train import validation_split

    train(toy_store, tmp_path / "run", TrainConfig(epochs=1, timesteps=20, seed=2))
    summary = sample(tmp_path / "run", tmp_path / "s.zarr", SampleConfig(n=40, sampler="ddim", steps=4, seed=1))
    with open_store(tmp_path / "s.zarr") as s, open_store(toy_store) as real:
        audit = s.attrs["model"]["membership"]
        assert audit == summary.membership and audit["against"] == "the run's validation people"
        assert audit["people"] == 40 and 0 <= audit["raw"] <= 1 and 0 <= audit["standardised"] <= 1  # 10 % of 400
        state = torch.load(tmp_path / "run" / "best.pt", weights_only=False)
        val, fit = validation_split(np.flatnonzero(real.split() == "train"), 0.1, 2)
        labels = real.label()
        copies = _membership_audit(real, state, real.read_people(fit), labels[fit], 0, torch.device("cpu"))
        assert copies["raw"] > 0.95 and copies["standardised"] > 0.95
        # the attack through the label's shift (eval's mia_auc_label), on the same matched people: the draw's labels
        # against the run's fit and validation people, every one of them scored
        members, others = matched_sets(len(fit), len(val), labels[fit], labels[val], np.random.default_rng(1))
        members, others = np.sort(fit[members]), np.sort(val[others])
        mask, scale = real.mask(), (real.read("stats/mean")[real.mask()], real.read("stats/std")[real.mask()])
        expected = label_membership(s.read("latents")[:, mask], s.read("label"), real.read_people(members)[:, mask],
                                    labels[members], real.read_people(others)[:, mask], labels[others], scale, 1)
        assert audit["label"] == pytest.approx(expected) and 0 <= audit["label"] <= 1


def test_validated_scale_shrinks_only_on_a_significant_slope():
    """The rule behind `--residual-scale validated`, on per-person loss coefficients L_i(s) = a + 2s·b + s²·c: a residual
    that overshoots consistently (optimum 0.6) is shrunk to 0.6; the same mean slope drowned in person-to-person
    noise keeps 1; a residual that would be better amplified is kept at 1 (never above)."""
    n = 200
    g = torch.Generator().manual_seed(0)
    a, c = torch.full((n,), 1.0, dtype=torch.float64), torch.full((n,), 0.1, dtype=torch.float64)
    b = torch.full((n,), -0.06, dtype=torch.float64) + 0.001 * torch.randn(n, generator=g, dtype=torch.float64)
    shrunk = validated_scale(a, b, c)
    assert shrunk["scale"] == shrunk["best"] == 0.6 and shrunk["slope_z"] > 2
    assert shrunk["val_loss"]["0.6"] < shrunk["val_loss"]["1"]
    noisy = validated_scale(a, b + 2.0 * torch.randn(n, generator=g, dtype=torch.float64), c)
    assert noisy["slope_z"] <= 2 and noisy["scale"] == 1.0
    timid = validated_scale(a, torch.full((n,), -0.3, dtype=torch.float64), c)
    assert timid["scale"] == 1.0 and timid["best"] == 1.0 and timid["slope_z"] < 0
