# Integration tests for postelconf, the postconf-like command.
#
# Each test builds a throw-away config folder and drives the built command.
#
# SPDX-License-Identifier: ISC
import os
import re

from conftest import REPO, run_cmd

MAIN_CF = """\
# Postel test configuration
myhostname = mx.example.org

# networks we trust
mynetworks = 127.0.0.0/8
    10.0.0.0/8
message_size_limit = 20480000
relayhost = [relay.example.net]:587
"""

MASTER_CF = """\
# service type private unpriv chroot wakeup maxproc command
smtp      inet  n       -       n       -       -       smtpd
submission inet n       -       n       -       -       smtpd
  -o syslog_name=postel/submission
  -o smtpd_tls_security_level=encrypt
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
"""


def make_conf(workdir, main=MAIN_CF, master=MASTER_CF):
    if main is not None:
        with open(os.path.join(workdir, "main.cf"), "w") as f:
            f.write(main)
    if master is not None:
        with open(os.path.join(workdir, "master.cf"), "w") as f:
            f.write(master)
    return workdir


def conf(workdir, *args, env=None):
    return run_cmd(["postelconf", "-c", workdir] + list(args), env=env)


def read(workdir, name="main.cf"):
    with open(os.path.join(workdir, name)) as f:
        return f.read()


def test_n_prints_exactly_the_settings_of_main_cf_sorted(workdir):
    make_conf(workdir)
    r = conf(workdir, "-n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "message_size_limit = 20480000",
        "myhostname = mx.example.org",
        "mynetworks = 127.0.0.0/8 10.0.0.0/8",
        "relayhost = [relay.example.net]:587",
    ]


def test_d_prints_every_parameter_with_its_default(workdir):
    make_conf(workdir)
    r = conf(workdir, "-d")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    names = [l.split(" =")[0] for l in lines]
    assert names == sorted(names)
    assert len(lines) > 200
    assert "message_size_limit = 10240000" in lines
    assert "smtpd_recipient_limit = 1000" in lines
    assert "queue_directory = /var/spool/postel" in lines
    assert "relayhost =" in lines
    assert "mydestination = $myhostname, localhost.$mydomain, localhost" in lines
    # main.cf does not leak into -d
    assert "myhostname = mx.example.org" not in lines
    # every default line has a name = value form
    assert all(re.match(r"^[A-Za-z0-9_]+ =( .*)?$", l) for l in lines)


def test_no_args_shows_set_values_and_defaults(workdir):
    make_conf(workdir)
    r = conf(workdir)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "message_size_limit = 20480000" in lines
    assert "mail_owner = postel" in lines
    assert len(lines) == len(conf(workdir, "-d").stdout.splitlines())


def test_named_h_and_x(workdir):
    make_conf(workdir)
    r = conf(workdir, "-h", "myorigin", "relayhost")
    assert r.stdout == "$myhostname\n[relay.example.net]:587\n"
    r = conf(workdir, "-x", "mydestination", "mydomain")
    assert r.stdout.splitlines() == [
        "mydestination = mx.example.org, localhost.example.org, localhost",
        "mydomain = example.org",
    ]
    r = conf(workdir, "-hx", "smtpd_banner")
    assert r.stdout == "mx.example.org ESMTP Postel\n"


def test_unknown_parameter_warns_and_exits_zero(workdir):
    make_conf(workdir)
    r = conf(workdir, "no_such_thing", "mail_owner")
    assert r.returncode == 0
    assert r.stdout == "mail_owner = postel\n"
    assert "postelconf: warning: no_such_thing: unknown parameter" in r.stderr


def test_e_round_trips_and_keeps_other_lines_byte_for_byte(workdir):
    make_conf(workdir)
    before = read(workdir)
    r = conf(workdir, "-e", "relayhost=[other.example]:25",
             "mynetworks=192.168.0.0/16", "smtpd_banner=$myhostname ESMTP")
    assert r.returncode == 0, r.stderr
    after = read(workdir)
    assert after == (
        "# Postel test configuration\n"
        "myhostname = mx.example.org\n"
        "\n"
        "# networks we trust\n"
        "mynetworks = 192.168.0.0/16\n"
        "message_size_limit = 20480000\n"
        "relayhost = [other.example]:25\n"
        "smtpd_banner = $myhostname ESMTP\n")
    assert conf(workdir, "-h", "relayhost").stdout == "[other.example]:25\n"
    assert conf(workdir, "-h", "smtpd_banner").stdout == "$myhostname ESMTP\n"
    # setting it back restores the original bytes of that line
    r = conf(workdir, "mynetworks=127.0.0.0/8", "relayhost=[relay.example.net]:587")
    assert r.returncode == 0, r.stderr
    assert read(workdir).startswith(before.split("mynetworks")[0])
    assert "relayhost = [relay.example.net]:587\n" in read(workdir)


def test_e_creates_main_cf_and_keeps_mode(workdir):
    make_conf(workdir, main=None)
    r = conf(workdir, "myhostname=new.example")
    assert r.returncode == 0, r.stderr
    assert read(workdir) == "myhostname = new.example\n"
    os.chmod(os.path.join(workdir, "main.cf"), 0o640)
    conf(workdir, "relayhost=")
    assert read(workdir) == "myhostname = new.example\nrelayhost =\n"
    assert os.stat(os.path.join(workdir, "main.cf")).st_mode & 0o777 == 0o640
    assert [f for f in os.listdir(workdir) if "postelconf" in f] == []


def test_e_rejects_bad_arguments(workdir):
    make_conf(workdir)
    before = read(workdir)
    r = conf(workdir, "-e", "bad name=1")
    assert r.returncode == 64
    assert "postelconf: fatal:" in r.stderr
    r = conf(workdir, "-e", "novalue")
    assert r.returncode == 64
    assert read(workdir) == before


def test_X_removes_settings_and_continuations(workdir):
    make_conf(workdir)
    r = conf(workdir, "-X", "mynetworks", "relayhost")
    assert r.returncode == 0, r.stderr
    assert read(workdir) == (
        "# Postel test configuration\n"
        "myhostname = mx.example.org\n"
        "\n"
        "# networks we trust\n"
        "message_size_limit = 20480000\n")
    assert conf(workdir, "-n").stdout.splitlines() == [
        "message_size_limit = 20480000", "myhostname = mx.example.org"]


def test_bad_main_cf_line_fails_with_file_and_line(workdir):
    make_conf(workdir, main="myhostname = x\n\nthis is wrong\n")
    for args in (["-n"], [], ["mail_owner"], ["-e", "relayhost=x"], ["-M"]):
        r = conf(workdir, *args)
        assert r.returncode == 78, (args, r.stderr)
        assert "main.cf:3" in r.stderr
        assert r.stderr.startswith("postelconf: fatal: ")


def test_mail_config_is_honoured(workdir):
    make_conf(workdir)
    env = dict(os.environ, MAIL_CONFIG=workdir)
    r = run_cmd(["postelconf", "-h", "myhostname"], env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "mx.example.org\n"
    r = run_cmd(["postelconf", "-h", "config_directory"], env=env)
    assert r.stdout == workdir + "\n"


def test_bad_usage_exits_64(workdir):
    make_conf(workdir)
    assert conf(workdir, "-n", "-d").returncode == 64
    assert conf(workdir, "-Q").returncode == 64
    assert conf(workdir, "-X").returncode == 64


def test_M_shows_services_normalised(workdir):
    make_conf(workdir)
    r = conf(workdir, "-M")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "smtp inet n - n - - smtpd",
        "submission inet n - n - - smtpd -o syslog_name=postel/submission "
        "-o smtpd_tls_security_level=encrypt",
        "cleanup unix n - n - 0 cleanup",
        "qmgr unix n - n 300 1 qmgr",
    ]
    r = conf(workdir, "-M", "cleanup/unix")
    assert r.stdout == "cleanup unix n - n - 0 cleanup\n"


def test_M_edit_replaces_and_appends_entries(workdir):
    make_conf(workdir)
    r = conf(workdir, "-M",
             "submission/inet=submission inet n - n - - smtpd -o syslog_name=sub")
    assert r.returncode == 0, r.stderr
    text = read(workdir, "master.cf")
    assert "smtpd_tls_security_level" not in text
    assert text.splitlines()[2] == "submission inet n - n - - smtpd -o syslog_name=sub"
    assert text.splitlines()[3].startswith("cleanup ")
    r = conf(workdir, "-M", "2525/inet=2525 inet n - n - 4 smtpd")
    assert r.returncode == 0, r.stderr
    assert read(workdir, "master.cf").endswith("\n2525 inet n - n - 4 smtpd\n")
    assert conf(workdir, "-M", "2525/inet").stdout == "2525 inet n - n - 4 smtpd\n"
    # an entry for another service than the key is refused
    r = conf(workdir, "-M", "x/unix=y unix - - - - - y")
    assert r.returncode == 64
    r = conf(workdir, "-M", "x/unix=x unix - - - - - ")
    assert r.returncode == 64


def test_MX_removes_an_entry_with_its_continuations(workdir):
    make_conf(workdir)
    r = conf(workdir, "-MX", "submission/inet")
    assert r.returncode == 0, r.stderr
    assert read(workdir, "master.cf") == (
        "# service type private unpriv chroot wakeup maxproc command\n"
        "smtp      inet  n       -       n       -       -       smtpd\n"
        "cleanup   unix  n       -       n       -       0       cleanup\n"
        "qmgr      unix  n       -       n       300     1       qmgr\n")


def test_bad_master_cf_fails_with_file_and_line(workdir):
    make_conf(workdir, master="smtp inet n - n - - smtpd\nsmtp inet n - n - - smtpd\n")
    r = conf(workdir, "-M")
    assert r.returncode == 78
    assert "master.cf:2: duplicate service smtp/inet" in r.stderr


def test_every_parameter_is_documented_in_postel_conf_5(workdir):
    r = conf(workdir, "-d")
    assert r.returncode == 0, r.stderr
    names = [l.split(" =")[0] for l in r.stdout.splitlines()]
    with open(os.path.join(REPO, "man", "man5", "postel.conf.5")) as f:
        page = f.read()
    documented = set(re.findall(r"^\.It Cm ([A-Za-z0-9_]+)", page, re.M))
    missing = [n for n in names if n not in documented]
    assert missing == []
