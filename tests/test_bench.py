"""The benchmark runs end to end (on synthetic data here; speed targets are checked by running it, not in tests)."""

import dataclasses
import json

import pytest

from tuner import bench


def test_bench_measures_both_loops_and_reports_ratios(tmp_path, monkeypatch, capsys):
    small = {name: dataclasses.replace(case, data="synthetic" if name == "mnist_mlp" else "synthetic:3x32x32")
             for name, case in bench.cases().items()}
    monkeypatch.setattr(bench, "cases", lambda: small)
    assert bench.main(["--json", str(tmp_path / "bench.json")]) == 0
    results = json.loads((tmp_path / "bench.json").read_text())
    assert set(results) == {"mnist_mlp", "cifar_cnn"}
    for r in results.values():
        assert {"baseline_ms_per_step", "tuner_ms_per_step", "speedup", "data_ms_per_step"} <= set(r)
        assert r["speedup"] == pytest.approx(r["baseline_ms_per_step"] / r["tuner_ms_per_step"], rel=0.01)
        assert 0 < r["data_ms_per_step"] < r["tuner_ms_per_step"]
        assert 0 <= r["baseline_test_acc"] <= 1 and 0 <= r["tuner_test_acc"] <= 1
        times = r["paths_ms_per_step"]  # the chosen path (tuner's own epoch) beside every other candidate
        assert r["choice"]["source"] == "measured" and set(r["choice"]["ms_per_step"]) == set(times)
        assert times[r["choice"]["path"]] == pytest.approx(r["tuner_ms_per_step"], abs=0.01)
        assert r["chosen_over_fastest"] == pytest.approx(times[r["choice"]["path"]] / min(times.values()), abs=0.01)
    assert len(results["cifar_cnn"]["paths_ms_per_step"]) >= 2 * len(results["mnist_mlp"]["paths_ms_per_step"])
    printed = capsys.readouterr().out
    assert "speedup" in printed and "num_workers=2" in printed and "chosen/fastest" in printed


def test_sweep_overhead_runs_a_real_sweep_and_accounts_for_its_time(tmp_path, capsys):
    assert bench.main(["--sweep-overhead", "4", "--json", str(tmp_path / "overhead.json")]) == 0
    result = json.loads((tmp_path / "overhead.json").read_text())["sweep_overhead"]
    assert result["trials"] == 4 and result["slots"] >= 1
    assert result["trials_per_min"] == pytest.approx(4 / result["wall_s"] * 60, rel=0.01)
    assert result["first_trials_done_s"] > 0 and result["steady_trials_per_min"] > 0
    assert result["overhead_s_per_trial"] == pytest.approx(
        60 / result["steady_trials_per_min"] * result["slots"] - result["train_s_per_trial"], abs=0.01)
    assert "trials/min" in capsys.readouterr().out
