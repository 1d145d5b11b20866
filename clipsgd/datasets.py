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
from ._validate import check_finite_array, check_int, check_real

__all__ = ["Dataset", "load", "make_problem", "accuracy", "DATASETS"]

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
    seed : int
    intercept : bool
        Append a column of ones (the bias) after standardisation.
    """
    frac = check_real("test_fraction", test_fraction)
    if not 0 < frac < 1:
        raise ValueError(f"test_fraction must be in (0, 1) (got {test_fraction!r})")
    seed = check_int("seed", seed, 0)
    X, y = _raw(name)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), bool)
    for cls in np.unique(y):  # stratified split
        idx = np.flatnonzero(y == cls)
        rng.shuffle(idx)
        test[idx[: int(round(frac * len(idx)))]] = True
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
    if data.n_classes == 2:
        return _problems.logistic(data.X_train, data.y_train, name=f"logistic[{data.name}]")
    return _problems.softmax(data.X_train, data.y_train, data.n_classes, name=f"softmax[{data.name}]")


def predict(x, X, n_classes: int):
    """Class predictions of a linear model with parameters x (logistic or softmax)."""
    x = check_finite_array("x", x, ndim=1)
    if n_classes == 2:
        return (X @ x > 0).astype(float)
    return np.argmax(X @ x.reshape(X.shape[1], n_classes), axis=1).astype(float)


def accuracy(x, X, y, n_classes: int) -> float:
    """Fraction of correct predictions of the linear model x on (X, y)."""
    return float(np.mean(predict(x, X, n_classes) == y))
