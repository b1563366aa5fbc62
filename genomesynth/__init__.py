"""genomesynth: synthetic genomes from a real cohort (gene-wise PCA latents + masked diffusion)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("genomesynth")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

LATENT_DIM = 8
"""Components kept per gene at most; every person is a (genes, LATENT_DIM) matrix."""
