"""Header fields added at the end of the queue file (H records) are
delivered on top of the message, byte for byte, by every reader: smtp to
an aiosmtpd sink (and SIZE= counts them), local into an mbox, the message
a bounce returns, and postelcat.  Until cleanup has a feature that writes
them, the queue file is written by tests/services/qwrite, which uses the
real util/rec writer (so the S record's size is the writer's own).

The role tests show which CLEANUP_FLAG_SIGN / _VERIFY cleanup got for
each kind of client (cleanup -v logs "QID: origin=... role=..."): SMTP
clients per smtpd_mail_auth_role, pickup, bounce and local's .forward.

SPDX-License-Identifier: ISC
"""
import email
import email.policy
import os
import pwd
import re
import smtplib
import subprocess
import time

import pytest

from conftest import (bin_path, free_port, missing_module, service_path,
                      wait_for)
from queuefile import QueueFile
from test_local import users  # noqa: F401  (fixture: real accounts)
from test_qmgr import make_qid, trigger
from test_sasl import PASSWORD, USER, make_sasldb

try:
    from aiosmtpd.controller import Controller
except ImportError:
    raise missing_module("aiosmtpd") from None

pytestmark = pytest.mark.needs("aiosmtpd", "useradd")

HOST = "mta.test.invalid"
QWRITE = service_path("qwrite")
FIELD_AR = (b"Authentication-Results: mta.test.invalid;\r\n"
            b"\tspf=pass smtp.mailfrom=example.org")
FIELD_SPF = (b"Received-SPF: pass (mta.test.invalid: domain of example.org "
             b"designates 192.0.2.1 as permitted sender)\r\n"
             b" client-ip=192.0.2.1")
BODY = (b"From: a@example.org\r\nTo: x@example.com\r\nSubject: prefix\r\n"
        b"Message-ID: <p1@example.org>\r\n\r\nbody line\r\n"
        b".a line that starts with a dot\r\n")
# First H record topmost, then the content.
DELIVERED = FIELD_AR + b"\r\n" + FIELD_SPF + b"\r\n" + BODY


class Sink:
    """aiosmtpd handler: local parts bounce* get 550."""

    def __init__(self):
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        if address.startswith("bounce"):
            return "550 5.1.1 <%s>: Recipient address rejected" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append({
            "from": envelope.mail_from, "to": list(envelope.rcpt_tos),
            "options": list(envelope.mail_options),
            "data": envelope.original_content})
        return "250 2.0.0 Ok: queued as SINK%d" % len(self.messages)


@pytest.fixture
def sink():
    handler = Sink()
    port = free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=port)
    ctl.start()
    handler.port = port
    yield handler
    ctl.stop()


def write_queue_file(instance, sender, rcpts, body, fields):
    """qwrite a file into incoming/ and give it its queue ID, as cleanup
    commits one; fields become H records in this order."""
    incoming = os.path.join(instance.queue, "incoming")
    tmp = os.path.join(incoming, "t%d.prefix" % os.getpid())
    args = [QWRITE, tmp, "-f", sender]
    for r in rcpts:
        args += ["-r", r]
    for f in fields:
        args += ["-H", f + b"\r\n"]
    subprocess.run(args, input=body, check=True, timeout=10)
    st = os.stat(incoming)
    os.chown(tmp, st.st_uid, st.st_gid)
    now = time.time()
    qid = make_qid(int(now), int((now - int(now)) * 1e6), os.stat(tmp).st_ino)
    os.rename(tmp, os.path.join(incoming, qid))
    return qid


def postelcat(instance, *args):
    r = subprocess.run([bin_path("postelcat"), "-c", instance.confdir]
                       + list(args), capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_prepended_fields_lead_the_message_in_every_reader(
        instance, workdir, sink, users):  # noqa: F811
    assert os.geteuid() == 0, "this test needs root: local runs as root"
    os.chmod(workdir, 0o755)
    spool = os.path.join(workdir, "mail")
    os.makedirs(spool)
    os.chmod(spool, 0o1777)
    user = users("pf").pw_name
    # A second account forwards: local resubmits the message to cleanup.
    fwd = users("pff")
    with open(os.path.join(fwd.pw_dir, ".forward"), "w") as f:
        f.write("fwd@example.com\n")
    os.chown(os.path.join(fwd.pw_dir, ".forward"), fwd.pw_uid, fwd.pw_gid)
    instance.write_config(
        main={"myhostname": HOST, "mydestination": "$myhostname",
              "alias_maps": "", "mail_spool_directory": spool,
              "relayhost": "[127.0.0.1]:%d" % sink.port,
              "minimal_backoff_time": "300s", "queue_run_delay": "300s",
              "smtp_connect_timeout": "5s", "maillog_file": ""},
        services=[
            "qmgr unix n - n 300 1 qmgr",
            "cleanup unix n - n - 0 cleanup -v",
            "smtp unix - - n - - smtp",
            "local unix - n n - - local",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
        ])
    instance.start(foreground=True)
    qid = write_queue_file(
        instance, "a@example.org",
        ["%s@%s" % (user, HOST), "%s@%s" % (fwd.pw_name, HOST),
         "remote@example.com", "bounce1@example.com"],
        BODY, [FIELD_AR, FIELD_SPF])
    path = os.path.join(instance.queue, "incoming", qid)
    qf = QueueFile(path)
    assert qf.content == BODY
    assert qf.delivered == DELIVERED
    assert qf.size[2] == len(DELIVERED)

    # postelcat: the content view puts them first (byte for byte with
    # -r), the record view lists them with the extracted information.
    assert postelcat(instance, "-r", "-q", qid) == DELIVERED
    out = postelcat(instance, "-q", qid).decode()
    content = out.split("*** MESSAGE CONTENTS %s ***\n" % qid)[1]
    assert content.startswith(DELIVERED.replace(b"\r\n", b"\n").decode())
    extracted = out.split("*** HEADER EXTRACTED %s ***\n" % qid)[1]
    assert extracted.startswith(
        "prepended_header: Authentication-Results: mta.test.invalid;\n"
        "\tspf=pass smtp.mailfrom=example.org\n"
        "prepended_header: Received-SPF: pass (mta.test.invalid:")
    head = postelcat(instance, "-h", "-q", qid).decode()
    assert "Received-SPF: pass" in head and "body line" not in head
    assert postelcat(instance, "-r", "-b", "-q", qid) == \
        b"body line\r\n.a line that starts with a dot\r\n"

    trigger(instance)
    log = instance.read_log
    assert wait_for(lambda: "%s: removed" % qid in log(), 30), log()
    # qmgr's size= is the size as delivered.
    assert "%s: from=<a@example.org>, size=%d," % (qid, len(DELIVERED)) \
        in log()

    # smtp: the sink got the fields on top, and SIZE= counted them.
    sent = [m for m in sink.messages if m["to"] == ["remote@example.com"]]
    assert len(sent) == 1, (sink.messages, log())
    assert sent[0]["data"] == DELIVERED
    assert "SIZE=%d" % len(DELIVERED) in sent[0]["options"]

    # local: the mbox holds them right after Return-Path/Delivered-To.
    with open(os.path.join(spool, user), "rb") as f:
        mbox = f.read()
    assert re.match(rb"From a@example\.org  [^\n]+\n"
                    rb"Return-Path: <a@example\.org>\n"
                    rb"Delivered-To: " + re.escape(
                        ("%s@%s" % (user, HOST)).encode()) + rb"\n",
                    mbox), mbox
    assert mbox.split(b"\n", 3)[3] == \
        DELIVERED.replace(b"\r\n", b"\n") + b"\n"

    # .forward: the fields travel on inside the resubmitted content, and
    # that message is neither signed nor verified again.
    assert wait_for(lambda: any(m["to"] == ["fwd@example.com"]
                                for m in sink.messages), 30), log()
    forwarded = [m for m in sink.messages if m["to"] == ["fwd@example.com"]]
    # (cleanup adds its Received: above and a missing Date: below them)
    head = DELIVERED.split(b"\r\n\r\n")[0] + b"\r\n"
    assert head in forwarded[0]["data"], forwarded[0]["data"]
    assert forwarded[0]["data"].endswith(b"\r\n\r\n" + BODY.split(
        b"\r\n\r\n", 1)[1])
    assert re.search(r": origin=local role=none\n", log()), log()

    # bounce: the returned message starts with the fields too.
    assert wait_for(lambda: any(m["from"] in ("", "<>")
                                for m in sink.messages), 30), log()
    dsn = [m for m in sink.messages if m["from"] in ("", "<>")][0]
    # Postel's own notification is outbound mail.
    assert re.search(r": origin=bounce role=outbound\n", log()), log()
    msg = email.message_from_bytes(dsn["data"], policy=email.policy.compat32)
    parts = msg.get_payload()
    returned = [p for p in parts
                if p.get_content_type() in ("message/rfc822",
                                            "text/rfc822-headers")]
    assert len(returned) == 1, [p.get_content_type() for p in parts]
    raw = dsn["data"]
    start = raw.index(b"Authentication-Results: mta.test.invalid;")
    assert raw[start:start + len(DELIVERED)] == DELIVERED
    # ...and nothing of the original comes before them in that part.
    part_head = raw[:start].rsplit(b"\r\n\r\n", 1)[1]
    assert part_head == b"", part_head


def test_corrupt_prepended_field_is_never_sent(instance, workdir, sink):
    """A file whose H record is not one header field (here a field that
    ends without CRLF and a bare LF) is refused by the reader: smtp defers
    it with the reason instead of sending anything, and postelcat calls it
    malformed."""
    instance.write_config(
        main={"myhostname": HOST, "mydestination": "",
              "relayhost": "[127.0.0.1]:%d" % sink.port,
              "minimal_backoff_time": "300s", "queue_run_delay": "300s",
              "smtp_connect_timeout": "5s", "maillog_file": ""},
        services=[
            "qmgr unix n - n 300 1 qmgr",
            "cleanup unix n - n - 0 cleanup",
            "smtp unix - - n - - smtp",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
        ])
    instance.start(foreground=True)
    qid = write_queue_file(instance, "a@example.org", ["remote@example.com"],
                           BODY, [b"X-Injected: 1\nBcc: victim@example.net"])
    r = subprocess.run([bin_path("postelcat"), "-c", instance.confdir, "-q",
                        qid], capture_output=True, timeout=30)
    assert r.returncode == 1
    assert b"malformed prepended header record" in r.stderr, r.stderr
    # qmgr may already have taken the file (its start-up scan races with
    # the write); the trigger makes sure it looks.
    trigger(instance)
    log = instance.read_log
    assert wait_for(lambda: "%s: to=<remote@example.com>" % qid in log(),
                    30), log()
    line = [ln for ln in log().splitlines()
            if "%s: to=<remote@example.com>" % qid in ln][0]
    assert "status=deferred" in line and "malformed prepended header" in line
    assert sink.messages == []


def queue_id(reply):
    m = re.search(rb"queued as (\S+)", reply)
    assert m, reply
    return m.group(1).decode()


@pytest.mark.needs("saslpasswd2", "sasl_sasldb", "sasl_mechs")
def test_cleanup_gets_role_per_client_kind(instance, workdir):
    """auto: SASL-authenticated and $mynetworks clients are outbound, all
    others inbound; -o smtpd_mail_auth_role overrides per listener;
    pickup (sendmail) is outbound."""
    ports = {k: free_port() for k in ("auto", "mynet", "both", "none",
                                      "inbound")}
    maillog = os.path.join(workdir, "maillog")
    folder = make_sasldb(workdir, instance.queue)
    smtpd = "127.0.0.1:%d inet n - y - - smtpd"
    instance.write_config(
        main={"myhostname": "mx.test", "mydomain": "test",
              "mydestination": "mx.test", "local_recipient_maps": "",
              "mynetworks": "192.0.2.0/24", "maillog_file": maillog,
              "smtpd_error_sleep_time": "0",
              "smtpd_sasl_auth_enable": "yes", "smtpd_tls_auth_only": "no",
              "cyrus_sasl_config_path": folder},
        services=[
            "postlog unix-dgram n - n - 1 postlogd",
            smtpd % ports["auto"],
            smtpd % ports["mynet"] + " -o mynetworks=127.0.0.0/8",
            smtpd % ports["both"] + " -o smtpd_mail_auth_role=both",
            smtpd % ports["none"] + " -o smtpd_mail_auth_role=none",
            smtpd % ports["inbound"]
            + " -o mynetworks=127.0.0.0/8 -o smtpd_mail_auth_role=inbound",
            "cleanup unix - - n - 0 cleanup -v",
            "pickup unix n - y 60 1 pickup",
        ])
    if os.geteuid() == 0:
        instance.set_permissions()
        pw = pwd.getpwnam("postel")
        os.chown(os.path.join(instance.queue, "etc", "sasldb2"),
                 pw.pw_uid, pw.pw_gid)
    instance.start()

    def send(port, login=False):
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
            s.ehlo("client.test")
            if login:
                s.login(USER, PASSWORD)
            s.mail("alice@mx.test")
            code, text = s.rcpt("bob@mx.test")
            assert code == 250, text
            code, text = s.data(b"Subject: role\r\n\r\nhi\r\n")
            assert code == 250, text
            return queue_id(text)

    def role(qid):
        def found():
            with open(maillog, errors="replace") as f:
                m = re.search(r"%s: origin=(\S+) role=(\S+)" % qid, f.read())
            return m and m.groups()
        assert wait_for(found, 10), open(maillog).read()
        return found()

    assert wait_for(lambda: os.path.exists(maillog))
    assert role(send(ports["auto"])) == ("smtpd", "inbound")
    assert role(send(ports["auto"], login=True)) == ("smtpd", "outbound")
    assert role(send(ports["mynet"])) == ("smtpd", "outbound")
    assert role(send(ports["both"])) == ("smtpd", "both")
    assert role(send(ports["none"])) == ("smtpd", "none")
    assert role(send(ports["inbound"])) == ("smtpd", "inbound")

    # Local submission: sendmail -> postdrop -> pickup -> cleanup.
    r = subprocess.run([bin_path("sendmail"), "-C", instance.confdir, "-i",
                        "-f", "alice@mx.test", "bob@mx.test"],
                       input=b"Subject: local\n\nhi\n", capture_output=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr

    def pickup_role():
        with open(maillog, errors="replace") as f:
            return re.findall(r"origin=pickup role=(\S+)", f.read())
    assert wait_for(pickup_role, 20), open(maillog).read()
    assert pickup_role() == ["outbound"]
