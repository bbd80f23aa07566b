"""virtstack pool/volume on the demo cloud: JSON output, exit codes, progress bar."""
import io
import json

from tui.cli import main
from tui.cli.commands.storage_cmd import ProgressBar


def run(capsys, *argv):
    code = main(["--demo", "-f", "json", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_pool_and_volume_commands(cli_env, capsys):
    code, out, err = run(capsys, "pool", "create", "imgs", "--type", "dir", "--target",
                         "/srv/imgs", "--host", "node1")
    assert code == 0, err
    assert json.loads(out)["state"] == "running"
    code, out, _ = run(capsys, "pool", "list", "--host", "node1")
    assert {r["name"] for r in json.loads(out)} == {"default", "imgs"}
    code, out, err = run(capsys, "volume", "create", "d1", "--pool", "imgs", "--size", "10G",
                         "--format", "qcow2", "--host", "node1")
    assert code == 0, err
    assert json.loads(out)["capacity"] == 10 * 1024**3
    code, out, _ = run(capsys, "volume", "list", "--pool", "imgs")
    assert [r["name"] for r in json.loads(out)] == ["d1"]
    code, _, err = run(capsys, "volume", "delete", "d1", "--pool", "imgs")
    assert code == 2 and "--yes" in err
    code, _, err = run(capsys, "volume", "delete", "d1", "--pool", "imgs", "--yes")
    assert code == 0, err
    code, _, err = run(capsys, "pool", "delete", "imgs", "--host", "node1", "--yes")
    assert code == 0, err


def test_cli_bad_input_exit_codes(cli_env, capsys):
    code, _, err = run(capsys, "pool", "create", "p", "--target", "rel/dir", "--host", "node1")
    assert code == 2 and "absolute" in err
    code, _, err = run(capsys, "volume", "create", "v", "--pool", "default", "--size", "-1",
                       "--host", "node1")
    assert code == 2 and "greater than zero" in err
    code, _, err = run(capsys, "volume", "create", "v", "--pool", "default", "--size",
                       "10EiB", "--host", "node1")
    assert code == 2 and "1 PiB" in err
    code, _, err = run(capsys, "volume", "create", "it's", "--pool", "default", "--size", "1G",
                       "--host", "node1")
    assert code == 2 and "bad characters" in err
    code, _, err = run(capsys, "volume", "create", "v", "--pool", "ghost", "--size", "1G",
                       "--host", "node1")
    assert code == 3 and "no storage pool" in err
    code, _, err = run(capsys, "volume", "resize", "api-01.qcow2", "--pool", "default",
                       "--size", "50G", "--host", "node1")
    assert code == 6 and "not supported" in err


def test_table_output_humanizes_sizes(cli_env, capsys):
    code = main(["--demo", "pool", "list", "--host", "node2"])
    out, _ = capsys.readouterr()
    assert code == 0 and "GiB" in out and "default" in out


def test_progress_bar_draws_and_finishes():
    buf = io.StringIO()
    bar = ProgressBar("upload x", stream=buf, width=10)
    bar(0, 100)
    bar(100, 100)
    text = buf.getvalue()
    assert "100.0%" in text and text.endswith("\n") and "##########" in text
