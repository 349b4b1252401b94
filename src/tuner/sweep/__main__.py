"""python -m tuner.sweep SWEEP_FILE [options]: see tuner.sweep.cli."""

import sys

from tuner.errors import run_cli
from tuner.sweep.cli import main

if __name__ == "__main__":
    sys.exit(run_cli(main))
