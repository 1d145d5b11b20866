"""Your own data: from_arrays and load_file share load's standardise-and-split path, map any
labels to 0..K-1 (keeping the originals), read .npz and delimited text, and reject bad input
naming the parameter (or the file, line and column)."""

import numpy as np
import pytest
from sklearn.datasets import load_iris

from clipsgd import ClippedSGD, datasets, run

ARRAYS = ("X_train", "X_test", "y_train", "y_test")


def assert_same_split(a, b):
    for key in ARRAYS:
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key), err_msg=key)
    assert a.n_classes == b.n_classes


@pytest.mark.parametrize("fraction, seed, intercept", [(0.25, 0, True), (0.4, 7, False)])
def test_from_arrays_on_iris_is_load_iris(fraction, seed, intercept):
    iris = load_iris()
    mine = datasets.from_arrays(iris.data, iris.target, name="iris", test_fraction=fraction, seed=seed,
                                intercept=intercept)
    theirs = datasets.load("iris", test_fraction=fraction, seed=seed, intercept=intercept)
    assert_same_split(mine, theirs)
    assert theirs.classes is None and mine.classes.tolist() == [0, 1, 2]
    assert repr(theirs) == "Dataset('iris', n_train=114, n_test=36, features=5, classes=3)" or fraction != 0.25


def test_string_labels_map_to_sorted_codes_and_keep_the_originals():
    iris = load_iris()
    names = np.array(["zeta", "alpha", "mid"])[iris.target]  # sorted: alpha=0, mid=1, zeta=2
    d = datasets.from_arrays(iris.data, names, name="named")
    assert d.classes.tolist() == ["alpha", "mid", "zeta"] and d.n_classes == 3
    assert set(np.unique(d.y_train)) == {0.0, 1.0, 2.0} and d.y_train.dtype == float
    # the codes are the original labels' positions in the sorted classes
    codes = np.searchsorted(d.classes, names)
    ref = datasets.from_arrays(iris.data, codes, name="named")
    assert_same_split(d, ref)
    assert d.classes[ref.y_test.astype(int)].tolist() == d.classes[d.y_test.astype(int)].tolist()
    assert repr(d) == "Dataset('named', n_train=114, n_test=36, features=5, classes=3 ['alpha', 'mid', 'zeta'])"
    # integral floats and arbitrary integers are labels too
    f = datasets.from_arrays(iris.data, iris.target * 5.0 - 3.0)
    assert f.classes.tolist() == [-3.0, 2.0, 7.0]
    assert_same_split(f, datasets.from_arrays(iris.data, iris.target))


def test_csv_with_header_and_string_labels_round_trips(tmp_path):
    iris = load_iris()
    names = iris.target_names[iris.target]
    path = tmp_path / "flowers.csv"
    lines = ["sepal length,sepal width,petal length,petal width,species"]
    lines += [",".join(repr(float(v)) for v in row) + f",{s}" for row, s in zip(iris.data, names)]
    path.write_text("\n".join(lines) + "\n")
    d = datasets.load_file(path, seed=3)
    assert d.name == "flowers" and d.classes.tolist() == ["setosa", "versicolor", "virginica"]
    assert_same_split(d, datasets.from_arrays(iris.data, iris.target, seed=3))
    # label first, tab-separated .tsv, explicit header count, numeric labels sorted as numbers
    tsv = tmp_path / "t.tsv"
    tsv.write_text("# a comment\nlabel\tx1\tx2\tx3\tx4\n\n"
                   + "".join(f"{[2, 10, 33][t]}\t" + "\t".join(map(str, row)) + "\n"
                             for row, t in zip(iris.data, iris.target)))
    t = datasets.load_file(tsv, label_column=0, skip_header=1, name="tab", seed=3)
    assert t.name == "tab" and t.classes.tolist() == [2, 10, 33]
    assert_same_split(t, d)


def test_csv_without_header_is_detected(tmp_path):
    path = tmp_path / "plain.txt"
    path.write_text("0.0;1.0;a\n1.0;0.0;b\n2.0;1.0;a\n3.0;0.0;b\n4.0;1.0;a\n5.0;0.0;b\n")
    d = datasets.load_file(path, delimiter=";", test_fraction=0.34)
    assert d.n + d.X_test.shape[0] == 6 and d.classes.tolist() == ["a", "b"]


def test_npz_round_trip(tmp_path):
    iris = load_iris()
    path = tmp_path / "iris_copy.npz"
    np.savez(path, X=iris.data, y=iris.target_names[iris.target])
    d = datasets.load_file(path, test_fraction=0.3, seed=5, intercept=False)
    assert d.name == "iris_copy" and d.classes.tolist() == list(iris.target_names)
    assert_same_split(d, datasets.load("iris", test_fraction=0.3, seed=5, intercept=False))


def test_make_problem_and_run_on_user_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = np.where(X[:, 0] + 0.1 * rng.normal(size=40) > 0, "pos", "neg")
    d = datasets.from_arrays(X, y, name="toy")
    prob = datasets.make_problem(d)
    assert prob.dim == 4
    res = run(prob, ClippedSGD(lr=0.5, c=1.0), steps=30, seed=0)
    acc = datasets.accuracy(res.x[0], d.X_test, d.y_test, d.n_classes)
    assert 0.0 <= acc <= 1.0
    three = datasets.from_arrays(np.vstack([X, X[:10] + 5]), np.concatenate([y, ["z"] * 10]))
    assert datasets.make_problem(three).dim == 4 * 3


def test_from_arrays_rejects_bad_input_naming_the_parameter():
    X = np.arange(20.0).reshape(10, 2)
    y = [0, 1] * 5
    bad_X = X.copy()
    bad_X[3, 1] = np.nan
    cases = [
        (ValueError, r"^X contains 1 NaN", dict(X=bad_X)),
        (ValueError, r"^X must have ndim", dict(X=X.ravel())),
        (ValueError, r"^X must have at least one row and one column", dict(X=X[:, :0])),
        (TypeError, r"^X must be an array of real numbers", dict(X=[["a", "b"]] * 10)),
        (ValueError, r"^y must have one label per row of X: len\(y\) must be X.shape\[0\]=10 \(got 9\)",
         dict(y=y[:9])),
        (ValueError, r"^y must contain at least 2 distinct classes \(got 1: 'a'\)", dict(y=["a"] * 10)),
        (ValueError, r"^y must be 1-D", dict(y=np.array(y)[:, None])),
        (ValueError, r"^y must hold class labels: float labels must be integral", dict(y=np.linspace(0, 1, 10))),
        (ValueError, r"^y must not contain missing labels", dict(y=[None, "a"] * 5)),
        (TypeError, r"^y must hold labels of one sortable kind", dict(y=np.array([1, "a"] * 5, dtype=object))),
        (ValueError, r"^test_fraction=0.95 leaves 0 training .*class\(es\) \['p', 'q'\]",
         dict(y=["p", "q"] * 5, test_fraction=0.95)),
        (ValueError, r"^test_fraction=0.01 leaves 10 training and 0 test", dict(test_fraction=0.01)),
        (ValueError, r"^test_fraction must be in \(0, 1\)", dict(test_fraction=1.0)),
        (ValueError, r"^seed must be an integer >= 0", dict(seed=-1)),
        (TypeError, r"^intercept must be True or False", dict(intercept=1)),
        (TypeError, r"^name must be a string", dict(name=3)),
    ]
    for exc, pattern, kw in cases:
        args = dict(X=X, y=y) | kw
        with pytest.raises(exc, match=pattern):
            datasets.from_arrays(args.pop("X"), args.pop("y"), **args)


def test_load_file_rejects_bad_files_naming_path_line_and_column(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(FileNotFoundError, match=r"^path '.*nope\.csv' does not exist"):
        datasets.load_file(missing)
    npz = tmp_path / "wrong.npz"
    np.savez(npz, features=np.ones((4, 2)), labels=np.arange(4))
    with pytest.raises(ValueError, match=r"must hold arrays named 'X' and 'y'.*\(found \['features', 'labels'\]\)"):
        datasets.load_file(npz)
    obj = tmp_path / "obj.npz"
    np.savez(obj, X=np.ones((4, 2)), y=np.array([1, "a", 2, "b"], dtype=object))
    with pytest.raises(ValueError, match=r"not Python objects"):
        datasets.load_file(obj)
    junk = tmp_path / "junk.npz"
    junk.write_text("not a zip")
    with pytest.raises(ValueError, match=r"could not be read as an \.npz archive"):
        datasets.load_file(junk)
    npy = tmp_path / "one.npy"
    np.save(npy, np.ones(3))
    with pytest.raises(ValueError, match=r"np\.savez\(path, X=X, y=y\)"):
        datasets.load_file(npy)
    with pytest.raises(ValueError, match=r"must end in \.npz, \.csv, \.tsv or \.txt \(got '\.xlsx'\)"):
        (tmp_path / "a.xlsx").write_text("")
        datasets.load_file(tmp_path / "a.xlsx")
    csv = tmp_path / "t.csv"
    texts = [
        ("a,b,label\n1,2,x\n3,oops,y\n", r"line 3, column 2 \('b'\): feature value 'oops' is not a number"),
        ("1,2,x\n3,,y\n", r"line 2, column 2: feature value '' is not a number"),
        ("1,q,x\n3,4,y\n", r"line 1, column 2: .*'q' is not a number.*pass skip_header=1"),
        ("1,nan,x\n3,4,y\n", r"line 1, column 2: feature value 'nan' is not finite"),
        ("1,2,x\n3,4\n", r"line 2: 2 fields, expected 3"),
        ("1,2,\n3,4,y\n", r"line 1: empty label in label_column=-1"),
        ("a,b,c\n", r"has no data rows"),
        ("1\n2\n", r"at least 2 columns"),
    ]
    for text, pattern in texts:
        csv.write_text(text)
        with pytest.raises(ValueError, match=r"^path '.*t\.csv'.*" + pattern):
            datasets.load_file(csv)
    csv.write_text("1,2,x\n3,4,y\n")
    with pytest.raises(ValueError, match=r"^label_column must be in \[-3, 2\]"):
        datasets.load_file(csv, label_column=3)
    with pytest.raises(TypeError, match=r"^label_column must be an integer"):
        datasets.load_file(csv, label_column="y")
    with pytest.raises(ValueError, match=r"^skip_header must be an integer >= 0"):
        datasets.load_file(csv, skip_header=-1)
    with pytest.raises(TypeError, match=r"^delimiter must be a one-character string"):
        datasets.load_file(csv, delimiter=", ")
    with pytest.raises(TypeError, match=r"^path must be a str or os.PathLike"):
        datasets.load_file(None)
    # a single-class file reaches from_arrays' check
    csv.write_text("1,2,x\n3,4,x\n")
    with pytest.raises(ValueError, match=r"^y must contain at least 2 distinct classes"):
        datasets.load_file(csv)


def test_audit_inputs_that_were_silently_wrong_are_read_right_or_refused(tmp_path):
    # features beyond ~1e154: the variance overflowed and the column became all 0
    d = datasets.from_arrays(np.array([[1e200, 1.0], [-1e200, 2.0]] * 4), [0, 1] * 4, test_fraction=0.5)
    assert np.allclose(np.abs(d.X_train[:, 0]), 1.0)
    # integer labels beyond 2^53 / 2^63 stay exact (were cast through float to int64)
    p = tmp_path / "big.csv"
    p.write_text("1,2,12345678901234567890123\n3,4,3\n5,6,12345678901234567890123\n7,8,3\n")
    assert datasets.load_file(p, test_fraction=0.5).classes.tolist() == [3, 12345678901234567890123]
    p.write_text("1,2,9007199254740993\n3,4,9007199254740992\n5,6,9007199254740993\n7,8,9007199254740992\n")
    assert datasets.load_file(p, test_fraction=0.5).classes.tolist() == [9007199254740992, 9007199254740993]
    # an unclosed quote swallowed the rest of the file into one label
    (tmp_path / "quote.csv").write_text('1,2,a\n3,4,b\n5,6,a\n7,8,b\n1,1,"a\n' + "3,3,b\n" * 50)
    with pytest.raises(ValueError, match=r"line \d+: a field spans several lines"):
        datasets.load_file(tmp_path / "quote.csv")
    with pytest.raises(ValueError, match="^skip_header=10 is more than"):
        datasets.load_file(tmp_path / "big.csv", skip_header=10)
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe1,2\n")
    with pytest.raises(ValueError, match="is not UTF-8 text"):
        datasets.load_file(tmp_path / "bin.csv")
    with pytest.raises(TypeError, match="^y must hold labels of one kind"):  # numpy made 1 into '1'
        datasets.from_arrays(np.ones((8, 2)), ["a", 1] * 4)
