"""The CLI face on the demo cloud: the same backend calls, JSON output, exit codes."""
import json
import subprocess
import sys

from tui.cli import main


def run(capsys, *argv):
    code = main(["--demo", "-f", "json", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_server_list_json_spans_hosts(cli_env, capsys):
    code, out, _ = run(capsys, "server", "list")
    assert code == 0
    rows = json.loads(out)
    assert {r["host"] for r in rows} == {"node1", "node2", "node3"}
    assert {"name", "host", "state", "vcpus", "memory_mb", "uuid"} <= set(rows[0])
    code, out, _ = run(capsys, "server", "list", "--host", "node3")
    assert {r["host"] for r in json.loads(out)} == {"node3"}


def test_stop_then_list_shows_it_stopped_across_processes(cli_env, capsys):
    code, out, _ = run(capsys, "server", "list")
    running = next(r for r in json.loads(out) if r["state"] == "running")
    code, out, err = run(capsys, "server", "destroy", running["name"], "--yes")
    assert code == 0, err
    # a separate process opens fresh connections to the demo files
    env = {"XDG_DATA_HOME": str(cli_env / "data"), "XDG_STATE_HOME": str(cli_env / "state"),
           "XDG_CONFIG_HOME": str(cli_env / "cfg"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "tui.cli", "--demo", "-f", "json", "server",
                           "show", running["name"]], capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["state"] == "shutoff"


def test_destructive_needs_yes_and_changes_nothing(cli_env, capsys):
    code, out, _ = run(capsys, "server", "list")
    running = next(r for r in json.loads(out) if r["state"] == "running")
    code, _, err = run(capsys, "server", "destroy", running["name"])
    assert code == 2 and "--yes" in err
    code, _, err = run(capsys, "server", "delete", running["name"])
    assert code == 2
    code, out, _ = run(capsys, "server", "show", running["name"])
    assert json.loads(out)["state"] == "running"


def test_errors_are_specific(cli_env, capsys):
    code, _, err = run(capsys, "server", "start", "no-such-vm")
    assert code == 3 and "no-such-vm" in json.loads(err[err.index("{"):])["message"]
    code, _, err = run(capsys, "server", "list", "--host", "ghost")
    assert code == 3 and "ghost" in err


def test_host_list_and_show(cli_env, capsys):
    code, out, _ = run(capsys, "host", "list")
    hosts = json.loads(out)
    assert [h["name"] for h in hosts] == ["node1", "node2", "node3"]
    assert all(h["state"] == "connected" for h in hosts)
    code, out, _ = run(capsys, "host", "show", "node2")
    assert json.loads(out)["vcpus"] == 16


def test_table_output(cli_env, capsys):
    assert main(["--demo", "server", "list"]) == 0
    out = capsys.readouterr().out
    assert "| name" in out and "node1" in out


def test_demo_creates_a_server_out_of_the_box(cli_env, capsys):
    """The demo seeds a small image, so a server can be created at once."""
    code, out, _ = run(capsys, "image", "list")
    assert code == 0 and [i["name"] for i in json.loads(out)] == ["demo-tiny"]
    code, out, err = run(capsys, "server", "create", "fresh-1", "--flavor", "m1.tiny",
                         "--image", "demo-tiny")
    assert code == 0, err
    code, out, _ = run(capsys, "server", "show", "fresh-1")
    assert json.loads(out)["state"] == "running"
