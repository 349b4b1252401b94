"""tuner.run in a Jupyter notebook: a real IPython kernel (ipykernel, driven by jupyter_client as Jupyter drives it)
runs a tiny sweep; its progress is one display updated in place, not a line per event, and no Ray table. Needs
ipykernel and jupyter_client (the `dev` and `notebook` extras; CI installs them), skipped without them."""

import os
import queue
import re
import sys
from pathlib import Path

import pytest

jupyter_client = pytest.importorskip("jupyter_client")
pytest.importorskip("ipykernel")

CELL = """
import tuner
from ray import tune
from tuner import Sweep

sweep = Sweep(data="synthetic:1x8x8", model="mlp", fixed={{"hidden": (16,), "batch_size": 100}}, max_epochs=2,
              space={{"lr": tune.grid_search([1e-3, 1e-2, 3e-2])}}, search="grid")
run = tuner.run(sweep, results={results!r}, report=False)
print("trials:", len(run.trials))
"""
RAY_TABLES = ("Trial name", "Trial status", "== Status ==", "+---")
PROGRESS = re.compile(r"^\[\d+(h\d\d)?m\d\ds\] ", re.MULTILINE)  # a progress line starts with the command's clock


def run_cell(code: str, cwd: Path, timeout: float = 400) -> list[dict]:
    """Execute `code` in a fresh IPython kernel; the iopub messages of that execution, in order."""
    manager = jupyter_client.KernelManager(kernel_name="python3")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}  # this tuner and the kernel's packages
    manager.start_kernel(env=env, cwd=str(cwd))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        msg_id = client.execute(code)
        messages = []
        while True:
            try:
                message = client.get_iopub_msg(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"the cell did not finish in {timeout} s: {messages[-5:]}") from None
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            messages.append(message)
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                return messages
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_a_sweep_in_a_notebook_shows_one_live_line(tmp_path):
    messages = run_cell(CELL.format(results=str(tmp_path / "run")), tmp_path)
    errors = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert not errors, errors[0]["traceback"][-3:]
    text = "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")
    assert "trials: 3" in text
    assert not PROGRESS.search(text) and not any(table in text for table in RAY_TABLES), text
    shown = [m for m in messages if m["msg_type"] == "display_data"
             and PROGRESS.match(m["content"]["data"].get("text/plain", ""))]
    assert len(shown) == 1, shown  # one line, made once
    line_id = shown[0]["content"]["transient"]["display_id"]
    updates = [m["content"]["data"]["text/plain"] for m in messages if m["msg_type"] == "update_display_data"
               and m["content"]["transient"]["display_id"] == line_id]
    assert len(updates) >= 3 and "search 3/3" in updates[-1], updates  # updated in place as trials end
