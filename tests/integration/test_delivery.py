"""End to end: queue file -> qmgr -> smtp -> an aiosmtpd sink, and the
bounce path back to the sender (qmgr + smtp + bounce + cleanup).

The sink listens on 127.0.0.1 at a free port; relayhost = [127.0.0.1]:port
makes smtp skip the MX lookup.  Local parts bounce* get 550, defer* 451.

SPDX-License-Identifier: ISC
"""
import email
import json
import os
import subprocess
import signal
import time

import pytest

from conftest import bin_path, free_port, missing_module, wait_for
from test_qmgr import queue_ids, trigger, write_queue_file

try:
    from aiosmtpd.controller import Controller
except ImportError:
    raise missing_module("aiosmtpd") from None


class Sink:
    def __init__(self):
        self.messages = []
        self.defer = True       # defer* recipients get 451 while set

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0]
        if local.startswith("bounce"):
            return "550 5.1.1 <%s>: Recipient address rejected" % address
        if local.startswith("defer") and self.defer:
            return "451 4.3.0 <%s>: try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              envelope.original_content or envelope.content))
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


@pytest.fixture
def mta(instance, sink):
    instance.write_config(
        main={"relayhost": "[127.0.0.1]:%d" % sink.port,
              "myhostname": "mta.test.invalid", "mydestination": "",
              "minimal_backoff_time": "300s", "queue_run_delay": "300s",
              "smtp_connect_timeout": "5s",
              # postelqueue -s asks the fast flush service (flush(8)).
              "fast_flush_domains": "two.example"},
        services=[
            "qmgr unix n - n 300 1 qmgr",
            "flush unix n - n 1000 0 flush",
            "cleanup unix n - n - 0 cleanup",
            "smtp unix - - n - - smtp",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
        ])
    instance.start(foreground=True)
    return instance


BODY = (b"From: a@example.org\r\nTo: x@example.com\r\nSubject: hello\r\n"
        b"Message-ID: <m1@example.org>\r\n\r\nbody line\r\n")


def test_delivery_relays_to_relayhost(mta, sink):
    qid = write_queue_file(mta.queue, "a@example.org",
                           ["x@example.com", "y@example.net"], body=BODY)
    trigger(mta)
    assert wait_for(lambda: "%s: removed" % qid in mta.read_log(), 20), mta.read_log()
    rcpts = sorted(r for m in sink.messages for r in m[1])
    assert rcpts == ["x@example.com", "y@example.net"]
    assert all(m[0] == "a@example.org" for m in sink.messages)
    assert b"body line" in sink.messages[0][2]
    assert wait_for(lambda: "status=sent" in mta.read_log(), 15), \
        mta.read_log()


def test_delivery_5xx_returns_dsn_to_sender(mta, sink):
    qid = write_queue_file(mta.queue, "a@example.org",
                           ["bounce1@example.com", "ok@example.com"], body=BODY)
    trigger(mta)
    assert wait_for(lambda: "%s: removed" % qid in mta.read_log(), 20), mta.read_log()
    assert wait_for(lambda: any(m[0] in ("", "<>") for m in sink.messages), 20), \
        mta.read_log()
    dsn = [m for m in sink.messages if m[0] in ("", "<>")][0]
    assert dsn[1] == ["a@example.org"]
    msg = email.message_from_bytes(dsn[2])
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    parts = msg.get_payload()
    status = [p for p in parts if p.get_content_type() == "message/delivery-status"][0]
    fields = status.get_payload()
    per_rcpt = [f for f in fields if f.get("Final-Recipient")]
    assert len(per_rcpt) == 1
    assert "bounce1@example.com" in per_rcpt[0]["Final-Recipient"]
    assert per_rcpt[0]["Action"] == "failed"
    assert per_rcpt[0]["Status"] == "5.1.1"
    # the good recipient was delivered once
    assert [r for m in sink.messages for r in m[1]].count("ok@example.com") == 1


def test_delivery_4xx_defers_then_flush(mta, sink):
    qid = write_queue_file(mta.queue, "a@example.org", ["defer1@example.com"],
                           body=BODY)
    trigger(mta)
    deferred = os.path.join(mta.queue, "deferred", qid[9], qid)
    assert wait_for(lambda: os.path.exists(deferred), 20), mta.read_log()
    assert wait_for(lambda: "status=deferred" in mta.read_log(), 15), \
        mta.read_log()

    # The reason is visible to the admin, in mailq layout and as JSON.
    reason = "451 4.3.0 <defer1@example.com>: try again later"
    out = postelqueue(mta, "-p")
    assert qid in out and "(" in out and reason in out, out
    [msg] = [json.loads(l) for l in postelqueue(mta, "-j").splitlines()]
    assert msg["queue_name"] == "deferred" and msg["queue_id"] == qid
    [rcpt] = msg["recipients"]
    assert rcpt["address"] == "defer1@example.com"
    assert reason in rcpt["delay_reason"]

    # Backoff is 300 s, so only the flush can deliver it in this test.
    sink.defer = False
    # Proves an absence: nothing is retried before the flush.
    time.sleep(1)
    assert not sink.messages
    postelqueue(mta, "-f")
    assert wait_for(lambda: sink.messages, 20), mta.read_log()
    assert sink.messages[0][1] == ["defer1@example.com"]
    assert wait_for(lambda: not os.path.exists(deferred), 10)
    # From deferred/ it passes through active/ until qmgr removes it.
    assert wait_for(lambda: postelqueue(mta, "-p").strip()
                    == "Mail queue is empty", 10), postelqueue(mta, "-p")


def test_delivery_flush_one_message_or_one_site(mta, sink):
    q1 = write_queue_file(mta.queue, "a@example.org", ["defer1@one.example"],
                          body=BODY)
    q2 = write_queue_file(mta.queue, "a@example.org", ["defer2@two.example"],
                          body=BODY)
    trigger(mta)
    paths = {q: os.path.join(mta.queue, "deferred", q[9], q) for q in (q1, q2)}
    assert wait_for(lambda: all(map(os.path.exists, paths.values())), 20), \
        mta.read_log()
    sink.defer = False
    postelqueue(mta, "-i", q1)
    assert wait_for(lambda: len(sink.messages) == 1, 20), mta.read_log()
    assert sink.messages[0][1] == ["defer1@one.example"]
    # Proves an absence: the other site is not flushed with it.
    time.sleep(1)
    assert len(sink.messages) == 1 and os.path.exists(paths[q2])
    postelqueue(mta, "-s", "TWO.example")
    assert wait_for(lambda: len(sink.messages) == 2, 20), mta.read_log()
    assert sink.messages[1][1] == ["defer2@two.example"]
    r = subprocess.run([bin_path("postelqueue"), "-c", mta.confdir, "-i", q1],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 66 and "no such message" in r.stderr


def postelqueue(mta, *args):
    r = subprocess.run([bin_path("postelqueue"), "-c", mta.confdir] + list(args),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_delivery_kill9_everything_loses_nothing(mta, sink):
    """kill -9 of every Postel process while 200 messages are being
    delivered; after a restart every recipient reaches the sink."""
    rcpts = ["k%d@d%d.example" % (i, i % 4) for i in range(200)]
    for r in rcpts:
        write_queue_file(mta.queue, "a@example.org", [r], body=BODY)
    trigger(mta)
    assert wait_for(lambda: len(sink.messages) >= 20, 30), mta.read_log()
    assert len(sink.messages) < 200, "all delivered before the kill"
    master = mta.master_pid()
    for pid in mta.children() + [master]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert wait_for(lambda: not mta.master_pid(), 10)
    if mta.fg is not None:
        mta.fg.wait(timeout=10)
        mta.fg = None
        mta.log.close()
    mta.start(foreground=True)
    assert wait_for(lambda: (trigger(mta) or True) and
                    not queue_ids(mta.queue, "incoming")
                    and not queue_ids(mta.queue, "active"), 60, 0.5), mta.read_log()
    got = [r for m in sink.messages for r in m[1]]
    assert set(got) == set(rcpts)
    dups = len(got) - len(set(got))
    # only deliveries in flight at the kill may repeat
    assert dups <= 40, "%d duplicates" % dups
