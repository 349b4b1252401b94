"""The Ray a sweep runs on: a fresh local one (its dashboard on loopback by default) or a cluster joined with
--address; what its resources can run."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tuner.sweep.spec import Sweep


def start_ray(address: str | None, dashboard: bool = True, dashboard_host: str = "127.0.0.1",
              log: Path | None = None) -> str | None:
    """Join --address, or start a local Ray with its dashboard on dashboard_host; returns the dashboard URL.

    `log`: a file that takes what Ray prints while it starts (its token-authentication notice, which reads as an
    invitation to switch security off, and its processes' start-up output), out of the user's way. Token
    authentication stays as Ray sets it."""
    import ray

    if ray.is_initialized():
        return None
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": True, "logging_level": "warning"}
    with _stderr_to(log):
        if address:
            context = ray.init(address=address, **kwargs)
        else:
            # address="local": a fresh embedded Ray, never a cluster someone else started on this machine
            context = ray.init(address="local", include_dashboard=dashboard, dashboard_host=dashboard_host, **kwargs)
    if log is not None and log.exists() and log.stat().st_size:
        print(f"Ray's start-up messages: {log}", flush=True)
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


def dashboard_hint(url: str | None) -> str:
    if not url:
        return "Ray dashboard: off (--no-dashboard or not available)"
    token = Path.home() / ".ray" / "auth_token"
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
