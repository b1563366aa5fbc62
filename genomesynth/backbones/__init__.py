"""The backbone registry. Every backbone maps (x_t [B,G,8], t [B], y [B]) → ε̂ [B,G,8]; y equal
to n_classes is the null class. Backbones know nothing of schedules."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from torch import nn

from genomesynth.backbones import baseline, mix, transformer, unet_cnn, unet_mlp
from genomesynth.errors import GenomesynthError

REGISTRY: dict[str, tuple[Callable[..., nn.Module], dict[str, Any]]] = {
    "baseline": (baseline.Baseline, baseline.PRESETS),
    "unet-mlp": (unet_mlp.UNetMLP, unet_mlp.PRESETS),
    "unet-cnn": (unet_cnn.UNetCNN, unet_cnn.PRESETS),
    "mlp+cnn": (mix.MLPPlusCNN, mix.PRESETS),
    "transformer": (transformer.Transformer, transformer.PRESETS),
}
NAMES = tuple(REGISTRY)


def backbone_config(name: str, preset: str = "tiny", overrides: dict[str, Any] | None = None) -> Any:
    """The config dataclass of a backbone: a preset, with fields replaced by `overrides`."""
    if name not in REGISTRY:
        raise GenomesynthError(f"unknown backbone {name!r}; choose one of {', '.join(NAMES)}")
    presets = REGISTRY[name][1]
    if preset not in presets:
        raise GenomesynthError(f"unknown preset {preset!r}; choose one of {', '.join(presets)}")
    config = dataclasses.replace(presets[preset])
    return _apply(config, overrides or {}, name)


def _apply(config: Any, overrides: dict[str, Any], where: str) -> Any:
    fields = {f.name for f in dataclasses.fields(config)}
    for key, value in overrides.items():
        if key not in fields:
            raise GenomesynthError(f"backbone {where}: no setting {key!r} (settings: {', '.join(sorted(fields))})")
        current = getattr(config, key)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            value = _apply(dataclasses.replace(current), value, f"{where}.{key}")
        setattr(config, key, value)
    return config


def build(name: str, n_genes: int, n_classes: int, config: Any) -> nn.Module:
    """Instantiate a backbone for `n_genes` (padded) genes and `n_classes` labels (+ the null)."""
    cls = REGISTRY[name][0]
    model = cls(n_genes, n_classes, config)
    if n_genes % model.multiple:
        raise GenomesynthError(
            f"backbone {name} needs the padded gene count to be a multiple of {model.multiple}, "
            f"but the store has {n_genes}; re-run compress with --pad-multiple {model.multiple}"
        )
    return model


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
