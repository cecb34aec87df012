"""The task layer on every scheduler: a real Dask LocalCluster (2 worker processes) gives the same
results, bit for bit, as the sequential run; interrupted sweeps resume; a worker killed mid-task
leads to a retry, not a lost or duplicated result; an unreachable scheduler is a clear error."""
import json
import os
from pathlib import Path

import cloudpickle
import pytest

from simulations.training.loop import without_timings

import simulations.runtime.executor as executor_mod
from simulations.claims import run_claims
from simulations.cli import main as cli_main
from simulations.runtime.executor import DaskExecutor, Executor, Sequential, make_executor
from simulations.runtime.sweep import SweepSpec, run_sweep
from simulations.runtime.tasks import code_version, run_tasks, task_key

pytestmark = pytest.mark.slow          # CI runs it; -m "not slow" skips it locally

distributed = pytest.importorskip("distributed")
cloudpickle.register_pickle_by_value(__import__(__name__))      # the workers cannot import this test module


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       silence_logs=50)
    c = distributed.Client(cluster, set_as_default=False)   # as `--scheduler tcp://` makes it: not the default
    yield c
    c.close()
    cluster.close()


CERT = SweepSpec(kind="certificate", N=(4, 5), B=(2, 3), family=("all", "partition", "random"),
                 loss_params={"tau": (0.2, 1.0)}, seeds=(0, 1))
SIM = SweepSpec(kind="simulation", N=(4,), d=(2, 8), B=(2,), method=("shuffle", "osgd", "sc"), lr=(0.5,), seeds=(0, 1),
                steps=15)


@pytest.mark.parametrize("spec", [CERT, SIM], ids=["certificates", "simulations"])
def test_sweep_on_a_dask_cluster_equals_the_sequential_run_bit_for_bit(spec, client, tmp_path):
    seq = run_sweep(spec, tmp_path / "seq", scheduler="sequential")
    dask = run_sweep(spec, tmp_path / "dask", scheduler=client)
    assert seq["n_tasks"] > 0 and without_timings(seq["rows"]) == without_timings(dask["rows"])
    for f in (tmp_path / "seq" / "tasks").iterdir():          # every per-task file, byte for byte
        assert (tmp_path / "dask" / "tasks" / f.name).read_bytes() == f.read_bytes()


def test_claims_on_a_dask_cluster_equal_the_sequential_run(client, tmp_path):
    ids = ["full_batch_etf", "pair_balance_law", "dataloader_epochs", "osgd_toy"]
    seq = run_claims(ids, size="tiny", out=tmp_path / "seq", scheduler="sequential")
    dask = run_claims(ids, size="tiny", out=tmp_path / "dask", scheduler=client)
    strip = lambda v: {k: x for k, x in v.to_json().items()}  # noqa: E731
    assert [strip(v) for v in seq] == [strip(v) for v in dask]
    assert len(list((tmp_path / "dask" / "claims" / "tasks").iterdir())) == 3     # osgd_toy runs on the client


class _Interrupted(Executor):
    """Delivers ``k`` results, then raises as a Ctrl-C would."""

    def __init__(self, k):
        self.k = k

    def run(self, fn, items, keys=None):
        for n, out in enumerate(Sequential().run(fn, items, keys)):
            if n == self.k:
                raise KeyboardInterrupt
            yield out


CALLS = []


def _counted(params):
    CALLS.append(params["x"])
    return {"y": params["x"] ** 2}


def test_an_interrupted_sweep_resumes_without_rerunning_finished_tasks(tmp_path):
    tasks = [{"x": i} for i in range(10)]
    with pytest.raises(KeyboardInterrupt):
        run_tasks(tasks, tmp_path, fn=_counted, scheduler=_Interrupted(4))
    assert len(list((tmp_path / "tasks").iterdir())) == 4 and CALLS == list(range(5))
    CALLS.clear()
    res = run_tasks(tasks, tmp_path, fn=_counted, scheduler="sequential")
    assert CALLS == list(range(4, 10)) and [r["y"] for r in res] == [i * i for i in range(10)]


def test_task_keys_cover_the_function_the_parameters_and_the_code_version():
    k = task_key({"a": 1}, _counted)
    assert k != task_key({"a": 2}, _counted) and k != task_key({"a": 1}, _interrupted_marker)
    assert len(code_version()) == 16
    try:
        import simulations.runtime.tasks as t
        real = t.code_version
        t.code_version = lambda: "0" * 16              # a different code version: a different key
        assert task_key({"a": 1}, _counted) != k
    finally:
        t.code_version = real


def _interrupted_marker(params):
    """Dies (the whole worker process) the first time it runs for x == 0, then works."""
    marker = Path(params["marker"])
    if params["x"] == 0 and not marker.exists():
        marker.write_text("died once")
        os._exit(1)
    return {"y": params["x"] + 100}


def test_a_worker_killed_mid_task_leads_to_a_retry_not_a_lost_or_duplicated_result(client, tmp_path):
    marker = tmp_path / "marker"
    tasks = [{"x": i, "marker": str(marker)} for i in range(6)]
    res = run_tasks(tasks, tmp_path / "out", fn=_interrupted_marker, scheduler=DaskExecutor(client))
    assert marker.exists()                             # a worker really died mid-task
    assert [r["y"] for r in res] == [100 + i for i in range(6)]
    files = sorted((tmp_path / "out" / "tasks").iterdir())
    assert len(files) == 6 and all(json.loads(f.read_text())["y"] >= 100 for f in files)
    client.wait_for_workers(2, timeout=60)             # the nanny restarted it


def test_a_worker_running_other_code_refuses_the_task(client):
    from simulations.runtime.executor import StaleWorkerError, _run_checked
    fut = client.submit(_run_checked, _counted, {"x": 3}, "0" * 16, pure=False)
    with pytest.raises(StaleWorkerError, match="restart the Dask workers"):
        fut.result()
    assert client.submit(_run_checked, _counted, {"x": 3}, code_version(), pure=False).result() == {"y": 9}


def test_an_unreachable_scheduler_is_a_clear_error_with_exit_2(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(executor_mod, "CONNECT_TIMEOUT_S", 1)
    with pytest.raises(ValueError, match="cannot reach the Dask scheduler"):
        make_executor("tcp://127.0.0.1:9")
    assert cli_main(["sweep", "--N", "4", "--out", str(tmp_path / "s"), "--scheduler", "tcp://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach the Dask scheduler" in err and "Traceback" not in err
    with pytest.raises(ValueError, match="scheduler must be one of"):
        make_executor("slurm")


def test_a_worker_with_several_threads_is_refused():
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None,
                                  silence_logs=50) as cluster, distributed.Client(cluster, set_as_default=False) as c:
        with pytest.raises(ValueError, match="--nthreads 1"):
            run_tasks([{"x": 1}], None, fn=_counted, scheduler=c)
