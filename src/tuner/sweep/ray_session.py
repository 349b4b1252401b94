"""The Ray a sweep runs on: a fresh local one (its dashboard on loopback by default) or a cluster joined with
--address; what its resources can run."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from tuner.sweep.spec import Sweep


def start_ray(address: str | None, dashboard: bool = True, dashboard_host: str = "127.0.0.1") -> str | None:
    """Join --address, or start a local Ray with its dashboard on dashboard_host; returns the dashboard URL."""
    import ray

    if ray.is_initialized():
        return None
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": True, "logging_level": "warning"}
    if address:
        context = ray.init(address=address, **kwargs)
    else:
        # address="local": a fresh embedded Ray, never a cluster someone else started on this machine
        context = ray.init(address="local", include_dashboard=dashboard, dashboard_host=dashboard_host, **kwargs)
    url = getattr(context, "dashboard_url", None)
    return f"http://{url}" if url and not url.startswith("http") else url


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
