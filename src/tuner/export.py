"""tuner export katib SWEEP_FILE [-o experiment.yaml]: a Kubeflow Katib Experiment from the same sweep file
`tuner sweep` runs (python -m tuner.export is the same). How, and what Katib cannot express (a define-by-run
space is written flat: Katib has no conditional parameters): tuner.integrations.katib.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tuner.errors import run_cli
from tuner.integrations.katib import DATA_MOUNT, DEFAULT_IMAGE, DEFAULT_NAMESPACE, dump, to_katib
from tuner.sweep.load import apply_overrides, load
from tuner.sweep.validate import validate
from tuner.train.config import parse_assignments


EXAMPLES = """examples:
  tuner export katib sweeps/cifar_cnn.py -o experiment.yaml        the CIFAR sweep as a Katib Experiment
  tuner export katib sweeps/mnist_mlp.py --image registry.example/tuner:1 --data-pvc tuner-data -o mnist.yaml
  tuner export katib sweeps/cifar_cnn.py --set trial_scheduler=asha --max-trials 32   median stopping, 32 trials
then: kubectl apply -f experiment.yaml   (what Katib cannot express is said on stderr and in the file's header)
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tuner export", description=__doc__, epilog=EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("format", choices=["katib"], help="what to write (katib: a Katib v1beta1 Experiment)")
    p.add_argument("sweep_file", help="a Python file defining `sweep = Sweep(...)`")
    p.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a Sweep field or fix a hyperparameter, as in python -m tuner.sweep")
    p.add_argument("--image", default=DEFAULT_IMAGE, help=f"trial container image (default {DEFAULT_IMAGE})")
    p.add_argument("--namespace", default=DEFAULT_NAMESPACE, help=f"namespace (default {DEFAULT_NAMESPACE})")
    p.add_argument("--name", help="Experiment name (default: the sweep's name, Kubernetes-safe)")
    p.add_argument("--max-trials", type=int, help="spec.maxTrialCount (default: the sweep's trial count)")
    p.add_argument("--parallel", type=int, help="spec.parallelTrialCount (default: max_concurrent, else 3)")
    p.add_argument("--max-failed", type=int, help="spec.maxFailedTrialCount (default: max(3, trials/10))")
    p.add_argument("--data-pvc", metavar="CLAIM", help=f"PersistentVolumeClaim with the data sets (e.g. tuner-data "
                                                       f"from k8s/storage.yaml), mounted at {DATA_MOUNT} (default: "
                                                       f"none; the image or a download provides the data)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    path = Path(args.sweep_file)
    sweep = apply_overrides(load(path), parse_assignments(args.set))
    validate(sweep, where=str(path))
    experiment, notes = to_katib(sweep, image=args.image, namespace=args.namespace, name=args.name,
                                 max_trials=args.max_trials, parallel=args.parallel, max_failed=args.max_failed,
                                 data_pvc=args.data_pvc, source=str(path))
    command = "python -m tuner.export " + " ".join(sys.argv[1:] if argv is None else argv)
    text = dump(experiment, notes, str(path), command)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if args.output:
        args.output.write_text(text)
        print(f"wrote {args.output}: Experiment {experiment['metadata']['name']!r}, "
              f"{len(experiment['spec']['parameters'])} parameters, up to {experiment['spec']['maxTrialCount']} "
              f"trials", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
