"""The demo command end to end, at a token budget: every stage runs and the report has every part."""

import json
import re

from genomesynth.demo import DemoConfig, run_demo


def test_demo_writes_a_complete_report(tmp_path):
    config = DemoConfig(backbones=("baseline", "transformer"), steps=4, val_every=1, sample_steps=3,
                        baselines=("mosaic",), repeats=1, classifier_epochs=1)
    summary = run_demo(tmp_path / "demo", config)
    out = tmp_path / "demo"
    report = (out / "report.md").read_text()
    for part in ("## Cohort and compression", "| baseline |", "| transformer |", "Nearest-neighbour adversarial accuracy",
                 "Utility: train on synthetic", "membership inference", "Genotypes after decoding", "| membership audit |",
                 "![UMAP](umap.png)", "genomesynth train real.zarr"):
        assert part in report, part
    assert re.search(r"\| baseline \|.*\| [01]\.\d{3} / [01]\.\d{3} / [01]\.\d{3} \(± 0\.\d{3}\) \|$", report, re.M)  # its audit, with the label attack
    for figure in ("umap.png", "curves.png", "metrics.png"):
        assert (out / figure).read_bytes()[:4] == b"\x89PNG"
    commanded = re.findall(r"^genomesynth plot \w+ .* -o (\w+\.png)$", report, re.M)
    assert len(commanded) >= 3 and all((out / f).exists() for f in commanded)  # every plot command made its figure
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["synthetic"]) == {"baseline", "transformer", "baseline-mosaic"}
    assert (out / "vcf" / "transformer.vcf.gz").stat().st_size > 0
    rare = summary["decode"]["baseline"]["singleton_sites"]  # the demo cohort has about 2,000 (README)
    assert rare > 1000 and f"{rare:,} of them carried at most once among the 540 training people" in report
    assert summary["compress"]["genes"] == 300 and summary["train"]["baseline"]["steps"] == 4
    scale = summary["sample"]["baseline"]["residual_scale"]
    assert 0 <= scale <= 1 and f"| {scale:g} (validated) |" in report  # sample's default, in the training table
