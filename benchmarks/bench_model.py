"""Training and sampling throughput per backbone, at several gene counts (scaling with genes).

    python benchmarks/bench_model.py [--preset tiny] [--genes 320,1280,5120] [--device cpu]
    python benchmarks/bench_model.py --preset paper --genes 18432 --device cuda   # the paper shape

Train: samples/s over timed optimiser steps (after warm-up) and peak memory. Sample: synthetic
genomes/s with DDIM 50 steps and with DDPM over all T = 1000 steps (DDPM measured on a short run of
steps and scaled, since each step costs the same).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import peak_rss_mb, save  # noqa: E402

from genomesynth.backbones import NAMES, backbone_config, build, parameter_count  # noqa: E402
from genomesynth.diffusion.loss import masked_mse  # noqa: E402
from genomesynth.diffusion.samplers import sample  # noqa: E402
from genomesynth.diffusion.schedule import Schedule  # noqa: E402


def bench(name: str, preset: str, genes: int, batch: int, device: torch.device, steps: int) -> dict:
    model = build(name, genes, 2, backbone_config(name, preset)).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4)
    schedule = Schedule.linear(1000)
    mask = torch.ones(genes, 8, dtype=torch.bool, device=device)
    x0 = torch.randn(batch, genes, 8, device=device)
    y = torch.randint(0, 3, (batch,), device=device)
    amp = device.type == "cuda"
    if amp:
        torch.cuda.reset_peak_memory_stats(device)

    def step() -> None:
        t = torch.randint(0, 1000, (batch,), device=device)
        noise = torch.randn_like(x0)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            eps = model(schedule.q_sample(x0, t, noise), t, y)
        loss = masked_mse(eps.float(), noise, mask)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    for _ in range(2):
        step()
    if amp:
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if amp:
        torch.cuda.synchronize()
    train_s = time.perf_counter() - start
    model.eval()

    def denoise(x: torch.Tensor, t: torch.Tensor, yy: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            return model(x, t, yy)

    n = batch
    labels = torch.zeros(n, dtype=torch.long, device=device)
    start = time.perf_counter()
    sample(denoise, schedule, labels, mask, sampler="ddim", steps=50)
    if amp:
        torch.cuda.synchronize()
    ddim_s = time.perf_counter() - start
    per_step = ddim_s / 50  # a DDPM step costs one forward pass, like a DDIM step
    row = {
        "backbone": name, "preset": preset, "genes": genes, "batch": batch, "device": str(device),
        "parameters": parameter_count(model), "train_samples_per_s": round(batch * steps / train_s, 1),
        "sample_ddim50_genomes_per_s": round(n / ddim_s, 1), "sample_ddpm1000_genomes_per_s": round(n / (per_step * 1000), 2),
        "peak_memory_mb": round(torch.cuda.max_memory_allocated(device) / 2**20 if amp else peak_rss_mb()),
    }
    print(row, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--genes", default="320,1280,5120")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backbones", default=",".join(NAMES))
    args = parser.parse_args()
    torch.manual_seed(0)
    device = torch.device(args.device)
    rows = [bench(b, args.preset, g, args.batch, device, args.steps)
            for g in map(int, args.genes.split(",")) for b in args.backbones.split(",")]
    print(save(f"model-{args.preset}-{device.type}", rows))


if __name__ == "__main__":
    main()
