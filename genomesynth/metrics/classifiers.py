"""eval's three classifiers and how one of them is trained and scored (`fit_and_score`).

Small torch classifiers over standardised latents (B, genes, 8): an MLP on the real positions, a 1D
CNN along the gene axis, and a transformer over patches of genes. Every fit gets the same budget
(epochs, batch size, learning rate, weight decay) and keeps the weights of its best validation epoch.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.metrics import accuracy_score, balanced_accuracy_score, roc_auc_score
from torch import nn

CLASSIFIERS = ("mlp", "transformer", "cnn")
REVISION = 2
"""Raised whenever a fit's scores for the same people and seed change (2: the transformer's dropout draws from numpy);
eval records it, and `eval --reference` reuses classifier scores only of its own revision."""


@dataclass
class ClassifierBudget:
    epochs: int = 30
    """Most epochs; training stops earlier when the validation loss has not improved for `patience` epochs."""
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-2
    patience: int | None = 3
    """Early stopping (None: every epoch, no validation split)."""
    validation: float = 0.1
    """Share of the training people held out, per class, to choose the epoch whose weights are kept."""


def validation_split(y: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified (fit rows, validation rows): `share` of every class with at least 2 people (at least 1 each)."""
    rng = np.random.default_rng(seed)
    held = []
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        if len(rows) >= 2:
            held.append(rng.choice(rows, max(1, round(share * len(rows))), replace=False))
    validation = np.sort(np.concatenate(held)) if held else np.array([], dtype=np.int64)
    return np.setdiff1d(np.arange(len(y)), validation), validation


class _MLP(nn.Module):
    def __init__(self, mask: torch.Tensor, n_classes: int) -> None:
        super().__init__()
        self.register_buffer("mask", mask)
        self.net = nn.Sequential(nn.Linear(int(mask.sum()), 256), nn.ReLU(), nn.Dropout(0.3), nn.Linear(256, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x[:, self.mask])


class _CNN(nn.Module):
    """Conv1d(8→32, 5) → ReLU → MaxPool1d(2) → Conv1d(32→64, 5) → ReLU → AdaptiveAvgPool1d(8) → dropout → linear."""

    def __init__(self, mask: torch.Tensor, n_classes: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(8, 32, 5, padding=2), _ReluMaxPool2(),
            nn.Conv1d(32, 64, 5, padding=2), nn.ReLU(), nn.AdaptiveAvgPool1d(8), nn.Flatten(),
            nn.Dropout(0.3), nn.Linear(64 * 8, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.transpose(1, 2))


class _ReluMaxPool2(nn.Module):
    """ReLU then MaxPool1d(2), computed as the max of each pair then the ReLU (they commute): the same numbers and
    gradients, with half the ReLU work and without MaxPool1d's slow CPU kernel (an odd last position is dropped,
    as MaxPool1d drops it). The CNN's epoch: 7 % less time; `_PairMax` then takes a batch's pooling, forward and
    backward, from 2.2 to 1.3 ms (docs/PERFORMANCE.md)."""

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.relu(_PairMax.apply(h[..., : h.shape[-1] // 2 * 2]))


class _PairMax(torch.autograd.Function):
    """The max of each adjacent pair along the last axis (even length), its gradient to the larger of the pair (the
    first on a tie, as `max` gives it): an elementwise maximum of two strided views instead of torch's CPU reduction
    over pairs of a (…, length / 2, 2) view, which is several times slower."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, h: torch.Tensor) -> torch.Tensor:
        first, second = h[..., 0::2], h[..., 1::2]
        ctx.save_for_backward(first >= second)
        return torch.maximum(first, second)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> torch.Tensor:
        (first_wins,) = ctx.saved_tensors  # type: ignore[attr-defined]
        out = grad.new_empty(*grad.shape[:-1], 2 * grad.shape[-1])
        torch.mul(grad, first_wins, out=out[..., 0::2])
        torch.mul(grad, ~first_wins, out=out[..., 1::2])
        return out


class _Dropout(nn.Module):
    """`nn.Dropout(p)` whose keep decisions on the CPU come from its own numpy stream (`seed_dropouts`): torch's CPU
    `bernoulli_` takes 6 ns a value, a fifth of the transformer classifier's epoch; a float32 uniform from numpy's
    PCG64 takes half of that. Each value is dropped with probability p exactly (uniform < p) and the rest scaled by
    1 / (1 − p), as `nn.Dropout` does. On other devices it is `nn.Dropout`. Only the transformer uses it: the MLP's
    and the CNN's dropouts see a few thousand values a batch, and keep torch's stream, so their scores stay those of
    earlier evals."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p
        self.rng: np.random.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if x.device.type != "cpu" or self.rng is None:
            return nn.functional.dropout(x, self.p, True)
        keep = torch.from_numpy(self.rng.random(x.numel(), dtype=np.float32) >= self.p).view(x.shape)
        return x * keep.to(x.dtype).mul_(1 / (1 - self.p))


def seed_dropouts(model: nn.Module, seed: int) -> None:
    """Give every `_Dropout` of the model its own stream, from `seed` and its place in the model."""
    for place, module in enumerate(m for m in model.modules() if isinstance(m, _Dropout)):
        module.rng = np.random.default_rng([seed, place])


class _Transformer(nn.Module):
    def __init__(self, mask: torch.Tensor, n_classes: int, patch: int = 8, dim: int = 64) -> None:
        super().__init__()
        genes = mask.shape[0]
        self.patch = next(p for p in (patch, 4, 2, 1) if genes % p == 0)
        self.embed = nn.Linear(self.patch * 8, dim)
        self.position = nn.Parameter(torch.randn(1, genes // self.patch, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, 4, dim * 2, dropout=0.1, batch_first=True, norm_first=True)
        # no dropout on the attention weights: with it, torch's CPU attention materialises every
        # (tokens × tokens) map (at the paper shape, 2,304 patches: 20 GB and 56 s a batch of 32,
        # against 0.7 GB and 2 s without); dropout stays on the residual and feed-forward paths
        layer.self_attn.dropout = 0.0
        layer.dropout, layer.dropout1, layer.dropout2 = _Dropout(0.1), _Dropout(0.1), _Dropout(0.1)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, g, _ = x.shape
        h = self.encoder(self.embed(x.reshape(b, g // self.patch, self.patch * 8)) + self.position)
        return self.head(h.mean(1))


_MODELS = {"mlp": _MLP, "cnn": _CNN, "transformer": _Transformer}


def fit_and_score(
    kind: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
    mask: np.ndarray, n_classes: int, seed: int, budget: ClassifierBudget, device: str = "cpu",
) -> dict[str, float]:
    """Train one classifier on (x_train, y_train) and score it on (x_test, y_test).

    With `budget.patience`, a stratified share of the training people is held out and the weights of
    the epoch with the lowest validation loss are kept; training stops after `patience` epochs
    without improvement, or at `budget.epochs`. TSTR and TRTR go through the same procedure."""
    seed = int(seed)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = _MODELS[kind](torch.as_tensor(mask), n_classes).to(device)
    seed_dropouts(model, seed)
    optimiser = torch.optim.AdamW(model.parameters(), lr=budget.lr, weight_decay=budget.weight_decay)
    xt, yt = torch.as_tensor(x_train, dtype=torch.float32), torch.as_tensor(y_train, dtype=torch.long)
    fit, held = (validation_split(y_train, budget.validation, seed) if budget.patience is not None
                 else (np.arange(len(y_train)), np.array([], dtype=np.int64)))
    fit_rows = torch.as_tensor(fit)
    # balanced classes in every epoch's loss: TSTR must not win by predicting the majority label
    counts = torch.bincount(yt[fit_rows], minlength=n_classes).float().clamp(min=1)
    loss_fn = nn.CrossEntropyLoss(weight=(counts.sum() / (n_classes * counts)).to(device))
    best, best_state, waited, best_epoch = float("inf"), None, 0, budget.epochs
    for epoch in range(1, budget.epochs + 1):
        model.train()
        order = fit_rows[torch.randperm(len(fit_rows), generator=generator)]
        for a in range(0, len(order), budget.batch_size):
            idx = order[a : a + budget.batch_size]
            loss = loss_fn(model(xt[idx].to(device)), yt[idx].to(device))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        if len(held) == 0:
            continue
        model.eval()
        with torch.no_grad():
            val = float(loss_fn(_logits(model, x_train[held], device).to(device), yt[held].to(device)))
        if val < best:
            best, best_state, waited, best_epoch = val, copy.deepcopy(model.state_dict()), 0, epoch
        else:
            waited += 1
            if waited >= budget.patience:  # type: ignore[operator]
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        logits = _logits(model, x_test, device)
    prob = torch.softmax(logits, 1).numpy()
    pred = prob.argmax(1)
    present = np.unique(y_test)
    if len(present) < 2:
        auc = float("nan")
    elif len(present) == 2:  # two classes, or two of several present in the held-out set
        shares = prob[:, present] / prob[:, present].sum(1, keepdims=True)
        auc = float(roc_auc_score(y_test == present[1], shares[:, 1]))
    else:
        auc = float(roc_auc_score(y_test, prob[:, present] / prob[:, present].sum(1, keepdims=True),
                                  multi_class="ovr", average="macro", labels=present))
    return {"accuracy": float(accuracy_score(y_test, pred)),
            "balanced_accuracy": float(balanced_accuracy_score(y_test, pred)), "roc_auc": auc,
            "epochs": float(best_epoch)}  # the epoch whose weights were kept


def _logits(model: nn.Module, x: np.ndarray, device: str) -> torch.Tensor:
    return torch.cat([model(torch.as_tensor(x[a : a + 512], dtype=torch.float32).to(device)).cpu()
                      for a in range(0, len(x), 512)])
