import numpy as np
import pytest

from genomesynth.errors import GenomesynthError
from genomesynth.io.genes import read_genes
from genomesynth.io.labels import read_labels
from genomesynth.split import make_split


def test_split_is_balanced_by_label_and_seeded():
    labels = np.array([0] * 700 + [1] * 300)
    split = make_split(labels, 0.1, seed=5)
    test = split == "test"
    assert (labels[test] == 0).sum() == (labels[test] == 1).sum() == 50
    np.testing.assert_array_equal(split, make_split(labels, 0.1, seed=5))
    assert not np.array_equal(split, make_split(labels, 0.1, seed=6))


def test_split_never_takes_more_than_half_of_a_rare_label():
    labels = np.array([0] * 980 + [1] * 20)
    test = make_split(labels, 0.1, seed=0) == "test"
    assert (labels[test] == 1).sum() == (labels[test] == 0).sum() == 10


def test_unlabelled_people_always_train_and_unlabelled_cohorts_split_randomly():
    labels = np.array([0] * 50 + [1] * 50 + [-1] * 100)
    split = make_split(labels, 0.2, seed=1)
    assert set(split[100:]) == {"train"}
    plain = make_split(np.full(200, -1), 0.25, seed=1)
    assert (plain == "test").sum() == 50
    assert set(make_split(labels, 0.0, seed=1)) == {"train"}


def test_labels_align_to_the_cohort_and_report_mismatches(tmp_path):
    tsv = tmp_path / "l.tsv"
    tsv.write_text("sample_id\tpheno\tpop\nB\t1\tX\nA\t0\tY\nZ\t1\tX\nC\tNA\tY\n")
    labels = read_labels(tsv, ["A", "B", "C", "D"], "pheno")
    assert labels.codes.tolist() == [0, 1, -1, -1]
    assert labels.names == ["0", "1"]
    assert labels.unknown_ids == ["Z"] and labels.unlabelled == ["C", "D"]
    pops = read_labels(tsv, ["A", "B", "C", "D"], "pop")
    assert pops.names == ["X", "Y"] and pops.codes.tolist() == [1, 0, 1, -1]


def test_integer_labels_sort_numerically(tmp_path):
    tsv = tmp_path / "l.tsv"
    tsv.write_text("sample_id\tlabel\n" + "".join(f"S{i}\t{i % 11}\n" for i in range(22)))
    assert read_labels(tsv, [f"S{i}" for i in range(22)]).names == [str(i) for i in range(11)]


@pytest.mark.parametrize(
    "text, column, message",
    [
        ("sample_id\tlabel\nA\t1\nA\t0\n", None, "line 3: sample 'A' appears twice"),
        ("sample_id\tlabel\nA\t1\n", "pheno", "no column 'pheno'"),
        ("just_one_column\nA\n", None, "line 1: expected a tab-separated header"),
    ],
)
def test_bad_label_files(tmp_path, text, column, message):
    tsv = tmp_path / "l.tsv"
    tsv.write_text(text)
    with pytest.raises(GenomesynthError, match=message):
        read_labels(tsv, ["A"], column)


def test_gene_formats_agree(tmp_path):
    (tmp_path / "g.bed").write_text("chr1\t99\t200\tABC\n")
    (tmp_path / "g.gtf").write_text(
        'chr1\tsrc\tgene\t100\t200\t.\t+\t.\tgene_id "ENSG1"; gene_name "ABC";\n'
        'chr1\tsrc\texon\t100\t150\t.\t+\t.\tgene_id "ENSG1"; gene_name "ABC";\n'
    )
    (tmp_path / "g.gff3").write_text("##gff-version 3\nchr1\tsrc\tgene\t100\t200\t.\t+\t.\tID=gene1;Name=ABC\n")
    genes = [read_genes(tmp_path / f"g.{ext}") for ext in ("bed", "gtf", "gff3")]
    assert genes[0] == genes[1] == genes[2]
    assert (genes[0][0].start, genes[0][0].end) == (100, 200)


def test_gene_file_in_the_wrong_format(tmp_path):
    bed = tmp_path / "g.bed"
    bed.write_text("chr1\t100\t200\tA\nchr1\tstart\tend\tB\n")
    with pytest.raises(GenomesynthError, match="line 2 is not a valid BED record"):
        read_genes(bed)
    other = tmp_path / "g.txt"
    other.write_text("chr1\t100\t200\n")
    with pytest.raises(GenomesynthError, match="unknown gene file type"):
        read_genes(other)


def test_duplicates_across_the_split_join_the_training_side():
    from genomesynth.split import keep_duplicates_together

    split = np.array(["train", "test", "test", "test", "train", "test", "test"])
    pairs = [(0, 1), (1, 2), (3, 4), (5, 6)]  # 0~1~2: a chain of one person; 5~6: both held out
    moved, which = keep_duplicates_together(split, pairs)
    assert moved.tolist() == ["train", "train", "train", "train", "train", "test", "test"]
    assert which == [1, 2, 3] and split[1] == "test"  # the input is left as it was


def test_near_identical_pairs_find_a_copy_and_nothing_else():
    from genomesynth.metrics.neighbours import near_identical_pairs

    rng = np.random.default_rng(0)
    people = rng.normal(size=(200, 64))
    people[150] = people[20] + 0.05 * rng.normal(size=64)
    train = np.arange(200) < 120
    assert near_identical_pairs(people, train) == [(20, 150)]
    people[150] = rng.normal(size=64)
    assert near_identical_pairs(people, train) == []
