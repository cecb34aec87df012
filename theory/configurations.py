"""Reference configurations, Gram distances and stationarity on the product of spheres.

Known answers of the toolkit: the simplex ETF (optimal for the full-batch and
all-batches objectives when ``d >= N-1``), the cross-polytope (``d = N/2``), block
configurations (optimal for a disjoint partition) and regular polygons (``d = 2``).

References
----------
Lu & Steinerberger, "Neural collapse under cross-entropy loss", ACHA 2022 (the ETF optimum).
Cho et al., TMLR 2024, §3 (arXiv 2307.05906).
"""
from __future__ import annotations

import functools
import itertools

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp, quadratic_assignment
from scipy.stats import ortho_group

from ._checks import check_int
from .batches import Family, uniform_partitions


def _embed(W: np.ndarray, d: int, seed: int | None) -> np.ndarray:
    """Place the rows of ``W: (N, k)`` in ``R^d`` (zero padding), then rotate by a seeded random orthogonal map."""
    N, k = W.shape
    X = np.zeros((N, d))
    X[:, :k] = W
    if seed is not None and d > 1:
        X = X @ ortho_group.rvs(d, random_state=seed)
    return X


def simplex_etf(N: int, d: int, seed: int | None = None) -> np.ndarray:
    """Simplex equiangular tight frame: ``N`` unit vectors in ``R^d`` with ``w_i^T w_j = -1/(N-1)``.

    Built as the centred basis vectors ``e_i - 1/N`` expressed in an orthonormal basis of the
    hyperplane ``1^T x = 0`` and normalised; needs ``d >= N - 1``. With ``seed`` the frame is
    rotated by a random orthogonal matrix of ``R^d``.

    Returns
    -------
    W : ndarray, shape (N, d)

    Parameters
    ----------
    N : int
        Number of points, >= 2.
    d : int
        Dimension, >= N - 1.
    seed : int or None, default=None
        With a seed, the configuration is rotated by a seeded random orthogonal matrix of ``R^d``.

    Raises
    ------
    ValueError
        If ``d < N - 1``.
    """
    N = check_int("N", N, low=2)
    d = check_int("d", d, low=1)
    if d < N - 1:
        raise ValueError(f"a simplex ETF of N={N} points needs d >= N-1 = {N - 1}, got d={d}")
    C = np.eye(N) - 1.0 / N
    Q = np.linalg.qr(C)[0][:, : N - 1]          # orthonormal basis of the hyperplane (N, N-1)
    W = C @ Q
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    return _embed(W, d, seed)


def etf_gram(N: int) -> np.ndarray:
    """Gram matrix of the simplex ETF: 1 on the diagonal, ``-1/(N-1)`` elsewhere.

    Parameters
    ----------
    N : int
        Number of points, >= 2.

    Returns
    -------
    numpy.ndarray, shape (N, N)
    """
    N = check_int("N", N, low=2)
    return (N / (N - 1)) * np.eye(N) - np.ones((N, N)) / (N - 1)


def cross_polytope(N: int, d: int, seed: int | None = None) -> np.ndarray:
    """Cross-polytope points ``e_1, -e_1, e_2, -e_2, ...`` (the first N of them), needs ``N <= 2d``.

    Rows ``2k`` and ``2k+1`` are antipodal; Gram: 1 on the diagonal, -1 within each pair, 0 elsewhere.

    Parameters
    ----------
    N : int
        Number of points, >= 2.
    d : int
        Dimension, >= N/2.
    seed : int or None, default=None
        With a seed, the configuration is rotated by a seeded random orthogonal matrix of ``R^d``.

    Returns
    -------
    numpy.ndarray, shape (N, d)

    Raises
    ------
    ValueError
        If ``N > 2d``.
    """
    N = check_int("N", N, low=2)
    d = check_int("d", d, low=1)
    if N > 2 * d:
        raise ValueError(f"a cross-polytope of N={N} points needs N <= 2d = {2 * d}, got d={d}")
    W = np.zeros((N, (N + 1) // 2))
    for i in range(N):
        W[i, i // 2] = 1.0 if i % 2 == 0 else -1.0
    return _embed(W, d, seed)


def icosahedron(d: int = 3, seed: int | None = None) -> np.ndarray:
    """The 12 vertices of the regular icosahedron, ``(0, +-1, +-phi)`` and its cyclic shifts normalised
    (``phi`` the golden ratio), in ``R^d`` (``d >= 3``). Gram: 1, -1 (antipodes) and ``+-1/sqrt(5)``.
    A universally optimal code on ``S^2`` (Cohn & Kumar 2007).

    Parameters
    ----------
    d : int, default=3
        Dimension, >= 3 (zero-padded).
    seed : int or None, default=None
        With a seed, the configuration is rotated by a seeded random orthogonal matrix of ``R^d``.

    Returns
    -------
    numpy.ndarray, shape (12, d)
    """
    d = check_int("d", d, low=3)
    phi = (1.0 + np.sqrt(5.0)) / 2.0
    base = [(0.0, a, b * phi) for a in (1.0, -1.0) for b in (1.0, -1.0)]
    W = np.array([np.roll(v, k) for k in range(3) for v in base]) / np.sqrt(1.0 + phi ** 2)
    return _embed(W, d, seed)


def block_configuration(family: Family, d: int, seed: int | None = None) -> np.ndarray:
    """Block configuration of a partition: a ``|S|``-point simplex ETF inside every batch ``S``.

    All blocks share one ``(B_max - 1)``-dimensional frame (any relative orientation is optimal for
    the partition objective); needs ``d >= B_max - 1``. For ``B = 2`` every batch is an antipodal
    pair. Mixed sizes (e.g. a ``DataLoader`` epoch with a short last batch) are allowed; a batch of
    size 1 gets the frame's first vertex.

    Parameters
    ----------
    family : Family
        A family whose batches partition ``[0, N)``.
    d : int
        Dimension, >= ``B_max - 1``.
    seed : int or None, default=None
        With a seed, the configuration is rotated by a seeded random orthogonal matrix of ``R^d``.

    Returns
    -------
    numpy.ndarray, shape (N, d)

    Raises
    ------
    ValueError
        If the batches do not partition ``[0, N)`` or ``d`` is too small.
    """
    if family.kind != "partition" and not _is_partition(family):
        raise ValueError("block_configuration needs a family whose batches partition [0, N)")
    Bmax = family.batch_sizes[-1]
    d = check_int("d", d, low=1)
    if d < Bmax - 1:
        raise ValueError(f"a block configuration with largest batch B={Bmax} needs d >= B-1 = {Bmax - 1}, got d={d}")
    W = np.zeros((family.N, max(Bmax - 1, 1)))
    for S in family.batch_list():
        if S.size == 1:
            W[S, 0] = 1.0
        else:
            W[S, : S.size - 1] = simplex_etf(S.size, S.size - 1)
    return _embed(W, d, seed)


def _is_partition(family: Family) -> bool:
    if family.n_batches > family.N:
        return False
    b = np.concatenate(family.batch_list())
    return b.size == family.N and np.array_equal(np.sort(b), np.arange(family.N))


def regular_polygon(n_vertices: int, repeat: int = 1, phase: float = 0.0) -> np.ndarray:
    """Vertices of a regular ``n_vertices``-gon on the unit circle (``d = 2``), each used ``repeat`` times.

    Row ``r`` is vertex ``r // repeat`` at angle ``phase + 2 pi (r // repeat) / n_vertices``.
    ``regular_polygon(5, repeat=2)`` is the doubled pentagon (the d = 2 counterexample of the claim low_dimension_counterexample).

    Parameters
    ----------
    n_vertices : int
        Number of distinct vertices, >= 2.
    repeat : int, default=1
        How many rows each vertex fills, >= 1.
    phase : float, default=0.0
        Angle of vertex 0 (radians).

    Returns
    -------
    numpy.ndarray, shape (n_vertices * repeat, 2)
    """
    n_vertices = check_int("n_vertices", n_vertices, low=2)
    repeat = check_int("repeat", repeat, low=1)
    ang = phase + 2 * np.pi * (np.arange(n_vertices * repeat) // repeat) / n_vertices
    return np.stack([np.cos(ang), np.sin(ang)], axis=1)


# ---------------------------------------------------------------------- Gram distance
def _gram_inputs(Z, Z_target):
    """Validated float64 ``(Z, T)`` and whether ``T = a I + b 11^T`` (invariant under relabelling)."""
    Z = np.asarray(Z, dtype=np.float64)
    T = np.asarray(Z_target, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[0] != Z.shape[1] or Z.shape != T.shape:
        raise ValueError(f"Z and Z_target must be square of equal shape, got {Z.shape} and {T.shape}")
    if not (np.all(np.isfinite(Z)) and np.all(np.isfinite(T))):
        raise ValueError("Z and Z_target must be finite (no NaN or inf)")
    off = T[~np.eye(Z.shape[0], dtype=bool)]
    return Z, T, bool(np.ptp(np.diag(T)) < 1e-12 and (Z.shape[0] < 2 or np.ptp(off) < 1e-12))


def gram_distance(Z, Z_target) -> float:
    """``min_P || Z - P Z_target P^T ||_F`` over permutation matrices P (relabellings).

    Exact in every case the toolkit uses:

    * ``Z_target = a I + b 11^T`` (the simplex ETF): invariant under relabelling, no search;
    * ``Z_target`` a pairing, ``1`` on the diagonal and ``-1`` on a perfect matching (the
      cross-polytope): ``max <Z, P Z_target P^T>`` is a maximum-weight perfect matching with
      weights ``Z_ij + Z_ji``, solved exactly as an integer program (HiGHS);
    * any other target with ``N <= 8``: all ``N!`` relabellings.

    Otherwise the quadratic-assignment heuristic FAQ (with restarts) gives an upper bound.

    Parameters
    ----------
    Z, Z_target : array_like, shape (N, N)
        Gram matrices (``Z`` is typically ``U V^T``).

    Returns
    -------
    float
        The distance (exact in the cases above, else an upper bound).
    """
    Z, T, invariant = _gram_inputs(Z, Z_target)
    N = Z.shape[0]
    if invariant:
        return float(np.linalg.norm(Z - T))
    if _as_pairing(T) is not None:
        return _pairing_distance(Z, T)
    if N <= 8:
        perms = np.array(list(itertools.permutations(range(N))))
        best = np.inf
        for chunk in np.array_split(perms, max(1, len(perms) // 5000)):
            TP = T[chunk[:, :, None], chunk[:, None, :]]            # (n, N, N): relabelled targets
            best = min(best, float(np.sqrt(((Z[None] - TP) ** 2).sum(axis=(1, 2))).min()))
        return best
    best = np.linalg.norm(Z - T)
    for seed in range(8):
        res = quadratic_assignment(Z, T, method="faq", options={"maximize": True, "rng": np.random.default_rng(seed), "P0": "randomized" if seed else "barycenter"})
        p = res.col_ind
        best = min(best, np.linalg.norm(Z - T[np.ix_(p, p)]))
    return float(best)


def _as_pairing(T: np.ndarray):
    N = T.shape[0]
    if N % 2 or not np.allclose(np.diag(T), 1):
        return None
    off = T - np.eye(N)
    if not (np.allclose(np.abs(off).sum(axis=1), 1) and np.allclose(off, off.T) and np.allclose(off[off != 0], -1)):
        return None
    return off


#: Up to this N the pairing distance enumerates every perfect matching ((N-1)!! of them: 10395 at
#: N = 12); above it, a perfect-matching integer program. Both are exact.
MATCHING_ENUMERATION_MAX_N = 12


@functools.lru_cache(maxsize=None)
def perfect_matchings(N: int) -> np.ndarray:
    """Every perfect matching of ``[0, N)`` (N even), shape ``((N-1)!!, N/2, 2)``; pairs ``(i, j)`` with ``i < j``."""
    N = check_int("N", N, low=2)
    if N % 2:
        raise ValueError(f"a perfect matching needs an even N, got N={N}")
    return np.array(list(uniform_partitions(N, 2)), dtype=np.int64)


def _best_matching(Z: np.ndarray, method: str = "auto") -> np.ndarray:
    """Perfect matching ``(N/2, 2)`` minimising the sum over matched pairs of ``Z_ij + Z_ji`` (exact), by
    enumeration (``method='enumerate'``; ``'auto'`` for ``N <= MATCHING_ENUMERATION_MAX_N``) or a
    perfect-matching integer program (``'milp'``)."""
    N = Z.shape[0]
    if method == "enumerate" or (method == "auto" and N <= MATCHING_ENUMERATION_MAX_N):
        m = perfect_matchings(N)                                     # (n, N/2, 2)
        score = (Z[m[..., 0], m[..., 1]] + Z[m[..., 1], m[..., 0]]).sum(axis=1)
        return m[int(np.argmin(score))]
    iu, ju = np.triu_indices(N, 1)
    w = Z[iu, ju] + Z[ju, iu]
    A = np.zeros((N, iu.size))
    A[iu, np.arange(iu.size)] = 1
    A[ju, np.arange(iu.size)] = 1
    res = milp(c=w, constraints=LinearConstraint(A, 1, 1), integrality=np.ones(iu.size), bounds=Bounds(0, 1))
    if res.status != 0:
        raise RuntimeError(f"perfect-matching integer program failed: {res.message}")
    x = np.round(res.x) == 1
    return np.stack([iu[x], ju[x]], axis=1)


def _pairing_distance(Z: np.ndarray, T: np.ndarray, method: str = "auto") -> float:
    """Exact distance to a pairing target: matched pairs carry -1, so maximising ``<Z, P T P^T>``
    is minimising the sum of ``Z_ij + Z_ji`` over a perfect matching."""
    N = Z.shape[0]
    best = _best_matching(Z, method)
    P = np.eye(N)
    P[best[:, 0], best[:, 1]] = P[best[:, 1], best[:, 0]] = -1
    return float(np.linalg.norm(Z - P))


def best_relabelling(Z, Z_target) -> np.ndarray:
    """A permutation ``p`` with ``||Z[p][:, p] - Z_target||_F = gram_distance(Z, Z_target)``, for display.

    ETF-like targets (``a I + b 11^T``): the identity (every labelling is optimal). Pairing targets:
    the best matching's pairs are placed on the target's pairs. Other targets: ``N <= 8`` only
    (enumeration); larger raises ValueError.

    Parameters
    ----------
    Z, Z_target : array_like, shape (N, N)
        Gram matrices.

    Returns
    -------
    numpy.ndarray, shape (N,)
        The permutation ``p``.

    Raises
    ------
    ValueError
        For a target that is neither ETF-like nor a pairing, with ``N > 8``.
    """
    Z, T, invariant = _gram_inputs(Z, Z_target)
    N = Z.shape[0]
    if invariant:
        return np.arange(N)
    if _as_pairing(T) is not None:
        tp = np.argwhere(np.triu(T - np.eye(N) < -0.5))           # the target's pairs (a_k, b_k)
        p = np.empty(N, dtype=np.int64)
        p[tp[:, 0]], p[tp[:, 1]] = _best_matching(Z).T
        return p
    if N > 8:
        raise ValueError(f"best_relabelling enumerates relabellings for general targets only up to N = 8, got N={N}")
    perms = np.array(list(itertools.permutations(range(N))))
    costs = [np.linalg.norm(Z[np.ix_(q, q)] - T) for q in perms]
    return perms[int(np.argmin(costs))]


# ---------------------------------------------------------------------- stationarity


# ---------------------------------------------------------------------- labels and ties
def class_collapse(labels) -> np.ndarray:
    """Class collapse onto the regular simplex: ``u_i = v_i = e_{y_i}``, the vertices of the simplex ETF of
    ``C`` classes (``C - 1`` dimensions; ``C = 1``: one unit vector in one dimension).

    Parameters
    ----------
    labels : sequence of int

    Returns
    -------
    ndarray, shape (N, max(C - 1, 1))
        The rows of ``U`` (equal to ``V``).
    """
    from .labels import check_labels, class_index
    c = class_index(check_labels(labels))
    C = int(c.max()) + 1
    return (simplex_etf(C, C - 1) if C > 1 else np.ones((1, 1)))[c]


def orthogonal_frame(labels) -> np.ndarray:
    """Each class on its own orthonormal axis: ``u_i = v_i = e_{y_i}`` in ``C`` dimensions (non-negative features,
    Kini et al.'s orthogonal frame).

    Parameters
    ----------
    labels : sequence of int

    Returns
    -------
    ndarray, shape (N, C)
    """
    from .labels import check_labels, class_index
    c = class_index(check_labels(labels))
    return np.eye(int(c.max()) + 1)[c]


def item_etf(ties) -> np.ndarray:
    """The simplex ETF of the ``K`` items (``K - 1`` dimensions), one row per item (expand with ``[ties]``).

    Parameters
    ----------
    ties : sequence of int

    Returns
    -------
    ndarray, shape (K, K - 1)
    """
    from .labels import check_labels
    t = np.asarray(check_labels(ties, name="ties"))
    K = int(t.max()) + 1
    if K < 2:
        raise ValueError(f"ties must name at least 2 items for an ETF, got {K}")
    return simplex_etf(K, K - 1)
