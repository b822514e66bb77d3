"""README.md names the man pages whose BUGS section lists what that part
does not do yet; each of them has the section, with text in it.

SPDX-License-Identifier: ISC
"""
import os
import re

from conftest import REPO


def test_readme_bugs_sections_exist():
    with open(os.path.join(REPO, "README.md")) as f:
        readme = " ".join(f.read().split())
    m = re.search(r"BUGS section of its man page: (.*?) have one\.", readme)
    assert m, "README.md no longer names the pages with a BUGS section"
    names = re.split(r",\s*|\s+and\s+", m.group(1))
    assert len(names) >= 6, names
    for name in names:
        pages = [os.path.join(REPO, "man", d, "%s.%s" % (name, d[-1]))
                 for d in ("man1", "man8")]
        page = next((p for p in pages if os.path.exists(p)), None)
        assert page, "no man page for %s" % name
        with open(page) as f:
            text = f.read()
        assert "\n.Sh BUGS\n" in text, "%s has no BUGS section" % page
        bugs = text.split("\n.Sh BUGS\n", 1)[1].split("\n.Sh ", 1)[0]
        assert len(bugs.strip()) > 40, "%s: empty BUGS section" % page
