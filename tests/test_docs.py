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


EXAMPLE = re.compile(r"^  ((?:tuner|python -m tuner\.)\S*.*?)(?:\s{2,}.*)?$")  # a command, then 2+ spaces, a note
OPTION = re.compile(r"(?<![\w-])(--[a-z][\w-]*)")


def help_of(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", cli.COMMANDS)
def test_help_shows_the_tuner_command_with_examples_that_exist(command, capsys):
    """Every command's --help ends with examples, typed as `tuner COMMAND ...`: each names this command, flags
    its parser has, and files of the repository where it names one (sweeps/...)."""
    printed = help_of(command, capsys)
    assert printed.startswith(f"usage: tuner {command}")
    options, _, epilog = printed.partition("\nexamples:\n")
    examples = [m.group(1).split() for line in epilog.splitlines() if (m := EXAMPLE.match(line))]
    assert examples, f"tuner {command} --help shows no examples"
    flags = set(OPTION.findall(options))
    for words in examples:
        assert words[:2] == ["tuner", command], words
        for word in words[2:]:
            flag = word.split("=")[0]
            assert not flag.startswith("--") or flag in flags, f"{' '.join(words)}: {flag} is not an option"
            assert not word.startswith(("sweeps/", "examples/")) or (ROOT / word).exists(), word
