"""qmgr's resolver parameters end to end (queue file -> qmgr -> smtp or
error -> aiosmtpd sinks): sender_dependent_relayhost_maps picks the relay
host by sender, relocated_maps bounces a moved recipient with 5.1.6.

SPDX-License-Identifier: ISC
"""
import email

import pytest
from aiosmtpd.controller import Controller

from conftest import free_port, wait_for
from test_delivery import BODY, Sink
from test_qmgr import trigger, write_queue_file


@pytest.fixture
def sinks():
    started = []
    for _ in range(2):
        handler = Sink()
        handler.port = free_port()
        ctl = Controller(handler, hostname="127.0.0.1", port=handler.port)
        ctl.start()
        started.append((handler, ctl))
    yield [h for h, _ in started]
    for _, ctl in started:
        ctl.stop()


def start(instance, main):
    settings = {"myhostname": "mta.test.invalid", "mydestination": "",
                "minimal_backoff_time": "300s", "queue_run_delay": "300s",
                "smtp_connect_timeout": "5s", "recipient_delimiter": "+"}
    settings.update(main)
    instance.write_config(main=settings, services=[
        "qmgr unix n - n 300 1 qmgr",
        "cleanup unix n - n - 0 cleanup",
        "smtp unix - - n - - smtp",
        "error unix - - n - - error",
        "bounce unix - - n - 0 bounce",
        "defer unix - - n - 0 bounce",
        "trace unix - - n - 0 bounce",
    ])
    instance.start(foreground=True)
    return instance


def delivered(mta, qid):
    assert wait_for(lambda: "%s: removed" % qid in mta.read_log(), 20), \
        mta.read_log()


def test_sender_dependent_relayhost_picks_the_relay_by_sender(instance,
                                                             sinks):
    default, special = sinks
    mta = start(instance, {
        "relayhost": "[127.0.0.1]:%d" % default.port,
        "sender_dependent_relayhost_maps":
            "inline:{ boss@corp.example=[127.0.0.1]:%d, "
            "@sub.example=[127.0.0.1]:%d, "
            "other@sub.example=DUNNO }" % (special.port, special.port)})
    by_sender = {}
    for sender in ("boss@corp.example", "boss+x@corp.example",
                   "a@sub.example", "other@sub.example",
                   "clerk@corp.example"):
        by_sender[sender] = write_queue_file(mta.queue, sender,
                                             ["x@far.example"], body=BODY)
    trigger(mta)
    for qid in by_sender.values():
        delivered(mta, qid)
    got_special = sorted(m[0] for m in special.messages)
    got_default = sorted(m[0] for m in default.messages)
    assert got_special == ["a@sub.example", "boss+x@corp.example",
                           "boss@corp.example"]
    assert got_default == ["clerk@corp.example", "other@sub.example"]
    assert wait_for(lambda: "relay=127.0.0.1[127.0.0.1]:%d" % special.port in mta.read_log(), 15), \
        mta.read_log()


def test_relocated_recipient_bounces_with_5_1_6(instance, sinks):
    sink = sinks[0]
    mta = start(instance, {
        "relayhost": "[127.0.0.1]:%d" % sink.port,
        "relocated_maps": "inline:{ moved@example.com=new@else.example }"})
    qid = write_queue_file(mta.queue, "a@example.org",
                           ["moved@example.com", "ok@example.com"], body=BODY)
    trigger(mta)
    delivered(mta, qid)
    log = mta.read_log()
    assert "to=<moved@example.com>" in log
    assert "dsn=5.1.6, status=bounced (User has moved to " \
        "new@else.example)" in log, log
    assert wait_for(lambda: any(m[0] in ("", "<>") for m in sink.messages),
                    20), mta.read_log()
    # The good recipient went on; the sender got a DSN for the moved one.
    rcpts = [r for m in sink.messages if m[0] not in ("", "<>")
             for r in m[1]]
    assert rcpts == ["ok@example.com"]
    dsn = [m for m in sink.messages if m[0] in ("", "<>")][0]
    msg = email.message_from_bytes(dsn[2])
    status = [p for p in msg.get_payload()
              if p.get_content_type() == "message/delivery-status"][0]
    [per_rcpt] = [f for f in status.get_payload() if f.get("Final-Recipient")]
    assert "moved@example.com" in per_rcpt["Final-Recipient"]
    assert per_rcpt["Status"] == "5.1.6"
