"""A Katib Experiment that tuner.integrations.katib exported, read back: the fixed TrainConfig values of its trial
command and its parameters as a Ray Tune search space. The export's tests check with it that an Experiment holds the
sweep's space (the round trip); the export itself is tuner.integrations.katib.
"""

from __future__ import annotations

import re
from typing import Any

from tuner.errors import UserError
from tuner.train.config import coerce, field_types, model_arg_value, parse_assignments


def from_katib(experiment: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read an exported Experiment back: (fixed TrainConfig values, Ray Tune search space)."""
    from ray import tune

    body = experiment["spec"]
    template = body["trialTemplate"]
    pod = template["trialSpec"]["spec"]["template"]["spec"]
    primary = template.get("primaryContainerName")
    container = next((c for c in pod["containers"] if c.get("name") == primary), pod["containers"][0])
    references = {p["name"]: p["reference"] for p in template.get("trialParameters", [])}
    parameters = {p["name"]: p for p in body.get("parameters", [])}
    grid = body.get("algorithm", {}).get("algorithmName") == "grid"
    args = list(container.get("command", [])) + list(container.get("args", []))
    assignments = parse_assignments([args[i + 1] for i, a in enumerate(args[:-1]) if a == "--set"])
    types = field_types()
    fixed: dict[str, Any] = {}
    space: dict[str, Any] = {}
    for key, text in assignments.items():
        match = re.fullmatch(r"\$\{trialParameters\.(.+?)\}", text)
        if not match:
            fixed[key] = coerce(key, text, types[key]) if key in types else model_arg_value(text)
            continue
        param = parameters[references.get(match.group(1), match.group(1))]
        feasible = param["feasibleSpace"]
        log = feasible.get("distribution") == "logUniform"
        if param["parameterType"] in ("categorical", "discrete"):
            values = [coerce(key, v, types[key]) if key in types else model_arg_value(v) for v in feasible["list"]]
            space[key] = tune.grid_search(values) if grid else tune.choice(values)
        elif param["parameterType"] == "double":
            low, high = float(feasible["min"]), float(feasible["max"])
            step = float(feasible["step"]) if feasible.get("step") else None
            space[key] = (tune.qloguniform(low, high, step) if log else tune.quniform(low, high, step)) if step \
                else tune.loguniform(low, high) if log else tune.uniform(low, high)
        elif param["parameterType"] == "int":
            low, high = int(feasible["min"]), int(feasible["max"])
            step = int(float(feasible["step"])) if feasible.get("step") else 1
            if step > 1:
                space[key] = tune.qlograndint(low, high, step) if log else tune.qrandint(low, high, step)
            else:  # back to Ray's exclusive upper bound
                space[key] = tune.lograndint(low, high + 1) if log else tune.randint(low, high + 1)
        else:
            raise UserError(f"parameter {param['name']!r}: unknown parameterType {param['parameterType']!r}")
    return fixed, space
