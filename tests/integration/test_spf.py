# SPF in smtpd (RFC 7208, libspf2): every result on a real instance whose
# only DNS server is the tests' own (dnsserver.py).  Inbound clients bind
# to 127.0.0.5 (mynetworks holds only 127.0.0.1/32); mail for dest.test is
# relayed to an aiosmtpd sink, where the Received-SPF field is read back.
# One listener only annotates; a second one (-o) lists the reject_spf_*
# restrictions.
# SPDX-License-Identifier: ISC
import os
import re
import shutil
import smtplib
import tempfile
import uuid

import pytest

from conftest import (ContentSink, Instance, free_port, missing_module,
                      wait_for, wait_smtp)
from dnsserver import DNSServer

try:
    from aiosmtpd.controller import Controller
except ImportError:
    raise missing_module("aiosmtpd") from None
try:
    import authres
except ImportError:
    raise missing_module("authres") from None

pytestmark = pytest.mark.needs("dnslib", "aiosmtpd", "authres")

OUTSIDE = "127.0.0.5"
TRUSTED = "127.0.0.1"
RESTRICT = ("reject_spf_fail, reject_spf_softfail, defer_spf_temperror, "
            "reject_spf_permerror")


@pytest.fixture(scope="module")
def dns():
    with DNSServer() as d:
        d.add("pass.test", "TXT", "v=spf1 ip4:127.0.0.5 -all")
        d.add("fail.test", "TXT", "v=spf1 ip4:192.0.2.1 -all")
        d.add("softfail.test", "TXT", "v=spf1 ip4:192.0.2.1 ~all")
        d.add("neutral.test", "TXT", "v=spf1 ?all")
        d.add("none.test", "A", "192.0.2.9")
        d.add("none.test", "TXT", "not an spf record")
        d.servfail("temp.test")
        d.add("perm.test", "TXT", "v=spf1 ip4:192.0.2.1 bogus:x -all")
        d.add("twice.test", "TXT", "v=spf1 -all")
        d.add("twice.test", "TXT", "v=spf1 +all")
        d.add("mx.test", "TXT", "v=spf1 mx -all")
        d.add("mx.test", "MX", (10, "mail.mx.test"))
        d.add("mail.mx.test", "A", "127.0.0.5")
        d.add("inc.test", "TXT", "v=spf1 include:pass.test -all")
        d.add("exp.test", "TXT", "v=spf1 -all exp=why.exp.test")
        d.add("why.exp.test", "TXT", "%{i} may not send for %{d}")
        d.add("helo.test", "TXT", "v=spf1 ip4:127.0.0.5 -all")
        d.add("badhelo.test", "TXT", "v=spf1 -all")
        yield d


@pytest.fixture(scope="module")
def mta(dns):
    handler = ContentSink()
    sink_port = free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=sink_port)
    ctl.start()
    workdir = tempfile.mkdtemp(prefix="postel-test-")
    os.chmod(workdir, 0o755)
    inst = Instance(workdir)
    inst.port = free_port()
    inst.strict_port = free_port()
    inst.inbound_port = free_port()
    inst.outbound_port = free_port()
    inst.sink = handler
    inst.maillog = os.path.join(workdir, "maillog")
    inst.write_config(main={
        "myhostname": "mx.local.test",
        "mydomain": "local.test",
        "mydestination": "",
        "mynetworks": "127.0.0.1/32",
        "relay_domains": "dest.test",
        "local_recipient_maps": "",
        "relayhost": "[127.0.0.1]:%d" % sink_port,
        "dns_nameservers": dns.address,
        "maillog_file": inst.maillog,
        "smtpd_error_sleep_time": "0",
        "smtp_connect_timeout": "5s",
    }, services=[
        "postlog unix-dgram n - n - 1 postlogd",
        "127.0.0.1:%d inet n - y - - smtpd" % inst.port,
        "127.0.0.1:%d inet n - y - - smtpd -o smtpd_sender_restrictions=%s"
        % (inst.strict_port, RESTRICT.replace(" ", "")),
        "127.0.0.1:%d inet n - y - - smtpd -o smtpd_mail_auth_role=inbound"
        % inst.inbound_port,
        "127.0.0.1:%d inet n - y - - smtpd -o smtpd_mail_auth_role=outbound"
        % inst.outbound_port,
        "cleanup unix n - n - 0 cleanup",
        "qmgr unix n - n 300 1 qmgr",
        "smtp unix - - n - - smtp",
        "relay unix - - n - - smtp",
        "bounce unix - - n - 0 bounce",
        "defer unix - - n - 0 bounce",
        "trace unix - - n - 0 bounce",
    ])
    inst.start()
    wait_smtp(inst, inst.port)
    wait_smtp(inst, inst.strict_port)
    wait_smtp(inst, inst.inbound_port)
    wait_smtp(inst, inst.outbound_port)
    yield inst
    inst.cleanup()
    ctl.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def session(port, source=OUTSIDE, helo="client.example.test"):
    s = smtplib.SMTP("127.0.0.1", port, local_hostname=helo, timeout=30,
                     source_address=(source, 0))
    s.ehlo()
    return s


def send(mta, sender, source=OUTSIDE, helo="client.example.test", port=None):
    """Send one message (to the annotating listener); return it."""
    mid = "<%s@test>" % uuid.uuid4().hex
    msg = ("From: <a@example.org>\r\nTo: <x@dest.test>\r\n"
           "Message-ID: %s\r\nSubject: spf\r\n\r\nbody\r\n" % mid)
    s = session(port or mta.port, source, helo)
    code, reply = s.mail(sender)
    assert code == 250, reply
    code, reply = s.rcpt("x@dest.test")
    assert code == 250, reply
    code, reply = s.data(msg)
    assert code == 250, reply
    s.quit()
    got = wait_for(lambda: [m for m in mta.sink.messages if mid.encode() in m],
                   20)
    assert got, open(mta.maillog).read()
    return got[0]


def authentication_results(message):
    """Our one Authentication-Results field, parsed by python3-authres."""
    head = message.split(b"\r\n\r\n", 1)[0].decode()
    head = re.sub(r"\r\n[ \t]", " ", head)
    ours = [line for line in head.split("\r\n")
            if line.lower().startswith("authentication-results:")]
    assert len(ours) == 1, head
    return authres.AuthenticationResultsHeader.parse(ours[0])


def received_spf(message):
    """(result, comment, {key: value}) of the Received-SPF fields."""
    head = message.split(b"\r\n\r\n", 1)[0].decode()
    head = re.sub(r"\r\n[ \t]", " ", head)
    found = []
    for line in head.split("\r\n"):
        m = re.match(r"Received-SPF: (\w+)(?: \((.*?)\))? (.*)$", line)
        if not m:
            continue
        pairs = dict(re.findall(r'([\w-]+)=("(?:[^"\\]|\\.)*"|[^;\s]*);',
                                m.group(3)))
        pairs = {k: v[1:-1] if v.startswith('"') else v
                 for k, v in pairs.items()}
        found.append((m.group(1), m.group(2), pairs))
    return found


@pytest.mark.parametrize("sender,result", [
    ("s@pass.test", "pass"),
    ("s@fail.test", "fail"),
    ("s@softfail.test", "softfail"),
    ("s@neutral.test", "neutral"),
    ("s@none.test", "none"),
    ("s@nxdomain.test", "none"),
    ("s@temp.test", "temperror"),
    ("s@perm.test", "permerror"),
    ("s@twice.test", "permerror"),
    ("s@mx.test", "pass"),
    ("s@inc.test", "pass"),
])
def test_spf_result_in_received_spf(mta, sender, result):
    message = send(mta, sender)
    fields = received_spf(message)
    assert len(fields) == 1, fields
    got, comment, kv = fields[0]
    assert got == result
    assert comment.startswith("mx.local.test: ")
    assert kv["client-ip"] == OUTSIDE
    assert kv["envelope-from"] == sender
    assert kv["helo"] == "client.example.test"
    assert kv["receiver"] == "mx.local.test"
    assert kv["identity"] == "mailfrom"
    if result == "permerror":
        assert kv.get("problem"), kv
    if sender == "s@fail.test":
        assert kv.get("mechanism") is None    # -all matched: not "default"
    if sender == "s@neutral.test":
        assert "neither permitted nor denied" in comment
    # The same result in cleanup's Authentication-Results (RFC 8601).
    (spf,) = [r for r in authentication_results(message).results
              if r.method == "spf"]
    assert spf.result == result
    props = {"%s.%s" % (p.type, p.name): p.value for p in spf.properties}
    assert props == {"smtp.mailfrom": sender.split("@")[1]}, props


def test_spf_no_match_reports_mechanism_default(mta, dns):
    dns.add("nomatch.test", "TXT", "v=spf1 ip4:192.0.2.1")
    (result, _, kv), = received_spf(send(mta, "s@nomatch.test"))
    assert result == "neutral"
    assert kv["mechanism"] == "default"


def test_spf_null_sender_checks_helo(mta):
    (result, comment, kv), = received_spf(send(mta, "<>", helo="helo.test"))
    assert result == "pass"
    assert kv["identity"] == "helo"
    assert kv["helo"] == "helo.test"
    assert "helo.test" in comment
    (result, _, kv), = received_spf(send(mta, "<>", helo="badhelo.test"))
    assert result == "fail"
    assert kv["identity"] == "helo"


def test_spf_outbound_client_is_not_checked(mta):
    message = send(mta, "s@fail.test", source=TRUSTED)
    assert received_spf(message) == []
    assert b"Received-SPF" not in message


def test_spf_follows_smtpd_mail_auth_role(mta):
    # -o smtpd_mail_auth_role=inbound: even a mynetworks client is checked.
    (result, _, kv), = received_spf(send(mta, "s@pass.test", source=TRUSTED,
                                         port=mta.inbound_port))
    assert result == "fail"          # 127.0.0.1 is not in pass.test's SPF
    assert kv["client-ip"] == TRUSTED
    # outbound: an outside client is not checked.
    message = send(mta, "s@fail.test", port=mta.outbound_port)
    assert received_spf(message) == []


def test_spf_queries_go_to_dns_nameservers(mta, dns):
    dns.add("counted.test", "TXT", "v=spf1 a:host.counted.test -all")
    dns.add("host.counted.test", "A", "127.0.0.5")
    (result, _, _), = received_spf(send(mta, "s@counted.test"))
    assert result == "pass"
    asked = [(n, t) for n, t in dns.queries if n.endswith("counted.test")]
    assert ("counted.test", "TXT") in asked
    assert ("host.counted.test", "A") in asked
    assert not [q for q in dns.queries if q[1] == "TYPE99"]


@pytest.mark.parametrize("sender,reply", [
    ("s@fail.test", "550 5.7.23 <s@fail.test>: Sender address rejected: "
     "SPF fail for fail.test (127.0.0.5 is not a designated mail server "
     "for fail.test)"),
    ("s@softfail.test", "550 5.7.23 <s@softfail.test>: Sender address "
     "rejected: SPF softfail for softfail.test (127.0.0.5 is not a "
     "designated mail server for softfail.test)"),
    ("s@temp.test", "451 4.7.24 <s@temp.test>: Sender address rejected: "
     "SPF temperror for temp.test (temporary DNS failure)"),
    ("s@exp.test", "550 5.7.23 <s@exp.test>: Sender address rejected: "
     "SPF fail for exp.test (127.0.0.5 may not send for exp.test)"),
])
def test_spf_restriction_refuses(mta, sender, reply):
    s = session(mta.strict_port)
    code, _ = s.mail(sender)
    assert code == 250     # smtpd_delay_reject: the verdict comes at RCPT
    code, text = s.rcpt("x@dest.test")
    assert "%d %s" % (code, text.decode()) == reply
    s.quit()
    assert wait_for(lambda: reply in open(mta.maillog).read()), \
        open(mta.maillog).read()


def test_spf_permerror_restriction_refuses(mta):
    s = session(mta.strict_port)
    s.mail("s@perm.test")
    code, text = s.rcpt("x@dest.test")
    assert code == 550
    assert text.decode().startswith(
        "5.7.24 <s@perm.test>: Sender address rejected: SPF permerror "
        "for perm.test (")
    s.quit()


@pytest.mark.parametrize("sender", ["s@pass.test", "s@neutral.test",
                                    "s@none.test"])
def test_spf_restrictions_accept_other_results(mta, sender):
    s = session(mta.strict_port)
    s.mail(sender)
    code, text = s.rcpt("x@dest.test")
    assert code == 250, text
    s.quit()


def test_spf_restriction_is_a_noop_for_outbound_mail(mta):
    s = session(mta.strict_port, source=TRUSTED)
    s.mail("s@fail.test")
    code, text = s.rcpt("x@dest.test")
    assert code == 250, text
    s.quit()


def test_spf_restriction_refuses_null_sender_failing_helo(mta):
    s = session(mta.strict_port, helo="badhelo.test")
    s.mail("<>")
    code, text = s.rcpt("x@dest.test")
    assert code == 550
    assert text.decode().startswith(
        "5.7.23 <>: Sender address rejected: SPF fail for badhelo.test")
    s.quit()
