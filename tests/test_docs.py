"""The README and docs as a newcomer reads them: every relative link resolves, the commands it lists are the
`tuner` command's, and `--help` shows the command as typed, with examples."""

import re
from pathlib import Path

import pytest

from tuner import cli

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)\s]*)?\)")


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("document", documents(), ids=lambda p: p.name)
def test_every_relative_link_resolves(document):
    for target, _ in LINK.findall(document.read_text()):
        if "://" in target or target.startswith("mailto:"):
            continue
        assert (document.parent / target).exists(), f"{document.name} links to {target}, which does not exist"


def test_pyproject_names_only_files_that_exist():
    for target in re.findall(r"\b(docs/[\w./-]+\.md)\b", (ROOT / "pyproject.toml").read_text()):
        assert (ROOT / target).exists(), target


def test_the_readme_lists_every_tuner_command():
    readme = (ROOT / "README.md").read_text()
    listed = re.search(r"`tuner --help` lists ([^)]*)\)", readme).group(1)
    assert re.findall(r"`(\w+)`", listed) == list(cli.COMMANDS)


@pytest.mark.parametrize("command", ["sweep", "analysis", "train", "models"])
def test_help_shows_the_tuner_command_with_examples(command, capsys):
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    printed = capsys.readouterr().out
    assert printed.startswith(f"usage: tuner {command}") and "examples:" in printed
