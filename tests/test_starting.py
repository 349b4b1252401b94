"""Issue 19, "an interrupt is an interrupt from the moment the command starts": Ctrl-C while Python is still
importing torch and Ray (seconds, before the command runs) ends with one line and exit 130, no traceback, and
nothing created, through either entry point (`tuner sweep` used to raise KeyboardInterrupt halfway through an
import)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sweep_helpers import TINY, write_sweep


def _importing_torch(pid: int) -> bool:
    try:
        return "libtorch" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


@pytest.mark.parametrize("entry", [["-m", "tuner.sweep"], ["-m", "tuner.cli", "sweep"]])
def test_ctrl_c_while_the_command_imports_ends_with_130_and_creates_nothing(tmp_path, entry):
    path = write_sweep(tmp_path, f"""
sweep = Sweep(data="synthetic", fixed={TINY}, space={{"lr": tune.loguniform(1e-3, 1e-1)}}, num_samples=1,
              max_epochs=1)
""")
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, *entry, str(path), "--results", str(out), "--no-dashboard"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    started = time.time()
    while not _importing_torch(proc.pid) and proc.poll() is None and time.time() - started < 60:
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGINT)  # torch's library is loading: the import has seconds to go
    printed, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, printed
    assert "Traceback" not in printed and "interrupted (SIGINT) while starting: nothing was run or written" in printed
    assert not out.exists() and not (tmp_path / "runs").exists()
