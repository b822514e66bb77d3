# Shared fixtures for Postel's integration tests.
#
# Every test that starts a server stops it; every wait is bounded.  Instance
# folders live in a world-traversable temporary folder so that daemons that
# drop privileges to mail_owner can still reach their queue.
#
# SPDX-License-Identifier: ISC
import os
import shutil
import socket
import subprocess
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("POSTEL_BUILD", os.path.join(REPO, "build"))
BIN = os.path.join(BUILD, "bin")
LIBEXEC = os.path.join(BUILD, "libexec")


def bin_path(name):
    """Path of a built command (build/bin/NAME)."""
    return os.path.join(BIN, name)


def run_cmd(args, check=False, input=None, env=None, timeout=60):
    """Run a built command; args[0] is a command name under build/bin."""
    argv = [bin_path(args[0])] + list(args[1:])
    return subprocess.run(argv, input=input, capture_output=True, text=True,
                          env=env, timeout=timeout, check=check)


def free_port(host="127.0.0.1"):
    """A TCP port that was free a moment ago on host."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@pytest.fixture
def workdir():
    """A fresh folder, mode 0755, removed after the test."""
    path = tempfile.mkdtemp(prefix="postel-test-")
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)
