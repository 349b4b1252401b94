"""Benchmark: tuner's training loop against the loop the source studies wrote, in one process.

    python -m tuner.bench [--json PATH] [--only mnist_mlp|cifar_cnn] [--epochs 1] [--subset N] [--compile]
    python -m tuner.bench --sweep-overhead 40      # per-trial cost of the sweep engine, trials/min
    python -m tuner.bench --faults 20              # the driver killed 20 times, resumed each time (tuner.faults)

Baseline (as the studies wrote it): torchvision data sets giving PIL images, per-sample
transforms (ToTensor, Normalize and the same augmentation), a DataLoader (timed with
num_workers 0 and 2; the faster counts), fp32 NCHW, nn.Dropout, `loss.item()` every step,
a test pass every epoch. Tuner: `tuner.train.Run` (uint8 data resident on the device,
batched per-sample augmentation, the training path measured in this run: tuner.train.fastpath), one
epoch plus an evaluation pass over the same number of test images. Both train the same architecture
with the same batch size and optimizer for the same number of epochs; ms/step = epoch wall time
(test pass included) / training steps. Prints the ratio, measured in this run, and every candidate
path's ms/step (each trained the same way with its settings given explicitly) beside the chosen one;
--compile adds the chosen path compiled (two epochs: the first pays the compile).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from tuner.runfolder import RAY_FOLDER, TRIAL_DIR_PREFIX
from tuner.train import datasets
from tuner.train.config import TrainConfig
from tuner.train.data import Dataset, channel_stats
from tuner.train.device import DeviceData, resolve_device
from tuner.train.evaluation import evaluate
from tuner.train import paths as paths_lib
from tuner.train.fastpath import Budget, choose
from tuner.train.loop import Run, trial_steps
from tuner.errors import UserError, run_cli


@dataclass(frozen=True)
class Case:
    name: str
    data: str
    config: dict[str, Any]  # TrainConfig fields for tuner's loop
    augment: list[Any]  # the baseline's torchvision transforms (PIL), same effect as config["augment"]


def cases() -> dict[str, Case]:
    from torchvision import transforms as T

    return {
        "mnist_mlp": Case("mnist_mlp", "mnist", {"model": "mlp", "hidden": (512, 512), "dropout": 0.2,
                                                 "optimizer": "sgd", "lr": 0.01, "batch_size": 64,
                                                 "scheduler": "none", "augment": "none"}, []),
        "cifar_cnn": Case("cifar_cnn", "cifar10", {"model": "cnn", "optimizer": "rmsprop", "lr": 1e-3,
                                                   "batch_size": 64, "scheduler": "none",
                                                   "augment": "flip_crop_rotate"},
                          [T.RandomHorizontalFlip(), T.RandomCrop(32, padding=4), T.RandomRotation(15)]),
    }


# ---------------------------------------------------------------- the studies' loop


def baseline_model(case: Case) -> nn.Module:
    """The studies' modules, written as they wrote them (nn.Dropout, default layout and precision)."""
    if case.name == "mnist_mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2), nn.Linear(512, 512),
                             nn.ReLU(), nn.Dropout(0.2), nn.Linear(512, 10))
    convs = []
    for n_in, n_out in ((3, 32), (32, 64), (64, 128)):
        convs += [nn.Conv2d(n_in, n_out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(*convs, nn.Flatten(), nn.Linear(128 * 4 * 4, 256), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(256, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))


class PILImages(torch.utils.data.Dataset):
    """What torchvision.datasets.CIFAR10.__getitem__ does with its in-memory arrays: PIL image, transform."""

    def __init__(self, x: np.ndarray, y: np.ndarray, transform: Any):
        self.x = x.transpose(0, 2, 3, 1) if x.shape[1] == 3 else x[:, 0]
        self.y, self.transform = y, transform

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        from PIL import Image
        return self.transform(Image.fromarray(self.x[i])), int(self.y[i])


def baseline_datasets(case: Case, dataset: Dataset, data_dir: str | None) -> tuple[Any, Any]:
    from torchvision import datasets as tv_datasets
    from torchvision import transforms as T

    mean, std = channel_stats(dataset.x_train)
    train_tf = T.Compose([*case.augment, T.ToTensor(), T.Normalize(mean, std)])
    test_tf = T.Compose([T.ToTensor(), T.Normalize(mean, std)])
    root = datasets.data_root(data_dir)
    if case.data == "mnist" and (root / "MNIST" / "raw").exists() and len(dataset.y_train) == 60000:
        return (tv_datasets.MNIST(str(root), train=True, transform=train_tf),
                tv_datasets.MNIST(str(root), train=False, transform=test_tf))
    return (PILImages(dataset.x_train, dataset.y_train, train_tf), PILImages(dataset.x_test, dataset.y_test, test_tf))


def baseline_epoch(case: Case, train_set: Any, test_set: Any, workers: int, epochs: int) -> dict[str, float]:
    torch.manual_seed(0)
    model = baseline_model(case)
    opt = torch.optim.SGD(model.parameters(), lr=0.01) if case.config["optimizer"] == "sgd" else \
        torch.optim.RMSprop(model.parameters(), lr=case.config["lr"])
    criterion = nn.CrossEntropyLoss()
    bs = case.config["batch_size"]
    steps, data_s, started = 0, 0.0, time.perf_counter()
    for _ in range(epochs):
        model.train()
        loader = torch.utils.data.DataLoader(train_set, batch_size=bs, shuffle=True, num_workers=workers)
        running_loss, correct = 0.0, 0
        waited = time.perf_counter()
        for x, y in loader:
            data_s += time.perf_counter() - waited
            opt.zero_grad()
            out = model(x)
            loss = criterion(out, y)
            loss.backward()
            opt.step()
            running_loss += loss.item()
            correct += (out.argmax(1) == y).sum().item()
            steps += 1
            waited = time.perf_counter()
        acc = baseline_test(model, test_set, workers)
    elapsed = time.perf_counter() - started
    return {"ms_per_step": elapsed / steps * 1e3, "data_ms_per_step": data_s / steps * 1e3, "test_acc": acc,
            "workers": workers}


def baseline_test(model: nn.Module, test_set: Any, workers: int) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in torch.utils.data.DataLoader(test_set, batch_size=1000, num_workers=workers):
            correct += (model(x).argmax(1) == y).sum().item()
    return correct / len(test_set)


# ---------------------------------------------------------------- tuner's loop


def tuner_config(case: Case, epochs: int, **changes: Any) -> TrainConfig:
    """tuner's configuration with no validation split, so it trains on the same images as the baseline."""
    return TrainConfig.from_dict({**case.config, "data": case.data, "epochs": epochs, "val_fraction": 0.0,
                                  "stuck_epochs": 0, **changes})


def tuner_epoch(case: Case, dataset: Dataset, epochs: int, **changes: Any) -> dict[str, Any]:
    cfg = tuner_config(case, epochs, **changes)
    run = Run(cfg, dataset)
    test = DeviceData(dataset.x_test, dataset.y_test, run.normalizer, run.device, run.train_data.channels_last)
    started = time.perf_counter()
    epoch_s = []
    for _ in range(epochs):
        run.train_epoch()
        acc = evaluate(run.model, test, dataset.num_classes, cfg.eval_batch_size, run.precision).acc
        epoch_s.append(time.perf_counter() - started - sum(epoch_s))
    elapsed = time.perf_counter() - started
    steps = run.steps_per_epoch * epochs
    return {"ms_per_step": elapsed / steps * 1e3, "data_ms_per_step": data_time(run) * 1e3, "test_acc": acc,
            "precision": run.precision, "channels_last": run.train_data.channels_last, "device": str(run.device),
            "path": run.choice.path.name, "epoch_s": epoch_s, "steps_per_epoch": run.steps_per_epoch}


def paths_table(case: Case, dataset: Dataset, epochs: int, ours: dict[str, Any], compiled: bool) -> dict[str, Any]:
    """Every candidate path trained like tuner's loop, settings given explicitly; the chosen one is `ours`. With
    `compiled`, the chosen path compiled too, for two epochs: its ms/step from the second, its compile time the
    first's excess."""
    device = resolve_device(tuner_config(case, epochs).device)
    table = {ours["path"]: round(ours["ms_per_step"], 3)}
    compile_s = {}
    todo = [p for p in paths_lib.candidates(tuner_config(case, epochs), device) if p.name not in table]
    if compiled:
        chosen = paths_lib.Path.parse(ours["path"])
        todo.append(paths_lib.Path(chosen.precision, chosen.channels_last, True))
    for path in todo:
        runs = 2 if path.compile else epochs
        r = tuner_epoch(case, dataset, runs, precision=path.precision, compile=path.compile,
                        channels_last="on" if path.channels_last else "off")
        if path.compile:
            compile_s[path.name] = round(r["epoch_s"][0] - r["epoch_s"][1], 2)
            r["ms_per_step"] = r["epoch_s"][1] / r["steps_per_epoch"] * 1e3
        table[path.name] = round(r["ms_per_step"], 3)
        print(f"  {case.name} path {path.name}: {r['ms_per_step']:.2f} ms/step"
              + (f" after {compile_s[path.name]:.1f} s compiling" if path.compile else ""), flush=True)
    steps = ours["steps_per_epoch"] * epochs  # a compiled path pays its compile over the run's steps
    paid = {name: ms + compile_s.get(name, 0.0) * 1e3 / steps for name, ms in table.items()}
    fastest = min(paid, key=paid.get)
    return {"paths_ms_per_step": table, "compile_s": compile_s, "fastest_path": fastest,
            "chosen_over_fastest": round(paid[ours["path"]] / paid[fastest], 3)}


def data_time(run: Run, steps: int = 200) -> float:
    """Seconds per step spent gathering, augmenting and normalising a batch on the device."""
    data = run.train_data
    aug = None if run.aug.is_identity else run.aug
    perm = torch.randperm(len(data), generator=run.generator, device=run.device)
    bs = run.cfg.batch_size
    for start in range(0, 20 * bs, bs):
        data.batch(perm[start:start + bs], aug, run.generator)
    _sync(run.device)
    started = time.perf_counter()
    for i in range(steps):
        start = (i * bs) % max(len(data) - bs, 1)
        x, _ = data.batch(perm[start:start + bs], aug, run.generator)
    _sync(run.device)
    return (time.perf_counter() - started) / steps


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---------------------------------------------------------------- command line


def measure(case: Case, data_dir: str | None, epochs: int, compiled: bool = False,
            subset: int = 0) -> dict[str, Any]:
    dataset = datasets.load(case.data, data_dir)
    if subset:
        dataset = dataset.subset(subset, n_test=max(subset // 5, 1))
    train_set, test_set = baseline_datasets(case, dataset, data_dir)
    runs = [baseline_epoch(case, train_set, test_set, workers, epochs) for workers in (0, 2)]
    for r in runs:
        print(f"  {case.name} baseline num_workers={r['workers']}: {r['ms_per_step']:.2f} ms/step, "
              f"test_acc {r['test_acc']:.2%}", flush=True)
    baseline = min(runs, key=lambda r: r["ms_per_step"])
    cfg = tuner_config(case, epochs)
    choice = choose(cfg, dataset, trial_steps(cfg, dataset), Budget(), fresh=True)
    print(f"  {case.name} training path: {choice.describe()}", flush=True)
    ours = tuner_epoch(case, dataset, epochs)
    print(f"  {case.name} tuner ({ours['device']}, {ours['path']}): "
          f"{ours['ms_per_step']:.2f} ms/step, test_acc {ours['test_acc']:.2%}", flush=True)
    table = paths_table(case, dataset, epochs, ours, compiled)
    return {**table, "choice": choice.to_json(),
            "baseline_ms_per_step": round(baseline["ms_per_step"], 3), "baseline_workers": baseline["workers"],
            "tuner_ms_per_step": round(ours["ms_per_step"], 3),
            "speedup": round(baseline["ms_per_step"] / ours["ms_per_step"], 3),
            "data_ms_per_step": round(ours["data_ms_per_step"], 3),
            "data_share_of_step": round(ours["data_ms_per_step"] / ours["ms_per_step"], 4),
            "baseline_test_acc": baseline["test_acc"], "tuner_test_acc": ours["test_acc"], "epochs": epochs,
            "precision": ours["precision"], "channels_last": ours["channels_last"], "device": ours["device"],
            "threads": torch.get_num_threads(), "train_images": len(dataset.y_train)}


# ---------------------------------------------------------------- the sweep engine's cost per trial

OVERHEAD_SWEEP = """from ray import tune
from tuner import Sweep

sweep = Sweep(name="overhead", data="synthetic", fixed={{"hidden": (32,), "batch_size": 256, "scheduler": "none"}},
              space={{"lr": tune.loguniform(1e-4, 1e-1)}}, search="random", trial_scheduler="none",
              num_samples={trials}, max_epochs=1)
"""


def sweep_overhead(trials: int) -> dict[str, Any]:
    """A real sweep of one-epoch synthetic trials on a fresh local Ray. Once every trial slot has finished its
    first trial (Ray's start-up and the actors' imports behind it), trials end at a steady rate; the slot time
    per trial at that rate, less a trial's own training time, is the engine's overhead per trial: trial start or
    actor reset, data handoff from the object store, report, checkpoint, scheduling."""
    import ray

    from tuner.sweep import engine
    from tuner.sweep.load import load

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "overhead.py"
        path.write_text(OVERHEAD_SWEEP.format(trials=trials))
        sweep = load(path)
        started = time.time()
        run_dir, written = engine.run(sweep, path, engine.RunOptions(results=str(Path(folder) / "run"),
                                                                     dashboard=False))
        slots = min(trials, int(ray.cluster_resources().get("CPU", 1) // sweep.cpu))
        ray.shutdown()
        ended = sorted(json.loads(f.read_text().splitlines()[-1])["reported_at"] - started
                       for f in (run_dir / RAY_FOLDER).glob(f"{TRIAL_DIR_PREFIX}*/result.json"))
    if len(ended) <= slots + 1:
        raise UserError(f"--sweep-overhead needs more than {slots + 1} trials to see a steady rate")
    steady = (ended[-1] - ended[slots - 1]) / (len(ended) - slots)  # wall seconds per trial, all slots busy
    train_s = float(written["trials"]["train_time_s"].mean())
    return {"trials": len(ended), "slots": slots, "wall_s": written["run"]["wall_time_s"],
            "trials_per_min": round(len(ended) / written["run"]["wall_time_s"] * 60, 1),
            "steady_trials_per_min": round(60 / steady, 1), "first_trials_done_s": round(ended[slots - 1], 1),
            "train_s_per_trial": round(train_s, 3), "overhead_s_per_trial": round(steady * slots - train_s, 3)}


EXAMPLES = """examples:
  tuner bench --only mnist_mlp --subset 10000     one epoch of each loop on 10,000 MNIST images
  tuner bench --json bench.json                   both cases on the full data, the results as JSON
  tuner bench --sweep-overhead 40                 the sweep engine's cost per trial, trials/min
  tuner bench --faults 5 --seed 1                 a small sweep's driver killed 5 times, resumed each time
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tuner bench", description=__doc__, epilog=EXAMPLES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    parser.add_argument("--only", choices=sorted(cases()), action="append", help="run only this case")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per loop (default 1)")
    parser.add_argument("--data-dir", help=f"data root (default ${datasets.DATA_ENV}, else ~/.cache/tuner)")
    parser.add_argument("--compile", action="store_true", help="also time the chosen path under torch.compile")
    parser.add_argument("--subset", type=int, default=0, metavar="N",
                        help="both loops train on N training images (and test on N/5): a shorter run")
    parser.add_argument("--sweep-overhead", type=int, metavar="TRIALS",
                        help="instead: time a sweep of TRIALS one-epoch synthetic trials (per-trial overhead)")
    parser.add_argument("--faults", type=int, metavar="N",
                        help="instead: kill a small real sweep's driver N times and resume it (tuner.faults)")
    parser.add_argument("--seed", type=int, default=0, help="with --faults: the seed of the kill times and signals")
    args = parser.parse_args(argv)
    if args.faults:
        from tuner.faults import soak

        result = soak(args.faults, args.seed)
        if args.json:
            args.json.write_text(json.dumps({"faults": result}, indent=2))
        return 0 if result["survived"] == result["faults"] else 1
    if args.sweep_overhead:
        result = sweep_overhead(args.sweep_overhead)
        print(f"\n{result['trials']} one-epoch trials on {result['slots']} slots in {result['wall_s']:.1f} s: "
              f"{result['trials_per_min']:.1f} trials/min; the first {result['slots']} ended "
              f"{result['first_trials_done_s']:.1f} s after the command began (data, Ray and actor start-up), "
              f"then {result['steady_trials_per_min']:.1f} trials/min; overhead "
              f"{result['overhead_s_per_trial']:.3f} s per trial (start, data handoff, report, checkpoint) beside "
              f"{result['train_s_per_trial']:.3f} s of training")
        if args.json:
            args.json.write_text(json.dumps({"sweep_overhead": result}, indent=2))
        return 0
    results = {}
    for name in args.only or sorted(cases()):
        print(f"{name}: timing the seed-style loop (num_workers 0 and 2) and tuner's loop ...", flush=True)
        results[name] = measure(cases()[name], args.data_dir, args.epochs, args.compile, args.subset)
    print(f"\n{'case':<10} {'baseline ms':>12} {'tuner ms':>9} {'speedup':>8} {'data ms':>8} {'data %':>7} "
          f"{'base acc':>9} {'tuner acc':>9}")
    for name, r in results.items():
        print(f"{name:<10} {r['baseline_ms_per_step']:>12.2f} {r['tuner_ms_per_step']:>9.2f} {r['speedup']:>7.2f}x "
              f"{r['data_ms_per_step']:>8.3f} {r['data_share_of_step']:>6.1%} {r['baseline_test_acc']:>8.2%} "
              f"{r['tuner_test_acc']:>9.2%}")
    print(f"\n{'case':<10} {'chosen':>9} {'ms/step of every path (one run each)':<60}")
    for name, r in results.items():
        table = ", ".join(f"{path} {ms:.2f}" for path, ms in sorted(r["paths_ms_per_step"].items(),
                                                                     key=lambda item: item[1]))
        paid = "".join(f" ({path} +{s:.0f} s compile)" for path, s in r["compile_s"].items())
        print(f"{name:<10} {r['choice']['path']:>9} {table}{paid}; chosen/fastest {r['chosen_over_fastest']:.3f} "
              f"(compile time spread over the run)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
