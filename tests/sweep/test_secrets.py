"""Issue 19: what others can read. Ray's dashboard token is its owner's only; spec.json, run.json and everything
uploaded hold no credential."""

import stat

import ray

from tuner.sweep import ray_session


def test_starting_ray_makes_its_auth_token_the_owners_only_and_says_so_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    try:
        ray_session.start_ray(None, dashboard=False)
    finally:
        ray.shutdown()
    token = tmp_path / ".ray" / "auth_token"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert stat.S_IMODE(token.parent.stat().st_mode) & 0o077 == 0  # tuner made the folder: not listable by others
    assert capsys.readouterr().err.count(f"made {token}") == 1
    ray_session.protect_auth_token()  # already private: nothing to say
    assert f"made {token}" not in capsys.readouterr().err
