"""smtp client parameters end to end (queue file -> qmgr -> smtp -> an
aiosmtpd sink that records the greeting verb, the peer address and the
envelope): smtp_bind_address, smtp_generic_maps, smtp_always_send_ehlo.

SPDX-License-Identifier: ISC
"""
import email

import pytest
from aiosmtpd.controller import Controller

from conftest import free_port, wait_for
from test_qmgr import trigger, write_queue_file


class Recorder:
    """Records each session's greeting verb, peer and message."""

    def __init__(self):
        self.verbs = []
        self.peers = []
        self.messages = []

    async def handle_EHLO(self, server, session, envelope, hostname,
                          responses):
        self.verbs.append("EHLO")
        session.host_name = hostname
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):
        self.verbs.append("HELO")
        session.host_name = hostname
        return "250 %s" % server.hostname

    async def handle_DATA(self, server, session, envelope):
        self.peers.append(session.peer[0])
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              envelope.original_content or envelope.content))
        return "250 2.0.0 Ok: queued as R%d" % len(self.messages)


@pytest.fixture
def sink():
    handler = Recorder()
    handler.port = free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=handler.port)
    ctl.start()
    yield handler
    ctl.stop()


def send(instance, sink, main, sender, rcpts, body):
    settings = {"relayhost": "[127.0.0.1]:%d" % sink.port,
                "myhostname": "mta.test.invalid", "mydestination": "",
                "minimal_backoff_time": "300s", "queue_run_delay": "300s",
                "smtp_connect_timeout": "5s", "recipient_delimiter": "+"}
    settings.update(main)
    instance.write_config(main=settings, services=[
        "qmgr unix n - n 300 1 qmgr",
        "cleanup unix n - n - 0 cleanup",
        "smtp unix - - n - - smtp",
        "bounce unix - - n - 0 bounce",
        "defer unix - - n - 0 bounce",
        "trace unix - - n - 0 bounce",
    ])
    instance.start(foreground=True)
    qid = write_queue_file(instance.queue, sender, rcpts, body=body)
    trigger(instance)
    assert wait_for(lambda: "%s: removed" % qid in instance.read_log(),
                    20), instance.read_log()
    return instance.read_log()


BODY = (b"From: The User <user@mta.test.invalid>\r\n"
        b"To: bob@internal.test, carol@far.example\r\n"
        b"Cc: \"Ann\" <ann+list@internal.test>\r\n"
        b"Subject: user@mta.test.invalid stays in the subject\r\n"
        b"\r\n"
        b"From: user@mta.test.invalid in the body stays\r\n")


def test_smtp_bind_address_is_the_source_of_the_connection(instance, sink):
    log = send(instance, sink, {"smtp_bind_address": "127.0.0.7"},
               "a@example.org", ["x@example.com"], BODY)
    assert "status=sent" in log
    assert sink.peers == ["127.0.0.7"]


def test_smtp_without_bind_address_uses_the_kernel_choice(instance, sink):
    send(instance, sink, {}, "a@example.org", ["x@example.com"], BODY)
    assert sink.peers == ["127.0.0.1"]


def test_smtp_generic_maps_rewrite_envelope_and_headers(instance, sink,
                                                        workdir):
    log = send(instance, sink, {
        "smtp_generic_maps": "inline:{ "
        "user@mta.test.invalid=someone@example.net, "
        "@internal.test=@example.org }",
        "myorigin": "mta.test.invalid"},
        "user@mta.test.invalid", ["bob@internal.test", "carol@far.example"],
        BODY)
    [(mail_from, rcpts, content)] = sink.messages
    assert mail_from == "someone@example.net"
    assert sorted(rcpts) == ["bob@example.org", "carol@far.example"]
    msg = email.message_from_bytes(content)
    assert msg["From"] == "The User <someone@example.net>"
    assert msg["To"] == "bob@example.org, carol@far.example"
    # "@domain @other" keeps the local part, extension included.
    assert msg["Cc"] == "\"Ann\" <ann+list@example.org>"
    assert msg["Subject"] == "user@mta.test.invalid stays in the subject"
    assert b"From: user@mta.test.invalid in the body stays" in content
    # The logs keep the queue file's addresses.
    assert "to=<bob@internal.test>" in log


def test_smtp_generic_maps_bare_user_for_local_domains(instance, sink):
    send(instance, sink, {
        "smtp_generic_maps": "inline:{ user=user@public.example }",
        "myorigin": "mta.test.invalid"},
        "user@mta.test.invalid", ["user@elsewhere.example"], BODY)
    [(mail_from, rcpts, content)] = sink.messages
    assert mail_from == "user@public.example"
    # Not a local domain: the bare user key does not apply.
    assert rcpts == ["user@elsewhere.example"]


def test_smtp_always_send_ehlo_default_and_no(instance, sink):
    # aiosmtpd's greeting does not say "ESMTP".
    send(instance, sink, {"smtp_always_send_ehlo": "no"},
         "a@example.org", ["x@example.com"], BODY)
    assert sink.verbs == ["HELO"]
    assert len(sink.messages) == 1


def test_smtp_always_send_ehlo_yes_sends_ehlo(instance, sink):
    send(instance, sink, {}, "a@example.org", ["x@example.com"], BODY)
    assert sink.verbs == ["EHLO"]
