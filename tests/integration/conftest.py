"""Integration tests: a real libvirtd + QEMU/TCG + sshd on loopback (tests/realhost.py).

Every test in this directory is marked `integration`.  The session-scoped
`real_host` fixture starts one RealHost for the whole run and stops it at the
end (a finalizer, plus atexit inside RealHost if the run dies on the way).
It skips only when this machine cannot run one at all (not root, binaries
missing); any other failure to start is an error, never a skip.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
if str(REPO) not in sys.path:  # so that `from tests.realhost import …` works
    sys.path.insert(0, str(REPO))

from tests.realhost import RealHost, missing_requirements  # noqa: E402


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def real_host(tmp_path_factory, request):
    problems = missing_requirements()
    if problems:
        pytest.skip("a real libvirt host cannot run here: " + ", ".join(problems))
    host = RealHost(tmp_path_factory.mktemp("realhost"))
    request.addfinalizer(host.stop)
    host.start()
    return host
