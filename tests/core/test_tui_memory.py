"""tui.memory's start-up handling of the garbage collector, in a process of its own (it
freezes objects, which a test process must not)."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_collector_quiet_while_modules_load_then_settles():
    code = textwrap.dedent("""
        import gc, json
        from tui import memory
        default = gc.get_threshold()
        out = {}
        memory.quiet_start()
        out["quiet"] = gc.isenabled()
        import sqlalchemy  # the kind of work start-up does meanwhile
        memory.imports_done()
        out["after_imports"] = [gc.isenabled(), gc.get_freeze_count() > 10_000,
                                gc.get_threshold()[0] > default[0]]
        garbage = [[] for _ in range(1000)]
        for g in garbage:
            g.append(g)  # cycles: only the collector frees them
        del garbage, g
        frozen = gc.get_freeze_count()
        memory.settle()
        out["settled"] = [gc.isenabled(), gc.get_threshold() == default,
                          gc.get_freeze_count() > frozen, gc.get_count()[0] < 100]
        out["again"] = memory.settle() is None and gc.isenabled()
        print(json.dumps(out))
    """)
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    import json
    out = json.loads(res.stdout)
    assert out == {"quiet": False, "after_imports": [True, True, True],
                   "settled": [True, True, True, True], "again": True}


def test_without_a_quiet_start_nothing_is_frozen():
    """An app made in a test process (no quiet_start) only trims when it settles."""
    code = textwrap.dedent("""
        import gc
        from tui import memory
        memory.imports_done(); memory.settle()
        print(gc.isenabled(), gc.get_freeze_count(), gc.get_threshold() == (700, 10, 10))
    """)
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=60)
    assert res.stdout.split() == ["True", "0", "True"], res.stderr
