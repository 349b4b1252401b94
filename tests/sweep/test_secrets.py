"""Issue 19: what others can read. Ray's dashboard token is its owner's only; spec.json, run.json and everything
uploaded hold no credential."""

import os
import stat
import subprocess
import sys



def test_starting_ray_makes_its_auth_token_the_owners_only_and_says_so_once(tmp_path):
    """In a process of its own: Ray keeps the token it read in the process, so a second Ray started in the test
    process under another HOME could not authenticate."""
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE", "RAY_ADDRESS")}
    env["HOME"] = str(tmp_path)
    script = ("import ray; from tuner.sweep import ray_session\n"
              "try:\n    ray_session.start_ray(None, dashboard=False)\nfinally:\n    ray.shutdown()\n"
              "ray_session.protect_auth_token()\n")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    token = tmp_path / ".ray" / "auth_token"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert stat.S_IMODE(token.parent.stat().st_mode) & 0o077 == 0  # tuner made the folder: not listable by others
    assert done.stderr.count(f"made {token}") == 1  # the second call found it private: nothing to say


def test_redact_hides_userinfo_and_secret_query_values_and_keeps_the_rest():
    from tuner.runfolder import redact

    line = ("python -m tuner.sweep s.py --mlflow https://alice:tok3n@mlflow.example.com/x --results "
            "s3://bucket/runs/a?X-Amz-Signature=abc123&X-Amz-Credential=AKIA/2026&region=eu "
            "--data imagefolder:/data/pets@32 --address ray://10.0.0.1:10001 "
            "--set note=https://h/p?token=t1&key=k1&sig=s1&password=p1&page=2")
    hidden = redact(line)
    for secret in ("alice", "tok3n", "abc123", "AKIA", "t1", "k1", "s1", "p1"):
        assert secret not in hidden, secret
    assert "https://***@mlflow.example.com/x" in hidden and "X-Amz-Signature=***" in hidden
    for kept in ("region=eu", "page=2", "imagefolder:/data/pets@32", "ray://10.0.0.1:10001", "s3://bucket/runs/a"):
        assert kept in hidden, kept


def test_json_files_of_the_run_folder_hold_no_credential(tmp_path):
    import json

    from tuner.runfolder import write_json

    write_json(tmp_path / "spec.json", {"environment": {"command": "x --mlflow http://u:pw@h:5000"},
                                        "cli": {"set": {"data": "imagefolder:/d"}}, "list": ["s3://b/k?token=zz"]})
    text = (tmp_path / "spec.json").read_text()
    assert "pw" not in text and "zz" not in text and json.loads(text)["cli"] == {"set": {"data": "imagefolder:/d"}}


def test_an_mlflow_uri_with_credentials_is_used_without_them_and_they_go_to_mlflows_variables(tmp_path,
                                                                                               monkeypatch):
    from tuner.integrations import mlflow_tracking

    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    uri = mlflow_tracking.mlflow_uri("https://alice:s3cret@mlflow.example.com:5000/", tmp_path)
    assert uri == "https://mlflow.example.com:5000/"  # what spec.json, the Tune callback and tuner.pkl keep
    import os
    assert os.environ["MLFLOW_TRACKING_USERNAME"] == "alice" and os.environ["MLFLOW_TRACKING_PASSWORD"] == "s3cret"
