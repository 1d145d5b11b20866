r"""Objectives as per-example gradient oracles.

A :class:`Problem` is the finite sum :math:`f(x) = \frac1n \sum_{i=1}^n f_i(x)` with its
data. The engine calls one jitted oracle per example,

``loss_i = grad_i(x, i, X, Y, P, out)``: write :math:`\nabla f_i(x)` into ``out`` and
return :math:`f_i(x)`,

where ``X`` (n, p) and ``Y`` (n,) are the data and ``P`` a float vector of constants (e
.g. the number of classes). Built-in problems share one cached dispatcher
(:func:`builtin_grad`); a user plugs in an objective with :func:`custom` (see its
docstring), which gets the same engine, compiled once per session for that oracle.

Every problem also has a plain-NumPy definition of its per-example gradients and losses
(:meth:`Problem.per_example_grads`, :meth:`Problem.losses`), the twin the tests hold the
kernels to.

=================  ===========================================  ==========================
constructor        :math:`f_i(x)`                               :math:`\nabla f_i(x)`
=================  ===========================================  ==========================
``quadratic``      :math:`\tfrac12\lVert x - a_i\rVert^2`        :math:`x - a_i`
``least_squares``  :math:`\tfrac12 (x^\top z_i - y_i)^2`          :math:`(x^\top z_i - y_i) z_i`
``logistic``       :math:`\log(1+e^{s_i}) - y_i s_i`, s = x.z_i  :math:`(\sigma(s_i) - y_i) z_i`
``softmax``        :math:`\operatorname{lse}(W^\top z_i) - (W^\top z_i)_{y_i}`  :math:`z_i (p_i - e_{y_i})^\top`
=================  ===========================================  ==========================
"""

from __future__ import annotations

import math
import types
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
from numba import njit
from numba.extending import is_jitted

from ._validate import check_finite_array, check_int

__all__ = [
    "Problem",
    "quadratic",
    "example1",
    "example2",
    "least_squares",
    "logistic",
    "softmax",
    "mlp",
    "mlp_init",
    "custom",
    "builtin_grad",
    "QUADRATIC",
    "LEAST_SQUARES",
    "LOGISTIC",
    "SOFTMAX",
    "MLP",
    "CUSTOM",
]

QUADRATIC, LEAST_SQUARES, LOGISTIC, SOFTMAX, MLP = 0, 1, 2, 3, 4
CUSTOM = -1


# ----------------------------------------------------------------------------- kernels
@njit(cache=True, inline="always")
def _dot_row(X, i, x):
    s = 0.0
    for j in range(X.shape[1]):
        s += X[i, j] * x[j]
    return s


@njit(cache=True, inline="always")
def _softplus(s):
    """log(1 + e^s), stable for large |s|."""
    if s > 0:
        return s + math.log1p(math.exp(-s))
    return math.log1p(math.exp(s))


@njit(cache=True, inline="always")
def _sigmoid(s):
    if s >= 0:
        return 1.0 / (1.0 + math.exp(-s))
    e = math.exp(s)
    return e / (1.0 + e)


@njit(cache=True)
def builtin_grad(kind, x, i, X, Y, P, out):
    """Gradient of the built-in example ``i`` at ``x`` into ``out``; returns its loss."""
    d = x.shape[0]
    if kind == QUADRATIC:
        loss = 0.0
        for j in range(d):
            r = x[j] - X[i, j]
            out[j] = r
            loss += r * r
        return 0.5 * loss
    elif kind == LEAST_SQUARES:
        r = _dot_row(X, i, x) - Y[i]
        for j in range(d):
            out[j] = r * X[i, j]
        return 0.5 * r * r
    elif kind == LOGISTIC:
        s = _dot_row(X, i, x)
        r = _sigmoid(s) - Y[i]
        for j in range(d):
            out[j] = r * X[i, j]
        return _softplus(s) - Y[i] * s
    elif kind == SOFTMAX:
        K = int(P[0])
        p = X.shape[1]
        # scores s_k = sum_j X[i, j] W[j, k], W = x.reshape(p, K); out used as scratch
        smax = -np.inf
        for k in range(K):
            s = 0.0
            for j in range(p):
                s += X[i, j] * x[j * K + k]
            out[k] = s
            if s > smax:
                smax = s
        tot = 0.0
        for k in range(K):
            tot += math.exp(out[k] - smax)
        lse = smax + math.log(tot)
        y = int(Y[i])
        loss = lse - out[y]
        # probabilities minus one-hot, kept in the first K slots temporarily
        probs = np.empty(K)
        for k in range(K):
            probs[k] = math.exp(out[k] - lse)
        probs[y] -= 1.0
        for j in range(p):
            for k in range(K):
                out[j * K + k] = X[i, j] * probs[k]
        return loss
    elif kind == MLP:
        return _mlp_grad(x, i, X, Y, P, out)
    raise ValueError("unknown problem kind")


@njit(cache=True)
def _mlp_grad(x, i, X, Y, P, out):
    """One-hidden-layer tanh network with softmax output; x = [W1 (p,h), W2 (h,K), b2 (K)]."""
    K = int(P[0])
    h = int(P[1])
    p = X.shape[1]
    o2 = p * h
    ob = o2 + h * K
    z = np.empty(h)
    for u in range(h):
        a = 0.0
        for j in range(p):
            a += X[i, j] * x[j * h + u]
        z[u] = math.tanh(a)
    sc = np.empty(K)
    smax = -np.inf
    for k in range(K):
        v = x[ob + k]
        for u in range(h):
            v += z[u] * x[o2 + u * K + k]
        sc[k] = v
        if v > smax:
            smax = v
    tot = 0.0
    for k in range(K):
        tot += math.exp(sc[k] - smax)
    lse = smax + math.log(tot)
    y = int(Y[i])
    loss = lse - sc[y]
    for k in range(K):  # ds = softmax - onehot
        sc[k] = math.exp(sc[k] - lse)
    sc[y] -= 1.0
    for k in range(K):
        out[ob + k] = sc[k]
    for u in range(h):
        dz = 0.0
        for k in range(K):
            out[o2 + u * K + k] = z[u] * sc[k]
            dz += x[o2 + u * K + k] * sc[k]
        da = dz * (1.0 - z[u] * z[u])
        for j in range(p):
            out[j * h + u] = X[i, j] * da
    return loss


# ------------------------------------------------------------------------ NumPy twins
def _np_quadratic(x, X, Y, P):
    R = x[None, :] - X
    return R, 0.5 * np.sum(R * R, axis=1)


def _np_least_squares(x, X, Y, P):
    r = X @ x - Y
    return r[:, None] * X, 0.5 * r * r


def _sigmoid_numpy(s):
    """The logistic function, as the kernel's ``_sigmoid``: no overflow for either sign."""
    e = np.exp(-np.abs(s))
    return np.where(s >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _np_logistic(x, X, Y, P):
    s = X @ x
    r = _sigmoid_numpy(s) - Y
    return r[:, None] * X, np.logaddexp(0.0, s) - Y * s


def _np_softmax(x, X, Y, P):
    K = int(P[0])
    S = X @ x.reshape(X.shape[1], K)
    lse = np.logaddexp.reduce(S, axis=1)
    probs = np.exp(S - lse[:, None])
    y = Y.astype(np.int64)
    probs[np.arange(len(y)), y] -= 1.0
    G = (X[:, :, None] * probs[:, None, :]).reshape(len(y), -1)
    return G, lse - S[np.arange(len(y)), y]


def _np_mlp(x, X, Y, P):
    K, h = int(P[0]), int(P[1])
    p = X.shape[1]
    W1 = x[: p * h].reshape(p, h)
    W2 = x[p * h: p * h + h * K].reshape(h, K)
    b2 = x[p * h + h * K:]
    Z = np.tanh(X @ W1)
    S = Z @ W2 + b2
    lse = np.logaddexp.reduce(S, axis=1)
    y = Y.astype(np.int64)
    rows = np.arange(len(y))
    D = np.exp(S - lse[:, None])
    D[rows, y] -= 1.0
    dA = (D @ W2.T) * (1.0 - Z * Z)
    G = np.concatenate([
        (X[:, :, None] * dA[:, None, :]).reshape(len(y), -1),
        (Z[:, :, None] * D[:, None, :]).reshape(len(y), -1),
        D,
    ], axis=1)
    return G, lse - S[rows, y]


_NUMPY_TWINS = {
    QUADRATIC: _np_quadratic,
    LEAST_SQUARES: _np_least_squares,
    LOGISTIC: _np_logistic,
    SOFTMAX: _np_softmax,
    MLP: _np_mlp,
}


@njit(cache=True)
def _kernel_grads(kind, x, idx, X, Y, P):
    G = np.empty((idx.shape[0], x.shape[0]))
    L = np.empty(idx.shape[0])
    for b in range(idx.shape[0]):
        L[b] = builtin_grad(kind, x, idx[b], X, Y, P, G[b])
    return G, L


# ---------------------------------------------------------------------------- Problem
@dataclass(frozen=True, eq=False)
class Problem:
    """A finite sum with a per-example gradient oracle.

    Attributes
    ----------
    name : str
    kind : int
        Built-in kind (``QUADRATIC``, ...) or ``CUSTOM``.
    X, Y, P : ndarray
        Data (n, p), targets (n,) and constants passed to the oracle.
    dim : int
        Dimension d of the parameter x.
    x_star : ndarray or None
        A minimiser of f when known in closed form.
    grad_fn : numba dispatcher or None
        The user's oracle for ``CUSTOM`` problems.
    numpy_fn : callable or None
        ``numpy_fn(x, X, Y, P) -> (G (n, d), losses (n,))``: the readable definition.
    """

    name: str
    kind: int
    X: np.ndarray
    Y: np.ndarray
    P: np.ndarray
    dim: int
    x_star: Optional[np.ndarray] = None
    grad_fn: Optional[Callable] = field(default=None, repr=False)
    numpy_fn: Optional[Callable] = field(default=None, repr=False)
    meta: dict = field(default_factory=dict, repr=False)

    @property
    def n(self) -> int:
        """Number of examples."""
        return self.X.shape[0]

    def _x(self, x):
        x = check_finite_array("x", x, ndim=1)
        if x.shape[0] != self.dim:
            raise ValueError(f"x must have length dim={self.dim} (got {x.shape[0]})")
        return x

    def _idx(self, idx):
        # the kernels do not bounds-check: an index outside [0, n) would read past X
        arr = np.asarray(idx)
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise ValueError(f"idx must be a 1-D array of integer example indices (got {idx!r})")
        arr = arr.astype(np.int64)
        if arr.size and (arr.min() < 0 or arr.max() >= self.n):
            raise ValueError(f"idx must contain indices in [0, n={self.n}) (got min {arr.min()}, max {arr.max()})")
        return arr

    def per_example_grads(self, x, idx=None, use_kernel=False):
        """Per-example gradients, shape (len(idx), d) (all examples by default).

        The NumPy twin is used unless ``use_kernel`` (or the problem has no twin).
        """
        G, _ = self._grads_and_losses(x, idx, use_kernel)
        return G

    def losses(self, x, idx=None, use_kernel=False):
        """Per-example losses f_i(x)."""
        _, L = self._grads_and_losses(x, idx, use_kernel)
        return L

    def _grads_and_losses(self, x, idx, use_kernel):
        x = self._x(x)
        idx = np.arange(self.n) if idx is None else self._idx(idx)
        if use_kernel or self.numpy_fn is None:
            if self.kind == CUSTOM:
                G = np.empty((idx.shape[0], self.dim))
                L = np.empty(idx.shape[0])
                for b, i in enumerate(idx):
                    L[b] = self.grad_fn(x, int(i), self.X, self.Y, self.P, G[b])
                return G, L
            return _kernel_grads(self.kind, x, idx, self.X, self.Y, self.P)
        G, L = self.numpy_fn(x, self.X[idx], self.Y[idx], self.P)
        return np.asarray(G, dtype=float).reshape(len(idx), self.dim), np.asarray(L, float)

    def loss(self, x) -> float:
        """f(x) = mean_i f_i(x)."""
        return float(np.mean(self.losses(x)))

    def full_grad(self, x) -> np.ndarray:
        """grad f(x) = mean_i grad f_i(x)."""
        return self.per_example_grads(x).mean(axis=0)

    def __repr__(self):
        return f"Problem({self.name!r}, n={self.n}, dim={self.dim})"


def _labels(name, y, n):
    y = check_finite_array(name, y, ndim=1)
    if y.shape[0] != n:
        raise ValueError(f"{name} must have one entry per row of X: len({name})={y.shape[0]} != n={n}")
    return y


def quadratic(a, name: str = "quadratic") -> Problem:
    r"""The finite sum :math:`f_i(x) = \lVert x - a_i \rVert^2 / 2` (paper, Section 3).

    Parameters
    ----------
    a : array_like, shape (n,) or (n, d)
        The atoms :math:`a_i`; a 1-D array means d = 1.

    Notes
    -----
    :math:`\nabla f_i(x) = x - a_i`, the minimiser is :math:`x^* = \bar a` and the
    gradient noise at any x is :math:`\xi_i = \bar a - a_i`: its distribution does not
    depend on x.

    Examples
    --------
    >>> p = quadratic([-3.0, -3.0, 9.0])
    >>> p.x_star, p.per_example_grads([1.0]).ravel()
    (array([1.]), array([ 4.,  4., -8.]))
    """
    a = check_finite_array("a", a, ndim=(1, 2))
    if a.ndim == 1:
        a = a[:, None]
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"a must contain at least one atom of dimension >= 1 (got shape {a.shape})")
    return Problem(
        name=name,
        kind=QUADRATIC,
        X=np.ascontiguousarray(a),
        Y=np.zeros(a.shape[0]),
        P=np.zeros(1),
        dim=a.shape[1],
        x_star=a.mean(axis=0),
        numpy_fn=_np_quadratic,
    )


def example1() -> Problem:
    """Example 1 of the paper: a = (-3, -3, 9); x* = 1 but clipped SGD (c = 1) goes to -2.5."""
    return quadratic([-3.0, -3.0, 9.0], name="example1")


def example2() -> Problem:
    """Example 2 of the paper: a = (-3, 3); x* = 0; h(x) = 0 on all of [-2, 2] at c = 1."""
    return quadratic([-3.0, 3.0], name="example2")


def _design(X, dtype="float64"):
    X = check_finite_array("X", X, ndim=2)
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"X must have at least one row and one column (got shape {X.shape})")
    if dtype in ("float64", np.float64):
        return X
    if dtype not in ("float32", np.float32):
        raise ValueError(f"dtype must be 'float64' or 'float32' (got {dtype!r})")
    with np.errstate(over="ignore"):
        X32 = np.ascontiguousarray(X, dtype=np.float32)
    if not np.isfinite(X32).all():
        raise ValueError("X has entries beyond the float32 range (|x| > 3.4e38); use dtype='float64'")
    return X32


_DTYPE_DOC = """dtype : {"float64", "float32"}, default "float64"
        How X is stored. ``"float32"`` rounds the data once to single precision and halves
        its memory (for data sets that would not fit otherwise); the arithmetic stays
        float64 (each entry is converted exactly), so the results equal those of float64
        storage of the rounded data, bit for bit. It is hardly faster (measured 4% on
        ``benchmarks/`` workload (b)): a step's cost is the latency of reaching each randomly
        sampled row, not the row's bytes."""


def least_squares(X, y, name: str = "least_squares", dtype="float64") -> Problem:
    r"""Least squares :math:`f_i(x) = (x^\top z_i - y_i)^2 / 2` with rows :math:`z_i` of X.

    Parameters
    ----------
    X : array_like (n, p)
    y : array_like (n,)
    name : str
    {dtype}
    """
    X = _design(X, dtype)
    y = _labels("y", y, X.shape[0])
    x_star = np.linalg.lstsq(X.astype(np.float64), y, rcond=None)[0]
    return Problem(name, LEAST_SQUARES, X, y, np.zeros(1), X.shape[1], x_star, numpy_fn=_np_least_squares)


def logistic(X, y, name: str = "logistic", dtype="float64") -> Problem:
    r"""Binary logistic regression, labels in {{0, 1}}:
    :math:`f_i(x) = \log(1 + e^{{x^\top z_i}}) - y_i x^\top z_i`.

    Parameters
    ----------
    X : array_like (n, p)
    y : array_like (n,), labels 0 and 1
    name : str
    {dtype}
    """
    X = _design(X, dtype)
    y = _labels("y", y, X.shape[0])
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("y must contain only the labels 0 and 1 for logistic regression")
    return Problem(name, LOGISTIC, X, y, np.zeros(1), X.shape[1], numpy_fn=_np_logistic)


least_squares.__doc__ = least_squares.__doc__.replace("{dtype}", _DTYPE_DOC)
logistic.__doc__ = logistic.__doc__.replace("{dtype}", _DTYPE_DOC).replace("{{", "{").replace("}}", "}")


def softmax(X, y, n_classes: Optional[int] = None, name: str = "softmax") -> Problem:
    r"""Multinomial logistic (softmax) regression; x is :math:`W \in R^{p \times K}`
    flattened row-major, :math:`f_i = \log\sum_k e^{(W^\top z_i)_k} - (W^\top z_i)_{y_i}`."""
    X = _design(X)
    y = _labels("y", y, X.shape[0])
    if not np.all(y == np.round(y)) or y.min() < 0:
        raise ValueError("y must contain integer class labels 0, 1, ..., n_classes-1")
    K = int(y.max()) + 1 if n_classes is None else check_int("n_classes", n_classes, 2)
    if K < 2:
        raise ValueError("y must contain at least two classes (or give n_classes >= 2)")
    if y.max() >= K:
        raise ValueError(f"y has label {int(y.max())} >= n_classes={K}")
    return Problem(name, SOFTMAX, X, y, np.array([float(K)]), X.shape[1] * K, numpy_fn=_np_softmax)


def mlp(X, y, hidden: int = 16, n_classes: Optional[int] = None, name: str = "mlp") -> Problem:
    r"""One-hidden-layer network :math:`s(z) = W_2^\top \tanh(W_1^\top z) + b_2` with the
    softmax cross-entropy loss (non-convex).

    x is :math:`[W_1 \in R^{p\times h}, W_2 \in R^{h \times K}, b_2 \in R^K]` flattened
    row-major (the input bias is the data's intercept column). Start from
    :func:`mlp_init`, not zero (at zero every hidden unit gets the same gradient).
    """
    X = _design(X)
    y = _labels("y", y, X.shape[0])
    if not np.all(y == np.round(y)) or y.min() < 0:
        raise ValueError("y must contain integer class labels 0, 1, ..., n_classes-1")
    K = int(y.max()) + 1 if n_classes is None else check_int("n_classes", n_classes, 2)
    if y.max() >= K:
        raise ValueError(f"y has label {int(y.max())} >= n_classes={K}")
    h = check_int("hidden", hidden, 1)
    dim = X.shape[1] * h + h * K + K
    return Problem(name, MLP, X, y, np.array([float(K), float(h)]), dim, numpy_fn=_np_mlp,
                   meta={"hidden": h, "n_classes": K})


def mlp_init(problem: Problem, seed: int = 0) -> np.ndarray:
    """Glorot-uniform initial parameters for :func:`mlp` (output bias 0)."""
    if problem.kind != MLP:
        raise ValueError("mlp_init needs a problem made by problems.mlp")
    K, h = int(problem.P[0]), int(problem.P[1])
    p = problem.X.shape[1]
    seed = check_int("seed", seed, 0)
    rng = np.random.default_rng(seed)
    a1, a2 = np.sqrt(6.0 / (p + h)), np.sqrt(6.0 / (h + K))
    return np.concatenate([rng.uniform(-a1, a1, p * h), rng.uniform(-a2, a2, h * K), np.zeros(K)])


def custom(grad_fn, dim, X, Y=None, P=None, name: str = "custom", numpy_fn=None, x_star=None) -> Problem:
    r"""Plug your own per-example gradient into the fast engine.

    Parameters
    ----------
    grad_fn : numba-jitted function
        ``grad_fn(x, i, X, Y, P, out) -> float``: write :math:`\nabla f_i(x)` into
        ``out`` (length ``dim``) and return :math:`f_i(x)`. Decorate it with
        ``@numba.njit`` (``cache=True`` recommended).
    dim : int
        Dimension of x.
    X : array_like, shape (n, p)
        Per-example data (the number of rows defines n).
    Y : array_like, shape (n,), optional
        Per-example targets or labels (default zeros).
    P : array_like, optional
        Constants for the oracle (default ``[0.0]``).
    name : str
        Shown in results and reports.
    numpy_fn : callable, optional
        ``numpy_fn(x, X, Y, P) -> (G, losses)``, a NumPy reference for tests.
    x_star : array_like (dim,), optional
        The minimiser, if known (used by distance-to-optimum reports).

    Raises
    ------
    TypeError
        ``grad_fn`` is not jitted, or calling it once at x = 0, i = 0 fails with a contract
        error (``TypeError`` or a Numba typing error: wrong arity or argument types) or does
        not return a number (the message states the required signature).

    Warns
    -----
    RuntimeWarning
        The probe call at x = 0, i = 0 raised anything else (e.g. ``ZeroDivisionError``
        of an oracle undefined at 0: the problem is still built, unchecked), or left an
        entry of ``out`` unset or NaN.

    Notes
    -----
    The engine is specialised for your oracle the first time it runs in a session: about
    10-15 s of compilation on a 2-core machine (measured; it is not cached on disk because
    Numba cannot cache a kernel that takes a function chosen at run time). Later runs in
    the same session reuse it; built-in problems use an engine cached on disk.

    Examples
    --------
    A Huber-type 1-D objective :math:`f_i(x) = |x - a_i|` smoothed at 1:

    >>> import numba, numpy as np
    >>> @numba.njit
    ... def huber_grad(x, i, X, Y, P, out):
    ...     r = x[0] - X[i, 0]
    ...     out[0] = max(-1.0, min(1.0, r))
    ...     return 0.5 * r * r if abs(r) <= 1 else abs(r) - 0.5
    >>> prob = custom(huber_grad, 1, np.array([[0.0], [2.0]]))
    >>> prob.per_example_grads([0.5]).ravel()
    array([ 0.5, -1. ])
    """
    if not is_jitted(grad_fn):
        raise TypeError("grad_fn must be a numba-jitted function (decorate it with @numba.njit)")
    dim = check_int("dim", dim, 1)
    X = _design(X)
    Y = np.zeros(X.shape[0]) if Y is None else _labels("Y", Y, X.shape[0])
    P = np.zeros(1) if P is None else check_finite_array("P", np.atleast_1d(P), ndim=1)
    if x_star is not None:
        x_star = check_finite_array("x_star", x_star, ndim=1)
        if x_star.shape[0] != dim:
            raise ValueError(f"x_star must have length dim={dim} (got {x_star.shape[0]})")
    _check_oracle(grad_fn, dim, X, Y, P)
    return Problem(name, CUSTOM, X, Y, P, dim, x_star, grad_fn=grad_fn, numpy_fn=numpy_fn)


def _check_oracle(grad_fn, dim, X, Y, P):
    """Call the oracle once (x = 0, i = 0), so a wrong signature or return type fails here,
    with the contract named, rather than deep inside the engine's compilation.

    Only a contract error (a ``TypeError`` or a Numba typing/lowering error: wrong arity,
    wrong argument types) is an error. Any other exception (e.g. ``ZeroDivisionError`` of
    an oracle such as 1/x that is undefined at 0) says nothing about the contract: it
    becomes a :class:`RuntimeWarning` and the problem is built unchecked.
    """
    import warnings

    from numba.core.errors import NumbaError

    out = np.full(dim, np.nan)
    contract = ("grad_fn must have the signature grad_fn(x, i, X, Y, P, out) -> float: x float64 "
                f"(dim={dim},), i int, X (n, p), Y (n,), P (m,) float64 arrays; it writes the gradient "
                "of example i into out and returns the loss f_i(x) as a float")
    try:
        loss = grad_fn(np.zeros(dim), 0, X, Y, P, out)
    except (TypeError, NumbaError) as err:  # numba TypingError, wrong arity: the message says what to fix
        raise TypeError(f"{contract}; calling it with x = 0, i = 0 failed: {_first_line(err)}") from err
    except Exception as err:  # the oracle may be undefined at the probe point (1/x, log x, ...)
        warnings.warn(f"the construction-time probe could not evaluate grad_fn at x = 0, i = 0 "
                      f"({_first_line(err)}); its return type and that it writes every entry of out "
                      "are not checked", RuntimeWarning, stacklevel=3)
        return
    if not isinstance(loss, (float, int, np.floating, np.integer)) or isinstance(loss, bool):
        raise TypeError(f"{contract}; it returned {type(loss).__name__} (a missing return statement?)")
    if np.isnan(out).any():  # a warning: NaN at x = 0 may be legitimate (e.g. log x)
        warnings.warn(f"grad_fn(x = 0, i = 0, ..., out) left out[j] unset or NaN for j = "
                      f"{np.flatnonzero(np.isnan(out)).tolist()[:5]}: it must write every entry of the "
                      "gradient (the engine reuses the buffer)", RuntimeWarning, stacklevel=3)


def _first_line(err: BaseException) -> str:
    """``"ExcType: first line of its message"`` (just the type when the message is empty)."""
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__
