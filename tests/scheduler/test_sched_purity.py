import subprocess
import sys
from pathlib import Path


def test_scheduler_imports_no_io_or_ui_libraries():
    code = ("import sys, backend.scheduler, backend.scheduler.simulate;"
            "bad = [m for m in ('textual', 'sqlalchemy', 'libvirt', 'paramiko', 'tui')"
            " if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2]).stdout.strip()
    assert out == "[]"
