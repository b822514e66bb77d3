# Integration tests for postelmap, postelalias and newaliases: tables they
# build are read back with Berkeley DB's own db5.3_dump, and every mode
# (-q, -q -, -d, -s, -i, -r, -f) behaves as postmap/postalias do.
#
# SPDX-License-Identifier: ISC
import os
import pwd
import stat
import subprocess

import pytest

from conftest import bin_path, run_cmd

DB_DUMP = "db5.3_dump"


def db_pairs(path):
    """Key/value pairs of a Berkeley DB file, read by db_dump -p."""
    out = subprocess.run([DB_DUMP, "-p", path], capture_output=True,
                         text=True, check=True, timeout=30).stdout
    lines = out.split("HEADER=END\n", 1)[1].split("DATA=END")[0].splitlines()
    items = [line[1:] for line in lines]
    return dict(zip(items[0::2], items[1::2]))


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def cmd(workdir, name, *args, input=None):
    """Run a table command with an empty config folder."""
    conf = os.path.join(workdir, "conf")
    os.makedirs(conf, exist_ok=True)
    return run_cmd([name, "-c", conf] + list(args), input=input)


@pytest.fixture
def mapfile(workdir):
    path = os.path.join(workdir, "virtual")
    write(path, "# virtual aliases\n"
                "Info@Example.COM   joe,\n"
                "    ann\n"
                "\n"
                "sales@example.com  sam\n"
                "info@example.com   second wins not\n"
                "lonely\n")
    os.chmod(path, 0o640)
    return path


@pytest.mark.needs("db_dump")
def test_postelmap_builds_hash_that_db_dump_reads(workdir, mapfile):
    r = cmd(workdir, "postelmap", "hash:" + mapfile)
    assert r.returncode == 0, r.stderr
    assert ":6: duplicate entry" in r.stderr
    assert ":7: expected format" in r.stderr
    pairs = db_pairs(mapfile + ".db")
    assert pairs == {"info@example.com": "joe,    ann",
                     "sales@example.com": "sam"}
    # A new table gets the source's group/other read permissions.
    assert stat.S_IMODE(os.stat(mapfile + ".db").st_mode) == 0o640
    assert not [f for f in os.listdir(workdir) if ".tmp." in f]


@pytest.mark.needs("db_dump")
def test_postelmap_default_type_and_btree(workdir, mapfile):
    assert cmd(workdir, "postelmap", mapfile).returncode == 0
    assert "sales@example.com" in db_pairs(mapfile + ".db")
    r = cmd(workdir, "postelmap", "btree:" + mapfile)
    assert r.returncode == 0, r.stderr
    out = subprocess.run([DB_DUMP, "-p", mapfile + ".db"],
                         capture_output=True, text=True).stdout
    assert "type=btree" in out
    r = cmd(workdir, "postelmap", "-s", "btree:" + mapfile)
    assert r.stdout == ("info@example.com\tjoe,    ann\n"
                        "sales@example.com\tsam\n")


def test_postelmap_query_exit_status(workdir, mapfile):
    assert cmd(workdir, "postelmap", mapfile).returncode == 0
    r = cmd(workdir, "postelmap", "-q", "SALES@example.com", mapfile)
    assert (r.returncode, r.stdout) == (0, "sam\n")
    r = cmd(workdir, "postelmap", "-q", "nobody@example.com", mapfile)
    assert (r.returncode, r.stdout) == (1, "")
    r = cmd(workdir, "postelmap", "-q", "-", "hash:" + mapfile,
            input="sales@example.com\nnobody\nINFO@example.com\n")
    assert r.returncode == 0
    assert r.stdout == ("sales@example.com\tsam\n"
                        "INFO@example.com\tjoe,    ann\n")
    r = cmd(workdir, "postelmap", "-q", "x", os.path.join(workdir, "none"))
    assert r.returncode == 66 and "none" in r.stderr


def test_postelmap_delete_and_incremental(workdir, mapfile):
    assert cmd(workdir, "postelmap", mapfile).returncode == 0
    r = cmd(workdir, "postelmap", "-d", "sales@example.com", mapfile)
    assert r.returncode == 0
    r = cmd(workdir, "postelmap", "-d", "sales@example.com", mapfile)
    assert r.returncode == 1
    assert cmd(workdir, "postelmap", "-q", "sales@example.com",
               mapfile).returncode == 1
    r = cmd(workdir, "postelmap", "-i", mapfile,
            input="new@example.com  nina\ninfo@example.com  changed\n")
    assert r.returncode == 0
    assert "duplicate entry" in r.stderr
    r = cmd(workdir, "postelmap", "-s", mapfile)
    assert sorted(r.stdout.splitlines()) == [
        "info@example.com\tjoe,    ann", "new@example.com\tnina"]
    # -r replaces existing entries silently.
    r = cmd(workdir, "postelmap", "-r", "-i", mapfile,
            input="info@example.com  changed\n")
    assert r.returncode == 0 and r.stderr == ""
    r = cmd(workdir, "postelmap", "-q", "info@example.com", mapfile)
    assert r.stdout == "changed\n"
    # Deleting from a table that does not exist creates nothing.
    missing = os.path.join(workdir, "missing")
    r = cmd(workdir, "postelmap", "-d", "x", missing)
    assert r.returncode == 66
    assert not os.path.exists(missing + ".db")
    # A source with a NUL byte is refused before the table is touched.
    before = os.stat(mapfile + ".db").st_ino
    with open(mapfile, "ab") as f:
        f.write(b"bad\0key value\n")
    r = cmd(workdir, "postelmap", mapfile)
    assert r.returncode == 65 and ":8: NUL byte" in r.stderr
    assert os.stat(mapfile + ".db").st_ino == before
    assert not [f for f in os.listdir(workdir) if ".tmp." in f]


def test_postelmap_fold_off_keeps_case(workdir, mapfile):
    assert cmd(workdir, "postelmap", "-f", mapfile).returncode == 0
    r = cmd(workdir, "postelmap", "-f", "-q", "Info@Example.COM", mapfile)
    assert (r.returncode, r.stdout) == (0, "joe,    ann\n")
    r = cmd(workdir, "postelmap", "-f", "-q", "info@example.com", mapfile)
    assert (r.returncode, r.stdout) == (0, "second wins not\n")


def test_postelmap_queries_every_table_type(workdir):
    cidr = os.path.join(workdir, "clients.cidr")
    write(cidr, "10.1.2.0/24 REJECT\n10.0.0.0/8 OK\n[::1]/128 LOCAL\n")
    r = cmd(workdir, "postelmap", "-q", "10.1.2.3", "cidr:" + cidr)
    assert (r.returncode, r.stdout) == (0, "REJECT\n")
    r = cmd(workdir, "postelmap", "-q", "::1", "cidr:" + cidr)
    assert r.stdout == "LOCAL\n"
    rx = os.path.join(workdir, "canonical.regexp")
    write(rx, "/^(.*)@old\\.example$/ $1@new.example\n")
    r = cmd(workdir, "postelmap", "-q", "Joe@OLD.example", "regexp:" + rx)
    assert (r.returncode, r.stdout) == (0, "Joe@new.example\n")
    r = cmd(workdir, "postelmap", "-q", "a", "inline:{ a=1, { b = two } }")
    assert r.stdout == "1\n"
    r = cmd(workdir, "postelmap", "-q", "x", "static:{ all the same }")
    assert r.stdout == "all the same\n"
    th = os.path.join(workdir, "t")
    write(th, "k v\n")
    assert cmd(workdir, "postelmap", "-q", "K", "texthash:" + th).stdout == "v\n"
    # Syntax errors name file:line; regexp tables cannot be listed.
    write(rx, "/ok/ ok\n/(broken/ x\n")
    r = cmd(workdir, "postelmap", "-q", "x", "regexp:" + rx)
    assert r.returncode == 78 and rx + ":2:" in r.stderr
    r = cmd(workdir, "postelmap", "-s", "cidr:" + cidr)
    assert r.returncode != 0 and "cidr:" + cidr in r.stderr


def test_postelmap_usage_errors(workdir):
    r = cmd(workdir, "postelmap")
    assert r.returncode == 64 and "usage" in r.stderr
    r = cmd(workdir, "postelmap", "-q", "a", "-s", "x")
    assert r.returncode == 64


ALIASES = """\
# system aliases
postmaster: root
Root: admin@example.com,
    "|/usr/bin/vacation root",
    /var/log/mail.archive
staff: :include:/etc/postel/staff, "Doe, John" <jd@example.com>
"odd name": someone
broken line
"""


@pytest.mark.needs("db_dump")
def test_postelalias_builds_aliases(workdir):
    path = os.path.join(workdir, "aliases")
    write(path, ALIASES)
    r = cmd(workdir, "postelalias", "hash:" + path)
    assert r.returncode == 0, r.stderr
    assert "aliases:8:" in r.stderr
    assert db_pairs(path + ".db") == {
        "postmaster": "root",
        "root": 'admin@example.com, "|/usr/bin/vacation root", '
                '/var/log/mail.archive',
        "staff": ':include:/etc/postel/staff, "Doe, John" <jd@example.com>',
        "odd name": "someone",
    }
    r = cmd(workdir, "postelalias", "-q", "ROOT", path)
    assert r.returncode == 0
    assert r.stdout.startswith("admin@example.com, ")
    assert cmd(workdir, "postelalias", "-q", "nobody", path).returncode == 1
    r = cmd(workdir, "postelalias", "-s", path)
    assert '"odd name": someone' in r.stdout.splitlines()
    # -s output is an aliases file that builds the same table.
    write(path + "2", r.stdout)
    assert cmd(workdir, "postelalias", path + "2").returncode == 0
    assert db_pairs(path + "2.db") == db_pairs(path + ".db")
    r = cmd(workdir, "postelalias", "-d", "postmaster", path)
    assert r.returncode == 0
    r = cmd(workdir, "postelalias", "-i", path, input="abuse: root\n")
    assert r.returncode == 0
    r = cmd(workdir, "postelalias", "-q", "-", path,
            input="abuse\npostmaster\n")
    assert r.stdout == "abuse: root\n"


@pytest.mark.needs("db_dump")
def test_newaliases_rebuilds_alias_database(workdir):
    conf = os.path.join(workdir, "conf")
    os.makedirs(conf)
    a1 = os.path.join(workdir, "aliases")
    a2 = os.path.join(workdir, "more")
    write(a1, "postmaster: root\n")
    write(a2, "abuse: postmaster\n")
    write(os.path.join(conf, "main.cf"),
          "alias_database = hash:%s, btree:%s\n" % (a1, a2))
    newaliases = bin_path("newaliases")
    if not os.path.exists(newaliases):
        newaliases = os.path.join(workdir, "newaliases")
        os.symlink(bin_path("postelalias"), newaliases)
    r = subprocess.run([newaliases, "-c", conf], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert db_pairs(a1 + ".db") == {"postmaster": "root"}
    assert db_pairs(a2 + ".db") == {"abuse": "postmaster"}
    # MAIL_CONFIG works as -c does.
    os.unlink(a1 + ".db")
    env = dict(os.environ, MAIL_CONFIG=conf)
    r = subprocess.run([newaliases], capture_output=True, text=True,
                       env=env, timeout=30)
    assert r.returncode == 0, r.stderr
    assert os.path.exists(a1 + ".db")


# -- -b, -h, -m: keys from a message on standard input ------------------------

CHECKS = r"""/^Subject: .*spam/           REJECT subject
/^X-Folded: a\n\tb$/         WARN folded header
/^Content-Type: application\/x-evil/   REJECT evil part
/^body line two$/            DISCARD body
/^--outer$/                  WARN boundary
"""

MESSAGE = ("Subject: buy spam\r\n"
           "X-Folded: a\r\n"
           "\tb\r\n"
           "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
           "\r\n"
           "body line one\r\n"
           "body line two\r\n"
           "--outer\r\n"
           "Content-Type: application/x-evil\r\n"
           "\r\n"
           "body line two\r\n"
           "--outer--\r\n")


@pytest.fixture
def checks(workdir):
    path = os.path.join(workdir, "checks")
    write(path, CHECKS)
    return "pcre:" + path


def test_h_b_m_query_a_message_as_header_and_body_checks_would(workdir, checks):
    expect = {
        # primary header only, folded lines joined with a newline
        "-h": "Subject: buy spam\tREJECT subject\n"
              "X-Folded: a\n\tb\tWARN folded header\n",
        # every line after the header, MIME headers included
        "-b": "body line two\tDISCARD body\n"
              "--outer\tWARN boundary\n"
              "Content-Type: application/x-evil\tREJECT evil part\n"
              "body line two\tDISCARD body\n",
        # MIME: part headers are headers ...
        "-hm": "Subject: buy spam\tREJECT subject\n"
               "X-Folded: a\n\tb\tWARN folded header\n"
               "Content-Type: application/x-evil\tREJECT evil part\n",
        # ... and not body
        "-bm": "body line two\tDISCARD body\n"
               "--outer\tWARN boundary\n"
               "body line two\tDISCARD body\n",
        "-bhm": "Subject: buy spam\tREJECT subject\n"
                "X-Folded: a\n\tb\tWARN folded header\n"
                "body line two\tDISCARD body\n"
                "--outer\tWARN boundary\n"
                "Content-Type: application/x-evil\tREJECT evil part\n"
                "body line two\tDISCARD body\n",
    }
    for flags, out in expect.items():
        r = cmd(workdir, "postelmap", flags, "-q", "-", checks, input=MESSAGE)
        assert r.returncode == 0, (flags, r.stderr)
        assert r.stdout == out, flags
        assert r.stderr == "", flags
    # nothing matches: exit status 1, no output
    r = cmd(workdir, "postelmap", "-h", "-q", "-", checks,
            input="From: a@example.org\n\nbody line two\n")
    assert (r.returncode, r.stdout) == (1, "")
    # the first table that has the key answers
    other = os.path.join(workdir, "first")
    write(other, "/^Subject:/ HOLD first\n")
    r = cmd(workdir, "postelmap", "-h", "-q", "-", "pcre:" + other, checks,
            input=MESSAGE)
    assert r.stdout == ("Subject: buy spam\tHOLD first\n"
                        "X-Folded: a\n\tb\tWARN folded header\n")


def test_h_b_m_need_q_dash_and_each_other(workdir, checks):
    for args, message in [
            (["-b", "-q", "key"], 'work only with "-q -"'),
            (["-h", checks.split(":", 1)[1]], 'work only with "-q -"'),
            (["-m", "-q", "-"], "-m needs -b or -h"),
            (["-F", "-b", "-q", "-"], "-F does not go with -b or -h")]:
        r = cmd(workdir, "postelmap", *args, checks, input=MESSAGE)
        assert r.returncode == 64, (args, r.stderr)
        assert message in r.stderr, (args, r.stderr)


def test_u_and_U_are_refused_with_the_reason(workdir, mapfile):
    for name in ("postelmap", "postelalias"):
        r = cmd(workdir, name, "-u", mapfile)
        assert r.returncode == 64
        assert "-u is not supported: Postel's tables have no UTF-8 mode" \
            in r.stderr
        assert not os.path.exists(mapfile + ".db")
    r = cmd(workdir, "postelmap", "-U", "-h", "-q", "-", mapfile, input="")
    assert r.returncode == 64
    assert "-U is not supported" in r.stderr
    r = cmd(workdir, "postelalias", "-U", mapfile)
    assert r.returncode == 64
    assert "invalid option" in r.stderr or "usage:" in r.stderr


# -- -o and -p: owner and permissions of a new table --------------------------

@pytest.mark.needs("root")
def test_o_and_p_choose_owner_and_mode(workdir):
    nobody = pwd.getpwnam("nobody")
    tables = os.path.join(workdir, "tables")
    os.makedirs(tables)
    os.chown(tables, nobody.pw_uid, nobody.pw_gid)
    src = os.path.join(tables, "access")
    write(src, "spammer@example.com REJECT\n")
    os.chown(src, nobody.pw_uid, nobody.pw_gid)
    os.chmod(src, 0o600)
    db = src + ".db"
    for name, make in (("postelmap", "hash:" + src),
                       ("postelalias", "hash:" + src)):
        if name == "postelalias":
            write(src, "spammer: root\n")
            os.chmod(src, 0o640)
        # default: built with the source owner's privileges, its mode bits
        r = cmd(workdir, name, make)
        assert r.returncode == 0, r.stderr
        st = os.stat(db)
        assert (st.st_uid, st.st_gid) == (nobody.pw_uid, nobody.pw_gid)
        assert stat.S_IMODE(st.st_mode) == (0o600 if name == "postelmap"
                                            else 0o640)
        os.unlink(db)
        # -o: root stays root; -p: mode 0644 instead of the source's
        r = cmd(workdir, name, "-o", "-p", make)
        assert r.returncode == 0, r.stderr
        st = os.stat(db)
        assert (st.st_uid, st.st_gid) == (0, 0)
        assert stat.S_IMODE(st.st_mode) == 0o644
        os.unlink(db)
    # without -o the source owner's rights count: a folder that nobody may
    # not write stops the build, as it would stop nobody
    os.chown(tables, 0, 0)
    os.chmod(tables, 0o755)
    r = cmd(workdir, "postelmap", "hash:" + src)
    assert r.returncode != 0
    assert not os.path.exists(db)
    r = cmd(workdir, "postelmap", "-o", "hash:" + src)
    assert r.returncode == 0, r.stderr
    assert os.stat(db).st_uid == 0
