"""Run folders never collide: the default runs/<name>-<time> folder is created exclusively."""

from tuner.sweep.rundir import new_run_dir


def test_two_sweeps_started_in_the_same_second_get_two_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folders = [new_run_dir("same", None) for _ in range(3)]
    assert len(set(folders)) == 3 and all(f.is_dir() for f in folders)
    assert folders[1].name == f"{folders[0].name}-2"
