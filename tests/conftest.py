import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The offline MNIST/CIFAR-10 copies beside the repo (../shared/data), or $TUNER_DATA."""
    root = Path(os.environ.get("TUNER_DATA", SHARED_DATA))
    if not (root / "MNIST").exists():
        pytest.fail(f"shared data not found at {root}: set TUNER_DATA")
    return root


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Data caches go to one temp folder per test session, never into the shared data or ~/.cache."""
    monkeypatch.setenv("TUNER_CACHE", str(tmp_path_factory.getbasetemp() / "data-cache"))


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """A local Ray with 2 CPUs for one test module (tests/test_fault_tolerance.py starts one per test instead). Its
    workers take the environment as it is here, so the session's cache folder is set first: trials then read and
    write the same caches as the test (the data cache, the training paths' verdicts), never ~/.cache."""
    import ray

    os.environ["TUNER_CACHE"] = str(tmp_path_factory.getbasetemp() / "data-cache")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
