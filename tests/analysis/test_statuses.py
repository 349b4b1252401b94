"""Every status of trials.csv is counted by `tuner analysis` and in the report's header: a run folder written as
the sweep writes one, with a trial of each status."""

import re

from run_folders import STATUSES, every_status_run
from tuner.analysis.__main__ import main as analysis_main


def test_every_status_is_counted_by_the_command_and_in_the_report_header(tmp_path, capsys):
    run_dir = every_status_run(tmp_path / "run")
    assert analysis_main([str(run_dir)]) == 0
    counts = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("trials: "))
    assert counts == "trials: " + ", ".join(f"1 {status}" for status in STATUSES)
    header = (run_dir / "report.html").read_text()
    row = re.search(r"<td>trials</td><td>([^<]*)</td>", header).group(1)
    assert row == "7: " + ", ".join(f"1 {status.lower().replace('_', ' ')}" for status in STATUSES)
