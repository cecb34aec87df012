r"""Labels and ties: class labels of the pairs and duplicated pairs (ties), validated.

*Labels* ``y = (y_0, ..., y_{N-1})`` give each pair ``i`` a class; a supervised loss
(:class:`theory.losses.SupCon`) treats every same-class candidate of a batch as a positive. A class of
one member is allowed: that pair has no positive but itself.

*Ties* ``t = (t_0, ..., t_{N-1})`` give each pair ``i`` the *item* it is a copy of (``t_i = t_j``: pairs
``i`` and ``j`` are the same data, so ``u_i = u_j`` and ``v_i = v_j``). The items are numbered
``0 .. K-1``, each used at least once. Ties enter the one front as a keyword: the oracle
(:func:`theory.objective`, :func:`theory.gradient`) and the engine (:func:`simulations.objective`) take
``K``-row embeddings (one row of ``U`` and one of ``V`` per item, fewer variables) and expand them to
``N`` rows; the relaxation (:func:`theory.certify`) is restricted to the face
``M_ij = M_{N+i, N+j} = 1`` for tied ``i, j`` (with ``M`` PSD of unit diagonal these force the rows of
``i`` and ``j`` in ``M`` to be equal, so every cross inner product follows), parametrised by the
items' own ``2K x 2K`` matrix.
"""
from __future__ import annotations

from numbers import Integral

import numpy as np



def check_labels(labels, N: int | None = None, *, name: str = "labels") -> tuple:
    """Class labels as a tuple of Python ints (ValueError naming ``name`` otherwise).

    Parameters
    ----------
    labels : sequence of int, or str
        One integer per pair (any integers; classes need not be numbered consecutively), or the same as a
        comma-separated string (``"0,0,1,1"``, as the command line's ``--loss-param labels=0,0,1,1`` passes it).
    N : int, optional
        The required length.
    name : str, default='labels'
        The parameter name used in error messages.

    Returns
    -------
    tuple of int

    Raises
    ------
    ValueError
        Not a 1-D sequence of integers, empty, or of the wrong length.
    """
    if isinstance(labels, str):
        try:
            labels = [int(x) for x in labels.split(",")]
        except ValueError:
            raise ValueError(f"{name} as a string must be comma-separated integers, got {labels!r}") from None
    if isinstance(labels, bytes) or np.ndim(labels) != 1:
        raise ValueError(f"{name} must be a 1-D sequence of integers (one per pair), got {labels!r}")
    out = []
    for x in list(labels):
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, Integral):
            raise ValueError(f"{name} must hold integers, got {x!r} in {labels!r}")
        out.append(int(x))
    if not out:
        raise ValueError(f"{name} must hold at least one label, got an empty sequence")
    if N is not None and len(out) != N:
        raise ValueError(f"{name} must have length N={N} (one per pair), got length {len(out)}")
    return tuple(out)


def check_ties(ties, N: int, K: int | None = None) -> np.ndarray:
    """Ties as an int array of length ``N`` whose values are the items ``0, ..., K-1``, each used at least once.

    Parameters
    ----------
    ties : sequence of int
        ``ties[i]``: the item pair ``i`` is a copy of.
    N : int
        Number of pairs.
    K : int, optional
        The required number of items (the rows of ``U`` and ``V`` given with the ties).

    Returns
    -------
    ndarray of int64, shape (N,)

    Raises
    ------
    ValueError
        Naming ``ties``: wrong length, an item below 0, items not numbered ``0 .. K-1`` without gaps, or a
        number of items other than ``K``.
    """
    t = np.asarray(check_labels(ties, N, name="ties"), dtype=np.int64)
    k = int(t.max()) + 1
    if t.min() < 0 or len(np.unique(t)) != k:
        raise ValueError(f"ties must number the items 0 .. K-1 with each item used at least once, got {tuple(t.tolist())}")
    if K is not None and k != K:
        raise ValueError(f"ties name {k} items but the embeddings have {K} rows (one row per item)")
    return t


def tied_pairs(ties) -> list:
    """The pairs ``(i, j)``, ``i < j``, with ``ties[i] == ties[j]``, each group chained to its first member.

    For every item ``k`` with copies ``i_0 < i_1 < ... < i_{m-1}`` the pairs ``(i_0, i_1), ..., (i_0, i_{m-1})``
    are listed (``m - 1`` of them, none for an item used once): the constraints ``M_{i_0, j} = 1`` (with ``M`` PSD
    of unit diagonal) imply every other equality of the group, so these are all the relaxation needs.

    Parameters
    ----------
    ties : sequence of int
        ``ties[i]``: the item pair ``i`` is a copy of (as :func:`check_ties` returns; not validated here).

    Returns
    -------
    list of tuple of (int, int)
        ``(first, j)`` with ``first < j``, grouped by item in increasing item order, ``j`` increasing within a
        group; empty when no two pairs are tied.
    """
    t = np.asarray(ties)
    out = []
    for item in np.unique(t):
        members = np.flatnonzero(t == item)
        out += [(int(members[0]), int(j)) for j in members[1:]]
    return out


def multiplicities(ties) -> np.ndarray:
    """How many pairs copy each item: ``m_k = #{i : ties[i] = k}``.

    Parameters
    ----------
    ties : sequence of int
        ``ties[i]``: the item pair ``i`` is a copy of, non-negative (as :func:`check_ties` returns).

    Returns
    -------
    ndarray of int64, shape (K,)
        ``m_k`` for ``k = 0 .. max(ties)`` (``sum_k m_k = N``); an item number never used gets 0.

    Raises
    ------
    ValueError
        A negative entry in ``ties`` (from :func:`numpy.bincount`).
    """
    return np.bincount(np.asarray(ties, dtype=np.int64))


def class_sizes(labels) -> dict:
    """``{class: number of pairs}`` in order of first appearance: ``n_c = #{i : labels[i] = c}``.

    Parameters
    ----------
    labels : sequence of hashable
        ``labels[i]``: the class of pair ``i`` (integers, as :func:`check_labels` returns; not validated here).

    Returns
    -------
    dict
        Class to its number of pairs, the keys in order of first appearance in ``labels``.
    """
    out: dict = {}
    for y in labels:
        out[y] = out.get(y, 0) + 1
    return out


def class_index(labels) -> np.ndarray:
    """Each pair's class renumbered ``0, ..., C-1`` in order of first appearance.

    The class of ``labels[0]`` becomes 0, the next new class 1, and so on (``labels = (5, 5, 2, 7, 2)`` gives
    ``(0, 0, 1, 2, 1)``).

    Parameters
    ----------
    labels : sequence of hashable
        ``labels[i]``: the class of pair ``i`` (integers, as :func:`check_labels` returns; not validated here).

    Returns
    -------
    ndarray of int64, shape (N,)
        The renumbered class of each pair, ``C`` the number of distinct classes.
    """
    order = {y: k for k, y in enumerate(class_sizes(labels))}
    return np.array([order[y] for y in labels], dtype=np.int64)
