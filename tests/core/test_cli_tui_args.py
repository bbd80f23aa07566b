"""`virtstack` with global options only starts the TUI without building the sub-command
parser; everything else goes to the full parser."""
import subprocess
import sys

import pytest

from tui.cli import parse_tui_args


@pytest.mark.parametrize("argv, expected", [
    ([], dict(config=None, demo=False, format="table", theme=None)),
    (["--demo", "-f", "json", "--theme", "light"],
     dict(config=None, demo=True, format="json", theme="light")),
    (["--config=/x.toml", "-fjson", "--dem"],
     dict(config="/x.toml", demo=True, format="json", theme=None)),
])
def test_global_options_only(argv, expected):
    args = parse_tui_args(argv)
    assert vars(args) == {**expected, "command": None}


@pytest.mark.parametrize("argv", [
    ["-h"], ["--help"], ["--demo", "--he"], ["server", "list"], ["--demo", "host"],
    ["--"], ["-f", "xml"], ["--config"], ["--bogus"], ["-"], ["--demo=1"],
])
def test_anything_else_is_for_the_full_parser(argv):
    assert parse_tui_args(argv) is None


def test_tui_start_imports_no_command_module():
    code = ("import sys, tui.app\n"
            "tui.app.run_tui = lambda env: 0\n"
            "from tui.cli import main\n"
            "assert main(['--demo']) == 0\n"
            "print(sorted(m for m in sys.modules if m.startswith('tui.cli.commands')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
