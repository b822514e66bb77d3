"""The setgid postdrop carries the least code: each command links only
the helpers it uses (admin/<cmd>.objs, sendmail/<cmd>.objs), so no admin
or sendmail helper ends up in postdrop, and user-run commands share only
util/.

SPDX-License-Identifier: ISC
"""
import re
import shutil
import subprocess

from conftest import bin_path


def defined_functions(path):
    nm = shutil.which("nm")
    assert nm, "nm (binutils) is needed to inspect the built commands"
    r = subprocess.run([nm, "--defined-only", path], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return {f[2] for f in (l.split() for l in r.stdout.splitlines())
            if len(f) == 3 and f[1] in "Tt"}


def test_setgid_postdrop_links_no_admin_or_sendmail_helpers():
    names = defined_functions(bin_path("postdrop"))
    foreign = sorted(n for n in names
                     if re.match(r"(admin_|sendmail_conv|dict_alias|"
                                 r"postel(alias|map|queue|super|cat)_)", n))
    assert foreign == [], foreign
    # What it does need is there: the maildrop writer.
    assert any(n.startswith("maildrop_") for n in names), sorted(names)


def test_each_command_links_only_its_own_helpers():
    assert not any(n.startswith("admin_queue_")
                   for n in defined_functions(bin_path("postelqueue")))
    assert not any(n.startswith("admin_alias_map_")
                   for n in defined_functions(bin_path("sendmail")))
    assert any(n.startswith("admin_queue_")
               for n in defined_functions(bin_path("postel")))
