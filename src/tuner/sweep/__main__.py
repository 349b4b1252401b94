"""python -m tuner.sweep SWEEP_FILE [options]: see tuner.sweep.cli."""

import sys

from tuner import _starting

if __name__ == "__main__":
    _starting.install("python -m tuner.sweep")  # before the imports below: they take seconds

from tuner.errors import run_cli  # noqa: E402
from tuner.sweep.cli import main  # noqa: E402

if __name__ == "__main__":
    _starting.done()  # imported: from here the command's own handling (run_cli's one line and 130)
    sys.exit(_starting.finish(lambda: run_cli(main), "python -m tuner.sweep"))
