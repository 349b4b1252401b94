import os
import sys
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


# A module whose source holds one of these starts Ray its own way (its own ray.init, a multi-node cluster on this
# machine, whose shutdown resets the driver's internal state) or checks that nothing started one: the shared Ray
# is shut down before it.
OWN_RAY = ("ray.init(", "loopback_cluster(", "loopback_workers(", "Cluster(", "start_ray(",
           "not ray.is_initialized()")


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """A local Ray with 2 CPUs, shared by the modules that ask for it: started by the first (a start costs 5-20 s
    on 2 loaded cores), kept up until a module that starts Ray its own way (OWN_RAY) or the session's end. Its
    workers take the environment as it is here, so the session's cache folder is set first: trials then read and
    write the same caches as the test (the data cache, the training paths' verdicts), never ~/.cache."""
    import ray

    if not ray.is_initialized():
        os.environ["TUNER_CACHE"] = str(tmp_path_factory.getbasetemp() / "data-cache")
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield


@pytest.fixture(scope="module", autouse=True)
def _no_shared_ray_where_a_module_starts_its_own(request):
    source = Path(request.module.__file__).read_text()
    if any(call in source for call in OWN_RAY) and "ray" in sys.modules:
        import ray

        ray.shutdown()
    yield


@pytest.fixture(scope="session", autouse=True)
def _shared_ray_ends_with_the_session():
    yield
    if "ray" in sys.modules:
        import ray

        ray.shutdown()
