# The build produced what DESIGN.md section 7 promises.
# SPDX-License-Identifier: ISC
import os
import subprocess

import pytest

from conftest import BUILD


@pytest.mark.needs("readelf")
def test_binaries_are_hardened_pie_with_full_relro():
    found = []
    for sub in ("bin", "libexec"):
        folder = os.path.join(BUILD, sub)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if os.path.islink(path) or not os.access(path, os.X_OK):
                continue
            found.append(name)
            hdr = subprocess.run(["readelf", "-h", "-d", "-l", path],
                                 capture_output=True, text=True, check=True).stdout
            assert "DYN (Position-Independent Executable" in hdr, name
            assert "GNU_RELRO" in hdr, name
            assert "BIND_NOW" in hdr or "FLAGS_1" in hdr and "NOW" in hdr, name
    assert found, "no binaries were built"
