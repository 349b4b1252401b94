"""Issue 19, "an interrupt is an interrupt": Python runs a signal's handler wherever the main thread is, inside a
__del__ or a weakref callback too (the garbage collector calls them at any moment), and there the KeyboardInterrupt is
only printed ("Exception ignored in ...") while the command goes on. The fault soak found one during the report:
the run ended `completed` with exit 0. A noted signal still marks the run interrupted, with 130 and no traceback."""

import json
import os
import signal

from tuner.sweep import cli as sweep_cli
from tuner.sweep import engine, lifecycle
from tuner.sweep.load import load
from sweep_helpers import TINY, write_sweep


class _CtrlCInDel:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(10_000):  # the handler runs here, inside __del__: its KeyboardInterrupt is swallowed
            pass


def test_a_ctrl_c_lost_inside_a_del_during_the_report_still_interrupts_the_run(local_ray, tmp_path, capsys):
    path = write_sweep(tmp_path, f"""
sweep = Sweep(data="synthetic", fixed={TINY}, space={{"lr": tune.loguniform(1e-3, 1e-1)}}, num_samples=1,
              max_epochs=1)
""")
    options = engine.RunOptions(results=str(tmp_path / "run"), dashboard=False)
    run_dir, written = engine.run(load(path), path, options)
    args = sweep_cli.parser().parse_args([str(path), "--no-report"])
    previous = sweep_cli.note_signals()
    try:
        _CtrlCInDel()
        assert lifecycle.INTERRUPTS.get("last") == "SIGINT"  # noted, though nothing was raised here
        code = sweep_cli.finish(run_dir, written, args, options, "val_acc")
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
    captured = capsys.readouterr()
    assert code == 130
    assert json.loads((run_dir / "run.json").read_text())["ended_by"] == "interrupted"
    assert "Exception ignored" not in captured.err and "Traceback" not in captured.err
    assert "Continue with: python -m tuner.sweep --resume" in captured.out
