"""The layering of docs/architecture.md, at run time: reading and reporting a run folder imports neither torch nor
Ray, and a replay imports no torch (import-linter holds the same rules statically in .ci/run)."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from run_folders import every_status_run, write_table


def imported(code: str) -> set[str]:
    """Runs `code` in a fresh interpreter; returns which of torch, torchvision and ray it left in sys.modules."""
    probe = textwrap.dedent(code) + textwrap.dedent("""
        import json, sys
        print(json.dumps(sorted(m for m in ("torch", "torchvision", "ray") if m in sys.modules)))
    """)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_importing_the_analysis_leaves_torch_and_ray_out():
    assert imported("import tuner.analysis") == set()


def test_reading_ranking_and_reporting_a_run_folder_imports_neither_torch_nor_ray(tmp_path):
    run_dir = every_status_run(tmp_path / "run")
    assert imported(f"""
        from tuner.analysis import load_run, write_report
        from tuner.analysis.text import ranking_table
        run = load_run({str(run_dir)!r})
        print(ranking_table(run.trials))
        write_report(run)
    """) == set()
    assert (run_dir / "report.html").exists()


def test_a_replay_imports_no_torch(tmp_path):
    table = write_table(tmp_path / "table")
    assert "torch" not in imported(f"""
        from tuner import replay
        from tuner.replay import tables
        table = tables.load({str(table)!r})
        summaries = replay.run(table, {{"tuner-default": replay.STRATEGIES["tuner-default"]}}, seeds=2, workers=2,
                               processes=1)
        print(replay.markdown(table, summaries, 2))
    """)


def test_a_sweep_file_of_the_flat_layout_loads(tmp_path):
    """`from tuner.spec import Sweep`, as every recorded run's sweep.py says."""
    path = Path(tmp_path / "old.py")
    path.write_text("from ray import tune\nfrom tuner.spec import Sweep\n\n"
                    "sweep = Sweep(data='synthetic', space={'lr': tune.loguniform(1e-3, 1e-1)})\n")
    from tuner import Sweep
    from tuner.sweep.load import load

    assert isinstance(load(path), Sweep)
