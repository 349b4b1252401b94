"""The Ray a sweep runs on: a fresh local one (its dashboard on loopback by default) or a cluster joined with
--address; what its resources can run."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tuner.errors import UserError
from tuner.sweep import codedirs
from tuner.sweep.spec import Sweep

RESOURCE_WAIT_ENV = "TUNER_RESOURCE_WAIT_S"  # how long a cluster may take to offer a node that fits a trial
RESOURCE_WAIT_S = 300.0


def start_ray(address: str | None, dashboard: bool = True, dashboard_host: str = "127.0.0.1",
              log: Path | None = None, code: list[Path] | None = None) -> str | None:
    """Join --address, or start a local Ray with its dashboard on dashboard_host; returns the dashboard URL. `code`:
    the sweep's local packages, in the job's runtime environment (py_modules) for every worker on every node; a Ray
    this process started before has none (tuner.sweep.codedirs: the packages then go by value).

    `log`: a file that takes what Ray prints while it starts (its token-authentication notice, which reads as an
    invitation to switch security off, and its processes' start-up output), out of the user's way. Token
    authentication stays as Ray sets it."""
    import ray

    if ray.is_initialized():
        return None
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": True, "logging_level": "warning",
                              "runtime_env": codedirs.runtime_env(code or [])}
    folder = auth_token_path().parent
    if not folder.exists():  # Ray would make it 0755; made here, only its owner may list it
        folder.mkdir(mode=0o700, parents=True)
    with _stderr_to(log):
        if address:
            context = ray.init(address=address, **kwargs)
        else:
            # address="local": a fresh embedded Ray, never a cluster someone else started on this machine
            context = ray.init(address="local", include_dashboard=dashboard, dashboard_host=dashboard_host, **kwargs)
    codedirs.shipped_by_ray(code or [])
    if log is not None and log.exists() and log.stat().st_size:
        print(f"Ray's start-up messages: {log}", flush=True)
    protect_auth_token()
    url = getattr(context, "dashboard_url", None)
    return f"http://{url}" if url and not url.startswith("http") else url


@contextlib.contextmanager
def _stderr_to(log: Path | None) -> Iterator[None]:
    """Standard error (the file descriptor: Ray's Python logging and the processes it starts) into `log`."""
    if log is None:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(log, "ab") as out:
            os.dup2(out.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def auth_token_path() -> Path:
    """Where Ray keeps the token its dashboard and clients authenticate with."""
    return Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")


def protect_auth_token() -> None:
    """Ray writes its auth token readable by every local user (0644): anyone on the machine could then use the
    dashboard and submit jobs. Make it the owner's only, and say so the one time it changes."""
    token = auth_token_path()
    try:
        mode = token.stat().st_mode & 0o777
        if mode & 0o077:
            token.chmod(0o600)
            print(f"made {token} (Ray's dashboard token) readable by its owner only (it was {mode:o})",
                  file=sys.stderr, flush=True)
    except OSError:  # no token (RAY_AUTH_MODE=disabled) or not ours to change
        pass


def dashboard_hint(url: str | None) -> str:
    if not url:
        return "Ray dashboard: off (--no-dashboard or not available)"
    token = auth_token_path()
    auth = (f"; it asks for a token: paste the output of `ray get-auth-token` (the file {token})"
            if os.environ.get("RAY_AUTH_MODE", "token") != "disabled" else "")
    return f"Ray dashboard: {url} (live trials, CPU/GPU use, logs){auth}"


def fit_to_local_resources(sweep: Sweep, on_cluster: bool) -> Sweep:
    """On a local Ray without GPUs, a GPU sweep runs its trials on CPU instead of waiting forever.

    On a cluster (--address) GPU requests stand: an autoscaler may be about to add GPU nodes.
    """
    import ray

    if on_cluster or sweep.gpu == 0:
        return sweep
    resources = ray.cluster_resources()
    if resources.get("GPU", 0) > 0:
        return sweep
    cpu = min(max(sweep.cpu, 1), resources.get("CPU", 1))
    print(f"no GPU on this machine: trials run on CPU ({cpu:g} CPU each) instead of {sweep.gpu:g} GPU each",
          flush=True)
    return dataclasses.replace(sweep, gpu=0, cpu=cpu)


def check_resources(sweep: Sweep, on_cluster: bool, address: str | None = None) -> None:
    """A trial that no node can run would wait forever: on this machine that is an error at once; on a cluster
    (whose autoscaler may add nodes) after a bounded wait ($TUNER_RESOURCE_WAIT_S, default 300 s) that asks the
    autoscaler for one such node. The error names the request and what the machine or cluster has."""
    import ray

    request = {"CPU": float(sweep.cpu), "GPU": float(sweep.gpu)}
    if not on_cluster:
        here = ray.cluster_resources()
        if request["GPU"] > 0 and here.get("GPU", 0) == 0:  # fit_to_local_resources: a GPU sweep runs on CPUs
            request = {"CPU": min(max(request["CPU"], 1), here.get("CPU", 1)), "GPU": 0.0}
        if not _fits(request, here):
            raise UserError(f"a trial asks for {_describe(request)} (Sweep cpu/gpu, --cpus-per-trial, "
                            f"--gpus-per-trial) and this machine has {_describe(here)}: no trial could ever start; "
                            f"ask for at most {_describe(here)} per trial")
        return
    wait_s = float(os.environ.get(RESOURCE_WAIT_ENV, RESOURCE_WAIT_S))
    deadline, asked = time.time() + wait_s, False
    while not any(_fits(request, node) for node in _nodes().values()):
        if time.time() >= deadline:
            if asked:
                _request_node(None)
            nodes = "; ".join(f"{address}: {_describe(resources)}" for address, resources in _nodes().items())
            raise UserError(f"no node of the cluster {address or ''} can run a trial of {_describe(request)} "
                            f"(Sweep cpu/gpu, --cpus-per-trial, --gpus-per-trial) after {wait_s:g} s of waiting; its "
                            f"nodes: {nodes or 'none'}. Ask for less per trial, add a node that has it, or wait "
                            f"longer for an autoscaler with {RESOURCE_WAIT_ENV}=SECONDS")
        if not asked:
            print(f"no node of the cluster has {_describe(request)} free for a trial yet: asking its autoscaler "
                  f"and waiting up to {wait_s:g} s", file=sys.stderr, flush=True)
            _request_node(request)
            asked = True
        time.sleep(min(2.0, max(deadline - time.time(), 0.0)))
    if asked:
        _request_node(None)


def _fits(request: dict[str, float], resources: Any) -> bool:
    return all(resources.get(key, 0) >= amount - 1e-9 for key, amount in request.items() if amount > 0)


def _nodes() -> dict[str, dict[str, float]]:
    import ray

    return {f"{node['NodeManagerAddress']} ({node['NodeID'][:8]})": node.get("Resources", {})
            for node in ray.nodes() if node.get("Alive")}


def _describe(resources: Any) -> str:
    return f"{resources.get('CPU', 0):g} CPU, {resources.get('GPU', 0):g} GPU"


def _request_node(request: dict[str, float] | None) -> None:
    """Ask the cluster's autoscaler (if it has one) for a node that fits a trial; None withdraws the request."""
    try:
        from ray.autoscaler.sdk import request_resources

        request_resources(bundles=[{k: v for k, v in request.items() if v > 0}] if request else [])
    except Exception as exc:  # no autoscaler API here: the wait goes on without it
        print(f"warning: could not ask the autoscaler for a node ({type(exc).__name__}: {exc})", file=sys.stderr)
