"""A run folder at a URI (file:// stands in for s3://): copied there and fetched back whole, the report's subfolder
included (`--resume URI` of a run with a report failed: the fetch could not write report_files/), Ray's experiment
left where Tune reads it, and a copy a kill left halfway never fetched."""

from tuner.sweep import storage


def _run_at_uri(tmp_path):
    run = tmp_path / "runs" / "a"
    (run / "report_files").mkdir(parents=True)
    (run / "spec.json").write_text("{}")
    (run / "report_files" / "importance.png").write_bytes(b"png")
    uri = f"file://{tmp_path}/bucket/a"
    storage.upload(run, uri)
    (tmp_path / "bucket" / "a" / "ray" / "trial_1").mkdir(parents=True)
    (tmp_path / "bucket" / "a" / "ray" / "trial_1" / "result.json").write_text("")
    return uri


def _fetched(local):
    return sorted(p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file())


def test_a_run_folder_with_a_subfolder_goes_to_a_uri_and_comes_back_whole(tmp_path, monkeypatch):
    uri = _run_at_uri(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    local = storage.download_run(uri)
    assert _fetched(local) == ["report_files/importance.png", "spec.json"]
    assert (local / "report_files" / "importance.png").read_bytes() == b"png"


def test_a_copy_to_the_uri_left_halfway_by_a_kill_is_not_fetched(tmp_path, monkeypatch):
    uri = _run_at_uri(tmp_path)
    assert not list((tmp_path / "bucket").rglob(f"*{storage.PARTIAL}*"))  # each copy was renamed once whole
    (tmp_path / "bucket" / "a" / f"run.json{storage.PARTIAL}1234").write_text("{")
    monkeypatch.chdir(tmp_path)
    assert _fetched(storage.download_run(uri)) == ["report_files/importance.png", "spec.json"]
