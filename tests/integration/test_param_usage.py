# Every parameter that `postelconf -d` lists is read by some program, and
# every name a program reads is declared in util/param_table.c.
#
# The C sources (util/param_table.c, tests/ and fuzz/ left out) are scanned
# after their comments are removed.  A table name counts as read when it
# appears as a whole string literal (in a cfg_get_* call or in a table of
# names that is handed to one), when it is a per-transport name
# <transport>_<suffix> and "<suffix>" is read through
# cfg_get_transport_int(), or when the default of a name that is read
# refers to it as $name.  The other way round, every literal name given
# to cfg_get_*() (or to a wrapper called as f(cfg, "name")) is in the
# table, with the getter's type.  The scan is general on purpose: new
# parameters need no change here.
#
# SPDX-License-Identifier: ISC
import os
import re

from conftest import REPO, run_cmd

SKIP_DIRS = {"tests", "fuzz", "build", ".git", "bench"}
TABLE = os.path.join(REPO, "util", "param_table.c")

# Comments, string literals and character literals, in source order.
TOKEN = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'',
                   re.S)
GETTER = re.compile(r'\bcfg_get_(str|int|bool|time|size|text)\s*\(\s*[^,()]+,\s*'
                    r'"([A-Za-z0-9_]+)"\s*\)')
CFG_C = os.path.join(REPO, "util", "cfg.c")
# Any function called as f(...cfg, "name"): its own getter wrapper
# (smtp_conf_time(cfg, "smtp_connect_timeout")), checked like the getters,
# except these, whose literal is not a parameter name.
WRAPPER = re.compile(r'\b(\w+)\s*\(\s*[\w>.\-]*cfg\s*,\s*"([A-Za-z0-9_]+)"')
NOT_A_PARAMETER = {
    "maillog_init",            # the program's name for the log
    "smtpd_check_addr_pdms",   # a parent_domain_matches_subdomains word
}
GETTER_TYPE = {"str": None, "text": None, "int": "PARAM_INT",
               "bool": "PARAM_BOOL", "time": "PARAM_TIME",
               "size": "PARAM_SIZE"}


def c_sources():
    for top, dirs, files in os.walk(REPO):
        rel = os.path.relpath(top, REPO)
        first = rel.split(os.sep)[0]
        # build-*/ (other build flavours, make deb's copy of the tree).
        if first in SKIP_DIRS or first.startswith("build-"):
            dirs[:] = []
            continue
        for name in files:
            path = os.path.join(top, name)
            if name.endswith((".c", ".h")) and path != TABLE:
                yield path


def without_comments(text):
    return TOKEN.sub(lambda m: " " if m.group(0)[0] == "/" else m.group(0),
                     text)


def table():
    """{name: (type, default)} from util/param_table.c."""
    with open(TABLE) as f:
        text = f.read()
    entries = {}
    for m in re.finditer(r'\{\s*"([A-Za-z0-9_]+)",\s*(PARAM_[A-Z]+),\s*'
                         r'((?:"(?:\\.|[^"\\])*"|[A-Z_]+|\s)+),', text):
        default = "".join(re.findall(r'"((?:\\.|[^"\\])*)"', m.group(3)))
        entries[m.group(1)] = (m.group(2), default)
    return entries


def families():
    """The per-transport suffixes that util/cfg.c's cfg_families[] lists."""
    with open(CFG_C) as f:
        text = f.read()
    m = re.search(r'cfg_families\[\] = \{(.*?)\n\};', text, re.S)
    assert m, "cfg_families[] not found in util/cfg.c"
    return set(re.findall(r'\{\s*"([A-Za-z0-9_]+)",', m.group(1)))


def scan():
    """Literals, getter calls, and the family suffixes read by a program."""
    literals = set()
    outside_cfg = set()
    getters = []
    for path in c_sources():
        with open(path, errors="replace") as f:
            code = without_comments(f.read())
        found = set(re.findall(r'"([A-Za-z0-9_]+)"', code))
        literals |= found
        if path != CFG_C:
            outside_cfg |= found
        rel = os.path.relpath(path, REPO)
        getters += [(rel, kind, name) for kind, name in GETTER.findall(code)]
        getters += [(rel, "wrapper " + fn, name)
                    for fn, name in WRAPPER.findall(code)
                    if not fn.startswith("cfg_") and fn not in NOT_A_PARAMETER]
    # A family is read when a program names its suffix (the literal in
    # util/cfg.c's own list does not count).
    return literals, getters, families() & outside_cfg


def test_the_scan_reads_the_table_and_finds_reads():
    entries = table()
    # postelconf -d lists exactly what the regex found in the table.
    r = run_cmd(["postelconf", "-d"])
    assert r.returncode == 0, r.stderr
    listed = {l.split(" =")[0] for l in r.stdout.splitlines()}
    assert listed == set(entries)
    literals, getters, suffixes = scan()
    assert ("smtpd/smtpd.c", "str", "smtpd_tls_cert_file") in getters
    assert "destination_concurrency_limit" in suffixes


def test_every_parameter_postelconf_lists_is_read_by_a_program():
    entries = table()
    literals, _, suffixes = scan()
    read = {n for n in entries if n in literals}
    for n in entries:
        for s in suffixes:
            if n.endswith("_" + s) and len(n) > len(s) + 1:
                read.add(n)
    # A read name's default reads what it refers to ($name, ${name...}).
    todo = list(read)
    while todo:
        default = entries[todo.pop()][1]
        for ref in re.findall(r'\$[{(]?([A-Za-z0-9_]+)', default):
            if ref in entries and ref not in read:
                read.add(ref)
                todo.append(ref)
    unread = sorted(set(entries) - read)
    assert unread == [], "parameters no program reads: " + ", ".join(unread)


def test_every_name_a_program_reads_is_declared_with_that_type():
    entries = table()
    _, getters, _ = scan()
    bad = []
    for path, kind, name in getters:
        if name not in entries:
            bad.append("%s: %s(\"%s\"): not in util/param_table.c"
                       % (path, kind if " " in kind else "cfg_get_" + kind,
                          name))
        elif GETTER_TYPE.get(kind) and entries[name][0] != GETTER_TYPE[kind]:
            bad.append("%s: cfg_get_%s(\"%s\"): declared %s"
                       % (path, kind, name, entries[name][0]))
    assert bad == [], "\n".join(bad)
