# Fast flush (flush(8)): deferred mail for a relay domain is logged per
# destination; ETRN and postelqueue -s deliver it at once when the next hop
# is back; other destinations get 459 / an error; refresh and purge drop
# stale IDs; without the flush service ETRN gets 458 and mail still flows.
# SPDX-License-Identifier: ISC
import glob
import os
import re
import shutil
import smtplib
import subprocess
import tempfile

import pytest

from conftest import Instance, bin_path, free_port, missing_module, wait_for

try:
    from aiosmtpd.controller import Controller
except ImportError:
    raise missing_module("aiosmtpd") from None

pytestmark = pytest.mark.needs("aiosmtpd")

SINK_ADDR = "127.0.2.1"  # the relay domain's next hop (this helper's range)


class Sink:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(list(envelope.rcpt_tos))
        return "250 2.0.0 Ok"


class Mta:
    """A started instance: smtpd, qmgr, relay to SINK_ADDR:port."""

    def __init__(self, flush=True, main=None):
        self.workdir = tempfile.mkdtemp(prefix="postel-flush-")
        os.chmod(self.workdir, 0o755)
        self.inst = Instance(self.workdir)
        self.sink_port = free_port()
        self.port = free_port()
        self.handler = Sink()
        self.ctl = None
        settings = {
            "myhostname": "mta.test.invalid", "mydestination": "",
            "relay_domains": "etrn.test, noflush.test",
            "fast_flush_domains": "etrn.test",
            "relayhost": "[%s]:%d" % (SINK_ADDR, self.sink_port),
            # Only a flush may retry: the backoff is long.
            "minimal_backoff_time": "300s", "queue_run_delay": "300s",
            "smtp_connect_timeout": "2s", "smtpd_error_sleep_time": "0",
            "local_recipient_maps": "",
        }
        settings.update(main or {})
        services = [
            "127.0.0.1:%d inet n - n - - smtpd" % self.port,
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "relay unix - - n - - smtp",
            "smtp unix - - n - - smtp",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
        ]
        if flush:
            services.append("flush unix n - n %s 0 flush" % flush)
        self.inst.write_config(main=settings, services=services)
        self.inst.start(foreground=True)

    def close(self):
        self.sink_down()
        self.inst.cleanup()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def sink_up(self):
        self.ctl = Controller(self.handler, hostname=SINK_ADDR,
                              port=self.sink_port)
        self.ctl.start()

    def sink_down(self):
        if self.ctl is not None:
            self.ctl.stop()
            self.ctl = None

    def send(self, rcpt):
        """Submit one message over SMTP; its queue ID."""
        with smtplib.SMTP("127.0.0.1", self.port, timeout=20) as s:
            s.ehlo("client.test")
            s.mail("a@example.org")
            s.rcpt(rcpt)
            code, text = s.data(b"Subject: t\r\n\r\nbody\r\n")
        assert code == 250, text
        return re.search(rb"queued as (\S+)", text).group(1).decode()

    def deferred(self, qid):
        return os.path.exists(os.path.join(self.inst.queue, "deferred",
                                           qid[9], qid))

    def flush_log(self, name):
        """Contents of the fast flush log NAME, or None."""
        paths = glob.glob(os.path.join(self.inst.queue, "flush", "*", name))
        if not paths:
            return None
        with open(paths[0]) as f:
            return f.read()

    def etrn(self, site):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=60) as s:
            s.ehlo("client.test")
            code, text = s.docmd("ETRN", site)
        return "%d %s" % (code, text.decode())

    def postelqueue(self, *args):
        return subprocess.run(
            [bin_path("postelqueue"), "-c", self.inst.confdir] + list(args),
            capture_output=True, text=True, timeout=60)

    def defer_one(self, rcpt):
        """A message for rcpt that the (down) next hop defers."""
        qid = self.send(rcpt)
        assert wait_for(lambda: self.deferred(qid), 30), self.inst.read_log()
        return qid

    def delivered_to(self, rcpt):
        return any(rcpt in m for m in self.handler.messages)


@pytest.fixture(scope="module")
def mta():
    m = Mta(flush="1000")
    yield m
    m.close()


def test_flush_etrn_delivers_logged_mail_when_next_hop_returns(mta):
    mta.sink_down()
    qid = mta.defer_one("one@etrn.test")
    assert qid in (mta.flush_log("etrn_test") or ""), mta.inst.read_log()
    mta.sink_up()
    assert mta.etrn("etrn.test") == "250 Queuing started"
    assert wait_for(lambda: mta.delivered_to("one@etrn.test"), 30), \
        mta.inst.read_log()
    assert wait_for(lambda: not mta.deferred(qid), 10)
    # The log was emptied by the send request.
    assert qid not in mta.flush_log("etrn_test")


def test_flush_postelqueue_s_delivers_logged_mail(mta):
    mta.sink_down()
    qid = mta.defer_one("two@etrn.test")
    assert qid in mta.flush_log("etrn_test"), mta.inst.read_log()
    mta.sink_up()
    r = mta.postelqueue("-s", "ETRN.test")
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: mta.delivered_to("two@etrn.test"), 30), \
        mta.inst.read_log()
    assert qid not in mta.flush_log("etrn_test")


def test_flush_refuses_destinations_outside_fast_flush_domains(mta):
    assert mta.etrn("noflush.test") == "459 <noflush.test>: service unavailable"
    # As Postfix: one leading '@' or '#' is dropped, bad syntax is 501.
    assert mta.etrn("@noflush.test") == "459 <noflush.test>: service unavailable"
    assert mta.etrn("bad..name") == "501 Error: invalid parameter syntax"
    assert mta.etrn("[127.0.0.1]") == "459 <[127.0.0.1]>: service unavailable"
    r = mta.postelqueue("-s", "noflush.test")
    assert r.returncode == 69, r
    assert 'Flush service is not configured for destination "noflush.test"' \
        in r.stderr
    # Not eligible: no log is kept for it.
    mta.sink_down()
    qid = mta.defer_one("three@noflush.test")
    assert mta.flush_log("noflush_test") is None
    mta.sink_up()
    r = mta.postelqueue("-i", qid)
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: mta.delivered_to("three@noflush.test"), 30), \
        mta.inst.read_log()


def postelsuper_delete(m, qid):
    r = subprocess.run([bin_path("postelsuper"), "-c", m.inst.confdir,
                        "-d", qid], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def test_flush_refresh_drops_stale_ids_and_purges_empty_logs():
    # Master's wakeup (every second here) refreshes logs unread for
    # fast_flush_refresh_time and deletes empty ones older than
    # fast_flush_purge_time.
    m = Mta(flush="1", main={"fast_flush_refresh_time": "1s",
                             "fast_flush_purge_time": "1s"})
    try:
        qid = m.defer_one("four@etrn.test")
        # Stale: the message is gone, its ID stays in the log until a
        # refresh.
        postelsuper_delete(m, qid)
        assert wait_for(lambda: qid not in (m.flush_log("etrn_test") or ""),
                        30), m.inst.read_log()
        assert wait_for(lambda: m.flush_log("etrn_test") is None, 30), \
            m.flush_log("etrn_test")
    finally:
        m.close()


def test_flush_purge_from_postelqueue_f():
    m = Mta(flush="1000", main={"fast_flush_purge_time": "1s"})
    try:
        qid = m.defer_one("five@etrn.test")
        postelsuper_delete(m, qid)
        assert qid in m.flush_log("etrn_test")
        # The refresh time (12h) has not passed: only a purge sends it.
        r = m.postelqueue("-f")
        assert r.returncode == 0, r.stderr
        assert m.flush_log("etrn_test") == ""
        # Empty for more than fast_flush_purge_time: the next purge
        # deletes it.
        assert wait_for(lambda: m.postelqueue("-f").returncode == 0
                        and m.flush_log("etrn_test") is None, 30, 0.5)
    finally:
        m.close()


def test_flush_down_gives_458_and_delivery_goes_on():
    m = Mta(flush=None)
    try:
        qid = m.defer_one("six@etrn.test")
        assert wait_for(lambda: "flush service failure" in m.inst.read_log(),
                        10), m.inst.read_log()
        assert m.etrn("etrn.test") == "458 Unable to queue messages"
        r = m.postelqueue("-s", "etrn.test")
        assert r.returncode == 69 and "mail system is down" in r.stderr, r
        m.sink_up()
        r = m.postelqueue("-i", qid)
        assert r.returncode == 0, r.stderr
        assert wait_for(lambda: m.delivered_to("six@etrn.test"), 30), \
            m.inst.read_log()
    finally:
        m.close()
