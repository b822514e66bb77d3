"""After-queue content filters, the Postfix way (FILTER_README): a
content_filter (or a FILTER action) sends the queued message over a
`scan` smtp transport to a filter on loopback, which re-injects it on a
second smtpd listener that has `-o content_filter=` and the usual
receive_override_options.  The filter here is an aiosmtpd server that
adds a header and, like amavis, passes on the XFORWARD attributes it got
from Postel's smtp client (smtp_send_xforward_command=yes) to the
re-injection listener (smtpd_authorized_xforward_hosts), so the message
keeps its original client in the log and the Received header.

The original client connects from 127.0.0.2 so that it differs from the
filter (127.0.0.1).

SPDX-License-Identifier: ISC
"""
import os
import re
import smtplib
import subprocess

import pytest

from conftest import bin_path, free_port, missing_module, wait_for

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP
except ImportError:
    raise missing_module("aiosmtpd") from None

pytestmark = pytest.mark.needs("aiosmtpd")

HOST = "mta.test.invalid"
ORIG = "127.0.0.2"  # the original client's address


class Sink:
    """The final destination (relayhost)."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append({"from": envelope.mail_from,
                              "to": list(envelope.rcpt_tos),
                              "data": envelope.original_content})
        return "250 2.0.0 Ok: queued as SINK%d" % len(self.messages)


class XforwardSMTP(SMTP):
    """aiosmtpd with the XFORWARD command (kept raw for the filter)."""

    async def smtp_XFORWARD(self, arg):
        if not arg:
            await self.push("501 5.5.4 Syntax: XFORWARD attribute=value...")
            return
        prev = getattr(self.session, "xforward", [])
        self.session.xforward = prev + [arg]
        await self.push("250 2.0.0 Ok")


class Filter:
    """Adds X-Filtered:, re-injects on reinject_port with XFORWARD."""

    def __init__(self):
        self.reinject_port = None
        self.received = []  # the XFORWARD lines of each message

    async def handle_EHLO(self, server, session, envelope, hostname,
                          responses):
        session.host_name = hostname
        session.xforward = []
        return (responses[:-1]
                + ["250-XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT"]
                + responses[-1:])

    async def handle_DATA(self, server, session, envelope):
        xf = list(getattr(session, "xforward", []))
        self.received.append(xf)
        session.xforward = []  # per transaction, as Postfix
        data = b"X-Filtered: yes\r\n" + envelope.original_content
        try:
            with smtplib.SMTP("127.0.0.1", self.reinject_port,
                              timeout=20) as s:
                s.ehlo("filter.test.invalid")
                if s.has_extn("xforward"):
                    for line in xf:
                        code, text = s.docmd("XFORWARD", line)
                        if code != 250:
                            return "451 4.3.0 XFORWARD: %d %s" % (
                                code, text.decode())
                s.sendmail(envelope.mail_from, envelope.rcpt_tos, data)
        except (OSError, smtplib.SMTPException) as e:
            return "451 4.3.0 re-injection failed: %s" % e
        return "250 2.0.0 Ok: filtered"


class FilterController(Controller):
    def factory(self):
        return XforwardSMTP(self.handler, **self.SMTP_kwargs)


@pytest.fixture
def sink():
    handler = Sink()
    handler.port = free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=handler.port)
    ctl.start()
    yield handler
    ctl.stop()


@pytest.fixture
def ports():
    return {"smtp": free_port(), "reinject": free_port(),
            "filter": free_port(), "override": free_port()}


def start_filter(handler, port):
    ctl = FilterController(handler, hostname="127.0.0.1", port=port)
    ctl.start()
    return ctl


@pytest.fixture
def content_filter(ports):
    handler = Filter()
    handler.reinject_port = ports["reinject"]
    ctl = start_filter(handler, ports["filter"])
    handler.ctl = ctl
    yield handler
    if handler.ctl is not None:
        handler.ctl.stop()


def configure(instance, sink, ports, main=None, extra=()):
    conf = {"myhostname": HOST, "mydestination": "",
            "relayhost": "[127.0.0.1]:%d" % sink.port,
            "mynetworks": "127.0.0.0/8",
            "smtpd_recipient_restrictions": "permit_mynetworks, reject",
            "minimal_backoff_time": "300s", "queue_run_delay": "300s",
            "smtp_connect_timeout": "5s", "maillog_file": ""}
    conf.update(main or {})
    instance.write_config(
        main=conf,
        services=[
            "127.0.0.1:%d inet n - n - - smtpd" % ports["smtp"],
            # The usual re-injection listener of FILTER_README.
            "127.0.0.1:%d inet n - n - - smtpd -o content_filter= "
            "-o receive_override_options=no_unknown_recipient_checks,"
            "no_header_body_checks -o smtpd_authorized_xforward_hosts="
            "127.0.0.0/8 -o smtpd_client_restrictions= "
            "-o smtpd_helo_restrictions= -o smtpd_sender_restrictions= "
            "-o smtpd_recipient_restrictions=permit_mynetworks,reject"
            % ports["reinject"],
            "scan unix - - n - 10 smtp -o smtp_send_xforward_command=yes",
            "qmgr unix n - n 300 1 qmgr",
            "cleanup unix n - n - 0 cleanup",
            "smtp unix - - n - - smtp",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
        ] + list(extra))
    instance.start(foreground=True)
    return instance


def send(port, rcpt, subject="hello", source=ORIG, sender="a@example.org"):
    body = ("From: %s\r\nTo: %s\r\nSubject: %s\r\n"
            "Message-ID: <%s@example.org>\r\n\r\nbody line\r\n"
            % (sender, rcpt, subject, os.urandom(6).hex()))
    with smtplib.SMTP("127.0.0.1", port, timeout=30,
                      source_address=(source, 0)) as s:
        s.ehlo("client.test.invalid")
        s.sendmail(sender, [rcpt], body)


def header(data, name):
    head = data.split(b"\r\n\r\n", 1)[0]
    return [line for line in head.split(b"\r\n")
            if line.lower().startswith(name.lower() + b":")]


def postelqueue(instance, *args):
    return subprocess.run([bin_path("postelqueue"), "-c", instance.confdir]
                          + list(args), capture_output=True, text=True,
                          timeout=30)


def test_content_filter_adds_header_and_keeps_original_client(
        instance, sink, ports, content_filter):
    mta = configure(instance, sink, ports, main={
        "content_filter": "scan:[127.0.0.1]:%d" % ports["filter"]})
    send(ports["smtp"], "x@example.com")
    assert wait_for(lambda: sink.messages, 30), mta.read_log()
    msg = sink.messages[0]
    assert msg["to"] == ["x@example.com"]
    assert header(msg["data"], b"X-Filtered") == [b"X-Filtered: yes"]
    # The filter got XFORWARD from Postel's scan transport...
    xf = " ".join(content_filter.received[0])
    assert "ADDR=%s" % ORIG in xf and "HELO=client.test.invalid" in xf, xf
    # SOURCE=LOCAL: the client is in mynetworks (its rewrite context).
    assert "SOURCE=LOCAL" in xf and "PROTO=ESMTP" in xf, xf
    # ... and the re-injected message names the original client: the
    # top Received: field (added by the re-injection smtpd) and the log.
    top = msg["data"][msg["data"].index(b"Received:"):]
    first = top.split(b"\r\nReceived:", 1)[0]
    assert ORIG.encode() in first and b"client.test.invalid" in first, first
    # Both deliveries logged (postlogd writes asynchronously).
    assert wait_for(lambda: mta.read_log().count("status=sent") >= 2, 15), \
        mta.read_log()
    log = mta.read_log()
    m = re.search(r"(\w+): client=\S+\[127\.0\.0\.1\], orig_queue_id=(\w+), "
                  r"orig_client=\S+\[127\.0\.0\.2\]", log)
    assert m, log
    # The first queue ID went to the filter, the second to the sink.
    assert re.search(r"%s: to=<x@example.com>, relay=127\.0\.0\.1\[127\.0\.0"
                     r"\.1\]:%d, .*status=sent" % (m.group(2), ports["filter"]),
                     log), log
    assert re.search(r"%s: to=<x@example.com>, relay=127\.0\.0\.1\[127\.0\.0"
                     r"\.1\]:%d, .*status=sent" % (m.group(1), sink.port),
                     log), log


def test_filter_down_defers_then_delivers_when_back(
        instance, sink, ports, content_filter):
    content_filter.ctl.stop()
    content_filter.ctl = None
    mta = configure(instance, sink, ports, main={
        "content_filter": "scan:[127.0.0.1]:%d" % ports["filter"]})
    send(ports["smtp"], "y@example.com")
    assert wait_for(lambda: re.search(
        r"to=<y@example.com>, relay=none, .*status=deferred",
        mta.read_log()), 30), mta.read_log()
    assert "y@example.com" in postelqueue(mta, "-p").stdout
    assert sink.messages == []
    content_filter.ctl = start_filter(content_filter, ports["filter"])
    assert postelqueue(mta, "-f").returncode == 0
    assert wait_for(lambda: sink.messages, 30), mta.read_log()
    assert header(sink.messages[0]["data"], b"X-Filtered") \
        == [b"X-Filtered: yes"]
    assert sink.messages[0]["to"] == ["y@example.com"]


def test_filter_action_in_access_map_routes_only_that_message(
        instance, workdir, sink, ports, content_filter):
    table = os.path.join(workdir, "access")
    with open(table, "w") as f:
        f.write("scanned@example.com FILTER scan:[127.0.0.1]:%d\n"
                "broken@example.com FILTER\n"
                % ports["filter"])
    mta = configure(instance, sink, ports, main={
        "smtpd_recipient_restrictions":
            "check_recipient_access texthash:%s, permit_mynetworks, reject"
            % table})
    send(ports["smtp"], "scanned@example.com")
    send(ports["smtp"], "plain@example.com")
    assert wait_for(lambda: len(sink.messages) == 2, 30), mta.read_log()
    by_rcpt = {m["to"][0]: m["data"] for m in sink.messages}
    assert header(by_rcpt["scanned@example.com"], b"X-Filtered")
    assert not header(by_rcpt["plain@example.com"], b"X-Filtered")
    assert len(content_filter.received) == 1
    send(ports["smtp"], "broken@example.com")
    assert wait_for(lambda: len(sink.messages) == 3, 30), mta.read_log()
    assert not header(sink.messages[2]["data"], b"X-Filtered")
    assert wait_for(lambda: "bad FILTER action" in mta.read_log(), 15), \
        mta.read_log()


def test_filter_action_in_header_and_body_checks_routes_only_those(
        instance, workdir, sink, ports, content_filter):
    table = os.path.join(workdir, "header_checks")
    with open(table, "w") as f:
        f.write("/^Subject: scan me/ FILTER scan:[127.0.0.1]:%d\n"
                "/^Subject: broken/ FILTER no-transport-here\n"
                % ports["filter"])
    body = os.path.join(workdir, "body_checks")
    with open(body, "w") as f:
        f.write("/^body line$/ FILTER scan:[127.0.0.1]:%d\n"
                % ports["filter"])
    mta = configure(instance, sink, ports, main={
        "header_checks": "regexp:%s" % table})
    send(ports["smtp"], "one@example.com", subject="scan me please")
    send(ports["smtp"], "two@example.com", subject="leave me")
    send(ports["smtp"], "three@example.com", subject="broken")
    assert wait_for(lambda: len(sink.messages) == 3, 30), mta.read_log()
    by_rcpt = {m["to"][0]: m["data"] for m in sink.messages}
    assert header(by_rcpt["one@example.com"], b"X-Filtered")
    assert not header(by_rcpt["two@example.com"], b"X-Filtered")
    # A FILTER without transport:nexthop is logged and ignored.
    assert not header(by_rcpt["three@example.com"], b"X-Filtered")
    assert wait_for(lambda: 'bad FILTER action "no-transport-here"' in mta.read_log(), 15), \
        mta.read_log()
    # The re-injected copy passed the same header_checks without looping
    # (no_header_body_checks on the re-injection listener).
    assert len(content_filter.received) == 1
    assert re.search(r"filter: header Subject: scan me please", mta.read_log())
    # body_checks: known only after the envelope is written.
    mta.main["header_checks"] = ""
    mta.main["body_checks"] = "regexp:%s" % body
    mta.write_config()
    mta.reload()
    send(ports["smtp"], "four@example.com", subject="body")
    assert wait_for(lambda: len(sink.messages) == 4, 30), mta.read_log()
    assert header(sink.messages[3]["data"], b"X-Filtered")
    assert len(content_filter.received) == 2


def override_instance(instance, workdir, sink, ports, options):
    """A plain listener and one with -o receive_override_options."""
    checks = os.path.join(workdir, "header_checks")
    with open(checks, "w") as f:
        f.write("/^Subject: forbidden/ REJECT no such subjects\n")
    virtual = os.path.join(workdir, "virtual")
    with open(virtual, "w") as f:
        f.write("alias@example.com real@example.com\n")
    known = os.path.join(workdir, "relay_recipients")
    with open(known, "w") as f:
        f.write("known@example.com x\nalias@example.com x\n")
    return configure(instance, sink, ports, main={
        "relay_domains": "example.com",
        "relay_transport": "smtp:[127.0.0.1]:%d" % sink.port,
        "relay_recipient_maps": "texthash:%s" % known,
        "smtpd_recipient_restrictions": "reject_unauth_destination",
        "header_checks": "regexp:%s" % checks,
        "virtual_alias_maps": "texthash:%s" % virtual,
    }, extra=["127.0.0.1:%d inet n - n - - smtpd "
              "-o receive_override_options=%s" % (ports["override"],
                                                   options)])


def test_receive_override_no_unknown_recipient_checks(
        instance, workdir, sink, ports):
    mta = override_instance(instance, workdir, sink, ports,
                            "no_unknown_recipient_checks")
    with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
        send(ports["smtp"], "unknown@example.com")
    assert b"User unknown" in e.value.recipients["unknown@example.com"][1]
    send(ports["override"], "unknown@example.com")
    assert wait_for(lambda: sink.messages, 30), mta.read_log()
    assert sink.messages[0]["to"] == ["unknown@example.com"]


def test_receive_override_no_header_body_checks(
        instance, workdir, sink, ports):
    mta = override_instance(instance, workdir, sink, ports,
                            "no_header_body_checks")
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(ports["smtp"], "known@example.com", subject="forbidden")
    assert e.value.smtp_code == 550 and b"no such subjects" in e.value.smtp_error
    send(ports["override"], "known@example.com", subject="forbidden")
    assert wait_for(lambda: sink.messages, 30), mta.read_log()
    assert header(sink.messages[0]["data"], b"Subject") \
        == [b"Subject: forbidden"]


def test_receive_override_no_address_mappings(
        instance, workdir, sink, ports):
    mta = override_instance(instance, workdir, sink, ports,
                            "no_address_mappings")
    send(ports["smtp"], "alias@example.com")
    assert wait_for(lambda: len(sink.messages) == 1, 30), mta.read_log()
    assert sink.messages[0]["to"] == ["real@example.com"]
    send(ports["override"], "alias@example.com")
    assert wait_for(lambda: len(sink.messages) == 2, 30), mta.read_log()
    assert sink.messages[1]["to"] == ["alias@example.com"]


def test_xforward_only_for_authorized_hosts(instance, sink, ports):
    mta = configure(instance, sink, ports)
    # 127.0.0.2 is authorized on the re-injection listener (127.0.0.0/8)
    # but not on the main one (no smtpd_authorized_xforward_hosts).
    with smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=30,
                      source_address=(ORIG, 0)) as s:
        s.ehlo("x.test.invalid")
        assert not s.has_extn("xforward")
        code, _ = s.docmd("XFORWARD", "ADDR=192.0.2.7")
        assert code == 550
    with smtplib.SMTP("127.0.0.1", ports["reinject"], timeout=30) as s:
        s.ehlo("x.test.invalid")
        assert s.has_extn("xforward")
        for bad in ["ADDR=not-an-address", "BOGUS=1", "PORT=99999",
                    "SOURCE=ELSEWHERE", "NAME", "ADDR=+zz", ""]:
            code, _ = s.docmd("XFORWARD", bad)
            assert code == 501, bad
        code, _ = s.docmd("XFORWARD", "NAME=[UNAVAILABLE] ADDR=IPv6:2001:db8::7"
                          " PORT=2525 PROTO=ESMTP HELO=orig+2Ehelo IDENT=ABC"
                          " SOURCE=REMOTE")
        assert code == 250
        s.sendmail("a@example.org", ["z@example.com"],
                   "Subject: xf\r\n\r\nbody\r\n")
        # Reset after the transaction: the next message is the filter's.
        s.sendmail("a@example.org", ["w@example.com"],
                   "Subject: xf2\r\n\r\nbody\r\n")
    assert wait_for(lambda: len(sink.messages) == 2, 30), mta.read_log()
    by_rcpt = {m["to"][0]: m["data"] for m in sink.messages}
    first = by_rcpt["z@example.com"]
    received = first[first.index(b"Received:"):].split(b"\r\n\t", 1)[0]
    assert b"from orig.helo (unknown [IPv6:2001:db8::7])" in received, first
    assert b"2001:db8::7" not in by_rcpt["w@example.com"]
    log = mta.read_log()
    assert re.search(r"client=localhost\[127\.0\.0\.1\], orig_queue_id=ABC, "
                     r"orig_client=unknown\[2001:db8::7\]", log) or \
        re.search(r"orig_queue_id=ABC, orig_client=unknown\[2001:db8::7\]",
                  log), log


def test_receive_override_no_milters_reaches_cleanup(
        instance, workdir, sink, ports):
    """no_milters is cleanup's to honour (the milter code reads
    st->receive_override); here: smtpd and pickup hand it over."""
    mta = configure(instance, sink, ports, main={
        "receive_override_options": "no_milters"},
        extra=["pickup unix n - n 60 1 pickup"])
    mta.services = [s.replace("0 cleanup", "0 cleanup -v")
                    for s in mta.services]
    mta.write_config()
    mta.reload()
    send(ports["smtp"], "m@example.com")
    r = subprocess.run([bin_path("sendmail"), "-C", mta.confdir,
                        "-f", "a@example.org", "p@example.com"],
                       input=b"Subject: local\n\nbody\n", timeout=30,
                       capture_output=True)
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: len(sink.messages) == 2, 30), mta.read_log()
    lines = re.findall(r"\w+: receive_override: no_milters$",
                       mta.read_log(), re.M)
    assert len(lines) == 2, mta.read_log()


def test_local_submission_goes_through_the_filter_and_stays_local(
        instance, sink, ports, content_filter):
    mta = configure(instance, sink, ports, main={
        "content_filter": "scan:[127.0.0.1]:%d" % ports["filter"]},
        extra=["pickup unix n - n 60 1 pickup"])
    r = subprocess.run([bin_path("sendmail"), "-C", mta.confdir,
                        "-f", "a@example.org", "local@example.com"],
                       input=b"Subject: local\n\nbody\n", timeout=30,
                       capture_output=True)
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: sink.messages, 30), mta.read_log()
    assert header(sink.messages[0]["data"], b"X-Filtered")
    xf = " ".join(content_filter.received[0])
    # No client: Postel sends [UNAVAILABLE], and the re-injected message
    # is local mail again (no "from" client in its Received: field).
    assert "NAME=[UNAVAILABLE] ADDR=[UNAVAILABLE]" in xf, xf
    assert "SOURCE=LOCAL" in xf, xf
    data = sink.messages[0]["data"]
    top = data[data.index(b"Received:"):].split(b"\r\nReceived:", 1)[0]
    assert b"127.0.0.1" not in top, top
    assert re.search(r"client=localhost\[127\.0\.0\.1\], orig_queue_id=\w+,"
                     r" orig_client=unknown\[unknown\]", mta.read_log()), \
        mta.read_log()


def test_filter_action_from_a_policy_server(
        instance, sink, ports, content_filter):
    """check_policy_service replies are access(5) actions: FILTER too."""
    from test_policy import PolicyServer

    class FilterPolicy(PolicyServer):
        def action(self, req):
            if req.get("recipient", "").startswith("policy-scan@"):
                return "FILTER scan:[127.0.0.1]:%d" % ports["filter"]
            return "DUNNO"

    policy = FilterPolicy()
    try:
        mta = configure(instance, sink, ports, main={
            "smtpd_recipient_restrictions":
                "check_policy_service inet:127.0.0.1:%d, "
                "permit_mynetworks, reject" % policy.port})
        send(ports["smtp"], "policy-scan@example.com")
        send(ports["smtp"], "policy-plain@example.com")
        assert wait_for(lambda: len(sink.messages) == 2, 30), mta.read_log()
    finally:
        policy.close()
    by_rcpt = {m["to"][0]: m["data"] for m in sink.messages}
    assert header(by_rcpt["policy-scan@example.com"], b"X-Filtered")
    assert not header(by_rcpt["policy-plain@example.com"], b"X-Filtered")
