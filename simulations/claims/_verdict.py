"""What a check returns: :class:`Verdict`, and how a sweep becomes one (:func:`verdict_over_sweep`).

Every check sweeps the settings its statement could depend on and returns a Verdict whose ``numbers``
hold the sweep and whose ``verdict`` is

* ``confirmed``: holds at every point of the sweep;
* ``qualified``: holds only in a stated range (``numbers["holds_for"]``), shown by the points where it fails;
* ``refuted``: fails at every point; ``inconclusive``: a certificate could not decide;
* ``not reproducible here``: out of the toolkit's scope.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

VERDICTS = ("confirmed", "qualified", "refuted", "inconclusive", "not reproducible here")
#: Agreement of a solver's value with a closed form. Interior-point solvers stop on an *absolute*
#: duality gap (Clarabel: 1e-8), so the cross-check allows ``SOLVER_ATOL + SOLVER_RTOL |value|``.
#: Solver values are cross-checks only; no decision about InfoNCE's ETF rests on them.
SOLVER_ATOL, SOLVER_RTOL = 1e-7, 1e-6
#: Temperatures every tau-dependent InfoNCE claim sweeps (0.05 makes c = exp(-N/((N-1) tau)) ~ 1e-10).
TAUS = (0.05, 0.2, 1.0, 5.0)


@dataclass
class Verdict:
    """One claim's result. A check fills ``id``, ``verdict``, ``numbers``, ``detail``; :meth:`Claim.run`
    (:mod:`simulations.claims`) fills ``statement``, ``source``, ``command``, ``code``, ``test`` and
    ``figure`` from the claim's declaration.

    Parameters
    ----------
    id : str
        The claim's id.
    verdict : {'confirmed', 'qualified', 'refuted', 'inconclusive', 'not reproducible here'}
    numbers : dict, default={}
        Every number of the sweep (JSON-ready).
    detail : str, default=''
        The reasoning.
    statement, source, command, code, test, figure : str, default=''
        Filled from the claim's declaration.

    Raises
    ------
    ValueError
        For an unknown verdict.
    """

    id: str
    verdict: str
    numbers: dict = field(default_factory=dict)
    detail: str = ""
    statement: str = ""
    source: str = ""
    command: str = ""
    code: str = ""
    test: str = ""
    figure: str = ""

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")

    def to_json(self) -> dict:
        """The record as a dict (as in ``verdicts.json``).

        Returns
        -------
        dict
        """
        return asdict(self)


def verdict_over_sweep(holds: dict, what: str = "") -> tuple[str, list, list]:
    """``confirmed`` if every sweep point holds, ``refuted`` if none does, else ``qualified``.

    ``holds`` maps a sweep-point label to True / False (None = undecided: ``inconclusive``
    unless some point already fails). Returns ``(verdict, points that hold, points that fail)``.

    Parameters
    ----------
    holds : dict
        ``{label: True, False or None}``.
    what : str, default=''
        A label of the sweep (not used in the decision).

    Returns
    -------
    tuple
        ``(verdict, holds_for, fails_for)``.

    Raises
    ------
    TypeError
        For a value that is not True, False or None.
    """
    bad_type = {k: type(v).__name__ for k, v in holds.items() if not (v is None or isinstance(v, (bool, np.bool_)))}
    if bad_type:
        raise TypeError(f"sweep points must hold True, False or None, got {bad_type}")
    holds = {k: (None if v is None else bool(v)) for k, v in holds.items()}   # numpy bools would match neither
    ok = [k for k, v in holds.items() if v is True]
    bad = [k for k, v in holds.items() if v is False]
    if any(v is None for v in holds.values()) and not bad:
        return "inconclusive", ok, bad
    return ("confirmed" if not bad else "refuted" if not ok else "qualified"), ok, bad


def solver_close(a: float, b: float) -> bool:
    """A solver's value agrees with a reference: ``|a - b| <= SOLVER_ATOL + SOLVER_RTOL |b|``."""
    return abs(a - b) <= SOLVER_ATOL + SOLVER_RTOL * abs(b)


def value_close(a: float, b: float, tau: float) -> bool:
    """Oracle value vs closed form: the oracle subtracts logits of size ~1/tau, so rounding is ~1e-16/tau."""
    return abs(a - b) <= 1e-13 / tau + 1e-12 * abs(b)
