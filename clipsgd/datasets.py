"""Real datasets: scikit-learn's bundled ones, or your own arrays or file (nothing is downloaded).

:func:`load` returns standardised features (train statistics only), an intercept
column, and a seeded stratified train/test split. :func:`make_problem` turns a dataset
into the matching :mod:`clipsgd.problems` objective and :func:`accuracy` scores
parameters on held-out data.

=================  =======  ========  =========  ====================================
name               n        features  classes    model
=================  =======  ========  =========  ====================================
``breast_cancer``  569      30        2          binary logistic regression
``digits``         1797     64        10         softmax regression (or the MLP)
``wine``           178      13        3          softmax regression
``iris``           150      4         3          softmax regression
=================  =======  ========  =========  ====================================

Your own data
-------------
:func:`from_arrays` takes a feature matrix ``X`` and labels ``y`` already in memory;
:func:`load_file` reads them from a file you point to (``.npz`` with arrays ``X`` and
``y``, or a ``.csv``/``.tsv``/``.txt`` table with one label column). Both go through the
same standardise-and-split code as :func:`load`. Labels may be any sortable values (ints,
class-name strings, integral floats): the sorted distinct labels become classes
``0..K-1`` and are kept in :attr:`Dataset.classes`.

>>> import numpy as np
>>> from clipsgd import datasets
>>> X = np.array([[0.0, 1.0], [1.0, 0.5], [2.0, 0.0], [3.0, 1.5],
...               [4.0, 1.0], [5.0, 0.5], [6.0, 0.0], [7.0, 1.5]])
>>> y = ["cat", "dog", "cat", "dog", "cat", "dog", "cat", "dog"]
>>> data = datasets.from_arrays(X, y, name="pets", test_fraction=0.25)
>>> data
Dataset('pets', n_train=6, n_test=2, features=3, classes=2 ['cat', 'dog'])
>>> prob = datasets.make_problem(data)   # logistic regression on labels cat=0, dog=1
>>> data.classes[data.y_test.astype(int)].tolist()   # back to the original labels
['cat', 'dog']
"""

from __future__ import annotations

import csv
import numbers
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import problems as _problems
from ._validate import check_bool, check_finite_array, check_int, check_real

__all__ = ["Dataset", "load", "from_arrays", "load_file", "make_problem", "accuracy", "predict",
           "predict_problem", "problem_accuracy", "DATASETS"]

DATASETS = ("breast_cancer", "digits", "wine", "iris")

_TEXT_SUFFIXES = (".csv", ".tsv", ".txt")


@dataclass(frozen=True, eq=False)
class Dataset:
    """A standardised train/test split.

    Attributes
    ----------
    X_train, X_test : ndarray
        Standardised features (train mean/std) with a trailing intercept column of ones.
    y_train, y_test : ndarray (float labels 0..K-1)
    n_classes : int
    name : str
    classes : ndarray (n_classes,) or None
        The original label of each class: class ``k`` (label ``k`` in ``y_train`` and
        ``y_test``) is ``classes[k]``, so ``classes[y_test.astype(int)]`` gives the
        original labels back. ``None`` (the bundled datasets of :func:`load`) means the
        labels are ``0..K-1`` themselves.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    classes: np.ndarray | None = None

    @property
    def n(self) -> int:
        return self.X_train.shape[0]

    def __repr__(self):
        labels = ""
        if self.classes is not None:
            shown = [_plain(c) for c in self.classes[:6]]
            labels = " " + repr(shown)[:-1] + (", ...]" if len(self.classes) > 6 else "]")
        return (f"Dataset({self.name!r}, n_train={self.n}, n_test={self.X_test.shape[0]}, "
                f"features={self.X_train.shape[1]}, classes={self.n_classes}{labels})")


def _plain(label):
    """A NumPy scalar label as the Python value (for messages and the repr)."""
    return label.item() if isinstance(label, np.generic) else label


def _raw(name):
    from sklearn import datasets as skd

    loaders = {
        "breast_cancer": skd.load_breast_cancer,
        "digits": skd.load_digits,
        "wine": skd.load_wine,
        "iris": skd.load_iris,
    }
    if name not in loaders:
        raise ValueError(f"name must be one of {DATASETS} (got {name!r})")
    data = loaders[name]()
    return np.asarray(data.data, float), np.asarray(data.target, float)


def _check_split_args(test_fraction, seed, intercept):
    frac = check_real("test_fraction", test_fraction)
    if not 0 < frac < 1:
        raise ValueError(f"test_fraction must be in (0, 1) (got {test_fraction!r})")
    return frac, check_int("seed", seed, 0), check_bool("intercept", intercept)


def _split(name, X, y, classes, test_fraction, seed, intercept) -> Dataset:
    """The one standardise-and-split path behind :func:`load`, :func:`from_arrays` and
    :func:`load_file`: ``X`` finite (n, p), ``y`` float codes 0..K-1 (every code present),
    ``classes`` the original labels (or None for 0..K-1)."""
    frac, seed, intercept = _check_split_args(test_fraction, seed, intercept)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), bool)
    for cls in np.unique(y):  # stratified split
        idx = np.flatnonzero(y == cls)
        rng.shuffle(idx)
        test[idx[: int(round(frac * len(idx)))]] = True
    missing = [int(cls) if classes is None else _plain(classes[int(cls)])
               for cls in np.unique(y) if test[y == cls].all()]
    if missing or not test.any():
        raise ValueError(f"test_fraction={test_fraction!r} leaves {int((~test).sum())} training and "
                         f"{int(test.sum())} test examples of {len(y)}"
                         + (f", no training example of class(es) {missing}" if missing else "")
                         + "; test_fraction must keep at least one example of every class for training "
                           "and at least one example for testing")
    Xtr, Xte = X[~test], X[test]
    # per column, scale by a power of two near the largest |x| first (exact), so that the
    # variance of features beyond ~1e154 does not overflow (their columns became all 0)
    big = np.abs(Xtr).max(axis=0)
    scale = np.ldexp(1.0, np.frexp(np.where(big > 0, big, 1.0))[1])
    Xtr, Xte = Xtr / scale, Xte / scale
    mu, sd = Xtr.mean(axis=0), Xtr.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)  # constant pixels in digits
    Xtr, Xte = (Xtr - mu) / sd, (Xte - mu) / sd
    if intercept:
        Xtr = np.hstack([Xtr, np.ones((len(Xtr), 1))])
        Xte = np.hstack([Xte, np.ones((len(Xte), 1))])
    return Dataset(name, np.ascontiguousarray(Xtr), y[~test], np.ascontiguousarray(Xte), y[test],
                   int(y.max()) + 1, classes)


def load(name: str = "breast_cancer", test_fraction: float = 0.25, seed: int = 0,
         intercept: bool = True) -> Dataset:
    """Load a bundled dataset, standardise it and split it (stratified, seeded).

    Parameters
    ----------
    name : {"breast_cancer", "digits", "wine", "iris"}
    test_fraction : float in (0, 1)
        Fraction of each class held out for testing (rounded per class). It must leave
        at least one example of every class for training (so at least ``n_classes >= 2``
        training examples: a model is fit to every label it is scored on, and the
        standardisation has more than one row) and at least one example to test.
    seed : int
    intercept : bool
        Append a column of ones (the bias) after standardisation.

    Returns
    -------
    Dataset
        With ``classes=None`` (the labels are ``0..K-1``).

    Raises
    ------
    ValueError
        ``name`` unknown, ``test_fraction`` outside (0, 1) or leaving a split as
        described above, ``seed`` negative.
    TypeError
        ``intercept`` not a bool, ``seed`` not an integer.

    See Also
    --------
    from_arrays, load_file : the same split of your own data.
    """
    _check_split_args(test_fraction, seed, intercept)  # bad arguments before the import
    X, y = _raw(name)
    return _split(name, X, y, None, test_fraction, seed, intercept)


def _encode_labels(y, n):
    """Labels ``y`` (any sortable values) -> (float codes 0..K-1, sorted distinct labels)."""
    if isinstance(y, (list, tuple)) and any(isinstance(v, str) for v in y) and \
            any(isinstance(v, numbers.Number) for v in y):  # numpy would turn 1 into '1' silently
        raise TypeError("y must hold labels of one kind, all numbers or all strings (got a mix)")
    try:
        arr = np.asarray(y)
    except Exception as exc:  # ragged nested sequences
        raise ValueError(f"y must be a 1-D sequence of labels ({exc})") from None
    if arr.ndim != 1:
        raise ValueError(f"y must be 1-D, one label per row of X (got shape {arr.shape})")
    if arr.shape[0] != n:
        raise ValueError(f"y must have one label per row of X: len(y) must be X.shape[0]={n} "
                         f"(got {arr.shape[0]})")
    if np.iscomplexobj(arr):
        raise TypeError("y must hold real numbers or strings as labels (got complex values)")
    if arr.dtype.kind == "f":
        bad = arr[~np.isfinite(arr) | (arr != np.round(arr))]
        if bad.size:
            raise ValueError(f"y must hold class labels: float labels must be integral and finite "
                             f"(got {bad.size} other value(s), e.g. {float(bad[0])!r}; a continuous "
                             "target is regression, not classification)")
    elif arr.dtype.kind not in "biuUS" and arr.dtype.kind != "O":
        raise TypeError(f"y must hold integer, integral float or string labels (got dtype {arr.dtype})")
    if arr.dtype.kind == "O" and any(v is None or (isinstance(v, float) and v != v) for v in arr):
        raise ValueError("y must not contain missing labels (None or NaN)")
    try:
        classes, codes = np.unique(arr, return_inverse=True)
    except TypeError as exc:  # e.g. a mix of strings and numbers
        raise TypeError(f"y must hold labels of one sortable kind, e.g. all numbers or all strings "
                        f"({exc})") from None
    if len(classes) < 2:
        raise ValueError(f"y must contain at least 2 distinct classes (got {len(classes)}"
                         + (f": {_plain(classes[0])!r})" if len(classes) else ")"))
    return codes.reshape(-1).astype(float), classes


def from_arrays(X, y, *, name: str = "user", test_fraction: float = 0.25, seed: int = 0,
                intercept: bool = True) -> Dataset:
    """Standardise and split your own features and labels exactly as :func:`load` does.

    Parameters
    ----------
    X : array_like, shape (n, p)
        Finite real features, one row per example, at least one column.
    y : array_like, shape (n,)
        Class labels of any one sortable kind: integers, integral floats, strings (class
        names) or booleans. The sorted distinct labels become classes ``0..K-1``
        (``K >= 2``), recorded in order in ``Dataset.classes``.
    name : str, default "user"
        Shown in the dataset's repr and in the name of :func:`make_problem`'s objective.
    test_fraction : float in (0, 1), default 0.25
        Fraction of each class held out for testing (rounded per class); it must keep at
        least one example of every class for training and leave at least one to test.
    seed : int >= 0, default 0
        Seeds the stratified split; the same arrays, fraction and seed give the same split.
    intercept : bool, default True
        Append a column of ones (the bias) after standardisation.

    Returns
    -------
    Dataset
        Features standardised with the training mean and standard deviation (a constant
        column is only centred); ``y_train``/``y_test`` are float codes ``0..K-1``;
        ``classes`` holds the original labels.

    Raises
    ------
    ValueError
        ``X`` not 2-D, with NaN/inf, or without rows or columns; ``y`` not 1-D, of a
        different length from ``X``, with fewer than 2 classes, or with non-integral or
        missing float labels; ``test_fraction`` outside (0, 1) or leaving a class without
        training examples or an empty test set; ``seed`` negative.
    TypeError
        ``X`` not real numbers; ``y`` complex or mixing kinds (e.g. numbers and strings);
        ``name`` not a string; ``seed`` not an integer; ``intercept`` not a bool.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(12.0).reshape(6, 2)
    >>> d = from_arrays(X, [2, 7, 2, 7, 2, 7], test_fraction=0.3, seed=1)
    >>> d.n_classes, d.classes.tolist(), d.X_train.shape, d.X_test.shape
    (2, [2, 7], (4, 3), (2, 3))
    >>> d.X_train[:, :2].mean(axis=0).round(12).tolist()  # standardised on the training rows
    [0.0, 0.0]
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string (got {name!r})")
    _check_split_args(test_fraction, seed, intercept)
    X = check_finite_array("X", X, ndim=2)
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X must have at least one row and one column (got shape {X.shape})")
    codes, classes = _encode_labels(y, X.shape[0])
    return _split(name, X, codes, classes, test_fraction, seed, intercept)


def _number(cell):
    try:
        return float(cell)
    except ValueError:
        return None


def _read_npz(path, shown):
    import zipfile

    try:
        f = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"path {shown} could not be read as an .npz archive ({exc})") from None
    if not isinstance(f, np.lib.npyio.NpzFile):
        raise ValueError(f"path {shown} is not an .npz archive (np.load read a single array)")
    with f:
        found = sorted(f.files)
        if "X" not in found or "y" not in found:
            raise ValueError(f"path {shown} must hold arrays named 'X' and 'y', e.g. "
                             f"np.savez(path, X=X, y=y) (found {found})")
        try:
            return f["X"], f["y"]
        except ValueError as exc:  # object arrays need pickle
            raise ValueError(f"path {shown}: X and y must be numeric or string arrays, not Python "
                             f"objects (read with allow_pickle=False: {exc})") from None


def _read_text(path, shown, label_column, delimiter, skip_header):
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter=delimiter)
            rows = [(reader.line_num, [c.strip() for c in row]) for row in reader]
    except UnicodeDecodeError as exc:
        raise ValueError(f"path {shown} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                         "save it as UTF-8") from None
    except csv.Error as exc:  # e.g. a field longer than csv's limit
        raise ValueError(f"path {shown} could not be read as delimited text ({exc})") from None
    for line, row in rows:
        if any("\n" in c or "\r" in c for c in row):  # a quote left open swallows the lines after it
            raise ValueError(f"path {shown}, line {line}: a field spans several lines (an unclosed "
                             "quote?); quoted fields must end on the line they start")
    rows = [(line, row) for line, row in rows
            if any(row) and not row[0].startswith("#")]  # blank and comment lines
    if skip_header is None:  # a header is a first row whose feature cells are all non-numeric
        skip = 0
        if rows:
            first = rows[0][1]
            lc = label_column if -len(first) <= label_column < len(first) else None
            feats = [c for j, c in enumerate(first) if lc is None or j != lc % len(first)]
            skip = int(bool(feats) and all(_number(c) is None for c in feats))
    else:
        skip = skip_header
        if skip > len(rows):
            raise ValueError(f"skip_header={skip_header} is more than the {len(rows)} non-blank rows "
                             f"of path {shown}")
    header, rows = (rows[skip - 1][1] if skip else None), rows[skip:]
    if not rows:
        raise ValueError(f"path {shown} has no data rows (after {skip} header row(s))")
    width = len(rows[0][1])
    if not -width <= label_column < width:
        raise ValueError(f"label_column must be in [{-width}, {width - 1}] for path {shown} with "
                         f"{width} columns (got {label_column})")
    if width < 2:
        raise ValueError(f"path {shown} must have at least 2 columns (features and a label) with "
                         f"delimiter={delimiter!r} (got {width})")
    lc = label_column % width
    X = np.empty((len(rows), width - 1))
    labels = []
    for i, (line, row) in enumerate(rows):
        if len(row) != width:
            raise ValueError(f"path {shown}, line {line}: {len(row)} fields, expected {width} "
                             f"like the first data row (delimiter={delimiter!r})")
        feats = row[:lc] + row[lc + 1:]
        for j, cell in enumerate(feats):
            v = _number(cell)
            if v is None or not np.isfinite(v):
                col = j + (j >= lc)
                title = f" ({header[col]!r})" if header is not None and col < len(header) else ""
                why = "is not a number" if v is None else "is not finite"
                hint = "" if v is not None or skip_header is not None or skip or i else \
                    "; if this row is a header, pass skip_header=1"
                raise ValueError(f"path {shown}, line {line}, column {col + 1}{title}: feature value "
                                 f"{cell!r} {why} (every column but label_column={label_column} must "
                                 f"be numeric){hint}")
            X[i, j] = v
        labels.append(row[lc])
    nums = [_number(c) for c in labels]
    if all(re.fullmatch(r"[+-]?\d+", c) for c in labels):  # integers, exactly (beyond 2^53 too)
        y = np.array([int(c) for c in labels], dtype=np.int64 if all(
            abs(int(c)) < 2**63 for c in labels) else object)
    elif all(v is not None for v in nums):  # numeric labels: sort as numbers ("10" after "2")
        y = np.array(nums)
        if np.all(np.isfinite(y)) and np.all(y == np.round(y)):
            y = np.array([int(v) for v in y], dtype=np.int64 if np.all(np.abs(y) < 2.0**63) else object)
    else:
        y = np.array(labels)
        if "" in labels:
            line = rows[labels.index("")][0]
            raise ValueError(f"path {shown}, line {line}: empty label in label_column={label_column}")
    return X, y


def load_file(path, *, label_column: int = -1, delimiter: str | None = None,
              skip_header: int | None = None, name: str | None = None, test_fraction: float = 0.25, seed: int = 0,
              intercept: bool = True) -> Dataset:
    """Read features and labels from a file you point to, then split as :func:`from_arrays`.

    Parameters
    ----------
    path : str or os.PathLike
        An ``.npz`` archive holding arrays named ``X`` (n, p) and ``y`` (n,) (as written by
        ``np.savez(path, X=X, y=y)``; read with ``allow_pickle=False``), or a delimited
        text table ``.csv``, ``.tsv`` or ``.txt``: one example per row, every column
        numeric except the label column, which may hold class names. Blank lines and lines
        starting with ``#`` are skipped.
    label_column : int, default -1
        Text tables only: the column (0-based; negative counts from the end) holding the
        labels. Every other column is a feature.
    delimiter : str, optional
        Text tables only: the field separator; default a tab for ``.tsv`` and a comma
        otherwise. Fields may be quoted (read with the :mod:`csv` module).
    skip_header : int >= 0, optional
        Text tables only: the number of header rows to skip (after blank and comment
        lines). By default one header row is detected: the first row is a header when none
        of its feature cells is a number.
    name : str, optional
        Default: the file name without its suffix (``"iris"`` for ``data/iris.csv``).
    test_fraction, seed, intercept
        As in :func:`from_arrays`.

    Returns
    -------
    Dataset
        As :func:`from_arrays` returns. Text labels that are all numbers are classes in
        numeric order (``"2"`` before ``"10"``); otherwise in string order.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist (the message names it).
    ValueError
        An unsupported suffix (``.npy`` included: it holds one array, not ``X`` and
        ``y``); an ``.npz`` without arrays ``X`` and ``y`` (the message lists the arrays
        found) or holding Python objects; a text table with a non-numeric or non-finite
        feature cell (the message names the line, the column and its header), rows of
        different lengths, no data rows, an empty label, or ``label_column`` out of range;
        anything :func:`from_arrays` rejects.
    TypeError
        ``path`` not a path; ``label_column`` or ``skip_header`` not an integer;
        ``delimiter`` or ``name`` not a string.

    Examples
    --------
    >>> import os, tempfile
    >>> text = "length,width,species\\n1.0,0.5,setosa\\n1.2,0.4,setosa\\n1.1,0.6,setosa\\n" \\
    ...        "4.0,1.5,virginica\\n4.4,1.6,virginica\\n4.2,1.4,virginica\\n"
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "flowers.csv")
    ...     with open(path, "w") as f:
    ...         _ = f.write(text)
    ...     d = load_file(path, test_fraction=0.34)
    >>> d
    Dataset('flowers', n_train=4, n_test=2, features=3, classes=2 ['setosa', 'virginica'])
    >>> d.classes[d.y_test.astype(int)].tolist()
    ['setosa', 'virginica']
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike file path (got {path!r})")
    p = Path(path)
    shown = repr(str(p))
    label_column = check_int("label_column", label_column, -(2 ** 62))
    if skip_header is not None:
        skip_header = check_int("skip_header", skip_header, 0)
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a string (got {name!r})")
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
        raise TypeError(f"delimiter must be a one-character string (got {delimiter!r})")
    _check_split_args(test_fraction, seed, intercept)
    if not p.exists():
        raise FileNotFoundError(f"path {shown} does not exist")
    if p.is_dir():
        raise ValueError(f"path {shown} is a directory, not a data file")
    suffix = p.suffix.lower()
    if suffix == ".npz":
        X, y = _read_npz(p, shown)
    elif suffix in _TEXT_SUFFIXES:
        X, y = _read_text(p, shown, label_column, delimiter or ("\t" if suffix == ".tsv" else ","),
                          skip_header)
    elif suffix == ".npy":
        raise ValueError(f"path {shown}: a .npy file holds a single array; save features and labels "
                         "together with np.savez(path, X=X, y=y) and load the .npz")
    else:
        raise ValueError(f"path {shown} must end in .npz, .csv, .tsv or .txt (got {p.suffix!r})")
    return from_arrays(X, y, name=p.stem if name is None else name, test_fraction=test_fraction,
                       seed=seed, intercept=intercept)


def make_problem(data: Dataset):
    """Logistic regression for two classes, softmax regression otherwise."""
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a clipsgd Dataset from datasets.load, from_arrays or load_file "
                        f"(got {type(data).__name__})")
    if data.n_classes == 2:
        return _problems.logistic(data.X_train, data.y_train, name=f"logistic[{data.name}]")
    return _problems.softmax(data.X_train, data.y_train, data.n_classes, name=f"softmax[{data.name}]")


def _check_linear_model(x, X, n_classes):
    x = check_finite_array("x", x, ndim=1)
    X = check_finite_array("X", X, ndim=2)
    n_classes = check_int("n_classes", n_classes, 2)
    want = X.shape[1] if n_classes == 2 else X.shape[1] * n_classes
    if x.shape[0] != want:
        raise ValueError(f"x must have length {want} for X with {X.shape[1]} columns and n_classes={n_classes} "
                         f"({'one weight per column' if n_classes == 2 else 'columns x classes'}; got {x.shape[0]})")
    return x, X, n_classes


def predict(x, X, n_classes: int):
    """Class predictions of a linear model with parameters x (logistic or softmax)."""
    x, X, n_classes = _check_linear_model(x, X, n_classes)
    if n_classes == 2:
        return (X @ x > 0).astype(float)
    return np.argmax(X @ x.reshape(X.shape[1], n_classes), axis=1).astype(float)


def accuracy(x, X, y, n_classes: int) -> float:
    """Fraction of correct predictions of the linear model x on (X, y).

    Parameters
    ----------
    x : array_like
        Parameters: ``X.shape[1]`` weights (two classes, logistic) or ``X.shape[1] *
        n_classes`` (softmax, row-major ``(columns, classes)``).
    X : array_like (m, p), m >= 1
    y : array_like (m,)
        Labels in ``{0, ..., n_classes - 1}``.
    n_classes : int >= 2

    Raises
    ------
    ValueError
        Shapes that do not match, ``X`` without rows, ``n_classes < 2``, or a label of
        ``y`` outside ``{0, ..., n_classes - 1}``.
    """
    x, X, n_classes = _check_linear_model(x, X, n_classes)
    y = _check_labels(y, n_classes)
    if X.shape[0] == 0:
        raise ValueError("X has no rows: accuracy is undefined on an empty set")
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have one label per row of X ({X.shape[0]}; got {y.shape[0]})")
    return float(np.mean(predict(x, X, n_classes) == y))


def _check_labels(y, n_classes: int) -> np.ndarray:
    """``y`` as a float array of labels in {0, ..., n_classes - 1}: a label the model cannot
    predict would silently count as an error, not as bad input."""
    y = check_finite_array("y", y, ndim=1)
    bad = y[(y != np.round(y)) | (y < 0) | (y >= n_classes)]
    if bad.size:
        raise ValueError(f"y must contain integer labels in {{0, ..., {n_classes - 1}}} (n_classes="
                         f"{n_classes}; got {bad.size} other value(s), e.g. {float(bad[0])!r})")
    return y


def predict_problem(problem, x, X) -> np.ndarray:
    r"""Class predictions of the model behind a :mod:`clipsgd.problems` objective.

    ==============  =============================================================
    problem kind    prediction for a row :math:`z`
    ==============  =============================================================
    ``logistic``    :math:`1[x^\top z > 0]`
    ``softmax``     :math:`\arg\max_k (W^\top z)_k`, :math:`W = x` as (p, K)
    ``mlp``         :math:`\arg\max_k (W_2^\top \tanh(W_1^\top z) + b_2)_k`
    ==============  =============================================================

    The class with the largest score is the one with the smallest per-example
    cross-entropy loss :math:`\operatorname{lse}(s) - s_k`, which is how the tests check it.

    Parameters
    ----------
    problem : Problem
        Made by :func:`clipsgd.problems.logistic`, ``softmax`` or ``mlp`` (or
        :func:`make_problem`).
    x : array_like, shape (problem.dim,)
        Parameters.
    X : array_like, shape (m, p)
        Rows to classify, with the same columns (intercept included) as ``problem.X``.

    Returns
    -------
    ndarray, shape (m,)
        Float class labels (as the datasets store them).

    Examples
    --------
    >>> import numpy as np
    >>> from clipsgd import problems
    >>> prob = problems.logistic(np.array([[1.0, 1.0], [-1.0, 1.0]]), np.array([1.0, 0.0]))
    >>> predict_problem(prob, [2.0, -1.0], [[1.0, 1.0], [-1.0, 1.0]]).tolist()  # scores 1, -3
    [1.0, 0.0]
    """
    kind = getattr(problem, "kind", None)
    if kind not in (_problems.LOGISTIC, _problems.SOFTMAX, _problems.MLP):
        raise ValueError(f"problem must be a logistic, softmax or mlp problem (got {problem!r})")
    x = check_finite_array("x", x, ndim=1)
    if x.shape[0] != problem.dim:
        raise ValueError(f"x must have length problem.dim={problem.dim} (got {x.shape[0]})")
    X = check_finite_array("X", X, ndim=2)
    p = problem.X.shape[1]
    if X.shape[1] != p:
        raise ValueError(f"X must have {p} columns like problem.X (got {X.shape[1]})")
    if kind == _problems.LOGISTIC:
        return (X @ x > 0).astype(float)
    K = int(problem.P[0])
    if kind == _problems.SOFTMAX:
        scores = X @ x.reshape(p, K)
    else:
        h = int(problem.P[1])
        W1 = x[: p * h].reshape(p, h)
        W2 = x[p * h: p * h + h * K].reshape(h, K)
        scores = np.tanh(X @ W1) @ W2 + x[p * h + h * K:]
    return np.argmax(scores, axis=1).astype(float)


def problem_accuracy(problem, x, X, y) -> float:
    """Fraction of rows of ``X`` that :func:`predict_problem` labels as ``y`` (any model).

    Examples
    --------
    >>> import numpy as np
    >>> from clipsgd import problems
    >>> prob = problems.logistic(np.array([[1.0, 1.0], [-1.0, 1.0]]), np.array([1.0, 0.0]))
    >>> problem_accuracy(prob, [2.0, -1.0], [[1.0, 1.0], [-1.0, 1.0]], [1.0, 1.0])
    0.5
    """
    pred = predict_problem(problem, x, X)
    y = _check_labels(y, 2 if problem.kind == _problems.LOGISTIC else int(problem.P[0]))
    if y.shape[0] != pred.shape[0]:
        raise ValueError(f"y must have one label per row of X (got {y.shape[0]} and {pred.shape[0]})")
    return float(np.mean(pred == y))
