"""A Kubeflow Katib Experiment from a sweep file (`python -m tuner.export katib sweeps/mnist_mlp.py -o experiment.yaml`)

Writes a Katib `Experiment` (kubeflow.org/v1beta1) from the same sweep file `python -m tuner.sweep` runs.
Each Katib trial is a batch/v1 Job that runs `python -m tuner.train --set k=v ...`: the sweep's fixed
settings are fixed `--set` arguments, each searched hyperparameter is `--set k=${trialParameters.k}`, and
Katib's StdOut metrics collector reads the `val_acc=0.9812` tokens that tuner.train prints every epoch.

    python -m tuner.export katib sweeps/cifar_cnn.py --image registry.example/tuner:1 --namespace kubeflow \
        -o cifar.yaml && kubectl apply -f cifar.yaml

Field names follow Katib v0.19.0 (pkg/apis/controller/experiments/v1beta1/experiment_types.go and
common/v1beta1/common_types.go); `feasibleSpace.distribution` (log-uniform sampling) needs Katib >= v0.18.0.
What Katib cannot express (ASHA's rungs, the seed-confirmation phase, fractional GPUs, repeats of a grid,
conditional parameters: a define-by-run space is exported flat) is approximated or left out, and said so in the YAML's header, its annotations and on stderr.
No Katib SDK is used: it pins protobuf<5, which Ray cannot use; the Experiment is plain dicts + PyYAML.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

import yaml

from tuner import select
from tuner.errors import UserError
from tuner.search import OPTUNA_SEARCHES
from tuner.search.optuna_search import tpe_settings
from tuner.search.space import candidate_configs, describe_domain, describe_space, flat_space, grid_size
from tuner.train import usercode

if TYPE_CHECKING:
    from tuner.sweep.spec import Sweep

KATIB_API_VERSION = "kubeflow.org/v1beta1"
KATIB_VERSION = "v0.19.0"  # the release whose API these field names were checked against
DEFAULT_IMAGE = "tuner:latest"  # built from the repository's Dockerfile
DEFAULT_NAMESPACE = "kubeflow"
CONTAINER = "training-container"  # spec.trialTemplate.primaryContainerName
DATA_MOUNT = "/data"  # TUNER_DATA inside the trial container
KATIB_DEFAULT_PARALLEL = 3  # Katib's own default for spec.parallelTrialCount
MEDIAN_MIN_TRIALS = 3  # medianstop min_trials_required; tuner's MedianStoppingRule uses min_samples_required=3

# Metrics tuner.train prints as name=value on every epoch line (num_params is printed, but not as name=value).
PRINTED_METRICS = ("val_acc", "val_loss", "train_acc", "train_loss")

# Katib's built-in StdOut filter (pkg/metricscollector/v1beta1/common/const.go DefaultFilter). Every part of
# its value is optional, so on tuner.train's summary line `status=completed best_epoch=3 val_acc=...` it
# matches `status=` with an empty value; with early stopping on, Katib's collector parses every match on a
# line that names the objective and exits (klog.Fatalf) when a value is not a float. So we send our own:
KATIB_DEFAULT_FILTER = r"([\w|-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)"
METRICS_FILTER = r"([\w-]+)=([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[Ee][+-]?\d+)?)"  # name=number only; nan is skipped

ALGORITHMS = {"optuna": "multivariate-tpe", "optuna-tpe": "tpe", "ray-optuna": "tpe", "random": "random",
              "grid": "grid"}
_SAFE_ARG = re.compile(r"[\w.,:/@%+=-]*")  # Katib joins the command with spaces into `sh -c`: no quoting


# ---------------------------------------------------------------- sweep -> Experiment


def to_katib(sweep: Sweep, *, image: str = DEFAULT_IMAGE, namespace: str = DEFAULT_NAMESPACE,
             name: str | None = None, max_trials: int | None = None, parallel: int | None = None,
             max_failed: int | None = None, data_pvc: str | None = None, source: str = "") -> tuple[dict, list[str]]:
    """A Katib Experiment (plain dicts, ready for yaml.safe_dump) and the notes on what was approximated."""
    notes: list[str] = []
    space, constants = _flat_space(sweep, notes)
    paired = [k for k in space if "+" in k]
    if paired:
        raise UserError(f"{source or 'sweep'}: space[{paired[0]!r}]: paired hyperparameters cannot be exported to "
                        f"Katib, which draws each parameter on its own; search them separately or export one "
                        f"sweep per pair (fix them with --set)")
    if not space:
        raise UserError(f"{source or 'sweep'}: the search space is empty: nothing for Katib to search")

    _own_code(sweep, source or "sweep", notes)
    fixed = {**sweep.fixed_config(), **constants}
    grid_seeds = sweep.search == "grid" and len(sweep.seeds) > 1
    if grid_seeds:
        space["seed"] = {"grid_search": list(sweep.seeds)}
    else:
        fixed["seed"] = sweep.search_trial_seed
        space.pop("seed", None)  # as in tuner.sweep: the seeds decide
        if sweep.needs_confirm:
            notes.append(f"seeds: the search runs on seed {sweep.search_trial_seed}; tuner's confirmation phase (the "
                         f"best {sweep.confirm_top} re-run on seeds {sweep.confirm_seeds}) is not part of the "
                         f"Experiment: re-run those with python -m tuner.train --set seed=N")
    if sweep.subset:
        fixed["subset"] = sweep.subset

    parameters = [_parameter(key, domain, sweep.search) for key, domain in space.items()]
    grid_points = grid_size(space)
    algorithm = ALGORITHMS[sweep.search]
    if sweep.search == "grid":
        trials = grid_points
        if max_trials is not None and max_trials > trials:
            raise UserError(f"--max-trials {max_trials}: Katib's grid rejects more trials than grid points ({trials})")
    else:
        trials = sweep.samples * grid_points
        if grid_points > 1:
            notes.append(f"tune.grid_search with search={sweep.search!r}: Katib draws these values at random instead "
                         f"of running every one; maxTrialCount keeps tuner's count (num_samples x grid points)")
    trials = max_trials if max_trials is not None else trials
    if trials < 1:
        raise UserError(f"--max-trials must be >= 1, got {trials}")
    wanted_parallel = parallel if parallel is not None else (sweep.max_concurrent or KATIB_DEFAULT_PARALLEL)
    if wanted_parallel < 1:
        raise UserError(f"--parallel must be >= 1, got {wanted_parallel}")
    failed = max_failed if max_failed is not None else max(3, trials // 10)
    if failed < 0:
        raise UserError(f"--max-failed must be >= 0, got {failed}")

    objective = _objective(sweep, notes)
    settings = [{"name": "random_state", "value": str(sweep.search_seed)}] if sweep.search_seed >= 0 else []
    if sweep.search in OPTUNA_SEARCHES:
        startup = tpe_settings(sweep)["n_startup_trials"]  # as tuner's own TPESampler
        settings.append({"name": "n_startup_trials", "value": str(startup)})
        if sweep.objectives and len(sweep.objectives) > 1:
            notes.append(f"objectives: Katib optimises one metric; {objective['objectiveMetricName']} is the "
                         f"objective and the others are only collected (additionalMetricNames)")
    if sweep.time_budget_s:
        notes.append(f"time_budget_s={sweep.time_budget_s:g} has no Katib counterpart and is left out")
    if sweep.start:
        notes.append(f"start: Katib has no points to evaluate first; the sweep file's {len(sweep.start)} start "
                     "points are left out (its search draws from the space alone)")

    experiment: dict[str, Any] = {
        "apiVersion": KATIB_API_VERSION,
        "kind": "Experiment",
        "metadata": {"name": name or experiment_name(sweep.name), "namespace": namespace},
        "spec": {
            "objective": objective,
            "algorithm": {"algorithmName": algorithm, **({"algorithmSettings": settings} if settings else {})},
        },
    }
    body = experiment["spec"]
    early = _early_stopping(sweep, notes)
    if early:
        body["earlyStopping"] = early
    body["parallelTrialCount"] = min(wanted_parallel, trials)
    body["maxTrialCount"] = trials
    body["maxFailedTrialCount"] = min(failed, trials)
    body["parameters"] = parameters
    body["metricsCollectorSpec"] = {"collector": {"kind": "StdOut"},
                                    "source": {"filter": {"metricsFormat": [METRICS_FILTER]}}}
    body["trialTemplate"] = _trial_template(sweep, fixed, space, image, data_pvc, notes)
    if any(p["feasibleSpace"].get("distribution") for p in parameters):
        notes.append("feasibleSpace.distribution (logUniform) needs Katib >= v0.18.0; older releases drop the "
                     "field and sample those parameters uniformly")
    experiment["metadata"]["annotations"] = {
        "tuner/sweep": sweep.name,
        "tuner/search": f"{sweep.search} -> {algorithm}",
        "tuner/trial-scheduler": f"{sweep.trial_scheduler} -> {early['algorithmName'] if early else 'none'}",
        **({"tuner/notes": "\n".join(notes)} if notes else {}),
    }
    return experiment, notes


def _own_code(sweep: Sweep, source: str, notes: list[str]) -> None:
    """A trial's container runs `python -m tuner.train`, which imports a model or data function by its reference: one
    of the sweep file (or a notebook) cannot be imported there; a package's must be installed in the image."""
    names = {str(sweep.data), *(str(c.get("model")) for c in candidate_configs(sweep))}
    own = sorted(n for n in names if usercode.is_reference(n) and not usercode.is_library(n))
    inline = [n for n in own if n.partition(":")[0] in (usercode.SWEEP_MODULE, "__main__")]
    if inline:
        raise UserError(f"{source}: {inline[0]!r} is defined in the sweep file, which a Katib trial's container "
                        f"(python -m tuner.train) cannot import: move it into a package installed in the image and "
                        f"name it 'package.module:function'")
    if own:
        packages = sorted({n.partition(":")[0].split(".")[0] for n in own})
        notes.append(f"the image must be able to import {', '.join(packages)} (for {', '.join(own)}): tuner's "
                     f"runtime environment (--code, py_modules) does not reach Katib's trials")


def _flat_space(sweep: Sweep, notes: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The space as Katib's flat parameter list (and the constants a define-by-run function returns); a
    define-by-run space is flattened and its conditional parameters named."""
    space, conditional, constants = flat_space(sweep.space, sweep.search_seed)
    if conditional:
        notes.append(f"space: a define-by-run function, exported flat: Katib has no conditional parameters, so it "
                     f"draws {', '.join(conditional)} on every trial, also where the function does not propose "
                     f"{'it' if len(conditional) == 1 else 'them'}; there Katib's value replaces tuner.train's "
                     f"default (a dimension of Katib's search spent on nothing where the setting is unused, as "
                     f"momentum is by Adam)")
    return space, constants


def experiment_name(sweep_name: str) -> str:
    """Katib's rule: lower-case alphanumerics and '-', starting with a letter, at most 40 characters."""
    name = re.sub(r"[^a-z0-9-]+", "-", sweep_name.lower()).strip("-")
    if not name or not name[0].isalpha():
        name = f"tuner-{name}".strip("-")
    return name[:40].rstrip("-")


def _objective(sweep: Sweep, notes: list[str]) -> dict[str, Any]:
    pairs = list(sweep.objectives or [(sweep.metric, sweep.direction)])
    metric = pairs[0][0]
    mode = select.direction(metric)
    if metric not in PRINTED_METRICS:
        raise UserError(f"metric {metric!r}: tuner.train does not print it as name=value each epoch, so Katib's "
                        f"metrics collector cannot read it; use one of {', '.join(PRINTED_METRICS)}")
    dropped = [m for m, _ in pairs[1:] if m not in PRINTED_METRICS]
    if dropped:
        notes.append(f"objectives {dropped}: not printed as name=value by tuner.train, so not collected by Katib")
    others = [m for m, _ in pairs[1:] if m in PRINTED_METRICS]
    additional = others + [m for m in PRINTED_METRICS if m != metric and m not in others]
    strategies = [{"name": metric, "value": mode}] + \
                 [{"name": m, "value": select.direction(m)} for m in additional]
    return {"type": select.optuna_direction(metric), "objectiveMetricName": metric,
            "additionalMetricNames": additional, "metricStrategies": strategies}


def _early_stopping(sweep: Sweep, notes: list[str]) -> dict[str, Any] | None:
    if sweep.trial_scheduler == "none":
        return None
    # Katib's medianstop (pkg/earlystopping/v1beta1/medianstop, cmd/metricscollector/.../main.go): once
    # min_trials_required trials have succeeded, a new trial's best value after start_step reports (epochs) is
    # compared once with the median of the succeeded trials' mean over their first start_step reports.
    what = (f"{sweep.trial_scheduler.upper()}'s rungs (grace_period={sweep.grace_period}, reduction_factor="
            f"{sweep.reduction_factor:g}) are" if sweep.trial_scheduler in ("asha", "hyperband")
            else "tuner's median rule (checked every epoch after grace_period) is")
    notes.append(f"trial_scheduler={sweep.trial_scheduler!r}: Katib's only early stopping is its median rule, so "
                 f"{what} approximated by one check: after epoch {sweep.grace_period} a trial stops if its best "
                 f"{sweep.metric} is worse than the median of the succeeded trials' mean over their first "
                 f"{sweep.grace_period} epochs (once {MEDIAN_MIN_TRIALS} trials have succeeded)")
    return {"algorithmName": "medianstop",
            "algorithmSettings": [{"name": "min_trials_required", "value": str(MEDIAN_MIN_TRIALS)},
                                  {"name": "start_step", "value": str(sweep.grace_period)}]}


def _trial_template(sweep: Sweep, fixed: dict[str, Any], space: dict[str, Any], image: str,
                    data_pvc: str | None, notes: list[str]) -> dict[str, Any]:
    command = ["python", "-m", "tuner.train"]
    for key, value in fixed.items():
        command += ["--set", f"{key}={_arg(key, value)}"]
    for key in space:
        command += ["--set", f"{key}=${{trialParameters.{key}}}"]
    container: dict[str, Any] = {
        "name": CONTAINER, "image": image, "command": command,
        "env": [{"name": "TUNER_DATA", "value": DATA_MOUNT}, {"name": "PYTHONUNBUFFERED", "value": "1"}],
    }
    resources: dict[str, Any] = {"requests": {"cpu": _quantity(sweep.cpu)}}
    if sweep.gpu:
        resources["limits"] = {"nvidia.com/gpu": math.ceil(sweep.gpu)}
        if sweep.gpu != math.ceil(sweep.gpu):
            notes.append(f"gpu={sweep.gpu:g}: Kubernetes gives whole GPUs, so each trial asks for "
                         f"{math.ceil(sweep.gpu)} (tuner packs {round(1 / sweep.gpu)} trials on one GPU with Ray)")
    container["resources"] = resources
    pod: dict[str, Any] = {"containers": [container], "restartPolicy": "Never"}
    if data_pvc:
        container["volumeMounts"] = [{"name": "data", "mountPath": DATA_MOUNT}]
        pod["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": data_pvc}}]
    described = describe_space(space)
    return {
        "primaryContainerName": CONTAINER,
        "trialParameters": [{"name": key, "reference": key, "description": f"{key}: {described[key]}"}
                            for key in space],
        "trialSpec": {"apiVersion": "batch/v1", "kind": "Job",
                      "spec": {"backoffLimit": sweep.max_failures, "template": {"spec": pod}}},
    }


def _quantity(cpu: float) -> str:
    return str(int(cpu)) if float(cpu).is_integer() else f"{round(cpu * 1000)}m"


# ---------------------------------------------------------------- Ray Tune domains -> Katib parameters


def _parameter(key: str, domain: Any, search: str) -> dict[str, Any]:
    from ray.tune.search.sample import Categorical, Domain, Float, Integer

    def fail(why: str) -> UserError:
        return UserError(f"space[{key!r}]: {describe_domain(domain)} {why}")

    if isinstance(domain, dict) and set(domain) == {"grid_search"}:
        return _categorical(key, domain["grid_search"])
    if isinstance(domain, Categorical):
        return _categorical(key, domain.categories)
    if isinstance(domain, (Float, Integer)):
        sampler = domain.get_sampler()
        q = getattr(sampler, "q", None)
        base = sampler.get_sampler() if q is not None else sampler
        kind = type(base).__name__.lstrip("_")
        if kind not in ("Uniform", "LogUniform"):
            raise fail("has no Katib counterpart (Katib needs a bounded uniform or log-uniform range)")
        feasible: dict[str, str] = {}
        if isinstance(domain, Float):
            low, high = float(domain.lower), float(domain.upper)
            if q is not None:
                feasible["step"] = _number(q)
            ptype = "double"
        else:  # Ray's integer upper bound is exclusive, except for qrandint/qlograndint with q > 1
            step = int(q) if q is not None else 1
            if step > 1:
                low, high = math.ceil(domain.lower / step) * step, math.floor(domain.upper / step) * step
                if low > high:
                    raise fail(f"holds no multiple of {step}")
            else:
                low, high = int(domain.lower), int(domain.upper) - 1
            if step > 1 or kind == "LogUniform":
                feasible["step"] = str(step)  # keeps hyperopt's log-uniform draws whole numbers
            ptype = "int"
        feasible = {"min": _number(low), "max": _number(high), **feasible}
        if kind == "LogUniform":
            feasible["distribution"] = "logUniform"
        return {"name": key, "parameterType": ptype, "feasibleSpace": feasible}
    if isinstance(domain, Domain):
        raise fail("(a sample_from function or another custom domain) has no Katib counterpart")
    raise UserError(f"space[{key!r}]: {domain!r} is not a Ray Tune domain; put constants in fixed={{...}}")


def _categorical(key: str, values: list[Any]) -> dict[str, Any]:
    rendered: list[str] = []
    for value in values:
        text = _arg(key, value)
        if text not in rendered:  # Katib's list is a set
            rendered.append(text)
    return {"name": key, "parameterType": "categorical", "feasibleSpace": {"list": rendered}}


def _arg(key: str, value: Any) -> str:
    """A value as tuner's --set parses it: true/false, none, 256,128, 0.001."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "none"
    elif isinstance(value, (tuple, list)):
        text = ",".join(_arg(key, v) for v in value)
    elif isinstance(value, float):
        text = repr(value)
    elif isinstance(value, (int, str)):
        text = str(value)
    else:
        raise UserError(f"{key}={value!r}: cannot be written as a command-line value")
    if not _SAFE_ARG.fullmatch(text):
        raise UserError(f"{key}={text!r}: Katib runs the trial command through `sh -c` without quoting; use a value "
                        f"without spaces or shell characters")
    return text


def _number(value: float | int) -> str:
    """Katib keeps bounds as strings: ints as ints, floats in Python's shortest round-trip form (0.0003, 1e-05)."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else repr(float(value))


# ---------------------------------------------------------------- the YAML file


def dump(experiment: dict[str, Any], notes: list[str], source: str, command: str) -> str:
    header = [f"# Katib Experiment ({KATIB_API_VERSION}, fields as in Katib {KATIB_VERSION}) for {source}",
              f"# written by: {command}",
              "# submit: kubectl apply -f FILE (the namespace needs the label "
              "katib.kubeflow.org/metrics-collector-injection=enabled)"]
    header += [f"# note: {line}" for note in notes for line in _wrap(note)]
    return "\n".join(header) + "\n" + yaml.safe_dump(experiment, sort_keys=False, width=120)


def _wrap(text: str, width: int = 110) -> list[str]:
    import textwrap
    return textwrap.wrap(text, width, subsequent_indent="  ") or [""]
