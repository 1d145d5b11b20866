r"""clipsgd benchmarks: the engine against NumPy and against the machine's own limits.

Usage::

    python benchmarks/bench.py [--quick] [--json PATH] [--plots DIR] [--repeats N]
                               [--skip-cold] [--no-proposals] [--no-scaling]

Workloads (issue 8):

(a) Example 1 Monte Carlo: 10,000 runs x 1,000 steps of clipped SGD (batch 1).
(b) DP-SGD logistic regression, n = 60,000, d = 784 (synthetic, seeded), Poisson batch
    of expected size 256, 1 run, 500 steps, ``record_loss=False``, 2 records.
(c) (b) with the pre-clipping perturbation k = 1 (B x d Gaussians per step).
(d) W_1 to the reflection of 2,000 x 64 gradient-noise vectors
    (:func:`clipsgd.diagnostics.w1_to_reflection`, exact assignment).

For each: the engine time (after warm-up, best of ``--repeats``), a vectorised NumPy
implementation of the same workload (vectorised over runs for (a), over the batch for
(b)/(c)), the ratio, and for (b) the fraction of the memory-bandwidth limit, for (c)
the fraction of the Gaussian-throughput limit, both limits measured in the same run.
Also: first-call latency in fresh processes (warm and cold Numba cache), optional JAX
(vmap) and Opacus comparisons, prototypes of engine optimisations
(``benchmarks/prototypes.py``) with their measured gains, and scaling plots.

The machine may be shared: the load average is recorded before and after, and every
time is the best of several repeats (the least disturbed one).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import clipsgd  # noqa: E402
from clipsgd import ClippedSGD, DPSGD, problems, run, run_numpy  # noqa: E402
from clipsgd.rng import fill_normal, spawn_states  # noqa: E402


# ---------------------------------------------------------------------------- helpers
def race(fns, repeats):
    """Time several competitors round-robin (so a load spike hits all of them alike).

    Returns ({name: best time}, {name: all times}, {name: last return value}).
    """
    times = {k: [] for k in fns}
    outs = {}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            outs[k] = fn()
            times[k].append(time.perf_counter() - t0)
    return {k: min(v) for k, v in times.items()}, times, outs


def best_of(fn, repeats):
    """(best time, all times, last return value) of ``repeats`` calls of ``fn``."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), times, out


_T0 = time.perf_counter()


def log(msg):
    print(f"[{time.perf_counter() - _T0:6.1f} s] {msg}", file=sys.stderr, flush=True)


def loadavg():
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None


def machine_info():
    import numba

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "clipsgd": clipsgd.__version__,
        "platform": platform.platform(),
    }


# ---------------------------------------------------------------------- the limits
_KERNELS = []


def _stream_kernels():
    if _KERNELS:
        return _KERNELS[0]
    from numba import njit, prange

    @njit(cache=True, fastmath=True)
    def stream_sum(a):
        s = 0.0
        for i in range(a.shape[0]):
            s += a[i]
        return s

    @njit(cache=True, fastmath=True, parallel=True)
    def stream_sum_parallel(a):
        s = 0.0
        for i in prange(a.shape[0]):
            s += a[i]
        return s

    @njit(cache=True, fastmath=True)
    def gather_rows(X, idx, out):
        for j in range(out.shape[0]):
            out[j] = 0.0
        for b in range(idx.shape[0]):
            i = idx[b]
            for j in range(X.shape[1]):
                out[j] += X[i, j]

    @njit(cache=True, fastmath=True, parallel=True)
    def gather_rows_parallel(X, idx, parts):
        # one step's rows split over the threads (one parallel region per step, as the
        # engine's batch-parallel GLM path does); parts: (chunks, d) partial sums
        nch = parts.shape[0]
        per = (idx.shape[0] + nch - 1) // nch
        for c in prange(nch):
            for j in range(X.shape[1]):
                parts[c, j] = 0.0
            for b in range(c * per, min(idx.shape[0], (c + 1) * per)):
                i = idx[b]
                for j in range(X.shape[1]):
                    parts[c, j] += X[i, j]

    _KERNELS.append((stream_sum, stream_sum_parallel, gather_rows, gather_rows_parallel))
    return _KERNELS[0]


def limit_competitors(cfg, X, k, zig=False):
    """Callables measuring the relevant limit, raced together with the workload.

    Returns {name: (callable, units per call)}: bytes for the bandwidth limits (k = 0),
    Gaussians for the generator limits (k > 0).
    """
    import numba

    stream_sum, stream_sum_parallel, gather_rows, gather_rows_parallel = _stream_kernels()
    if k == 0:
        flat = X.ravel()
        n, d = X.shape
        gen = np.random.default_rng(7)
        batches = [np.sort(gen.choice(n, cfg["batch"], replace=False)) for _ in range(100)]
        out = np.empty(d)
        stream_sum(flat[:64])
        gather_rows(X, batches[0], out)

        def one_thread(fn):
            def call():
                th = numba.get_num_threads()
                numba.set_num_threads(1)
                try:
                    return fn()
                finally:
                    numba.set_num_threads(th)
            return call

        def rows():
            for idx in batches:
                gather_rows(X, idx, out)

        parts = np.empty((max(2, numba.get_num_threads()), d))
        stream_sum_parallel(flat[:64])
        gather_rows_parallel(X, batches[0], parts)

        def rows_parallel():
            for idx in batches:
                gather_rows_parallel(X, idx, parts)

        nbytes_rows = len(batches) * cfg["batch"] * d * 8
        return {"limit_stream_read_1core": (one_thread(lambda: stream_sum(flat)), flat.nbytes),
                "limit_stream_read_all_cores": (lambda: stream_sum_parallel(flat), flat.nbytes),
                "limit_random_rows_1core": (rows, nbytes_rows),
                "limit_random_rows_all_cores": (rows_parallel, nbytes_rows)}
    m = 1 << 20
    reps = 2 if cfg["quick"] else 8
    buf = np.empty(m)
    g = np.random.default_rng(1)
    st = spawn_states(1, 1)[0].copy()
    fill_normal(st, buf[:8])

    def np_normals():
        for _ in range(reps):
            g.standard_normal(out=buf)

    def fn_normals():
        for _ in range(reps):
            fill_normal(st, buf)

    comp = {"limit_numpy_standard_normal_1core": (np_normals, reps * m),
            "limit_clipsgd_fill_normal_1core": (fn_normals, reps * m)}
    if zig:
        import prototypes as P

        P.fill_normal_ziggurat(st, buf[:8])

        def zig_normals():
            for _ in range(reps):
                P.fill_normal_ziggurat(st, buf)

        comp["limit_ziggurat_prototype_1core"] = (zig_normals, reps * m)
    return comp


def measure_limits(cfg, X):
    """Memory bandwidth (1 core, all cores, random rows) and Gaussian throughput (1 core)."""
    import numba

    stream_sum, stream_sum_parallel, gather_rows, _ = _stream_kernels()
    flat = X.ravel()
    nbytes = flat.nbytes
    stream_sum(flat[:64])
    stream_sum_parallel(flat[:64])
    r = cfg["repeats"] + (0 if cfg["quick"] else 2)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    t1, _, _ = best_of(lambda: stream_sum(flat), r)
    numba.set_num_threads(threads)
    tp, _, _ = best_of(lambda: stream_sum_parallel(flat), r)
    tn, _, _ = best_of(lambda: flat.sum(), r)
    dst = np.empty_like(flat)
    tc, _, _ = best_of(lambda: np.copyto(dst, flat), r)
    del dst
    # the access pattern of (b): rows drawn at random (sorted, as Poisson sampling gives)
    gen = np.random.default_rng(7)
    n, d = X.shape
    B = 256
    batches = [np.sort(gen.choice(n, B, replace=False)) for _ in range(100 if cfg["quick"] else 400)]
    out = np.empty(d)
    gather_rows(X, batches[0], out)

    def gather_all():
        for idx in batches:
            gather_rows(X, idx, out)

    tg, _, _ = best_of(gather_all, r)
    bw = {
        "stream_read_1core_GBps": nbytes / t1 / 1e9,
        "stream_read_all_cores_GBps": nbytes / tp / 1e9,
        "numpy_sum_1core_GBps": nbytes / tn / 1e9,
        "numpy_copy_1core_GBps": 2 * nbytes / tc / 1e9,  # read + write (STREAM convention)
        "random_rows_1core_GBps": len(batches) * B * d * 8 / tg / 1e9,
        "array_MB": nbytes / 1e6,
    }
    # Gaussians
    m = 1 << 20
    buf = np.empty(m)
    reps = 2 if cfg["quick"] else 8
    g = np.random.default_rng(1)

    def np_normals():
        for _ in range(reps):
            g.standard_normal(out=buf)

    state = spawn_states(1, 1)[0].copy()
    fill_normal(state, buf[:8])

    def clip_normals():
        for _ in range(reps):
            fill_normal(state, buf)

    tnp, _, _ = best_of(np_normals, r)
    tcl, _, _ = best_of(clip_normals, r)
    gs = {
        "numpy_standard_normal_1core_Mps": reps * m / tnp / 1e6,
        "clipsgd_fill_normal_1core_Mps": reps * m / tcl / 1e6,
    }
    gs["best_1core_Mps"] = max(gs.values())
    return {"memory_bandwidth": bw, "gaussian_throughput": gs}


# ------------------------------------------------------------------ (a) Monte Carlo
def numpy_mc_quadratic(a, runs, steps, lr, c, seed, chunk=64):
    """Vectorised over runs: clipped SGD, batch 1 with replacement, f_i = (x - a_i)^2 / 2.

    clip(g, c) = g c / max(|g|, c) (the 1-D norm is |g|); indices drawn ``chunk`` steps
    at a time to keep Python overhead off the clock.
    """
    gen = np.random.default_rng(seed)
    a = np.asarray(a, float)
    x = np.zeros(runs)
    gr = np.empty(runs)
    nrm = np.empty(runs)
    t = 0
    while t < steps:
        k = min(chunk, steps - t)
        I = gen.integers(0, a.shape[0], size=(k, runs))
        for j in range(k):
            np.subtract(x, a[I[j]], out=gr)
            np.abs(gr, out=nrm)
            np.maximum(nrm, c, out=nrm)
            np.divide(gr, nrm, out=gr)
            gr *= lr * c
            x -= gr
        t += k
    return x


def _mean_final_x_check(x_engine, x_numpy, lr, c, steps, x0=0.0, stall=-2.5):
    """Both means, and the exact stall point only where the runs can have reached it: a clipped
    step moves x by at most lr c, so ``steps`` steps from x0 stay within lr c steps of it."""
    out = {"engine": float(x_engine), "numpy": float(x_numpy)}
    reach = lr * c * steps
    if reach < abs(stall - x0):
        out["note"] = (f"{steps} steps move x at most lr c T = {reach:g} from x0 = {x0:g}: not yet at the "
                       f"stall point {stall:g} (full mode runs long enough); the two means should agree")
    else:
        out["exact_stationary_point"] = stall
    return out


def workload_a(cfg, protos):
    R, T = cfg["a_runs"], cfg["a_steps"]
    p = problems.example1()
    alg = ClippedSGD(lr=0.01, c=1.0)
    kw = dict(steps=T, runs=R, seed=0, record_every=T, record_loss=False)
    run(p, alg, steps=5, runs=4, record_loss=False)  # compile / load the cache
    numpy_mc_quadratic(p.X[:, 0], 10, 10, 0.01, 1.0, 0)
    kernel = []

    def eng():
        res = run(p, alg, **kw)
        kernel.append(res.wall_time)
        return res

    fns = {"engine": eng, "numpy": lambda: numpy_mc_quadratic(p.X[:, 0], R, T, 0.01, 1.0, 0)}
    if protos:
        import prototypes as P

        states = spawn_states(0, R)
        lrs = alg.learning_rates(T)
        P.mc_quadratic_lockstep(p.X[:, 0], states[:8], lrs[:4], 1.0, np.zeros(8))
        fns["lockstep"] = lambda: P.mc_quadratic_lockstep(p.X[:, 0], states, lrs, 1.0, np.zeros(R))
        P.spawn_states_vectorised(0, 4)
        fns["seeding_vectorised"] = lambda: P.spawn_states_vectorised(0, R)
    best, _, outs = race(fns, cfg["a_repeats"])
    t_kernel, t_call, t_np = min(kernel), best["engine"], best["numpy"]
    res, x_np = outs["engine"], outs["numpy"]
    # the twin (a Python loop per step), timed on a few runs and extrapolated linearly
    r_tw = cfg["twin_runs"]
    t_tw, _, _ = best_of(lambda: run_numpy(p, alg, steps=T, runs=r_tw, record_every=T, record_loss=False), 1)
    t_seed, _, _ = best_of(lambda: spawn_states(0, R), 1)
    out = {
        "what": f"Example 1 (a = -3, -3, 9), clipped SGD c = 1, lr = 0.01, batch 1: {R} runs x {T} steps",
        "engine_s": t_kernel,
        "engine_call_s": t_call,
        "seeding_s": t_seed,
        "numpy_s": t_np,
        "ratio": t_np / t_kernel,
        "ratio_whole_call": t_np / t_call,
        "run_numpy_extrapolated_s": t_tw * R / r_tw,
        "run_numpy_measured_runs": r_tw,
        "ratio_vs_run_numpy": t_tw * R / r_tw / t_kernel,
        "ns_per_run_step_engine": t_kernel / (R * T) * 1e9,
        "ns_per_run_step_numpy": t_np / (R * T) * 1e9,
        "check_mean_final_x": _mean_final_x_check(res.x.mean(), x_np.mean(), lr=0.01, c=1.0, steps=T),
    }
    if protos:
        t_ls, t_sv = best["lockstep"], best["seeding_vectorised"]
        out["prototypes"] = {
            "P1_lockstep_runs": {
                "what": ("64 runs advanced in lock-step per thread: xoshiro256** and the clip vectorised "
                         "across runs (AVX2 or AVX-512, as the CPU offers), gather in a separate pass"),
                "prototype_s": t_ls, "speedup_vs_engine": t_kernel / t_ls, "ratio_vs_numpy": t_np / t_ls,
                "ratio_vs_numpy_whole_call_with_P4": t_np / (t_ls + t_sv),
                "bit_identical_to_engine": bool(np.array_equal(outs["lockstep"], res.x[:, 0])),
            },
            "P4_vectorised_seeding": {
                "runs": R, "current_s": t_seed, "prototype_s": t_sv, "speedup": t_seed / t_sv,
                "bit_identical": bool(np.array_equal(spawn_states(0, R), outs["seeding_vectorised"])),
            },
        }
    return out


# ------------------------------------------------------------ (b)/(c) DP-SGD logistic
def make_logistic(n, d, seed=0):
    """Synthetic logistic-regression data: rows ~ N(0, I/d), labels from a noisy linear model."""
    gen = np.random.default_rng(seed)
    X = gen.standard_normal((n, d))
    X *= 1.0 / math.sqrt(d)
    w = gen.standard_normal(d)
    y = (X @ w + 0.5 * gen.standard_normal(n) > 0).astype(float)
    return X, y


def numpy_dpsgd_logistic(X, y, steps, lr, c, z, k, q, seed, glm=False, rownorm=None):
    """DP-SGD on logistic regression, vectorised over the batch (the engine's algorithm).

    Poisson batch: m ~ Binomial(n, q), then a uniform m-subset (exactly Poisson sampling).
    ``glm=False`` forms the per-example gradient matrix ``G = r z_i`` and clips its rows
    (what the engine and ``run_numpy`` do); ``glm=True`` clips from norms,
    ``||g_i|| = |r_i| ||z_i||``, and never forms G (only valid for k = 0).
    Returns (x, examples processed, Gaussians drawn).
    """
    gen = np.random.default_rng(seed)
    n, d = X.shape
    x = np.zeros(d)
    eb = q * n
    seen = 0
    drawn = 0
    for t in range(steps):
        m = gen.binomial(n, q)
        idx = np.sort(gen.choice(n, m, replace=False))
        seen += m
        Xb = X[idx]
        s = Xb @ x
        r = 1.0 / (1.0 + np.exp(-s)) - y[idx]
        if glm and k == 0:
            nrm = np.abs(r) * rownorm[idx]
            f = c / np.maximum(nrm, c)
            acc = (f * r) @ Xb
        else:
            G = r[:, None] * Xb
            if k > 0:
                G += k * gen.standard_normal((m, d))
                drawn += m * d
            nrm = np.sqrt(np.einsum("ij,ij->i", G, G))
            f = c / np.maximum(nrm, c)
            acc = f @ G
        noise = gen.standard_normal(d)
        drawn += d
        x -= lr / eb * (acc + z * c * noise)
    return x, seen, drawn


def workload_bc(cfg, X, y, k, limits, protos, zig_rate=None):
    n, d = X.shape
    T = cfg["b_steps"] if k == 0 else cfg["c_steps"]
    q = cfg["batch"] / n
    p = problems.logistic(X, y)
    alg = DPSGD(lr=0.5, c=1.0, noise_multiplier=1.0, sample_rate=q, k=k)
    kw = dict(steps=T, runs=1, seed=0, record_every=T, record_loss=False)
    run(p, alg, steps=2, record_loss=False)
    kernel = []

    def eng():
        res = run(p, alg, **kw)
        kernel.append(res.wall_time)
        return res

    rownorm = np.sqrt(np.einsum("ij,ij->i", X, X))
    fns = {"engine": eng, "numpy": lambda: numpy_dpsgd_logistic(X, y, T, 0.5, 1.0, 1.0, k, q, 0)}
    kernel32 = []
    if k == 0:  # the same run with X stored in float32 (half the bytes; float64 arithmetic)
        p32 = problems.logistic(X, y, dtype="float32")
        run(p32, alg, steps=2, record_loss=False)

        def eng32():
            r32 = run(p32, alg, **kw)
            kernel32.append(r32.wall_time)
            return r32

        fns["engine_float32"] = eng32
    if k == 0:
        fns["numpy_glm"] = lambda: numpy_dpsgd_logistic(X, y, T, 0.5, 1.0, 1.0, 0, q, 0, glm=True,
                                                        rownorm=rownorm)
    gens = []
    if protos:
        import prototypes as P

        gens = ["box-muller"] if k == 0 else ["box-muller", "ziggurat"]
        lrs = alg.learning_rates(T)
        for gname in gens:
            def go(gname=gname):
                s0 = spawn_states(0, 1)[0].copy()
                return P.glm_dpsgd(X, y, np.zeros(d), s0, lrs, 1.0, 1.0, k, q, generator=gname,
                                   rownorm=rownorm)
            go()
            fns["proto_" + gname] = go
    limits_here = limit_competitors(cfg, X, k, zig=bool(protos and k > 0))
    for name, (fn, _) in limits_here.items():
        fns[name] = fn
    with _one_blas_thread():
        best, _, outs = race(fns, cfg["repeats"])
    t_eng, t_call, t_np = min(kernel), best["engine"], best["numpy"]
    res = outs["engine"]
    x_np = outs["numpy"][0]
    raced = {name: units / best[name] / (1e9 if k == 0 else 1e6) for name, (_, units) in limits_here.items()}
    seen = int(round(res.mean_batch.sum() * T / res.mean_batch.shape[1]))
    out = {
        "what": (f"DP-SGD logistic regression n = {n}, d = {d}, Poisson rate {q:.5f} (expected batch "
                 f"{cfg['batch']}), z = 1, c = 1, k = {k}, 1 run x {T} steps"),
        "engine_s": t_eng,
        "engine_call_s": t_call,
        "numpy_s": t_np,
        "ratio": t_np / t_eng,
        "examples_processed": seen,
        "final_loss": {"engine": float(p.loss(res.x[0])), "numpy": float(p.loss(x_np))},
    }
    # limits measured in the same race (same load); the standalone ones are in "limits"
    out["limits_in_race"] = {k_ + ("_GBps" if k == 0 else "_Mps"): v for k_, v in raced.items()}

    def bandwidth_fractions(eff):
        return {"stream_read_1core": eff / raced["limit_stream_read_1core"],
                "stream_read_all_cores": eff / raced["limit_stream_read_all_cores"],
                "random_rows_1core": eff / raced["limit_random_rows_1core"],
                "random_rows_all_cores": eff / raced["limit_random_rows_all_cores"]}

    def gauss_fractions(rate, with_zig=False):
        npy = raced["limit_numpy_standard_normal_1core"]
        fnn = raced["limit_clipsgd_fill_normal_1core"]
        zr = raced.get("limit_ziggurat_prototype_1core")
        f = {"numpy_standard_normal_1core": rate / npy, "clipsgd_fill_normal_1core": rate / fnn,
             "best_1core": rate / max(npy, fnn, zr if with_zig and zr else 0.0)}
        if zr:
            f["ziggurat_1core"] = rate / zr
        return f

    if k == 0:
        t_glm = best["numpy_glm"]
        out["numpy_glm_s"] = t_glm
        out["ratio_vs_numpy_glm"] = t_glm / t_eng
        bytes_moved = seen * d * 8  # every sampled row read once from memory
        out["bytes_moved_GB"] = bytes_moved / 1e9
        out["effective_GBps"] = bytes_moved / t_eng / 1e9
        out["fraction_of_bandwidth"] = bandwidth_fractions(out["effective_GBps"])
        out["engine_float32_s"] = min(kernel32)
        out["float32_same_result_as_rounded_float64"] = bool(
            np.array_equal(outs["engine_float32"].x,
                           run(problems.logistic(X.astype(np.float32).astype(np.float64), y), alg, **kw).x))
        out["float32_speedup"] = t_eng / min(kernel32)
        out["engine_threads"] = int(numba_threads())
    else:
        gauss = seen * d + T * d  # zeta for every example + the noise vector each step
        out["gaussians_drawn"] = gauss
        out["effective_Mps"] = gauss / t_eng / 1e6
        out["fraction_of_gaussian_throughput"] = gauss_fractions(out["effective_Mps"])
    if protos:
        out["prototypes"] = {}
        for gname in gens:
            t_p = best["proto_" + gname]
            xp, seen_p = outs["proto_" + gname]
            e = {"prototype_s": t_p, "speedup_vs_engine": t_eng / t_p, "ratio_vs_numpy": t_np / t_p}
            if gname == "box-muller":  # same draws as the engine
                e["max_abs_diff_to_engine_x"] = float(np.abs(xp - res.x[0]).max())
            else:
                e["final_loss"] = float(p.loss(xp))
            if k == 0:
                e["ratio_vs_numpy_glm"] = best["numpy_glm"] / t_p
                e["effective_GBps"] = seen_p * d * 8 / t_p / 1e9
                e["fraction_of_bandwidth"] = bandwidth_fractions(e["effective_GBps"])
                out["prototypes"]["P2_glm_clip_from_norms"] = e
            else:
                e["effective_Mps"] = (seen_p * d + T * d) / t_p / 1e6
                e["fraction_of_gaussian_throughput"] = gauss_fractions(e["effective_Mps"], gname == "ziggurat")
                out["prototypes"]["P2_fused_perturbation_" + gname.replace("-", "_")] = e
    return out


def numba_threads() -> int:
    import numba

    return numba.get_num_threads()


class _one_blas_thread:
    """Limit BLAS to one thread (the engine runs one run on one core; on a shared 2-core
    machine a 2-thread BLAS stalls badly whenever the other core is busy)."""

    def __enter__(self):
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            self._ctx = None
            return self
        self._ctx = threadpool_limits(1)
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        if self._ctx is not None:
            self._ctx.__exit__(*exc)


# ------------------------------------------------------------------ (d) diagnostics
def workload_d(cfg):
    try:
        from clipsgd.diagnostics import pairwise_cost, w1_to_reflection
    except ImportError as exc:
        return {"skipped": f"clipsgd.diagnostics not available ({exc})"}
    from scipy.optimize import linear_sum_assignment

    n, d = cfg["d_n"], 64
    gen = np.random.default_rng(3)
    xi = gen.exponential(size=(n, d)) - 1.0  # skewed noise: far from its reflection
    w1_to_reflection(xi[:50])
    t_eng, _, est = best_of(lambda: w1_to_reflection(xi), cfg["repeats_slow"])

    def numpy_w1():
        A, B = xi, -xi
        sq = np.einsum("ij,ij->i", A, A)
        C = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * (A @ B.T), 0.0))
        r, c = linear_sum_assignment(C)
        return C[r, c].mean()

    t_np, _, v_np = best_of(numpy_w1, cfg["repeats_slow"])
    t_cost, _, C = best_of(lambda: pairwise_cost(xi, -xi), cfg["repeats"])

    def numpy_cost():
        sq = np.einsum("ij,ij->i", xi, xi)
        return np.sqrt(np.maximum(sq[:, None] + sq[None, :] + 2.0 * (xi @ xi.T), 0.0))

    t_npcost, _, _ = best_of(numpy_cost, cfg["repeats"])
    t_lsa, _, _ = best_of(lambda: linear_sum_assignment(C), cfg["repeats_slow"])
    return {
        "what": f"W_1 between {n} x {d} skewed noise vectors and their reflection (exact assignment)",
        "engine_s": t_eng,
        "numpy_s": t_np,
        "ratio": t_np / t_eng,
        "value": {"engine": est.value, "numpy": float(v_np), "method": est.method},
        "cost_matrix_engine_s": t_cost,
        "cost_matrix_numpy_s": t_npcost,
        "cost_matrix_ratio": t_npcost / t_cost,
        "assignment_s": t_lsa,
        "note": "both spend most of the time in scipy's linear_sum_assignment; only the cost matrix differs",
    }


# ------------------------------------------------------------------ compile latency
_LATENCY_SNIPPET = r"""
import time, json
t0 = time.perf_counter()
import numpy as np
import clipsgd
from clipsgd import problems, ClippedSGD, DPSGD, run
t1 = time.perf_counter()
run(problems.example1(), ClippedSGD(lr=0.01, c=1.0), steps=10, runs=2, record_loss=False)
t2 = time.perf_counter()
run(problems.example1(), ClippedSGD(lr=0.01, c=1.0), steps=10, runs=2, record_loss=False)
t3 = time.perf_counter()
out = {"import_s": t1 - t0, "first_run_s": t2 - t1, "second_run_s": t3 - t2}
try:
    from clipsgd.diagnostics import w1_to_reflection
    t4 = time.perf_counter()
    w1_to_reflection(np.arange(12.0).reshape(6, 2) - 3.0)
    out["first_w1_s"] = time.perf_counter() - t4
except ImportError:
    pass
print(json.dumps(out))
"""


def compile_latency(cfg):
    def fresh(env_extra):
        env = dict(os.environ)
        env.update(env_extra)
        t0 = time.perf_counter()
        cp = subprocess.run([sys.executable, "-c", _LATENCY_SNIPPET], capture_output=True, text=True,
                            env=env, timeout=900)
        wall = time.perf_counter() - t0
        if cp.returncode != 0:
            return {"error": cp.stderr.strip().splitlines()[-1:]}
        res = json.loads(cp.stdout.strip().splitlines()[-1])
        res["process_wall_s"] = wall
        return res

    out = {"warm_cache": fresh({})}
    if cfg["cold"]:
        with tempfile.TemporaryDirectory() as tmp:
            out["cold_cache"] = fresh({"NUMBA_CACHE_DIR": tmp})
    else:
        out["cold_cache"] = {"skipped": "--quick or --skip-cold"}
    return out


# ----------------------------------------------------------------------------- JAX
def jax_comparisons(cfg, X, y):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return {"skipped": "jax not installed (pip install 'clipsgd[bench]')"}
    jax.config.update("jax_enable_x64", True)
    out = {"version": jax.__version__, "devices": [str(dv) for dv in jax.devices()]}

    # (a): vmap over runs of a scan over steps
    R, T = cfg["a_runs"], cfg["a_steps"]
    a = jnp.array([-3.0, -3.0, 9.0])

    def one_run(key):
        def step(x, k):
            i = jax.random.randint(k, (), 0, 3)
            g = x - a[i]
            return x - 0.01 * g * 1.0 / jnp.maximum(jnp.abs(g), 1.0), None
        x, _ = jax.lax.scan(step, 0.0, jax.random.split(key, T))
        return x

    f_a = jax.jit(jax.vmap(one_run))
    keys = jax.random.split(jax.random.PRNGKey(0), R)
    t0 = time.perf_counter()
    f_a(keys).block_until_ready()
    compile_a = time.perf_counter() - t0
    t_a, _, xa = best_of(lambda: f_a(keys).block_until_ready(), cfg["repeats"])
    out["a"] = {"jax_s": t_a, "first_call_s": compile_a, "mean_final_x": float(jnp.mean(xa))}

    # (b)/(c): per-example gradients by vmap(grad); JAX needs static shapes, so the batch
    # is a fixed 256 rows drawn uniformly with replacement (not Poisson).
    n, d = X.shape
    B = cfg["batch"]
    Xj, yj = jnp.asarray(X), jnp.asarray(y)

    def loss_i(w, xi, yi):
        s = xi @ w
        return jnp.logaddexp(0.0, s) - yi * s

    grad_i = jax.vmap(jax.grad(loss_i), in_axes=(None, 0, 0))

    def make(k, steps):
        def step(w, key):
            k1, k2, k3 = jax.random.split(key, 3)
            idx = jax.random.randint(k1, (B,), 0, n)
            G = grad_i(w, Xj[idx], yj[idx])
            if k > 0:
                G = G + k * jax.random.normal(k2, G.shape)
            nrm = jnp.sqrt(jnp.sum(G * G, axis=1))
            G = G * (1.0 / jnp.maximum(nrm, 1.0))[:, None]
            noise = jax.random.normal(k3, (d,))
            return w - 0.5 / B * (G.sum(axis=0) + noise), None

        @jax.jit
        def train(key):
            w, _ = jax.lax.scan(step, jnp.zeros(d), jax.random.split(key, steps))
            return w
        return train

    for name, k, steps in (("b", 0.0, cfg["b_steps"]), ("c", 1.0, cfg["c_steps"])):
        f = make(k, steps)
        t0 = time.perf_counter()
        f(jax.random.PRNGKey(1)).block_until_ready()
        first = time.perf_counter() - t0
        t, _, _ = best_of(lambda: f(jax.random.PRNGKey(1)).block_until_ready(), cfg["repeats"])
        out[name] = {"jax_s": t, "first_call_s": first, "batch": f"fixed {B}, with replacement"}
    return out


def opacus_comparison(cfg, X, y):
    """(b) with Opacus: the same DP-SGD logistic regression (Poisson rate B/n, z = 1, c = 1,
    lr 0.5, zero init) as Opacus's ``PrivacyEngine.make_private`` on the CPU.

    Timed per optimizer step over ``b_steps`` steps (data loading with Opacus's Poisson
    sampler, forward, backward with per-sample gradient hooks, clipping, noise, update),
    in float64 (the engine's precision) and float32 (Opacus's usual one), with torch's
    default thread count (the engine uses one core for one run). The faster of the two is
    the one compared, i.e. the comparison is as favourable to Opacus as we could make it.
    """
    try:
        import opacus
        import torch
    except ImportError:
        return {"skipped": "torch/opacus not installed (pip install torch==2.13.0 opacus)"}
    import warnings as _w

    from opacus import PrivacyEngine
    from torch.utils.data import DataLoader, TensorDataset

    n, d = X.shape
    B, T = cfg["batch"], cfg["b_steps"]
    out = {"version": opacus.__version__, "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
           "what": f"Opacus DP-SGD, nn.Linear({d}, 1) + BCEWithLogitsLoss, Poisson rate {B}/{n}, z = 1, c = 1"}
    for name, dtype in (("float64", torch.float64), ("float32", torch.float32)):
        torch.manual_seed(0)
        model = torch.nn.Linear(d, 1, bias=False).to(dtype)
        torch.nn.init.zeros_(model.weight)
        opt = torch.optim.SGD(model.parameters(), lr=0.5)
        ds = TensorDataset(torch.from_numpy(X).to(dtype), torch.from_numpy(y).to(dtype))
        with _w.catch_warnings():
            _w.simplefilter("ignore")
            pe = PrivacyEngine(accountant="rdp")
            model, opt, dl = pe.make_private(module=model, optimizer=opt, data_loader=DataLoader(ds, batch_size=B),
                                             noise_multiplier=1.0, max_grad_norm=1.0, poisson_sampling=True)
        loss_fn = torch.nn.BCEWithLogitsLoss()

        def train(steps):
            done = 0
            while done < steps:
                for xb, yb in dl:
                    opt.zero_grad()
                    if len(xb):
                        loss_fn(model(xb).squeeze(-1), yb).backward()
                    opt.step()
                    done += 1
                    if done == steps:
                        break

        with _w.catch_warnings():
            _w.simplefilter("ignore")
            train(5)  # warm-up
            t, _, _ = best_of(lambda: train(T), cfg["repeats_slow"])
        out[name] = {"opacus_s": t, "steps": T, "per_step_s": t / T}
    out["best"] = min(("float64", "float32"), key=lambda k: out[k]["opacus_s"])
    return out


# -------------------------------------------------------------------- prototypes
def ziggurat_throughput(cfg, limits):
    """P3: throughput and a sanity check of the ziggurat prototype (same xoshiro stream)."""
    import prototypes as P
    from scipy import stats

    st = spawn_states(5, 1)[0].copy()
    m = 1 << 20
    buf = np.empty(m)
    P.fill_normal_ziggurat(st, buf[:8])
    t_z, _, _ = best_of(lambda: [P.fill_normal_ziggurat(st, buf) for _ in range(8)], cfg["repeats"] + 2)
    big = np.empty(2_000_000)
    P.fill_normal_ziggurat(spawn_states(6, 1)[0].copy(), big)
    gs = limits["gaussian_throughput"]
    rate = 8 * m / t_z / 1e6
    return {
        "throughput_1core_Mps": rate,
        "vs_fill_normal": rate / gs["clipsgd_fill_normal_1core_Mps"],
        "vs_numpy": rate / gs["numpy_standard_normal_1core_Mps"],
        "sanity_2e6_draws": {"mean": float(big.mean()), "var": float(big.var()),
                             "ks_pvalue": float(stats.kstest(big, "norm").pvalue)},
    }


# ----------------------------------------------------------------------- scaling
def scaling(cfg, limits):
    import prototypes as P

    out = {"runs": [], "d": [], "B": []}
    p = problems.example1()
    alg = ClippedSGD(lr=0.01, c=1.0)
    T = cfg["scale_a_steps"]
    for R in cfg["scale_runs"]:
        st = spawn_states(0, R)
        lrs = alg.learning_rates(T)
        kern = []
        best, _, _ = race({
            "engine": lambda: kern.append(run(p, alg, steps=T, runs=R, record_every=T, record_loss=False).wall_time),
            "numpy": lambda: numpy_mc_quadratic(p.X[:, 0], R, T, 0.01, 1.0, 0),
            "proto": lambda: P.mc_quadratic_lockstep(p.X[:, 0], st, lrs, 1.0, np.zeros(R))}, 3)
        out["runs"].append({"runs": R, "steps": T, "engine_call_s": best["engine"], "engine_s": min(kern),
                            "numpy_s": best["numpy"], "prototype_lockstep_s": best["proto"]})
    T = cfg["scale_b_steps"]
    n_d = cfg["scale_n_for_d"]
    for d in cfg["scale_d"]:
        X, y = make_logistic(n_d, d, seed=1)
        out["d"].append(_scale_point(X, y, cfg["batch"], T, d=d))
    X, y = make_logistic(cfg["scale_n_for_B"], 784, seed=2)
    for B in cfg["scale_B"]:
        out["B"].append(_scale_point(X, y, B, T, B=B))
    return out


def _scale_point(X, y, batch, T, **label):
    import prototypes as P

    n, d = X.shape
    q = batch / n
    p = problems.logistic(X, y)
    alg = DPSGD(lr=0.5, c=1.0, noise_multiplier=1.0, sample_rate=q)
    run(p, alg, steps=1, record_loss=False)
    rn = np.sqrt(np.einsum("ij,ij->i", X, X))
    lrs = alg.learning_rates(T)
    kern = []
    with _one_blas_thread():
        best, _, outs = race({
            "engine": lambda: kern.append(run(p, alg, steps=T, record_every=T, record_loss=False).wall_time),
            "numpy": lambda: numpy_dpsgd_logistic(X, y, T, 0.5, 1.0, 1.0, 0, q, 0),
            "proto": lambda: P.glm_dpsgd(X, y, np.zeros(d), spawn_states(0, 1)[0].copy(), lrs, 1.0, 1.0,
                                         0.0, q, rownorm=rn)}, 3)
    return dict(label, n=n, steps=T, expected_batch=batch, engine_s=min(kern), numpy_s=best["numpy"],
                prototype_glm_s=best["proto"])


def make_plots(scale, folder):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(folder, exist_ok=True)
    files = []
    specs = [
        ("runs", "runs", "time_vs_runs.png", "Example 1 clipped SGD, {steps} steps",
         [("engine_s", "engine"), ("numpy_s", "NumPy (vectorised over runs)"),
          ("prototype_lockstep_s", "prototype: lock-step runs")]),
        ("d", "d", "time_vs_d.png", "DP-SGD logistic, n = {n}, expected batch {expected_batch}, {steps} steps",
         [("engine_s", "engine"), ("numpy_s", "NumPy (vectorised over batch)"),
          ("prototype_glm_s", "prototype: clip from norms")]),
        ("B", "B", "time_vs_batch.png", "DP-SGD logistic, n = {n}, d = 784, {steps} steps",
         [("engine_s", "engine"), ("numpy_s", "NumPy (vectorised over batch)"),
          ("prototype_glm_s", "prototype: clip from norms")]),
    ]
    for key, xkey, fname, title, series in specs:
        pts = scale.get(key) or []
        if not pts:
            continue
        fig, ax = plt.subplots(figsize=(5.5, 4))
        xs = [pt[xkey] for pt in pts]
        for col, label in series:
            ax.plot(xs, [pt[col] for pt in pts], "o-", label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel({"runs": "runs", "d": "dimension d", "B": "expected batch size B"}[key])
        ax.set_ylabel("time (s)")
        ax.set_title(title.format(**pts[0]), fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = os.path.join(folder, fname)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        files.append(path)
    return files


# ------------------------------------------------------------------------ targets
def targets(res):
    w = res["workloads"]
    out = []

    def proto(key, name, *path):
        v = w[key].get("prototypes", {}).get(name)
        for p in path:
            v = v.get(p) if isinstance(v, dict) else None
        return v

    def add(name, required, measured, alt=None):
        out.append({"target": name, "required": required, "measured": measured, "met": bool(measured >= required),
                    **({"with_prototypes": alt, "met_with_prototypes": bool(alt >= required)}
                       if alt is not None else {})})

    add("(a) NumPy / engine time (kernel)", 5.0, w["a"]["ratio"], proto("a", "P1_lockstep_runs", "ratio_vs_numpy"))
    add("(a) NumPy / engine time (whole run() call, incl. seeding)", 5.0, w["a"]["ratio_whole_call"],
        proto("a", "P1_lockstep_runs", "ratio_vs_numpy_whole_call_with_P4"))
    add("(b) NumPy / engine time", 2.0, w["b"]["ratio"], proto("b", "P2_glm_clip_from_norms", "ratio_vs_numpy"))
    add("(b) fraction of memory bandwidth (1-core streaming read)", 0.5,
        w["b"]["fraction_of_bandwidth"]["stream_read_1core"],
        proto("b", "P2_glm_clip_from_norms", "fraction_of_bandwidth", "stream_read_1core"))
    add("(b) fraction of memory bandwidth (all-core streaming read)", 0.5,
        w["b"]["fraction_of_bandwidth"]["stream_read_all_cores"])
    add("(b) fraction of random-row read bandwidth (1 core)", 0.5,
        w["b"]["fraction_of_bandwidth"]["random_rows_1core"],
        proto("b", "P2_glm_clip_from_norms", "fraction_of_bandwidth", "random_rows_1core"))
    add("(b) fraction of random-row read bandwidth (all cores, the access pattern of the step)", 0.5,
        w["b"]["fraction_of_bandwidth"]["random_rows_all_cores"])
    add("(c) fraction of Gaussian throughput (best 1-core generator)", 0.5,
        w["c"]["fraction_of_gaussian_throughput"]["best_1core"],
        proto("c", "P2_fused_perturbation_ziggurat", "fraction_of_gaussian_throughput", "best_1core"))
    op = res.get("comparisons", {}).get("opacus", {})
    if "ratio_opacus_over_engine" in op:
        add(f"(b) Opacus ({op['best']}) / engine time (engine on float64 data)", 30.0, op["ratio_opacus_over_engine"])
        for prec, r in op.get("ratio_same_precision", {}).items():
            add(f"(b) Opacus ({prec}) / engine on {prec}-stored data", 30.0, r)
    return out


def print_table(res):
    w = res["workloads"]
    lines = ["", f"clipsgd benchmarks ({'quick' if res['meta']['quick'] else 'full'}); "
             f"load average before/after: {res['meta']['loadavg_start']} / {res['meta']['loadavg_end']}", ""]
    lines.append(f"{'workload':<10}{'engine s':>12}{'NumPy s':>12}{'NumPy/engine':>14}  limit")
    for key in ("a", "b", "c", "d"):
        x = w.get(key, {})
        if "skipped" in x or not x:
            lines.append(f"{key:<10}  skipped: {x.get('skipped', '')}")
            continue
        lim = ""
        if key == "b":
            f = x["fraction_of_bandwidth"]
            lim = (f"{x['effective_GBps']:.2f} GB/s = {100 * f['stream_read_1core']:.0f}% of 1-core stream, "
                   f"{100 * f['random_rows_all_cores']:.0f}% of all-core random-row read; "
                   f"float32 storage {x['float32_speedup']:.2f}x faster")
        elif key == "c":
            f = x["fraction_of_gaussian_throughput"]
            lim = (f"{x['effective_Mps']:.0f} M normals/s = {100 * f['best_1core']:.0f}% of best 1-core "
                   "generator")
        lines.append(f"{key:<10}{x['engine_s']:>12.4f}{x['numpy_s']:>12.4f}{x['ratio']:>14.2f}  {lim}")
        for name, pr in x.get("prototypes", {}).items():
            if "prototype_s" not in pr or "ratio_vs_numpy" not in pr:
                continue
            extra = ""
            if "fraction_of_bandwidth" in pr:
                extra = f"{100 * pr['fraction_of_bandwidth']['stream_read_1core']:.0f}% of 1-core stream"
            if "fraction_of_gaussian_throughput" in pr:
                extra = f"{100 * pr['fraction_of_gaussian_throughput']['best_1core']:.0f}% of best generator"
            lines.append(f"  {name:<36}{pr['prototype_s']:>10.4f}{'':>12}{pr['ratio_vs_numpy']:>14.2f}  {extra}")
    lim = res["limits"]
    lines.append("")
    lines.append("limits: " + ", ".join(f"{k} {v:.1f}" for k, v in lim["memory_bandwidth"].items()))
    lines.append("        " + ", ".join(f"{k} {v:.0f}" for k, v in lim["gaussian_throughput"].items()))
    if "ziggurat_prototype" in lim:
        lines.append(f"        ziggurat prototype {lim['ziggurat_prototype']['throughput_1core_Mps']:.0f} M/s")
    lines.append("")
    for t in res["targets"]:
        alt = t.get("with_prototypes")
        lines.append(f"  [{'met ' if t['met'] else 'MISS'}] {t['target']}: {t['measured']:.3g} (need >= "
                     f"{t['required']:g})" + (f"; with prototypes: {alt:.3g}" if alt is not None else ""))
    print("\n".join(lines))


# --------------------------------------------------------------------------- main
def config(quick, repeats):
    if quick:
        # (a) takes ~1 ms in quick mode: best of 2 was at the mercy of any load spike (1.2x vs 6-10x)
        return dict(quick=True, repeats=repeats or 2, repeats_slow=1, a_repeats=repeats or 15, a_runs=10000,
                    a_steps=100, twin_runs=1,
                    n=60000, d=784, batch=256, b_steps=50, c_steps=10, d_n=500, cold=False, jax=False,
                    scale_runs=[1000, 10000], scale_a_steps=100, scale_d=[64, 784],
                    scale_n_for_d=10000, scale_B=[64, 1024], scale_n_for_B=20000, scale_b_steps=20)
    return dict(quick=False, repeats=repeats or 5, repeats_slow=2, a_repeats=repeats or 5, a_runs=10000, a_steps=1000, twin_runs=5,
                n=60000, d=784, batch=256, b_steps=500, c_steps=500, d_n=2000, cold=True, jax=True,
                scale_runs=[100, 1000, 10000, 30000], scale_a_steps=1000,
                scale_d=[32, 128, 512, 784, 2048], scale_n_for_d=20000,
                scale_B=[16, 64, 256, 1024, 4096], scale_n_for_B=60000, scale_b_steps=200)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes, under a minute")
    ap.add_argument("--json", default=None, help="write the results to this JSON file")
    ap.add_argument("--plots", default=None, help="folder for the scaling plots (PNG)")
    ap.add_argument("--repeats", type=int, default=None, help="repeats per timing (best is kept)")
    ap.add_argument("--skip-cold", action="store_true", help="skip the cold-cache compile measurement")
    ap.add_argument("--jax", action="store_true", help="include the JAX comparison in --quick")
    ap.add_argument("--no-proposals", action="store_true", help="skip the prototypes")
    ap.add_argument("--no-scaling", action="store_true", help="skip the scaling sweeps (and plots)")
    args = ap.parse_args(argv)
    cfg = config(args.quick, args.repeats)
    if args.skip_cold:
        cfg["cold"] = False
    if args.jax:
        cfg["jax"] = True
    t_start = time.perf_counter()
    res = {"meta": dict(machine_info(), quick=cfg["quick"], config=cfg, loadavg_start=loadavg(),
                        date=time.strftime("%Y-%m-%d %H:%M:%S"))}
    log("data for (b)/(c) ...")
    X, y = make_logistic(cfg["n"], cfg["d"], seed=0)
    log("limits: memory bandwidth, Gaussian throughput ...")
    res["limits"] = measure_limits(cfg, X)
    res["workloads"] = {}
    protos = not args.no_proposals
    zig = None
    if protos:
        log("P3: ziggurat prototype throughput ...")
        res["limits"]["ziggurat_prototype"] = ziggurat_throughput(cfg, res["limits"])
        zig = res["limits"]["ziggurat_prototype"]["throughput_1core_Mps"]
    log("(a) Example 1 Monte Carlo ...")
    res["workloads"]["a"] = workload_a(cfg, protos)
    log("(b) DP-SGD logistic ...")
    res["workloads"]["b"] = workload_bc(cfg, X, y, 0.0, res["limits"], protos)
    log("(c) perturbed DP-SGD logistic ...")
    res["workloads"]["c"] = workload_bc(cfg, X, y, 1.0, res["limits"], protos, zig)
    log("(d) W_1 to the reflection ...")
    res["workloads"]["d"] = workload_d(cfg)
    log("compile time / first-call latency (fresh processes) ...")
    res["compile"] = compile_latency(cfg)
    log("optional comparisons (JAX, Opacus) ...")
    jx = jax_comparisons(cfg, X, y) if cfg["jax"] else {"skipped": "--quick (use --jax to include)"}
    res["comparisons"] = {"jax": jx, "opacus": opacus_comparison(cfg, X, y)}
    op = res["comparisons"]["opacus"]
    if "best" in op:
        wb = res["workloads"]["b"]
        op["ratio_opacus_over_engine"] = op[op["best"]]["opacus_s"] / wb["engine_s"]
        # like for like: Opacus in float64 against the engine on float64 data, Opacus in
        # float32 against the engine on float32-stored data
        op["ratio_same_precision"] = {"float64": op["float64"]["opacus_s"] / wb["engine_s"],
                                      "float32": op["float32"]["opacus_s"] / wb["engine_float32_s"]}
        log(f"Opacus ({op['best']}) / engine on (b) = {op['ratio_opacus_over_engine']:.1f}; same precision: "
            f"float64 {op['ratio_same_precision']['float64']:.1f}, float32 {op['ratio_same_precision']['float32']:.1f}")
    jx = res["comparisons"]["jax"]
    if "a" in jx:
        for key in ("a", "b", "c"):
            jx[key]["ratio_jax_over_engine"] = jx[key]["jax_s"] / res["workloads"][key]["engine_s"]
        lines = [f"{k}: JAX/engine = {jx[k]['ratio_jax_over_engine']:.2f}" for k in ("a", "b", "c")]
        log("JAX: " + "; ".join(lines))
    del X, y
    if not args.no_scaling:
        log("scaling: time vs runs, d, B ...")
        res["scaling"] = scaling(cfg, res["limits"])
        if args.plots:
            res["plots"] = make_plots(res["scaling"], args.plots)
    res["targets"] = targets(res)
    res["meta"]["loadavg_end"] = loadavg()
    res["meta"]["total_s"] = time.perf_counter() - t_start
    print_table(res)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1, default=float)
        log(f"wrote {args.json}")
    log(f"total {res['meta']['total_s']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
