"""ε-prediction loss, taken over real (unpadded) positions only."""

from __future__ import annotations

import torch


def masked_mse(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the positions where `mask` (genes, 8) is True, for the whole batch."""
    weight = mask.to(prediction.dtype).expand_as(prediction)
    return ((prediction - target) ** 2 * weight).sum() / weight.sum().clamp(min=1)


def masked_mse_per_sample(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(batch,) mean squared error of each sample over real positions."""
    return masked_mean_per_sample((prediction - target) ** 2, mask)


def masked_mean_per_sample(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(batch,) mean of each sample's values over real positions."""
    weight = mask.to(values.dtype).expand_as(values)
    dims = tuple(range(1, values.dim()))
    return (values * weight).sum(dims) / weight.sum(dims).clamp(min=1)
