# mailbox_command = dovecot-lda: local(8) runs Dovecot's delivery agent as
# the recipient (a system account that is also a Dovecot user) and maps
# its exit status per sysexits as Postfix does: 0 delivered into the
# Maildir Dovecot manages, EX_NOPERM (77, -e over quota) bounced 5.7.0
# with Dovecot's text, EX_TEMPFAIL (75, quota_full_tempfail) deferred.
#
# SPDX-License-Identifier: ISC
import os
import re
import shutil
import smtplib
import tempfile

import pytest

from conftest import free_port, wait_for, wait_smtp
from dovecot_peer import Dovecot

LDA = "/usr/lib/dovecot/dovecot-lda"

pytestmark = pytest.mark.needs("root", "dovecot", "dovecot_lda", "useradd")


@pytest.fixture(scope="module")
def dovecot():
    folder = tempfile.mkdtemp(prefix="postel-lda-")
    os.chmod(folder, 0o755)
    d = None
    try:
        # The account's quota: 2 KiB, room for a small message only.  As
        # lda takes the user from the account (no userdb lookup), the rule
        # is the site's default.
        d = Dovecot(os.path.join(folder, "dovecot"), {},
                    account_user=("x", None), extra_conf=(
                        "plugin {\n  quota_rule = *:storage=2K\n}\n"))
        # The same site with quota_full_tempfail: over quota is 75.
        d.conf_tempfail = os.path.join(d.folder, "dovecot-tempfail.conf")
        with open(d.conf) as f, open(d.conf_tempfail, "w") as out:
            out.write(f.read() + "\nquota_full_tempfail = yes\n")
        os.chmod(d.conf_tempfail, 0o644)
        yield d
    finally:
        if d is not None:
            d.stop()
        shutil.rmtree(folder, ignore_errors=True)


def start_site(instance, command):
    port = free_port()
    instance.write_config(main={
        "myhostname": "mx.test", "mydomain": "test",
        "mydestination": "mx.test", "local_recipient_maps": "",
        "alias_maps": "", "mailbox_command": command,
        "minimal_backoff_time": "300s", "queue_run_delay": "300s"},
        services=[
            "127.0.0.1:%d inet n - y - - smtpd" % port,
            "qmgr unix n - n 300 1 qmgr",
            "cleanup unix n - n - 0 cleanup",
            "local unix - n n - - local",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
        ])
    instance.start(foreground=True)
    wait_smtp(instance, port)
    return port


def lda(conf, extra=""):
    # postel-dovecot(7)'s line, with -c for the test's config.
    return '%s -c %s%s -f "$SENDER" -a "$RECIPIENT"' % (LDA, conf, extra)


def message(token, size=0):
    return (b"From: s@example.org\r\nSubject: " + token.encode()
            + b"\r\n\r\nhello " + token.encode() + b"\r\n"
            + b"x" * size + (b"\r\n" if size else b""))


def status_line(instance, rcpt, status):
    rx = re.compile(r"to=<%s>.*status=%s.*" % (re.escape(rcpt), status))
    found = wait_for(lambda: rx.search(instance.read_log()), 30)
    assert found, instance.read_log()
    return found.group(0)


def test_lda_mailbox_command_delivers_into_dovecot_maildir(instance,
                                                           dovecot):
    port = start_site(instance, lda(dovecot.conf))
    rcpt = "%s@mx.test" % dovecot.account
    token = "lda-%s" % os.urandom(4).hex()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.sendmail("s@example.org", [rcpt], message(token))
    line = status_line(instance, rcpt, "sent")
    assert "delivered to command" in line, line
    assert wait_for(lambda: any(token.encode() in m for m in
                                dovecot.maildir_messages(dovecot.account)),
                    10), dovecot.log()
    assert token in dovecot.fetch(dovecot.account, "hdr", "SUBJECT", token)


def test_lda_over_quota_with_e_bounces_5_7_0(instance, dovecot):
    # -e: Dovecot leaves the DSN to the MTA and exits EX_NOPERM.
    port = start_site(instance, lda(dovecot.conf, " -e"))
    rcpt = "%s@mx.test" % dovecot.account
    token = "big-%s" % os.urandom(4).hex()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.sendmail("s@example.org", [rcpt], message(token, 8000))
    line = status_line(instance, rcpt, "bounced")
    assert "dsn=5.7.0" in line, line
    assert "status 77" in line and "Quota exceeded" in line, line
    assert not any(token.encode() in m for m in
                   dovecot.maildir_messages(dovecot.account))


def test_lda_tempfail_defers_4_3_0(instance, dovecot):
    port = start_site(instance, lda(dovecot.conf_tempfail, " -e"))
    rcpt = "%s@mx.test" % dovecot.account
    token = "tmp-%s" % os.urandom(4).hex()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.sendmail("s@example.org", [rcpt], message(token, 8000))
    line = status_line(instance, rcpt, "deferred")
    assert "dsn=4.3.0" in line and "status 75" in line, line
    assert not any(token.encode() in m for m in
                   dovecot.maildir_messages(dovecot.account))
