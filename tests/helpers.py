"""Shared generators and assertions for the test-suite."""
import numpy as np

from theory.strategies import unit_rows  # noqa: F401  (re-exported for tests)


def random_rotation(d: int, seed: int) -> np.ndarray:
    Q, R = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return Q * np.sign(np.diag(R))


def assert_close(a, b, tol: float, what: str = ""):
    a, b = np.asarray(a, float), np.asarray(b, float)
    err = np.max(np.abs(a - b)) if a.size else 0.0
    assert err <= tol, f"{what}: max abs error {err:.3e} > {tol:.1e}"
