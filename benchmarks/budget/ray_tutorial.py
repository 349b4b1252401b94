"""Ray Tune's own CIFAR-10 tutorial (ray/tune/examples/cifar10_pytorch.py, as installed), run under a time budget
to compare with `python -m tuner.sweep sweeps/cifar_cnn.py --time-budget S` on the same machine (docs/budget.md).

The installed file is patched as text, each change asserted, and nothing else: it reads the offline CIFAR-10 copy
(an ImageFolder tree, extracted once from $TUNER_DATA/cifar10-jpeg.tar.gz) instead of downloading, its
DataLoaders use 2 worker processes instead of 8 (this machine has 2 cores), and `Tuner.fit()` gets
`time_budget_s`. Its search space, model, ASHA settings, trial resources and test evaluation are its own.

    python benchmarks/budget/ray_tutorial.py --budget 240
"""

import argparse
import os
import runpy
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import ray.tune.examples.cifar10_pytorch as tutorial

PATCHES = [
    ("trainset = torchvision.datasets.CIFAR10(\n            root=data_dir, train=True, download=True, transform=transform)",
     "trainset = torchvision.datasets.ImageFolder(os.path.join(OFFLINE_CIFAR, 'train'), transform=transform)"),
    ("testset = torchvision.datasets.CIFAR10(\n            root=data_dir, train=False, download=True, transform=transform)",
     "testset = torchvision.datasets.ImageFolder(os.path.join(OFFLINE_CIFAR, 'test'), transform=transform)"),
    ('num_workers=0 if config["smoke_test"] else 8', 'num_workers=0 if config["smoke_test"] else 2'),
    ("scheduler=scheduler\n        ),", "scheduler=scheduler, time_budget_s=TIME_BUDGET_S\n        ),"),
]


def extracted(data: Path) -> Path:
    target = Path(os.environ.get("TUNER_CACHE", Path.home() / ".cache" / "tuner")) / "cifar10-imagefolder"
    if not (target / "test").is_dir():
        with tarfile.open(data / "cifar10-jpeg.tar.gz") as tar:
            tar.extractall(target, filter="data")
    roots = [p.parent for p in target.rglob("train") if (p.parent / "test").is_dir()]
    return roots[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=240)
    parser.add_argument("--data-dir", default=os.environ.get("TUNER_DATA", "../shared/data"))
    args = parser.parse_args()
    source = Path(tutorial.__file__).read_text()
    count = {}
    for old, new in PATCHES:
        count[old] = source.count(old)
        if count[old] == 0:
            print(f"error: the installed tutorial no longer contains {old!r}", file=sys.stderr)
            return 2
        source = source.replace(old, new)
    root = extracted(Path(args.data_dir))
    header = f"OFFLINE_CIFAR = {str(root)!r}\nTIME_BUDGET_S = {args.budget!r}\n"
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "cifar10_pytorch_offline.py"
        script.write_text(source.replace("# __import_end__", header + "# __import_end__", 1))
        started = time.time()
        sys.argv = [str(script)]
        runpy.run_path(str(script), run_name="__main__")
        print(f"whole command: {time.time() - started:.0f} s (budget {args.budget:.0f} s for Tuner.fit)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
