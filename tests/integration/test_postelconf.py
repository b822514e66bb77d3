# Integration tests for postelconf, the postconf-like command.
#
# Each test builds a throw-away config folder and drives the built command.
#
# SPDX-License-Identifier: ISC
import os
import re
import smtplib
import socket

from conftest import REPO, free_port, run_cmd, wait_for

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


# -- -p, -x, -#, -X, -P, -F, -t (Postfix's postconf options) --------------

def test_p_is_the_default_mode_and_x_expands(workdir):
    make_conf(workdir, main=MAIN_CF + "banner_host = $myhostname\n")
    r = conf(workdir, "-p", "banner_host", "myhostname")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "banner_host = $myhostname\nmyhostname = mx.example.org\n"
    r = conf(workdir, "-px", "banner_host")
    assert r.stdout == "banner_host = mx.example.org\n"
    assert conf(workdir, "-p").stdout == conf(workdir).stdout
    r = conf(workdir, "-nx")
    assert "banner_host = mx.example.org\n" in r.stdout
    # -p is main.cf; it does not go with another mode
    r = conf(workdir, "-p", "-M")
    assert r.returncode == 64
    assert "exclude each other" in r.stderr


def test_comment_out_main_cf_parameters_keeps_everything_else(workdir):
    make_conf(workdir)
    r = conf(workdir, "-#", "mynetworks", "relayhost")
    assert r.returncode == 0, r.stderr
    assert read(workdir) == (
        "# Postel test configuration\n"
        "myhostname = mx.example.org\n"
        "\n"
        "# networks we trust\n"
        "#mynetworks = 127.0.0.0/8\n"
        "#    10.0.0.0/8\n"
        "message_size_limit = 20480000\n"
        "#relayhost = [relay.example.net]:587\n")
    # the defaults are in effect again
    assert conf(workdir, "-h", "relayhost").stdout == "\n"
    assert conf(workdir, "-n").stdout == (
        "message_size_limit = 20480000\nmyhostname = mx.example.org\n")
    # a name that is not set: a warning naming the file, nothing changes
    before = read(workdir)
    r = conf(workdir, "-#", "relayhost")
    assert r.returncode == 0
    assert "main.cf: relayhost is not set there" in r.stderr
    assert read(workdir) == before
    r = conf(workdir, "-#", "relayhost=x")
    assert r.returncode == 64
    r = conf(workdir, "-#", "-X", "relayhost")
    assert r.returncode == 64


def test_M_comment_out_and_x(workdir):
    make_conf(workdir, main=MAIN_CF + "qmgr_name = qmgr\n")
    r = conf(workdir, "-M#", "submission/inet")
    assert r.returncode == 0, r.stderr
    assert read(workdir, "master.cf") == MASTER_CF.replace(
        "submission inet", "#submission inet").replace(
        "  -o", "#  -o")
    assert "submission" not in conf(workdir, "-M").stdout
    r = conf(workdir, "-M#", "nosuch/unix")
    assert r.returncode == 0
    assert "master.cf: no service nosuch/unix" in r.stderr
    conf(workdir, "-M", "q/unix=q unix n - n - 1 $qmgr_name -o a=$myhostname")
    assert conf(workdir, "-M", "q/unix").stdout == (
        "q unix n - n - 1 $qmgr_name -o a=$myhostname\n")
    assert conf(workdir, "-Mx", "q/unix").stdout == (
        "q unix n - n - 1 qmgr -o a=mx.example.org\n")


MASTER_P = """\
# master.cf with -o settings
smtp      inet  n       -       n       -       -       smtpd
submission inet n       -       n       -       -       smtpd
  -o syslog_name=postel/submission
  # require TLS here
  -o { smtpd_client_restrictions = permit_sasl_authenticated, reject }
relay     unix  -       -       n       -       -       smtp -v
  -o smtp_helo_name=$myhostname
pipe1     unix  -       n       n       -       -       pipe flags=F user=nobody argv=/bin/cat ${recipient}
"""


def test_P_prints_service_parameters(workdir):
    make_conf(workdir, master=MASTER_P)
    r = conf(workdir, "-P")
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        "submission/inet/syslog_name = postel/submission\n"
        "submission/inet/smtpd_client_restrictions = "
        "permit_sasl_authenticated, reject\n"
        "relay/unix/smtp_helo_name = $myhostname\n")
    r = conf(workdir, "-Px", "relay/unix/smtp_helo_name")
    assert r.stdout == "relay/unix/smtp_helo_name = mx.example.org\n"
    r = conf(workdir, "-Ph", "*/*/syslog_name")
    assert r.stdout == "postel/submission\n"
    r = conf(workdir, "-P", "smtp/inet/syslog_name")
    assert r.returncode == 0 and r.stdout == ""
    assert "no match for smtp/inet/syslog_name" in r.stderr
    r = conf(workdir, "-P", "smtp/syslog_name")
    assert r.returncode == 64
    assert "use service/type/name" in r.stderr


def test_P_sets_and_removes_service_parameters(workdir):
    make_conf(workdir, master=MASTER_P)
    r = conf(workdir, "-P", "submission/inet/syslog_name=postel/sub",
             "smtp/inet/smtpd_banner = $myhostname hello ESMTP",
             "relay/unix/smtp_bind_address=127.0.5.9")
    assert r.returncode == 0, r.stderr
    assert read(workdir, "master.cf") == (
        "# master.cf with -o settings\n"
        "smtp inet n - n - - smtpd\n"
        "  -o { smtpd_banner = $myhostname hello ESMTP }\n"
        "submission inet n - n - - smtpd\n"
        "  -o syslog_name=postel/sub\n"
        "  -o { smtpd_client_restrictions = permit_sasl_authenticated, reject }\n"
        "relay unix - - n - - smtp -v\n"
        "  -o smtp_helo_name=$myhostname\n"
        "  -o smtp_bind_address=127.0.5.9\n"
        "pipe1     unix  -       n       n       -       -       pipe flags=F "
        "user=nobody argv=/bin/cat ${recipient}\n")
    assert conf(workdir, "-P", "smtp/inet/smtpd_banner").stdout == (
        "smtp/inet/smtpd_banner = $myhostname hello ESMTP\n")
    r = conf(workdir, "-PX", "submission/inet/smtpd_client_restrictions",
             "relay/unix/smtp_helo_name", "relay/unix/not_there")
    assert r.returncode == 0, r.stderr
    assert conf(workdir, "-P").stdout == (
        "smtp/inet/smtpd_banner = $myhostname hello ESMTP\n"
        "submission/inet/syslog_name = postel/sub\n"
        "relay/unix/smtp_bind_address = 127.0.5.9\n")
    # errors name the file, the line and the parameter; nothing is written
    before = read(workdir, "master.cf")
    r = conf(workdir, "-P", "smtp/inet/smtpd_banner=a { b")
    assert r.returncode == 64
    assert re.search(r"master\.cf:2: smtp/inet: parameter smtpd_banner: "
                     r"the value holds a newline or unbalanced braces",
                     r.stderr), r.stderr
    r = conf(workdir, "-P", "nosuch/inet/a=b")
    assert r.returncode == 64
    assert "master.cf: no service nosuch/inet" in r.stderr
    r = conf(workdir, "-P", "smtp/inet/bad name=b")
    assert r.returncode == 64
    r = conf(workdir, "-PX", "smtp/inet/smtpd_banner=x")
    assert r.returncode == 64
    assert read(workdir, "master.cf") == before


def test_F_prints_fields(workdir):
    make_conf(workdir, master=MASTER_P)
    r = conf(workdir, "-F", "relay/unix/*", "pipe1/unix/command")
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        "relay/unix/service = relay\n"
        "relay/unix/type = unix\n"
        "relay/unix/private = -\n"
        "relay/unix/unprivileged = -\n"
        "relay/unix/chroot = n\n"
        "relay/unix/wakeup = -\n"
        "relay/unix/process_limit = -\n"
        "relay/unix/command = smtp -v\n"
        "pipe1/unix/command = pipe flags=F user=nobody argv=/bin/cat "
        "${recipient}\n")
    r = conf(workdir, "-F")
    assert len(r.stdout.splitlines()) == 4 * 8
    r = conf(workdir, "-Fh", "*/*/chroot")
    assert r.stdout == "n\nn\nn\nn\n"


def test_F_edits_fields_with_validation(workdir):
    make_conf(workdir, master=MASTER_P)
    r = conf(workdir, "-F", "smtp/inet/chroot=y", "relay/unix/wakeup=60?",
             "relay/unix/process_limit=7",
             "submission/inet/command=smtpd -D")
    assert r.returncode == 0, r.stderr
    text = read(workdir, "master.cf")
    assert text.splitlines()[1] == "smtp inet n - y - - smtpd"
    assert "relay unix - - n 60? 7 smtp -v\n  -o smtp_helo_name=$myhostname\n" in text
    # the -o settings stay when the command changes
    assert ("submission inet n - n - - smtpd\n"
            "  -o syslog_name=postel/submission\n"
            "  -o { smtpd_client_restrictions = permit_sasl_authenticated, "
            "reject } -D\n") in text
    assert conf(workdir, "-F", "submission/inet/command").stdout == (
        "submission/inet/command = smtpd -D\n")
    # rename a service
    r = conf(workdir, "-F", "pipe1/unix/service=pipe2")
    assert r.returncode == 0, r.stderr
    assert conf(workdir, "-Fh", "pipe2/unix/service").stdout == "pipe2\n"
    before = read(workdir, "master.cf")
    bad = [
        ("smtp/inet/chroot=maybe", 'master.cf:2: smtp/inet: bad chroot value "maybe" (y, n, -)'),
        ("smtp/inet/process_limit=-3", 'bad process_limit value "-3"'),
        ("smtp/inet/wakeup=soon", 'bad wakeup value "soon"'),
        ("smtp/inet/type=tcp", 'bad type value "tcp"'),
        ("smtp/inet/command=smtpd -o a=b", "the command field takes no -o options"),
        ("smtp/inet/colour=red", 'unknown master.cf field "colour"'),
        ("smtp/inet/wakeup=", "bad wakeup value: empty"),
    ]
    for arg, message in bad:
        r = conf(workdir, "-F", arg)
        assert r.returncode == 64, (arg, r.stderr)
        assert message in r.stderr, (arg, r.stderr)
    # a rename onto an existing service is caught by the full check
    r = conf(workdir, "-F", "relay/unix/service=pipe2")
    assert r.returncode == 78
    assert "duplicate service pipe2/unix" in r.stderr
    assert read(workdir, "master.cf") == before


def test_t_prints_the_texts_bounce_uses(workdir):
    make_conf(workdir, main=MAIN_CF + "mail_name = Example\n")
    r = conf(workdir, "-t")
    assert r.returncode == 0, r.stderr
    names = re.findall(r"^(\w+) = <<EOF$", r.stdout, re.M)
    assert names == ["failure_template", "delay_template", "success_template"]
    r = conf(workdir, "-t", "delay_template")
    assert r.stdout == (
        "delay_template = <<EOF\n"
        "Charset: us-ascii\n"
        "From: MAILER-DAEMON (Mail Delivery System)\n"
        "Subject: Delayed Mail (still being retried)\n"
        "Postmaster-Subject: Postmaster Copy: Delayed Mail (still being "
        "retried)\n"
        "\n"
        "This is the $mail_name mail system at host $myhostname.\n"
        "\n"
        "Your message has not yet been delivered to one or\n"
        "more of its recipients; the reasons are listed\n"
        "below.  This is only a warning: the mail system\n"
        "keeps trying, until the Will-Retry-Until time in\n"
        "the delivery report.  You do not need to send the\n"
        "message again.\n"
        "\n"
        "For help, write to the postmaster of this site and\n"
        "quote this report.  You may remove your own text from\n"
        "the returned message.\n"
        "\n"
        "                   The $mail_name mail system\n"
        "EOF\n")
    r = conf(workdir, "-tx", "failure_template")
    assert "This is the Example mail system at host mx.example.org.\n" in r.stdout
    r = conf(workdir, "-t", "verify_template")
    assert r.stdout == ""
    assert "verify_template: unknown template" in r.stderr
    assert conf(workdir, "-t", "-e", "x=y").returncode == 64
    # bounce has no template file support: -t says so, and shows what
    # bounce really sends
    make_conf(workdir, main=MAIN_CF + "bounce_template_file = /etc/x.cf\n")
    r = conf(workdir, "-t", "success_template")
    assert r.returncode == 0
    assert "bounce_template_file is not supported; the bounce service " \
        "uses the built-in texts shown here" in r.stderr
    assert r.stdout.startswith("success_template = <<EOF\n")


def test_t_text_is_the_text_of_a_real_bounce(instance):
    """The failure text -tx prints is, line for line, in a bounce that a
    running instance sends."""
    port = free_port("127.0.5.1")
    maillog = os.path.join(instance.workdir, "maillog")
    instance.write_config(main={
        "myhostname": "mx.conf.test",
        "mydomain": "conf.test",
        "mydestination": "mx.conf.test",
        "local_recipient_maps": "",
        "maillog_file": maillog,
        "smtpd_error_sleep_time": "0",
        "default_transport": "error:no remote mail in this test",
        "mail_spool_directory": os.path.join(instance.workdir, "mail"),
        "alias_maps": "",
    }, services=[
        "postlog unix-dgram n - n - 1 postlogd",
        "127.0.5.1:%d inet n - n - - smtpd" % port,
        "cleanup unix - - n - 0 cleanup",
        "qmgr unix n - n 300 1 qmgr",
        "bounce unix - - n - 0 bounce",
        "defer unix - - n - 0 bounce",
        "trace unix - - n - 0 bounce",
        "error unix - - n - - error",
        "local unix - n n - - local",
    ])
    spool = os.path.join(instance.workdir, "mail")
    os.makedirs(spool, exist_ok=True)
    os.chmod(spool, 0o1777)
    instance.start()
    wait_smtp_port("127.0.5.1", port)
    with smtplib.SMTP("127.0.5.1", port, timeout=20) as s:
        s.sendmail("nobody@mx.conf.test", ["someone@remote.conf.test"],
                   b"Subject: t\r\n\r\nhello\r\n")
    box = os.path.join(spool, "nobody")
    assert wait_for(lambda: os.path.exists(box)
                    and "Undelivered Mail" in open(box).read(), timeout=30), \
        open(maillog).read() if os.path.exists(maillog) else "no maillog"
    bounce = open(box).read()
    r = conf(instance.confdir, "-tx", "failure_template")
    body = r.stdout.split("\n\n", 1)[1].rsplit("EOF\n", 1)[0]
    assert body in bounce.replace("\r\n", "\n")
    assert "Subject: Undelivered Mail Returned to Sender\n" in bounce


def wait_smtp_port(host, port):
    def attempt():
        try:
            socket.create_connection((host, port), timeout=2).close()
            return True
        except OSError:
            return False
    assert wait_for(attempt, timeout=15), "nothing listens on %s:%d" % (host, port)


def test_P_and_F_edits_are_read_by_postel_check_and_a_running_instance(instance):
    port = free_port("127.0.5.2")
    instance.write_config(main={
        "myhostname": "mx.conf.test",
        "smtpd_error_sleep_time": "0",
        "maillog_file": os.path.join(instance.workdir, "maillog"),
    }, services=[
        "postlog unix-dgram n - n - 1 postlogd",
        "127.0.5.2:%d inet n - n - - smtpd" % port,
        "cleanup unix - - n - 0 cleanup",
    ])
    svc = "127.0.5.2:%d/inet" % port
    cd = instance.confdir
    r = conf(cd, "-P", svc + "/smtpd_banner=$myhostname conf-edited ESMTP")
    assert r.returncode == 0, r.stderr
    r = conf(cd, "-F", svc + "/process_limit=3", svc + "/chroot=n")
    assert r.returncode == 0, r.stderr
    r = conf(cd, "-#", "smtpd_error_sleep_time")
    assert r.returncode == 0, r.stderr
    assert instance.postel("check").returncode == 0
    instance.start()
    wait_smtp_port("127.0.5.2", port)
    sock = socket.create_connection(("127.0.5.2", port), timeout=10)
    greeting = sock.recv(200)
    sock.close()
    assert greeting == b"220 mx.conf.test conf-edited ESMTP\r\n"
    # remove it again; after a reload the default banner is back
    r = conf(cd, "-PX", svc + "/smtpd_banner")
    assert r.returncode == 0, r.stderr
    assert instance.postel("check").returncode == 0
    instance.reload()

    def default_banner():
        s = socket.create_connection(("127.0.5.2", port), timeout=10)
        g = s.recv(200)
        s.close()
        return b"conf-edited" not in g and g.startswith(b"220 mx.conf.test")
    assert wait_for(default_banner, timeout=15)
    # a broken edit never reaches the file: postel check still passes
    r = conf(cd, "-F", svc + "/process_limit=many")
    assert r.returncode == 64
    assert instance.postel("check").returncode == 0
