import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=30,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", deadline=None, max_examples=200,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "explore"))

import pytest  # noqa: E402
import torch  # noqa: E402

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=[(dev, dt) for dev in ("cpu", "cuda") for dt in (torch.float32, torch.float64)],
                ids=lambda p: f"{p[0]}-{str(p[1]).split('.')[-1]}")
def device_dtype(request):
    """(device, dtype) over cpu/cuda x float32/float64, POT-backend style; cuda is skipped where absent."""
    dev, dt = request.param
    if dev == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    return dev, dt
