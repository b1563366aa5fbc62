"""The real 1000 Genomes sets in ../shared/data (beside the checkout): compress, info, decode round trip."""

from pathlib import Path

import cyvcf2
import numpy as np
import pytest

from genomesynth.compress import CompressConfig, compress
from genomesynth.decode import decode
from genomesynth.store import open_store

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
pytestmark = pytest.mark.skipif(not SHARED.exists(), reason="../shared/data is not beside this checkout")


@pytest.mark.parametrize("vcf, labels, ploidy, classes", [
    ("1kg-805snp/haplotypes.vcf.gz", "1kg-805snp/haplotype_labels.tsv", 1, 5),
    ("1kg-805snp/cohort.vcf.gz", "1kg-805snp/labels.tsv", 2, 5),
    ("1kgp-pheno/snp500/cohort.vcf.gz", "1kgp-pheno/snp500/labels.tsv", 2, 2),
])
@pytest.mark.parametrize("suffix", [".zarr", ".h5"])
def test_real_sets_round_trip(tmp_path, vcf, labels, ploidy, classes, suffix):
    store = tmp_path / f"real{suffix}"
    summary = compress(SHARED / vcf, store, CompressConfig(labels=SHARED / labels, block_size=20))
    assert summary.ploidy == ploidy and len(summary.label_names) == classes
    with open_store(store) as s:
        assert s.describe()["labels"] and s.n_genes_padded % 32 == 0
        test = s.label()[s.split() == "test"]
        assert len(set(np.bincount(test, minlength=classes))) == 1  # balanced held-out set
    decode(store, tmp_path / "out.vcf.gz")
    truth = {v.POS: np.array(v.gt_types) for v in cyvcf2.VCF(str(SHARED / vcf), gts012=True)}
    agree = total = 0
    for v in cyvcf2.VCF(str(tmp_path / "out.vcf.gz"), gts012=True):
        agree += int((np.array(v.gt_types) == truth[v.POS]).sum())
        total += len(truth[v.POS])
    concordance = agree / total
    # blocks of 20 independent-ish SNPs keep 64–78 % of the variance in 8 components: the figure
    # is what compress reports, and far above chance
    expected = (summary.concordance_train * summary.train + summary.concordance_test * summary.test) / summary.people
    assert concordance == pytest.approx(expected, abs=0.002) and concordance > 0.85
