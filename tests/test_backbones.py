import pytest
import torch

from genomesynth.backbones import NAMES, backbone_config, build, parameter_count
from genomesynth.errors import GenomesynthError


@pytest.mark.parametrize("name", NAMES)
def test_output_shape_and_gradient_flow(name):
    torch.manual_seed(0)
    model = build(name, 64, 3, backbone_config(name, "tiny"))
    with torch.no_grad():  # leave the zero initialisation, as one optimiser step would
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    x = torch.randn(2, 64, 8)
    out = model(x, torch.tensor([3, 900]), torch.tensor([0, 3]))  # 3 = the null class
    assert out.shape == x.shape
    (out - torch.randn_like(out)).pow(2).mean().backward()
    # every parameter tensor receives a non-zero gradient: nothing is left disconnected
    dead = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not dead


@pytest.mark.parametrize("name", NAMES)
def test_label_and_time_change_the_output(name):
    torch.manual_seed(0)
    model = build(name, 32, 2, backbone_config(name, "tiny"))
    with torch.no_grad():  # output and FiLM layers start at zero: perturb as training would
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    x = torch.randn(1, 32, 8)
    base = model(x, torch.tensor([10]), torch.tensor([0]))
    assert not torch.allclose(base, model(x, torch.tensor([10]), torch.tensor([1])))
    assert not torch.allclose(base, model(x, torch.tensor([800]), torch.tensor([0])))


@pytest.mark.parametrize("name", NAMES)
def test_an_untrained_backbone_predicts_no_residual(name):
    """Zero output layers: the engine's denoiser starts as the prior's optimal one (precondition.py)."""
    model = build(name, 32, 2, backbone_config(name, "tiny"))
    out = model(torch.randn(3, 32, 8), torch.tensor([1, 500, 999]), torch.tensor([0, 1, 2]))
    assert torch.all(out == 0)


def test_mix_lambda_is_a_probability_of_t():
    model = build("mlp+cnn", 32, 2, backbone_config("mlp+cnn", "tiny"))
    lam = model.lam(torch.arange(0, 1000, 100))
    assert lam.shape == (10,) and torch.all((lam >= 0) & (lam <= 1))


def test_paper_preset_parameter_counts_stay_trainable():
    """A dense layer over all 147,456 inputs would be 600M+ weights per layer; none comes close."""
    counts = {n: parameter_count(build(n, 18_432, 2, backbone_config(n, "paper"))) for n in ("unet-mlp", "transformer")}
    assert counts["unet-mlp"] < 200e6 and counts["transformer"] < 50e6


def test_gene_count_must_suit_the_backbone():
    with pytest.raises(GenomesynthError, match="--pad-multiple 8"):
        build("transformer", 36, 2, backbone_config("transformer", "tiny"))


def test_config_overrides_and_bad_names():
    config = backbone_config("unet-cnn", "tiny", {"channels": [8, 16], "heads": 2})
    assert config.channels == [8, 16]
    assert backbone_config("mlp+cnn", "tiny", {"cnn": {"heads": 2}}).cnn.heads == 2
    with pytest.raises(GenomesynthError, match="unknown backbone"):
        backbone_config("gan", "tiny")
    with pytest.raises(GenomesynthError, match="no setting 'width'"):
        backbone_config("baseline", "tiny", {"width": 3})
