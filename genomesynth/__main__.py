"""`python -m genomesynth …` (what `torchrun -m genomesynth` uses) is the same as the CLI."""

from genomesynth.cli import main

main()
