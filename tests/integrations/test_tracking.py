"""Experiment tracking against the real tools (no mocks): an MLflow tracking server and MLflow's SQLite store,
TensorBoard's event files as TensorBoard reads them, the Optuna journal as Optuna and optuna-dashboard read it,
and the dashboard's trials page in headless Chromium.

Tiny sweeps on synthetic data (1-4 trials, 1-2 epochs): an Optuna search with a confirm phase logged to a real
`mlflow server` serves the MLflow, TensorBoard, journal and dashboard tests; a random search logged to the default
RUN_DIR/mlflow.db is then grown (--resume --num-samples); one more loses its tracking server mid-sweep. Servers
listen on loopback only, on free ports, and are stopped by the fixture or test that started them.
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
import ray

from tuner.sweep import cli as sweep_cli
from sweep_helpers import TINY, trial_results, write_sweep

BIN = Path(sys.executable).parent
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
PER_EPOCH = ("val_acc", "val_loss", "train_loss", "train_acc")
TRACKED_SWEEP = f"""
    sweep = Sweep(data="synthetic", fixed={TINY}, space={{"lr": tune.loguniform(1e-3, 1e-1)}}, search="optuna",
                  trial_scheduler="none", num_samples=3, max_epochs=2, seeds=[0, 1], confirm_top=1, search_seed=7,
                  start=[{{"lr": 0.02}}])
"""  # lr 0.02 peaks at epoch 1 of 2 here (seed 0): Optuna must be told its best epoch, not its last
# round 1 runs only its start point, an lr too small to learn in 2 epochs; growing it (--resume --num-samples 2)
# draws one that learns (round 2's search seed draws one of the three that do), so the grown sweep chooses another
# trial. The start point is a value of the space: one outside it is refused (issue 19)
DEFAULT_SWEEP = f"""
    sweep = Sweep(data="synthetic", fixed={TINY}, space={{"lr": tune.choice([1e-5, 3e-3, 1e-2, 3e-2])}},
                  search="random", trial_scheduler="none", num_samples=1, max_epochs=2, start=[{{"lr": 1e-5}}],
                  search_seed=3)
"""


# ---------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 10) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return answer.read()


def wait_until_answers(url: str, process: subprocess.Popen, log: Path, seconds: float = 180) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url}: the server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            get(url, timeout=5)
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {seconds:.0f} s:\n{log.read_text()[-3000:]}")


def start_server(command: list[str], log: Path, cwd: Path) -> subprocess.Popen:
    """A server in a session of its own, so that stop() ends it and every worker it forked, and nothing else."""
    return subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=cwd,
                            start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)
    try:  # workers the server forked (gunicorn, uvicorn) share its process group
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Relay:
    """A loopback TCP relay to a server: to a client of the relay, close() is that server going away (connections
    cut, new ones refused) while the server itself goes on."""

    def __init__(self, target_url: str):
        self.target = ("127.0.0.1", int(target_url.rsplit(":", 1)[1]))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
                upstream = socket.create_connection(self.target, timeout=10)
                upstream.settimeout(None)
            except OSError:
                return
            with self.lock:
                if self.closed:
                    client.close()
                    upstream.close()
                    return
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
            for end in (self.listener, *self.sockets):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()


def tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is a dependency of tuner (pyproject.toml) and belongs in the venv"
    return str(path)


def run_sweep(folder: Path, body: str, name: str, *args: str) -> Path:
    path = write_sweep(folder, body, name=f"{name}.py")
    out = folder / "run"
    assert sweep_cli.main([str(path), "--results", str(out), "--no-report", *args]) == 0
    return out


def read_run(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    trials = pd.read_csv(run_dir / "trials.csv", dtype={"trial_id": str})
    history = pd.read_csv(run_dir / "history.csv", dtype={"trial_id": str})
    return trials, history, json.loads((run_dir / "best.json").read_text())


def epochs_of(history: pd.DataFrame, trial_id: str) -> pd.DataFrame:
    return history[history["trial_id"] == trial_id].sort_values("epoch")


def results_of(run_dir: Path) -> dict[str, list[dict]]:
    """What each trial reported to Tune, epoch by epoch, from every phase's and round's folder (ray, ray_confirm,
    ray_2, ...)."""
    return {tid: lines for folder in sorted({p.parent.parent.name for p in run_dir.glob("ray*/trial_*/result.json")})
            for tid, lines in trial_results(run_dir, folder).items()}


def check_mlflow_runs(uri: str, run_dir: Path, experiment: str) -> None:
    """The rules of `--mlflow`, read back through MLflow's own client."""
    from mlflow import MlflowClient

    trials, history, best = read_run(run_dir)
    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no MLflow experiment named after the sweep ({experiment!r})"
    runs = client.search_runs([found.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("tuner.role") == "sweep"]
    assert len(parents) == 1, [r.data.tags for r in runs]
    parent = parents[0]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(runs) == 1 + len(children), "every run other than the sweep's is nested under it"
    assert parent.info.run_name.startswith(experiment)
    by_trial = {r.data.tags.get("tuner.trial_id"): r for r in children}
    assert len(by_trial) == len(children) == len(trials), "one run per trial, none twice"
    assert set(by_trial) == set(trials["trial_id"])

    spec = json.loads((run_dir / "spec.json").read_text())
    assert spec["mlflow"]["uri"] == uri
    assert spec["mlflow"]["parent_run_id"] == parent.info.run_id
    assert spec["mlflow"]["experiment_id"] == found.experiment_id

    reported = {tid: [r["reported_at"] for r in lines if r.get("epoch", 0) >= 1]
                for tid, lines in results_of(run_dir).items()}
    for _, row in trials.iterrows():
        run = by_trial[row["trial_id"]]
        params, tags = run.data.params, run.data.tags
        assert float(params["lr"]) == pytest.approx(row["config/lr"], rel=1e-12), row["trial_id"]
        assert int(params["seed"]) == row["seed"]
        assert params["batch_size"] == "100"
        assert tags["tuner.phase"] == row["phase"]
        assert tags["tuner.status"] == row["status"]
        assert run.info.status == "FINISHED"
        own = epochs_of(history, row["trial_id"])
        assert len(own) == row["epochs"]
        for metric in PER_EPOCH:
            logged = sorted(client.get_metric_history(run.info.run_id, metric), key=lambda m: m.step)
            assert [m.step for m in logged] == own["epoch"].tolist(), (row["trial_id"], metric)
            assert [m.value for m in logged] == pytest.approx(own[metric].tolist(), rel=1e-9), (row["trial_id"], metric)
            # logged live, as each epoch's result came in (the sweep's end only fills in what a driver missed)
            assert len(reported[row["trial_id"]]) == len(logged)
            late = [m.step for m, at in zip(logged, reported[row["trial_id"]]) if abs(m.timestamp / 1000 - at) > 60]
            assert not late, (row["trial_id"], metric, "epochs not logged as they were reported", late)

    chosen = [r for r in children if r.data.tags.get("tuner.chosen") == "true"]
    assert len(chosen) == 1
    assert chosen[0].data.tags["tuner.trial_id"] == best["trial_id"]
    assert chosen[0].data.metrics["test_acc"] == pytest.approx(best["test_acc"])
    assert parent.data.tags["tuner.chosen_trial"] == best["trial_id"]
    assert parent.data.metrics["test_acc"] == pytest.approx(best["test_acc"])
    assert parent.data.params["batch_size"] == "100"
    assert parent.data.tags["tuner.ended_by"] == json.loads((run_dir / "run.json").read_text())["ended_by"]
    assert parent.info.status == "FINISHED"


# ---------------------------------------------------------------- fixtures


class Server:
    def __init__(self, process: subprocess.Popen, url: str, log: Path):
        self.process, self.url, self.log = process, url, log

    def wait(self) -> str:
        wait_until_answers(f"{self.url}/health", self.process, self.log)
        return self.url


def start_mlflow_server(folder: Path) -> Server:
    """`mlflow server` on a SQLite file (folder/m.db), on loopback and a free port."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = start_server([tool("mlflow"), "server", "--backend-store-uri", f"sqlite:///{folder / 'm.db'}",
                            "--artifacts-destination", str(folder / "artifacts"), "--host", "127.0.0.1",
                            "--port", str(port), "--workers", "1"], folder / "server.log", folder)
    return Server(process, f"http://127.0.0.1:{port}", folder / "server.log")


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A real tracking server for the module's sweeps; it starts while Ray does (tests call .wait())."""
    server = start_mlflow_server(tmp_path_factory.mktemp("mlflow-server"))
    try:
        yield server
    finally:
        stop(server.process)


@pytest.fixture(scope="module")
def tracked_run(mlflow_server, local_ray, tmp_path_factory):
    """Optuna search (3 trials) + confirm phase (1 trial), 2 epochs each, logged to the MLflow server."""
    uri = mlflow_server.wait()
    run_dir = run_sweep(tmp_path_factory.mktemp("tracked"), TRACKED_SWEEP, "tracked", "--mlflow", uri)
    return run_dir, uri


# ---------------------------------------------------------------- tests


def test_an_unreachable_tracking_server_is_one_error_line_before_anything_starts(tmp_path, capsys, monkeypatch):
    from tuner.sweep import engine

    monkeypatch.chdir(tmp_path)
    ray_was_up = ray.is_initialized()  # the tests' shared Ray may be up (tests/conftest.py): Ray must not be asked
    asked = []
    real_start_ray = engine.start_ray
    monkeypatch.setattr(engine, "start_ray", lambda *args, **kwargs: asked.append(args) or real_start_ray(*args,
                                                                                                        **kwargs))
    path = write_sweep(tmp_path, DEFAULT_SWEEP, name="unreachable.py")
    uri = f"http://127.0.0.1:{free_port()}"  # a port nobody listens on
    started = time.time()
    with pytest.raises(SystemExit) as exit_info:
        sys.exit(sweep_cli.run_cli(sweep_cli.main, [str(path), "--results", str(tmp_path / "run"), "--mlflow", uri]))
    took = time.time() - started
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert exit_info.value.code == 2
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert uri in err[0]
    assert took < 60, "MLflow's own client retries for minutes; tuner must ask once and stop"
    assert asked == [], "Ray was started (or joined) for a sweep that stops before anything starts"
    if not ray_was_up:
        assert not ray.is_initialized()
    assert not (tmp_path / "run").exists() and not (tmp_path / "runs").exists()


def test_mlflow_server_gets_one_parent_run_and_one_nested_run_per_trial(tracked_run):
    run_dir, uri = tracked_run
    trials = pd.read_csv(run_dir / "trials.csv")
    assert sorted(trials["phase"]) == ["confirm", "search", "search", "search"]
    check_mlflow_runs(uri, run_dir, "tracked")


def test_mlflow_without_uri_writes_a_sqlite_store_in_the_run_folder_and_a_grown_sweep_keeps_it(local_ray, tmp_path,
                                                                                             monkeypatch):
    from mlflow import MlflowClient

    from tuner.integrations import mlflow_tracking as tracking

    run_dir = run_sweep(tmp_path, DEFAULT_SWEEP, "defaulted", "--mlflow")
    assert (run_dir / "mlflow.db").is_file()
    uri = f"sqlite:///{run_dir.resolve()}/mlflow.db"
    check_mlflow_runs(uri, run_dir, "defaulted")
    first = json.loads((run_dir / "best.json").read_text())["trial_id"]
    parent = json.loads((run_dir / "spec.json").read_text())["mlflow"]["parent_run_id"]
    status_while_running = []

    def finish_seen_from_mlflow(*args, **kwargs):
        status_while_running.append(MlflowClient(tracking_uri=uri).get_run(parent).info.status)
        real_finish(*args, **kwargs)

    real_finish = tracking.finish
    monkeypatch.setattr(tracking, "finish", finish_seen_from_mlflow)
    assert sweep_cli.main(["--resume", str(run_dir), "--num-samples", "2", "--no-report"]) == 0
    assert status_while_running == ["RUNNING"]  # the grown sweep's parent run is running again until its end
    assert MlflowClient(tracking_uri=uri).get_run(parent).info.status == "FINISHED"
    trials = pd.read_csv(run_dir / "trials.csv")
    assert len(trials) == 2
    assert json.loads((run_dir / "best.json").read_text())["trial_id"] != first, "the grown trial learns, lr 1e-5 not"
    check_mlflow_runs(uri, run_dir, "defaulted")  # same parent, one run per trial, the new choice the only one


def test_a_deleted_mlflow_experiment_is_one_error_line(mlflow_server, tmp_path, capsys):
    from mlflow import MlflowClient

    uri = mlflow_server.wait()
    client = MlflowClient(tracking_uri=uri)
    client.delete_experiment(client.create_experiment("gone"))
    path = write_sweep(tmp_path, DEFAULT_SWEEP, name="gone.py")
    with pytest.raises(SystemExit) as exit_info:
        sys.exit(sweep_cli.run_cli(sweep_cli.main, [str(path), "--results", str(tmp_path / "run"), "--mlflow", uri]))
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2
    assert len(err) == 1 and err[0].startswith("error: ") and "'gone'" in err[0] and "deleted" in err[0], err
    assert not (tmp_path / "run" / "ray").exists(), "no trial ran"


def test_a_tracking_server_that_goes_away_mid_sweep_costs_warnings_not_the_sweep(mlflow_server, local_ray,
                                                                                 tmp_path, capsys, monkeypatch):
    from mlflow import MlflowClient

    from tuner.integrations import mlflow_tracking as tracking

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # MLflow's client fails at once, not after minutes
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    relay = Relay(mlflow_server.wait())
    uri = relay.url
    real_start_parent = tracking.start_parent

    def then_the_server_goes_away(*args, **kwargs):  # the real parent run, then the server is gone for this sweep
        parent = real_start_parent(*args, **kwargs)
        relay.close()
        return parent

    monkeypatch.setattr(tracking, "start_parent", then_the_server_goes_away)
    try:
        run_dir = run_sweep(tmp_path, DEFAULT_SWEEP, "unlucky", "--mlflow", uri, "--max-epochs", "1")
    finally:
        relay.close()
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: MLflow")]
    assert len(warnings) == 2, warnings  # the search phase's live logging stops once; the sweep's end is not logged
    assert all(uri in line for line in warnings)
    trials, history, best = read_run(run_dir)
    assert len(trials) == 1 and len(history) == 1 and best["trial_id"] == trials["trial_id"][0]
    client = MlflowClient(tracking_uri=mlflow_server.url)  # what the server got before it went away
    runs = client.search_runs([client.get_experiment_by_name("unlucky").experiment_id])
    assert [r.data.tags.get("tuner.role") for r in runs] == ["sweep"]


def test_tensorboard_reads_every_trials_val_acc_per_epoch(tracked_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir, _ = tracked_run
    trials, history, _ = read_run(run_dir)
    for _, row in trials.iterrows():
        folders = list(run_dir.glob(f"ray*/trial_{row['trial_id']}"))
        assert len(folders) == 1, row["trial_id"]
        assert list(folders[0].glob("events.out.tfevents*")), f"no event file in {folders[0]}"
        events = EventAccumulator(str(folders[0]), size_guidance={"scalars": 0})
        events.Reload()
        assert "ray/tune/val_acc" in events.Tags()["scalars"], events.Tags()["scalars"]
        scalars = sorted(events.Scalars("ray/tune/val_acc"), key=lambda e: e.step)
        own = epochs_of(history, row["trial_id"])
        assert [e.step for e in scalars] == own["epoch"].tolist(), row["trial_id"]
        assert [e.value for e in scalars] == pytest.approx(own["val_acc"].tolist(), rel=1e-6), row["trial_id"]


def test_the_optuna_journal_holds_every_search_trial_told_its_best_epoch(tracked_run):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    from optuna.trial import TrialState

    run_dir, _ = tracked_run
    trials, history, _ = read_run(run_dir)
    search = trials[trials["phase"] == "search"]
    study = optuna.load_study(study_name="tracked",
                              storage=JournalStorage(JournalFileBackend(str(run_dir / "optuna.journal"))))
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert len(study.trials) == len(search)
    by_lr = {row["config/lr"]: row["trial_id"] for _, row in search.iterrows()}
    peaked = [tid for tid in search["trial_id"] if epochs_of(history, tid)["val_acc"].idxmax() !=
              epochs_of(history, tid).index[-1]]
    assert peaked, "the start point lr=0.02 no longer peaks before its last epoch: the test cannot tell best from last"
    for ot in study.trials:
        trial_id = next(tid for lr, tid in by_lr.items() if ot.params["lr"] == pytest.approx(lr, rel=1e-12))
        own = epochs_of(history, trial_id)
        assert ot.state == TrialState.COMPLETE, (trial_id, ot.state)
        assert ot.value == pytest.approx(own["val_acc"].max(), rel=1e-9)
        assert sorted(ot.intermediate_values) == own["epoch"].tolist()
        assert [ot.intermediate_values[e] for e in own["epoch"]] == pytest.approx(own["val_acc"].tolist(), rel=1e-9)


def test_optuna_dashboard_serves_the_study_and_its_trials_page_renders(tracked_run, tmp_path):
    from PIL import Image

    run_dir, _ = tracked_run
    trials, history, _ = read_run(run_dir)
    search = trials[trials["phase"] == "search"]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "dashboard.log"
    process = start_server([tool("optuna-dashboard"), str(run_dir / "optuna.journal"), "--host", "127.0.0.1",
                            "--port", str(port)], log, tmp_path)
    try:
        wait_until_answers(f"{base}/api/studies", process, log)
        studies = json.loads(get(f"{base}/api/studies"))["study_summaries"]
        assert [(s["study_id"], s["study_name"]) for s in studies] == [(0, "tracked")]
        detail = json.loads(get(f"{base}/api/studies/0"))
        assert sorted(t["number"] for t in detail["trials"]) == list(range(len(search)))
        best_values = sorted(epochs_of(history, tid)["val_acc"].max() for tid in search["trial_id"])
        assert sorted(t["values"][0] for t in detail["trials"]) == pytest.approx(best_values, rel=1e-9)
        assert all(t["state"] == "Complete" for t in detail["trials"])

        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if not chromium:
            pytest.skip("no chromium binary: the trials page is not rendered here (.ci/run installs it)")
        page = f"{base}/dashboard/studies/0/trials"
        dom = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                              "--virtual-time-budget=10000", "--dump-dom", page],
                             capture_output=True, text=True, timeout=180).stdout
        assert f"{len(search)} Trials" in dom, "the trials page does not count the study's trials"
        for number in range(len(search)):
            assert f"Trial {number}" in dom, f"Trial {number} is not on the rendered trials page"
        shot = tmp_path / "trials.png"
        subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile2'}",
                        "--window-size=1280,900", "--virtual-time-budget=10000", f"--screenshot={shot}", page],
                       capture_output=True, timeout=180)
        assert shot.exists() and shot.stat().st_size > 20_000
        with Image.open(shot) as image:
            colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
        assert colours is not None and len(colours) > 50, "the screenshot is (nearly) one colour: nothing rendered"
    finally:
        stop(process)
