"""Real datasets that ship inside scikit-learn (nothing is downloaded).

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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import problems as _problems
from ._validate import check_bool, check_finite_array, check_int, check_real

__all__ = ["Dataset", "load", "make_problem", "accuracy", "predict", "predict_problem", "problem_accuracy", "DATASETS"]

DATASETS = ("breast_cancer", "digits", "wine", "iris")


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
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int

    @property
    def n(self) -> int:
        return self.X_train.shape[0]

    def __repr__(self):
        return (f"Dataset({self.name!r}, n_train={self.n}, n_test={self.X_test.shape[0]}, "
                f"features={self.X_train.shape[1]}, classes={self.n_classes})")


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

    Raises
    ------
    ValueError
        ``name`` unknown, ``test_fraction`` outside (0, 1) or leaving a split as
        described above, ``seed`` negative.
    TypeError
        ``intercept`` not a bool, ``seed`` not an integer.
    """
    frac = check_real("test_fraction", test_fraction)
    if not 0 < frac < 1:
        raise ValueError(f"test_fraction must be in (0, 1) (got {test_fraction!r})")
    seed = check_int("seed", seed, 0)
    intercept = check_bool("intercept", intercept)
    X, y = _raw(name)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), bool)
    for cls in np.unique(y):  # stratified split
        idx = np.flatnonzero(y == cls)
        rng.shuffle(idx)
        test[idx[: int(round(frac * len(idx)))]] = True
    missing = [int(cls) for cls in np.unique(y) if test[y == cls].all()]
    if missing or not test.any():
        raise ValueError(f"test_fraction={test_fraction!r} leaves {int((~test).sum())} training and "
                         f"{int(test.sum())} test examples of {len(y)}"
                         + (f", no training example of class(es) {missing}" if missing else "")
                         + "; test_fraction must keep at least one example of every class for training "
                           "and at least one example for testing")
    Xtr, Xte = X[~test], X[test]
    mu, sd = Xtr.mean(axis=0), Xtr.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)  # constant pixels in digits
    Xtr, Xte = (Xtr - mu) / sd, (Xte - mu) / sd
    if intercept:
        Xtr = np.hstack([Xtr, np.ones((len(Xtr), 1))])
        Xte = np.hstack([Xte, np.ones((len(Xte), 1))])
    return Dataset(name, np.ascontiguousarray(Xtr), y[~test], np.ascontiguousarray(Xte), y[test],
                   int(y.max()) + 1)


def make_problem(data: Dataset):
    """Logistic regression for two classes, softmax regression otherwise."""
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a clipsgd Dataset from datasets.load (got {type(data).__name__})")
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
