"""eval, baseline and plot on a tiny real store: the JSON schema, the refusals and the figures."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from genomesynth.baselines import reference_generator
from genomesynth.cli import app
from genomesynth.errors import GenomesynthError
from genomesynth.evaluate import EvalConfig, evaluate
from genomesynth.store import open_store

from conftest import write_latent_store

runner = CliRunner()
FAST = EvalConfig(repeats=1, classifier_epochs=3, k=5)


@pytest.fixture(scope="module")
def stores(real_store, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eval")
    reference_generator(real_store, tmp / "gauss.zarr", "gaussian", seed=1)
    reference_generator(real_store, tmp / "mosaic.h5", "mosaic", n=50, seed=2)
    return tmp


def test_reference_generators_keep_the_schema_and_label_mix(real_store, stores):
    with open_store(real_store) as real, open_store(stores / "mosaic.h5") as mosaic, open_store(stores / "gauss.zarr") as gauss:
        mask = real.mask()
        assert mosaic.role == gauss.role == "synthetic" and mosaic.n_people == 50
        assert mosaic.attrs["codec_id"] == real.attrs["codec_id"]
        assert np.all(mosaic.latents[:][:, ~mask] == 0) and np.all(gauss.latents[:][:, ~mask] == 0)
        train = real.split() == "train"
        share = (real.label()[train] == 1).mean()
        assert abs((mosaic.label() == 1).mean() - share) <= 1 / 50 + 1e-9
        # a mosaic person's every gene is some training person's gene, of the same label
        real_train, labels = real.latents[:][train], real.label()[train]
        person, gene = mosaic.latents[0], 2
        donors = real_train[labels == mosaic.label()[0]][:, gene]
        assert np.any(np.all(np.isclose(donors, person[gene]), axis=1))


def test_eval_json_schema(real_store, stores):
    result = evaluate([stores / "gauss.zarr", stores / "mosaic.h5"], real_store, FAST, names=["g", "m"])
    json.dumps(result)  # JSON-able
    assert set(result) >= {"genomesynth_version", "inputs", "settings", "real", "synthetic"}
    assert set(result["real"]) == {"dispersion", "aa", "nn_test", "tstr", "augment", "genotype", "kinship", "gwas",
                                   "held_out_twins", "seconds"}
    assert result["real"]["held_out_twins"] == []  # the tiny cohort's people are all distinct
    assert result["real"]["seconds"] > 0 and result["synthetic"]["g"]["seconds"] > 0
    assert set(result["real"]["augment"]) == {"fractions", "classifier", "real_only", "augmented", "gain"}
    assert set(result["real"]["kinship"]) == {"duplicate", "first_degree", "second_degree", "max", "p99", "median"}
    assert set(result["real"]["gwas"]) >= {"effect_r", "logp_r", "top_recall"}
    assert set(result["real"]["dispersion"]) == {"per_position", "pc", "pc_mean", "pc1", "pc2", "pc3", "matched_mix",
                                                 "pc_se", "pc_mean_se", "pc1_se", "pc2_se", "pc3_se"}
    assert all(0 < se < 1 for se in result["real"]["dispersion"]["pc_se"])
    assert result["real"]["dispersion"]["matched_mix"]  # a labelled cohort: each set against training at its mix
    assert set(result["real"]["aa"]) == {"truth", "syn", "aa"}
    assert set(result["real"]["tstr"]) == {"mlp", "transformer", "cnn"}
    assert set(result["real"]["tstr"]["mlp"]["accuracy"]) == {"mean", "sd", "runs"}
    assert set(result["real"]["tstr"]["mlp"]) == {"accuracy", "balanced_accuracy", "roc_auc", "epochs"}
    g = result["synthetic"]["g"]
    assert set(g) >= {"dispersion", "aa", "privacy_loss", "nn_test", "tstr", "dcr", "mia_auc", "mia_auc_standardised",
                      "genotype", "flags", "kinship", "gwas", "augment"}
    assert set(g["aa"]) == {"train", "test", "train_whole"} and set(g["aa"]["train"]) == {"truth", "syn", "aa"}
    assert set(g["kinship"]) == {"train", "test", "membership"} and 0 <= g["kinship"]["membership"]["auc"] <= 1
    assert g["privacy_loss"] == pytest.approx(g["aa"]["test"]["aa"] - g["aa"]["train"]["aa"])
    assert set(g["nn_test"]) == {"train", "test"}
    assert 0 <= g["mia_auc"] <= 1 and 0 <= g["mia_auc_standardised"] <= 1 and 0 <= g["genotype"]["pca_overlap"] <= 1


def test_a_held_out_person_who_is_a_training_person_under_another_id_is_named(tmp_path):
    """The real column lists held-out people near-identical to a training person (neighbours.near_identical) and says
    so in the report's notes: every attack reads them as members."""
    from genomesynth.report import markdown

    rng = np.random.default_rng(0)
    mask = np.zeros((32, 8), bool)
    mask[:20, :5] = True
    latents = rng.normal(size=(120, 32, 8))
    latents[110] = latents[7] + 0.01 * rng.normal(size=(32, 8))  # re-genotyped: a held-out copy of P7
    split = np.array(["train"] * 100 + ["test"] * 20)
    real = write_latent_store(tmp_path / "real.zarr", latents, np.full(120, -1), mask, split=split)
    syn = write_latent_store(tmp_path / "syn.zarr", rng.normal(size=(60, 32, 8)), np.full(60, -1), mask,
                             role="synthetic")
    result = evaluate([syn], real, EvalConfig(metrics=("privacy",), repeats=1))
    assert result["real"]["held_out_twins"] == ["P110"]
    assert "real: 1 held-out person is near-identical to a training person (e.g. P110)" in markdown(result)


def test_copies_of_training_people_read_as_copies(real_store, tmp_path):
    """Copy-sensitive AA ≈ 0 and kinship duplicates for a store that is the training set itself."""
    from genomesynth.store import REFERENCE_ATTRS, StoreWriter, copy_reference

    with open_store(real_store) as real, StoreWriter(tmp_path / "copies.zarr") as writer:
        train = np.flatnonzero(real.split() == "train")
        writer.create_latents(len(train), real.n_genes_padded)[:] = real.read_people(train)
        copy_reference(real, writer)
        writer.write("sample_id", np.array([f"C{i}" for i in range(len(train))], dtype=object))
        writer.write("label", real.label()[train].astype(np.int32))
        writer.set_attrs({**{k: real.attrs[k] for k in REFERENCE_ATTRS if k in real.attrs},
                          "schema_version": 1, "role": "synthetic"})
    result = evaluate([tmp_path / "copies.zarr"], real_store, EvalConfig(metrics=("aa", "kinship"), repeats=1))
    copies = result["synthetic"]["copies"]
    assert copies["aa"]["train_whole"]["truth"] == 0.0 and copies["aa"]["train_whole"]["aa"] < 0.1
    assert copies["aa"]["train"]["truth"] > 0.2  # what the held-out-sized subsample reads: blind to copies
    # the toy cohort's people descend from three founders (near-duplicates by chance): compare train with held-out
    assert copies["kinship"]["train"]["duplicate"] > 3 * copies["kinship"]["test"]["duplicate"]
    assert copies["kinship"]["membership"]["auc"] > 0.9  # every member's closest synthetic kin is their copy
    assert any("by closest synthetic kin" in flag for flag in copies["flags"])


def test_a_stores_numbers_do_not_depend_on_what_else_its_eval_holds_nor_on_its_name(real_store, stores):
    """Each draw of eval's has its own seeded stream (the metric, and which column): a store reads the same
    evaluated alone or beside another, with one metric or several, under any name, and the real column the same
    throughout; two stores meet the same real subsamples, so the same store twice reads the same twice."""
    from dataclasses import replace

    both = evaluate([stores / "gauss.zarr", stores / "mosaic.h5"], real_store,
                    replace(FAST, metrics=("aa", "nn", "genotype", "kinship")), names=["g", "m"])
    for metrics in (("aa",), ("nn",), ("genotype", "kinship")):
        alone = evaluate([stores / "mosaic.h5"], real_store, replace(FAST, metrics=metrics), names=["renamed"])
        for key in {"aa": ("aa", "privacy_loss"), "nn": ("nn_test",), "genotype": ("genotype", "kinship")}[metrics[0]]:
            assert alone["synthetic"]["renamed"][key] == both["synthetic"]["m"][key], key
            if key in alone["real"]:
                assert alone["real"][key] == both["real"][key], key
    assert both["synthetic"]["m"]["aa"] != both["synthetic"]["g"]["aa"]
    twice = evaluate([stores / "gauss.zarr", stores / "gauss.zarr"], real_store,
                     replace(FAST, metrics=("aa", "nn", "privacy")), names=["one", "two"])["synthetic"]
    assert {k: v for k, v in twice["one"].items() if k != "seconds"} == {k: v for k, v in twice["two"].items()
                                                                          if k != "seconds"}


def test_distance_metrics_use_every_person_of_the_larger_set_in_equal_rounds():
    """AA and the NN test average rounds of equal-size subsamples that together use every person of the larger set
    (each round its own disjoint block), at least `repeats` of them, one when no set has more than n people."""
    from genomesynth.evaluate import MAX_ROUNDS, _rounds

    seen: list[tuple[np.ndarray, np.ndarray]] = []

    def record(x, y):
        seen.append((x.copy(), y.copy()))
        return {"size": float(len(x))}

    large, small = np.arange(1030), np.arange(100) + 5000
    assert _rounds(record, small, large, 100, 3, np.random.default_rng(0)) == {"size": 100.0}
    assert len(seen) == 10  # ⌊1030 / 100⌋ rounds, more than the 3 asked for
    drawn = np.concatenate([y for _, y in seen])
    assert len(drawn) == len(set(drawn.tolist())) == 1000  # disjoint blocks: 1,000 of the 1,030, each once
    assert all(np.array_equal(x, small) for x, _ in seen)  # the smaller set whole in every round
    seen.clear()
    _rounds(record, large[:250], large[:220], 100, 3, np.random.default_rng(0))
    assert len(seen) == 3 and all(len(x) == len(y) == 100 for x, y in seen)
    assert len(set(np.concatenate([x for x, _ in seen[:2]]).tolist())) == 200  # a new order only once one is used up
    seen.clear()
    _rounds(record, small, small + 1, 100, 3, np.random.default_rng(0))
    assert len(seen) == 1  # nothing to subsample: every round would be the same
    seen.clear()
    _rounds(record, np.arange(40 * 100), small, 100, 3, np.random.default_rng(0))
    assert len(seen) == MAX_ROUNDS


def test_eval_refuses_a_store_with_another_codec(real_store, tmp_path):
    other = write_latent_store(tmp_path / "o.zarr", np.zeros((5, 32, 8)), np.zeros(5, int), np.ones((32, 8), bool),
                               role="synthetic", codec_id="different")
    with pytest.raises(GenomesynthError, match="codec/gene layout"):
        evaluate([other], real_store, FAST)


def test_eval_refuses_bad_requests_naming_what_to_do(real_store, stores, tmp_path):
    import dataclasses

    with open_store(real_store) as real:
        mask, codec, names = real.mask(), real.attrs["codec_id"], real.label_names
    relabelled = write_latent_store(tmp_path / "l.zarr", np.zeros((5, *mask.shape)), np.zeros(5, int), mask,
                                    role="synthetic", codec_id=codec, label_names=[f"other-{n}" for n in names])
    quick = dataclasses.replace(FAST, metrics=("dispersion",))
    refused = {
        "labels .* differ from the real store's": lambda: evaluate([relabelled], real_store, quick),
        "--real must be a store from `compress`": lambda: evaluate([relabelled], stores / "gauss.zarr", quick),
        "one distinct name per synthetic store": lambda: evaluate([stores / "gauss.zarr", stores / "mosaic.h5"],
                                                                  real_store, quick, names=["a", "a"]),
        "--metrics: unknown tstar": lambda: EvalConfig(metrics=("tstar",)),
        "--classifiers: unknown svm": lambda: EvalConfig(classifiers=("svm",)),
        "--reference .* not found; pass the file an earlier `eval --json` wrote":
            lambda: evaluate([stores / "gauss.zarr"], real_store,
                             dataclasses.replace(quick, reference=tmp_path / "none.json")),
    }
    for message, call in refused.items():
        with pytest.raises(GenomesynthError, match=message):
            call()


def test_a_reused_reference_column_gives_the_scores_of_an_eval_alone(real_store, stores, tmp_path, monkeypatch):
    """eval A, then eval B --reference A.json: every score as eval B alone gives, the real column's classifiers
    untrained; a reference from other settings or other people is refused."""
    import dataclasses

    config = dataclasses.replace(FAST, classifiers=("mlp", "cnn"))
    alone = evaluate([stores / "mosaic.h5"], real_store, config, names=["m"])
    first = evaluate([stores / "gauss.zarr"], real_store, config, names=["g"])
    (tmp_path / "first.json").write_text(json.dumps(first))
    from genomesynth.metrics.runner import FitRunner
    from genomesynth.metrics.utility import AUGMENT_FRACTIONS

    fits: list[str] = []
    submit = FitRunner.submit
    monkeypatch.setattr(FitRunner, "submit", lambda self, kind, *a: fits.append(kind) or submit(self, kind, *a))
    reused = evaluate([stores / "mosaic.h5"], real_store, dataclasses.replace(config, reference=tmp_path / "first.json"),
                      names=["m"])
    drop = {"seconds"}
    assert ({k: v for k, v in reused["synthetic"]["m"].items() if k not in drop}
            == {k: v for k, v in alone["synthetic"]["m"].items() if k not in drop})
    assert ({k: v for k, v in reused["real"].items() if k not in drop}
            == {k: v for k, v in alone["real"].items() if k not in drop})
    assert reused["settings"]["reference"] == str(tmp_path / "first.json")
    assert len(fits) == (2 + len(AUGMENT_FRACTIONS)) * config.repeats  # the store's fits only
    with pytest.raises(GenomesynthError, match="seed 0, this eval has 1"):
        evaluate([stores / "mosaic.h5"], real_store,
                 dataclasses.replace(config, seed=1, reference=tmp_path / "first.json"))
    older = json.loads(json.dumps(first))
    del older["settings"]["classifier_revision"]  # classifiers that scored otherwise for the same seed
    (tmp_path / "older.json").write_text(json.dumps(older))
    with pytest.raises(GenomesynthError, match="classifier_revision None, this eval has"):
        evaluate([stores / "mosaic.h5"], real_store, dataclasses.replace(config, reference=tmp_path / "older.json"))
    rounded = json.loads(json.dumps(first))
    rounded["real"]["dispersion"]["pc_mean"] *= 1 + 5e-7  # float32 sums under another thread count: the same people
    (tmp_path / "rounded.json").write_text(json.dumps(rounded))
    evaluate([stores / "mosaic.h5"], real_store, dataclasses.replace(config, reference=tmp_path / "rounded.json"))
    tampered = json.loads(json.dumps(first))
    tampered["real"]["aa"]["aa"] += 0.01  # as if the earlier eval had seen other people
    (tmp_path / "tampered.json").write_text(json.dumps(tampered))
    with pytest.raises(GenomesynthError, match="real column's aa differs"):
        evaluate([stores / "mosaic.h5"], real_store, dataclasses.replace(config, reference=tmp_path / "tampered.json"))
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(GenomesynthError, match="not an eval JSON"):
        evaluate([stores / "mosaic.h5"], real_store, dataclasses.replace(config, reference=tmp_path / "bad.json"))


def test_a_column_computes_with_one_thread_while_its_classifiers_train_in_workers(real_store, stores, monkeypatch):
    """Workers take the job's cores; the column's other metrics beside them use one thread, and the threads come back."""
    import dataclasses

    import torch

    import genomesynth.evaluate as evaluate_module

    seen: list[int] = []
    measure = evaluate_module.dispersion
    monkeypatch.setattr(evaluate_module, "dispersion", lambda *a: seen.append(torch.get_num_threads()) or measure(*a))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        config = dataclasses.replace(FAST, metrics=("dispersion", "tstr"), classifiers=("cnn",), classifier_epochs=1)
        evaluate([stores / "gauss.zarr"], real_store, dataclasses.replace(config, workers=2))
        assert seen == [1, 1]  # the real column's and the store's
        assert torch.get_num_threads() == 2
        seen.clear()
        evaluate([stores / "gauss.zarr"], real_store, dataclasses.replace(config, workers=1))
        assert seen == [2, 2]  # fits in this process, one after another: nothing to make room for
    finally:
        torch.set_num_threads(before)


def test_eval_cli_tables_and_json(real_store, stores, tmp_path):
    result = runner.invoke(app, ["eval", str(stores / "gauss.zarr"), "--real", str(real_store), "--metrics", "aa,nn,privacy",
                                 "--repeats", "1", "--json", str(tmp_path / "m.json"), "-q", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "adversarial accuracy" in result.output and "membership inference" in result.output
    data = json.loads((tmp_path / "m.json").read_text())
    assert "tstr" not in data["synthetic"]["gauss"] and "mia_auc" in data["synthetic"]["gauss"]
    people, se = data["synthetic"]["gauss"]["mia_people"], data["synthetic"]["gauss"]["mia_se"]
    assert people > 0 and "s.e. by chance" in result.output and f"± {se:.3f}" in result.output  # the row under the AUCs


def test_plots_are_written(real_store, stores, tmp_path, toy_store):
    from genomesynth.plots import curves_plot, metrics_plot, umap_plot
    from genomesynth.train import TrainConfig, train

    umap_plot(real_store, [stores / "gauss.zarr"], tmp_path / "u.png", max_people=60)
    train(toy_store, tmp_path / "run", TrainConfig(backbone="baseline", epochs=2, timesteps=20, recon_bins=3))
    curves_plot([tmp_path / "run"], tmp_path / "c.svg")
    result = evaluate([stores / "gauss.zarr"], real_store, EvalConfig(repeats=1, classifier_epochs=2, classifiers=("mlp",)))
    (tmp_path / "m.json").write_text(json.dumps(result))
    metrics_plot(tmp_path / "m.json", tmp_path / "m.pdf")
    assert (tmp_path / "u.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "c.svg").read_text().lstrip().startswith("<?xml")
    assert (tmp_path / "m.pdf").read_bytes()[:4] == b"%PDF"
    with pytest.raises(GenomesynthError, match=".png, .svg or .pdf"):
        metrics_plot(tmp_path / "m.json", tmp_path / "m.gif")


def test_metrics_plot_without_labels_shows_fidelity(real_store, stores, tmp_path):
    """An unlabelled cohort has no TSTR: the figure puts adversarial accuracy against privacy instead of nothing."""
    from genomesynth.plots import metrics_plot

    result = evaluate([stores / "gauss.zarr", stores / "mosaic.h5"], real_store, EvalConfig(metrics=("aa", "privacy")))
    assert all("tstr" not in s for s in result["synthetic"].values())
    (tmp_path / "m.json").write_text(json.dumps(result))
    summary = metrics_plot(tmp_path / "m.json", tmp_path / "m.png")
    assert summary["y"] == "aa" and summary["stores"] == 2
    assert (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"
    (tmp_path / "p.json").write_text(json.dumps(evaluate([stores / "gauss.zarr"], real_store,
                                                         EvalConfig(metrics=("privacy",)))))
    with pytest.raises(GenomesynthError, match="no store has TSTR or adversarial accuracy"):
        metrics_plot(tmp_path / "p.json", tmp_path / "p.png")
    assert not (tmp_path / "p.png").exists()


def test_augment_kinship_and_gwas_figures(real_store, stores, tmp_path):
    from genomesynth.plots import augment_plot, gwas_plot, kinship_plot

    result = evaluate([stores / "gauss.zarr"], real_store,
                      EvalConfig(metrics=("augment",), repeats=1, classifier_epochs=2, classifiers=("mlp",)))
    (tmp_path / "a.json").write_text(json.dumps(result))
    augment_plot(tmp_path / "a.json", tmp_path / "a.png")
    kinship_plot(real_store, [stores / "gauss.zarr"], tmp_path / "k.png")
    gwas_plot(real_store, [stores / "gauss.zarr", stores / "mosaic.h5"], tmp_path / "g.svg", names=["g", "m"])
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG" and (tmp_path / "k.png").read_bytes()[:4] == b"\x89PNG"
    assert "QQ" in (tmp_path / "g.svg").read_text()
