"""`eval`: synthetic stores against the real store they imitate — fidelity, utility, privacy.

Distances use the latents at real positions as stored (PCA scores, centred on the training mean:
an isometry of the centred genotypes within the kept components); classifiers see them
standardised. Every synthetic store is compared with the same equal-size subsamples of the real
train and held-out sets, and the same metrics between real train and real held-out people form the
reference column: a faithful generator sits near it, which need not be 0.5.
"""

from __future__ import annotations

import json
import math
import re
import time
import zlib
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import Progress

from genomesynth import __version__, checks, threads
from genomesynth.calibration import MODES as CALL_MODES
from genomesynth.calibration import calibrate, cohort_inbreeding, stored_call_gain, use_calibrated
from genomesynth.errors import GenomesynthError
from genomesynth.metrics.adversarial import adversarial_accuracy, nn_test
from genomesynth.metrics.classifiers import REVISION as CLASSIFIER_REVISION
from genomesynth.metrics.dispersion import dispersion, label_weights, principal_axes
from genomesynth.metrics.genotype import GenotypeReference
from genomesynth.metrics.gwas import Scan, concordance
from genomesynth.metrics.kinship import KinshipPanel
from genomesynth.metrics.neighbours import near_identical
from genomesynth.metrics.privacy import FLAGGED_AUC, privacy
from genomesynth.metrics.runner import FitRunner, People
from genomesynth.metrics.utility import (
    AUGMENT_FRACTIONS,
    CLASSIFIERS,
    ClassifierBudget,
    small_subsets,
    submit_augmentation,
    submit_tstr,
)
from genomesynth.merge import PartInfo, check_draw, part_info
from genomesynth.store import Store, open_store, store_name
from genomesynth.ui import quiet

METRICS = ("dispersion", "aa", "nn", "tstr", "augment", "privacy", "genotype", "kinship", "gwas")
MAX_ROUNDS = 32
"""At most this many rounds of equal-size subsamples per pair of sets for the distance metrics (`_rounds`)."""
DECODED = 2000
"""People per set decoded to genotype calls for the genotype, kinship and GWAS metrics (a seeded subsample)."""


@dataclass
class EvalConfig:
    metrics: tuple[str, ...] = METRICS
    classifiers: tuple[str, ...] = CLASSIFIERS
    k: int = 10
    repeats: int = 3
    max_people: int = 5000  # per set, for the distance metrics
    classifier_epochs: int = 30
    classifier_patience: int = 3  # epochs without a better validation loss before a classifier stops; 0: never
    seed: int = 0
    device: str = "cpu"
    workers: int | None = None
    """Processes that train the classifiers side by side on the CPU when a transformer or CNN is among them (None:
    this job's share of the cores; 1: one after another here). The scores do not depend on it (metrics/runner.py)."""
    calls: str = "auto"
    """Genotype calls of synthetic sets: auto (drawn people's from individual allele frequencies, genomesynth/calibration.py),
    calibrated or fixed (the codec's thresholds)."""
    reference: Path | None = None
    """An earlier eval's JSON (same real store, same settings) whose reference column's classifier scores (TSTR,
    augmentation) are reused instead of trained again; its other reference metrics are recomputed and must match."""

    def __post_init__(self) -> None:
        checks.whole("k", self.k)
        checks.whole("repeats", self.repeats)
        checks.whole("max_people", self.max_people, 2)
        checks.whole("classifier_epochs", self.classifier_epochs)
        checks.whole("classifier_patience", self.classifier_patience, 0)
        unknown = set(self.metrics) - set(METRICS)
        if unknown:
            raise GenomesynthError(f"--metrics: unknown {', '.join(sorted(unknown))}; choose from all,{','.join(METRICS)}")
        if self.calls not in CALL_MODES:
            raise GenomesynthError(f"--calls {self.calls!r}: use {', '.join(CALL_MODES)}")
        unknown = set(self.classifiers) - set(CLASSIFIERS)
        if unknown:
            raise GenomesynthError(f"--classifiers: unknown {', '.join(sorted(unknown))}; choose from {','.join(CLASSIFIERS)}")


@dataclass
class _Set:
    raw: np.ndarray  # (people, real positions) as stored
    labels: np.ndarray

    def standardised(self, mean: np.ndarray, std: np.ndarray, mask: np.ndarray, full: np.ndarray) -> np.ndarray:
        out = np.zeros((len(full), *mask.shape), dtype=np.float32)
        out[:, mask] = self.standardised_real(mean, std, mask)
        return out

    def standardised_real(self, mean: np.ndarray, std: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """(people, real positions), standardised with the training people's statistics."""
        return ((self.raw - mean[mask]) / std[mask]).astype(np.float32)


def _load(store: Store | _Parts, people: np.ndarray, mask: np.ndarray) -> tuple[_Set, np.ndarray]:
    full = store.read_people(people) if len(people) else np.zeros((0, *mask.shape), np.float32)
    return _Set(full[:, mask], store.label()[people]), full


def synthetic_sets(synthetic: list[str | Path]) -> list[list[Path]]:
    """Each store is a set of its own, except the parts of one sharded draw (`sample --shard K/N`), which
    are one set in K order — checked as `merge` checks them (every part once, one draw)."""
    order: list[Path | tuple[Any, ...]] = []  # a store's path, or the key of a draw at its first part
    draws: dict[tuple[Any, ...], list[PartInfo]] = {}
    for path in map(Path, synthetic):
        info = part_info(path)
        if info is None:
            order.append(path)
            continue
        _, _, shard, model, _ = info
        key = (model.get("run"), model.get("checkpoint"), shard["seed"], shard["total"], shard["of"])
        if key not in draws:
            draws[key] = []
            order.append(key)
        draws[key].append(info)
    return [[entry] if isinstance(entry, Path) else [info[1] for info in check_draw(draws[entry])] for entry in order]


class _Parts:
    """The parts of one sharded draw, read as one store: people in K order."""

    def __init__(self, parts: list[Store]) -> None:
        self.parts = parts
        self.path, self.attrs = parts[0].path, parts[0].attrs
        self.n_genes_padded, self.label_names = parts[0].n_genes_padded, parts[0].label_names
        self.offsets = np.cumsum([0] + [part.n_people for part in parts])
        self.n_people = int(self.offsets[-1])

    def label(self) -> np.ndarray:
        return np.concatenate([part.label() for part in self.parts])

    def read_people(self, index: np.ndarray) -> np.ndarray:
        """Rows of sorted global indices, from the parts that hold them."""
        owner = np.searchsorted(self.offsets[1:], index, side="right")
        return np.concatenate([self.parts[k].read_people(index[owner == k] - self.offsets[k])
                               for k in range(len(self.parts)) if (owner == k).any()])


def _one_set(stores: list[Store]) -> Store | _Parts:
    return stores[0] if len(stores) == 1 else _Parts(stores)


def _check_compatible(real: Store, syn: Store | _Parts) -> None:
    if syn.attrs.get("codec_id") != real.attrs.get("codec_id") or syn.n_genes_padded != real.n_genes_padded:
        raise GenomesynthError(
            f"{syn.path}: its codec/gene layout ({syn.attrs.get('codec_id')}, {syn.n_genes_padded} genes) differs "
            f"from {real.path} ({real.attrs.get('codec_id')}, {real.n_genes_padded}); compare stores made from one real store"
        )
    if syn.label_names != real.label_names:
        raise GenomesynthError(f"{syn.path}: labels {syn.label_names} differ from the real store's {real.label_names}")


def evaluate(
    synthetic: list[str | Path],
    real: str | Path,
    config: EvalConfig | None = None,
    *,
    names: list[str] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Evaluate synthetic stores against a real store; returns the JSON-able result (README schema)."""
    config = config or EvalConfig()
    progress = progress or quiet()
    sets = synthetic_sets(synthetic)  # the parts of a sharded draw are one set
    names = names or [store_name(paths[0]) if len(paths) == 1 else re.sub(r"[-_.]*\d+$", "", store_name(paths[0]))
                      or "draw" for paths in sets]
    if len(names) != len(sets) or len(set(names)) != len(names):
        raise GenomesynthError(f"--name: give one distinct name per synthetic store ({len(sets)} here: the parts of "
                               "a sharded draw are one)")
    with open_store(real) as real_store, ExitStack() as closing:
        columns = _Columns(real, real_store, config, closing)
        task = progress.add_task("evaluating", total=len(sets) + 1, status="real reference")
        result = _result_skeleton(real, real_store, dict(zip(names, sets)), columns.n_train, columns.n_test, config)
        earlier = _earlier_reference(config.reference, result) if config.reference else None
        result["real"] = columns.reference(earlier)
        progress.advance(task)
        for name, paths in zip(names, sets):
            progress.update(task, status=name)
            result["synthetic"][name] = columns.synthetic(paths)
            progress.advance(task)
    return result


class _Columns:
    """One eval's columns against one real store: the real training and held-out people, loaded once, and the
    classifier runner (`__init__`); the reference column — the same metrics between real train and real held-out
    people — with what every synthetic column reuses of it (`reference`); then one synthetic store's column
    (`synthetic`). Every classifier fit of a column is submitted first and awaited last: with workers they train
    side by side while this process computes the column's other metrics (none of which they depend on)."""

    def __init__(self, real: str | Path, real_store: Store, config: EvalConfig, closing: ExitStack) -> None:
        if real_store.role != "real":
            raise GenomesynthError(f"{real}: role is {real_store.role!r}; --real must be a store from `compress`")
        self.real_store, self.config, self.metrics = real_store, config, set(config.metrics)
        self.mask = real_store.mask()
        self.mean, self.std = real_store.read("stats/mean"), real_store.read("stats/std")
        split = real_store.split()
        train_idx, self.test_idx = np.flatnonzero(split == "train"), np.flatnonzero(split == "test")
        self.n_train, self.n_test = len(train_idx), len(self.test_idx)
        if self.n_test < 2 or self.n_train < 2:
            raise GenomesynthError(
                f"{real}: {self.n_train} training and {self.n_test} held-out people; evaluation needs at least "
                "2 of each (compress a larger cohort with --test-fraction > 0)"
            )
        train_sub = np.sort(_stream(config.seed, "training people").choice(
            train_idx, min(config.max_people, self.n_train), replace=False))
        self.train, self.train_full = _load(real_store, train_sub, self.mask)
        self.test, self.test_full = _load(real_store, self.test_idx, self.mask)
        n_classes = len(real_store.label_names)
        self.labelled = n_classes > 1
        test_keep = self.test.labels >= 0
        test_x = self.test.standardised(self.mean, self.std, self.mask, self.test_full)[test_keep]
        # worker processes pay where fits take seconds (a transformer or CNN); MLP fits train here
        slow_fits = self.labelled and "tstr" in self.metrics and bool(set(config.classifiers) - {"mlp"})
        budget = ClassifierBudget(epochs=config.classifier_epochs, patience=config.classifier_patience or None)
        self.runner = closing.enter_context(FitRunner(test_x, self.test.labels[test_keep], self.mask, n_classes,
                                                      budget, config.device, config.workers if slow_fits else 1))
        self.real_people: People | None = None  # the training people, as the classifiers see them
        self.subsets: list[list[np.ndarray]] = []  # the small real subsets the augmentation curves start from
        self.real_only: list[float] | None = None  # the augmentation curve of the real subsets alone
        self.axes: np.ndarray | None = None  # the training people's principal axes (dispersion)
        self.train_std: np.ndarray | None = None
        self.decoded: _DecodedSide | None = None

    def reference(self, earlier: dict[str, Any] | None) -> dict[str, Any]:
        """The real column (train against held-out people); with `earlier` (an earlier eval's real column, same
        store and settings), its classifier scores instead of training them again."""
        started = time.perf_counter()
        config, metrics, train, test = self.config, self.metrics, self.train, self.test
        ref: dict[str, Any] = {}
        self.real_people = (self._labelled_people(train, self.train_full)
                            if self.labelled and metrics & {"tstr", "augment"} else None)
        tstr = (submit_tstr(self.runner, self.real_people, config.classifiers, config.repeats, config.seed)
                if "tstr" in metrics and self.real_people is not None and earlier is None else None)
        curves = None
        if "augment" in metrics and self.real_people is not None:
            self.subsets = small_subsets(train.labels[train.labels >= 0], AUGMENT_FRACTIONS, config.repeats,
                                         config.seed)
            if earlier is None:
                curves = self._curve(None), self._curve(None, rest=True)
        with self._beside_fits():
            if "dispersion" in metrics:
                self.train_std = self._standardised(train, self.train_full)
                self.axes = principal_axes(self.train_std)
                ref["dispersion"] = dispersion(self.train_std, self._standardised(test, self.test_full), self.axes,
                                               label_weights(train.labels, test.labels))
            if "aa" in metrics:
                ref["aa"] = self._aa(train.raw, test.raw, self.n_test, _stream(config.seed, "aa", "real"))
            if "privacy" in metrics:  # a held-out person who is a training person under another id is no new person
                twins = near_identical(test.standardised_real(self.mean, self.std, self.mask),
                                       train.standardised_real(self.mean, self.std, self.mask), config.device)
                ids = np.asarray(self.real_store.sample_id().tolist())
                ref["held_out_twins"] = [str(i) for i in ids[self.test_idx[twins]]]
                if len(twins):
                    ref.setdefault("notes", []).append(_twins_note(ref["held_out_twins"]))
            if "nn" in metrics:
                ref["nn_test"] = self._nn(train.raw, test.raw, self.n_test, _stream(config.seed, "nn", "real"))
            self.decoded = _DecodedSide(self.real_store, metrics, config, train, self.train_full, test, self.test_full)
            ref.update(self.decoded.reference)
        if earlier is not None:
            _check_reference(config.reference, ref, earlier)
            ref.update({key: earlier[key] for key in ("tstr", "augment") if key in earlier})
            if "augment" in ref:
                self.real_only = ref["augment"]["real_only"]
        if tstr is not None:
            ref["tstr"] = tstr()
        if curves is not None:
            self.real_only, with_rest = curves[0](), curves[1]()
            ref["augment"] = {"fractions": list(AUGMENT_FRACTIONS), "classifier": config.classifiers[0],
                              "real_only": self.real_only, "augmented": with_rest,
                              "gain": float(np.mean(np.subtract(with_rest, self.real_only)))}
        ref["seconds"] = round(time.perf_counter() - started, 2)  # the reference column (the real sets load before)
        return ref

    def synthetic(self, paths: list[Path]) -> dict[str, Any]:
        """One synthetic store's column (the parts of a sharded draw are one store). Its people are compared with
        the same real people as every other store's (common random numbers: `_stream`)."""
        started = time.perf_counter()
        config, metrics, train, test = self.config, self.metrics, self.train, self.test
        with ExitStack() as opened:
            syn_store = _one_set([opened.enter_context(open_store(path)) for path in paths])
            _check_compatible(self.real_store, syn_store)
            if syn_store.n_people < 2:
                raise GenomesynthError(f"{syn_store.path}: {syn_store.n_people} synthetic people; evaluation needs "
                                       "at least 2")
            pick = np.sort(_stream(config.seed, "people", "synthetic").choice(
                syn_store.n_people, min(config.max_people, syn_store.n_people), replace=False))
            syn, syn_full = _load(syn_store, pick, self.mask)
            syn_attrs = dict(syn_store.attrs)
        out: dict[str, Any] = {"people": len(pick)}
        n = min(len(pick), self.n_test)
        syn_people = (self._labelled_people(syn, syn_full) if self.real_people is not None
                      and metrics & {"tstr", "augment"} else None)
        tstr = (submit_tstr(self.runner, syn_people, config.classifiers, config.repeats, config.seed)
                if "tstr" in metrics and syn_people is not None else None)
        curve = self._curve(syn_people) if "augment" in metrics and syn_people is not None else None
        with self._beside_fits():
            # e.g. another generator's VCF encoded without --labels
            if tstr is None and "tstr" in metrics and self.real_people is not None:
                out.setdefault("notes", []).append("TSTR skipped: the store has fewer than 2 labels among its people")
            if self.axes is not None and self.train_std is not None:
                out["dispersion"] = dispersion(self.train_std, self._standardised(syn, syn_full), self.axes,
                                               label_weights(train.labels, syn.labels))
            if "aa" in metrics:
                rng = _stream(config.seed, "aa", "synthetic")
                out["aa"] = {"train": self._aa(train.raw, syn.raw, n, rng), "test": self._aa(test.raw, syn.raw, n, rng),
                             # copy-sensitive (Yale et al.): against the whole training set, not a held-out-sized part
                             "train_whole": self._aa(train.raw, syn.raw, min(len(train.raw), len(syn.raw)), rng)}
                out["privacy_loss"] = out["aa"]["test"]["aa"] - out["aa"]["train"]["aa"]
            if "nn" in metrics:
                rng = _stream(config.seed, "nn", "synthetic")
                out["nn_test"] = {"train": self._nn(syn.raw, train.raw, n, rng),
                                  "test": self._nn(syn.raw, test.raw, n, rng)}
            if "privacy" in metrics:
                out.update(privacy(syn.raw, train.raw, test.raw, config.seed, config.device, train.labels, test.labels,
                                   scale=(self.mean[self.mask], self.std[self.mask]), synthetic_labels=syn.labels))
            assert self.decoded is not None  # `reference` comes first
            self.decoded.compare(out, syn, syn_full, syn_attrs, _stream(config.seed, "decoded", "synthetic"))
        if tstr is not None:
            out["tstr"] = tstr()
        if curve is not None and self.real_only is not None:
            added = curve()
            out["augment"] = {"augmented": added, "real_only": self.real_only,
                              "gain": float(np.mean(np.subtract(added, self.real_only)))}
        del syn_people  # its shared memory goes with it
        out["seconds"] = round(time.perf_counter() - started, 2)
        return out

    def _beside_fits(self) -> AbstractContextManager[None]:
        """Where a column's metrics compute: with one thread while its classifiers train in worker processes, which
        take the job's cores (another thread count moves float32 sums in the 7th digit, as `--threads` always has)."""
        return threads.at_most(1) if self.runner.workers > 1 else nullcontext()

    def _standardised(self, x: _Set, full: np.ndarray) -> np.ndarray:
        return x.standardised(self.mean, self.std, self.mask, full)[:, self.mask]

    def _labelled_people(self, x: _Set, full: np.ndarray) -> People | None:
        """The set's people with a label, handed to the classifier runner (None: fewer than 2 labels among them)."""
        keep = x.labels >= 0
        if len(np.unique(x.labels[keep])) < 2:
            return None
        return self.runner.people(x.standardised(self.mean, self.std, self.mask, full)[keep], x.labels[keep])

    def _curve(self, extra: People | None, rest: bool = False) -> Callable[[], list[float]]:
        assert self.real_people is not None
        return submit_augmentation(self.runner, self.real_people, self.subsets, extra, self.config.seed,
                                   self.config.classifiers[0], rest)

    def _aa(self, a: np.ndarray, b: np.ndarray, n: int, rng: np.random.Generator) -> dict[str, float]:
        return _rounds(lambda x, y: adversarial_accuracy(x, y, self.config.device), a, b, n, self.config.repeats, rng)

    def _nn(self, a: np.ndarray, b: np.ndarray, n: int, rng: np.random.Generator) -> float:
        return _rounds(lambda x, y: nn_test(x, y, self.config.k, self.config.device), a, b, n, self.config.repeats, rng)


class _DecodedSide:
    """The metrics on decoded genotype calls (`genotype`, `kinship`, `gwas`): the real people decoded, the kinship
    panel drawn and the training people's GWAS scanned once (`reference`, the real column), then each synthetic set
    decoded — drawn people called from their own population's frequencies where `--calls` says so — and compared
    with them (`compare`), each side's people drawn from its own seeded stream (`_stream`)."""

    def __init__(self, real_store: Store, metrics: set[str], config: EvalConfig, train: _Set, train_full: np.ndarray,
                 test: _Set, test_full: np.ndarray) -> None:
        self.real_store, self.config = real_store, config
        self.n_classes = len(real_store.label_names)
        self.codec = real_store.codec() if metrics & {"genotype", "kinship", "gwas"} else None
        self.gain: np.ndarray | None = None  # the cohort's call gain, measured at the first drawn store that needs it
        self.reference: dict[str, Any] = {}
        self.genotypes = self.kinship = self.train_scan = None
        if self.codec is None:
            return
        decoded = np.sort(_stream(config.seed, "decoded", "real").choice(len(train_full), min(DECODED, len(train_full)),
                                                                         replace=False))
        train_calls, test_calls = (self.codec.genotypes(x) for x in (train_full[decoded], test_full))
        train_labels = train.labels[decoded]
        if "genotype" in metrics:
            self.genotypes = GenotypeReference(self.codec, train_calls, config.seed)
            cohort_f = cohort_inbreeding(real_store) if self.codec.ploidy == 2 else None  # reported: the cohort's F
            self.reference["genotype"] = (self.genotypes.compare(test_calls)
                                          | {"calls": "fixed", "inbreeding": cohort_f})
        if "kinship" in metrics and self.codec.ploidy == 2:  # one panel for the reference and every store
            self.kinship = KinshipPanel(train_calls, test_calls, config.seed, train_labels=train_labels,
                                        test_labels=test.labels)
            self.reference["kinship"] = self.kinship.reference()
        if "gwas" in metrics and self.n_classes > 1:
            self.train_scan = Scan.of(train_calls, train_labels, self.n_classes)  # compared with every set
            self.reference["gwas"] = concordance(self.train_scan, Scan.of(test_calls, test.labels, self.n_classes))

    def compare(self, out: dict[str, Any], syn: _Set, syn_full: np.ndarray, syn_attrs: dict[str, Any],
                rng: np.random.Generator) -> None:
        """One synthetic set's decoded-genotype metrics, flags and notes, into `out`."""
        codec = self.codec
        if codec is None:
            return
        syn_decoded = np.sort(rng.choice(len(syn_full), min(DECODED, len(syn_full)), replace=False))
        syn_labels = syn.labels[syn_decoded]
        calibrated = use_calibrated(self.config.calls, syn_attrs, codec.ploidy)
        people = syn_full[syn_decoded]
        if calibrated and self.gain is None:
            self.gain = stored_call_gain(self.real_store)
        syn_calls = (calibrate(codec, people, self.gain) if calibrated else codec).genotypes(people)
        if self.genotypes is not None:
            out["genotype"] = self.genotypes.compare(syn_calls) | {"calls": "calibrated" if calibrated else "fixed"}
        if self.kinship is not None:
            out["kinship"] = self.kinship.replay(syn_calls)
            kin_auc = out["kinship"]["membership"]["auc"]
            if kin_auc > FLAGGED_AUC:
                out.setdefault("flags", []).append(
                    f"membership AUC {kin_auc:.2f} by closest synthetic kin: the decoded genotypes reveal who was "
                    "trained on")
        if self.train_scan is not None:
            if len(np.unique(syn_labels[syn_labels >= 0])) >= 2:
                out["gwas"] = concordance(self.train_scan, Scan.of(syn_calls, syn_labels, self.n_classes))
            else:
                out.setdefault("notes", []).append("GWAS skipped: the store has fewer than 2 labels among its people")


def _result_skeleton(real: str | Path, real_store: Store, sets: dict[str, list[Path]], n_train: int, n_test: int,
                     config: EvalConfig) -> dict[str, Any]:
    """The eval JSON before any metric (README schema): version, time, inputs and settings; empty columns."""
    return {
        "genomesynth_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "inputs": {"real": {"path": str(real), "codec_id": real_store.attrs.get("codec_id"),
                            "train": n_train, "test": n_test, "label_names": real_store.label_names},
                   "synthetic": {name: str(paths[0]) if len(paths) == 1 else [str(part) for part in paths]
                                 for name, paths in sets.items()}},
        "settings": {"metrics": sorted(set(config.metrics)), "classifiers": list(config.classifiers), "k": config.k,
                     "repeats": config.repeats, "max_people": config.max_people, "seed": config.seed,
                     "classifier_epochs": config.classifier_epochs,
                     "classifier_patience": config.classifier_patience, "classifier_revision": CLASSIFIER_REVISION,
                     "device": config.device,
                     "reference": str(config.reference) if config.reference else None, "distance": "angular (Eq. 10)",
                     "subsample": f"equal sizes of min(n_synthetic, n_test={n_test}), "
                                  "in rounds that use every person of the larger set"},
        "real": {},
        "synthetic": {},
    }


def _twins_note(twins: list[str]) -> str:
    """The real column's note on held-out people who are a training person under another id (or a twin)."""
    who = "person is" if len(twins) == 1 else "people are"
    return (f"{len(twins)} held-out {who} near-identical to a training person (e.g. {twins[0]}) — the same person "
            "under two ids, or a twin: every attack reads them as members and they are no new people to the real "
            "references; remove duplicates before compress (plink2 --king-cutoff 0.354)")


_SAME_WHEN = ("genomesynth_version",)
_SAME_INPUTS = ("codec_id", "train", "test", "label_names")
_SAME_SETTINGS = ("metrics", "classifiers", "k", "repeats", "max_people", "seed", "classifier_epochs",
                  "classifier_patience", "classifier_revision", "device")


def _earlier_reference(path: Path, result: dict[str, Any]) -> dict[str, Any]:
    """The reference column of the eval JSON at `path`, once its version, real store and settings are this eval's."""
    try:
        earlier = json.loads(Path(path).read_text())
        column, inputs, settings = earlier["real"], earlier["inputs"]["real"], earlier["settings"]
    except FileNotFoundError:
        raise GenomesynthError(f"--reference {path}: not found; pass the file an earlier `eval --json` wrote") from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise GenomesynthError(f"--reference {path}: not an eval JSON ({error.__class__.__name__}: {error}); pass the "
                               "file an earlier `eval --json` wrote") from None
    then = [(key, earlier.get(key), result[key]) for key in _SAME_WHEN]
    then += [(f"real store's {key}", inputs.get(key), result["inputs"]["real"][key]) for key in _SAME_INPUTS]
    then += [(key, settings.get(key, "cpu" if key == "device" else None), result["settings"][key])
             for key in _SAME_SETTINGS]
    for what, earlier_value, value in then:
        if earlier_value != value:
            raise GenomesynthError(f"--reference {path}: made with {what} {earlier_value!r}, this eval has {value!r}; "
                                   "reuse a reference column only from an eval of the same real store and settings")
    return column


def _check_reference(path: Path | None, column: dict[str, Any], earlier: dict[str, Any]) -> None:
    """Every reference metric this eval recomputed must be the earlier JSON's (to rounding): else the earlier
    classifier scores belong to other people."""
    for key, value in column.items():
        if key != "seconds" and key in earlier and not _same(value, earlier[key]):
            raise GenomesynthError(f"--reference {path}: its real column's {key} differs from this eval's (other "
                                   "people, or an eval that drew its subsamples otherwise) — drop --reference to train "
                                   "the reference again")


def _same(a: Any, b: Any) -> bool:
    """a equals b as JSON, floats to 1e-5 relative: float32 sums under another thread count or device move a metric in
    its 7th digit (0.9519382 against 0.9519386 for the real column's dispersion with 1 and 2 threads), other people
    in its 2nd or 3rd."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return isinstance(b, list | tuple) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, int | float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-12)
    return a == b


def _stream(seed: int, *keys: str) -> np.random.Generator:
    """The random stream of one draw of eval's (the training subsample, one metric of the reference column or of
    the synthetic ones, …), seeded by `--seed` and its names: a store's numbers are the same whichever other stores
    and metrics one eval holds, and whatever its name; and every synthetic store meets the same real subsamples
    (common random numbers), so that two columns differ by their stores, not by the people each was compared with."""
    return np.random.default_rng([seed, *(zlib.crc32(key.encode()) for key in keys)])


def _rounds(fn, a: np.ndarray, b: np.ndarray, n: int, repeats: int,  # type: ignore[no-untyped-def]
            rng: np.random.Generator):
    """Average fn over rounds of equal-size (n) subsamples of a and b that use every person of the larger set: round
    i takes the i-th block of n people of a shuffled order of each set (a new order once one is used up), for
    max(repeats, ⌊larger / n⌋) rounds, at most MAX_ROUNDS; one round when neither set has more than n people (every
    round would be the same). Independent subsamples left most of the larger set out of each round: over 10 eval
    seeds the privacy loss of chr15's `baseline` draw varied by ± 0.015 with 3 of them, by ± 0.007 with this cover
    (AA against the held-out people ± 0.009 and ± 0.002; docs/RESULTS.md, finding 19)."""
    larger = max(len(a), len(b))
    rounds = 1 if larger <= n else min(MAX_ROUNDS, max(repeats, larger // n))
    results = [fn(a[pa], b[pb]) for pa, pb in zip(_blocks(len(a), n, rounds, rng), _blocks(len(b), n, rounds, rng))]
    if isinstance(results[0], dict):
        return {k: float(np.mean([r[k] for r in results])) for k in results[0]}
    return float(np.mean(results))


def _blocks(size: int, n: int, rounds: int, rng: np.random.Generator) -> list[np.ndarray]:
    """`rounds` sorted index sets of min(n, size) people of range(size): consecutive, disjoint blocks of a shuffled
    order, reshuffled whenever fewer than n are left."""
    n = min(n, size)
    blocks: list[np.ndarray] = []
    order = np.empty(0, dtype=np.int64)
    while len(blocks) < rounds:
        if len(order) < n:
            order = rng.permutation(size)
        blocks.append(np.sort(order[:n]))
        order = order[n:]
    return blocks
