# Inbound verification on a real instance: DKIM (libopendkim) and DMARC
# (libopendmarc) in cleanup, the Authentication-Results field they write,
# the DMARC policy (reject at DATA, quarantine on hold, none annotated) and
# the removal of forged results.  Keys and policies come from the tests'
# loopback DNS server; the inbound client connects from 127.0.0.5, outside
# mynetworks (127.0.0.1/32), and the mail is relayed to an aiosmtpd sink
# where the field is read with python3-authres.
# SPDX-License-Identifier: ISC
import base64
import json
import os
import smtplib
import subprocess

import pytest

from conftest import ContentSink, free_port, missing_module, run_cmd, wait_for
from dnsserver import DNSServer

try:
    from aiosmtpd.controller import Controller
except ImportError:
    raise missing_module("aiosmtpd") from None
try:
    import authres
except ImportError:
    raise missing_module("authres") from None
try:
    import dkim
except ImportError:
    raise missing_module("dkimpy") from None

pytestmark = pytest.mark.needs("dnslib", "aiosmtpd", "authres", "dkimpy",
                               "openssl", "publicsuffix")

OUTSIDE = "127.0.0.5"
SERVID = "mx.verify.test"


@pytest.fixture(scope="module")
def sink():
    handler = ContentSink()
    port = free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=port)
    ctl.start()
    handler.port = port
    yield handler
    ctl.stop()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """An RSA-2048 key pair: PEM private key path and the DNS p= value."""
    d = tmp_path_factory.mktemp("dkimkeys")
    key = str(d / "rsa.key")
    r = subprocess.run(["openssl", "genpkey", "-algorithm", "RSA",
                        "-pkeyopt", "rsa_keygen_bits:2048", "-out", key],
                       capture_output=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(["openssl", "pkey", "-in", key, "-pubout",
                        "-outform", "DER"], capture_output=True)
    assert r.returncode == 0, r.stderr
    os.chmod(key, 0o644)
    with open(key, "rb") as f:
        pem = f.read()
    return {"path": key, "pem": pem,
            "p": base64.b64encode(r.stdout).decode()}


@pytest.fixture(scope="module")
def ed25519():
    """An Ed25519 key pair as dkimpy takes it (RFC 8463)."""
    try:
        import nacl.signing
    except ImportError:
        raise missing_module("nacl") from None
    key = nacl.signing.SigningKey.generate()
    return {"private": base64.b64encode(bytes(key)),
            "p": base64.b64encode(bytes(key.verify_key)).decode()}


@pytest.fixture(scope="module")
def dns(keys, ed25519):
    with DNSServer() as server:
        rec = "v=DKIM1; k=rsa; p=" + keys["p"]
        for domain in ("dk.test", "rej.test", "quar.test", "none.test",
                       "pct.test", "other.test", "example.net",
                       "example.org"):
            server.add("sel._domainkey." + domain, "TXT", rec)
        server.add("ed._domainkey.dk.test", "TXT",
                   "v=DKIM1; k=ed25519; p=" + ed25519["p"])
        server.add("_dmarc.dk.test", "TXT", "v=DMARC1; p=reject")
        server.add("spf.test", "TXT", "v=spf1 ip4:%s -all" % OUTSIDE)
        server.add("_dmarc.spf.test", "TXT", "v=DMARC1; p=reject")
        server.add("bounces.test", "TXT", "v=spf1 ip4:%s -all" % OUTSIDE)
        server.add("_dmarc.rej.test", "TXT", "v=DMARC1; p=reject")
        server.add("_dmarc.quar.test", "TXT", "v=DMARC1; p=quarantine")
        server.add("_dmarc.none.test", "TXT", "v=DMARC1; p=none")
        server.add("_dmarc.pct.test", "TXT", "v=DMARC1; p=reject; pct=0")
        # Organizational domains need a suffix that the public suffix
        # list knows (libopendmarc finds none under .test).
        server.add("_dmarc.example.com", "TXT",
                   "v=DMARC1; p=none; sp=reject")
        server.add("_dmarc.example.net", "TXT",
                   "v=DMARC1; p=reject; adkim=s")
        server.add("_dmarc.example.org", "TXT", "v=DMARC1; p=reject")
        server.servfail("sel._domainkey.tmp.test")
        server.servfail("_dmarc.tmp.test")
        yield server


def start_mta(instance, workdir, dns, sink, main=None):
    port = free_port()
    settings = {"myhostname": SERVID, "mydomain": "verify.test",
                "mydestination": "", "mynetworks": "127.0.0.1/32",
                "relay_domains": "dest.test",
                "relayhost": "[127.0.0.1]:%d" % sink.port,
                "dns_nameservers": dns.address,
                "maillog_file": os.path.join(workdir, "maillog"),
                "smtpd_error_sleep_time": "0",
                "smtp_connect_timeout": "5s"}
    settings.update(main or {})
    instance.write_config(
        main=settings,
        services=[
            "postlog unix-dgram n - n - 1 postlogd",
            "127.0.0.1:%d inet n - n - - smtpd" % port,
            # chrooted as in conf/master.cf: keys, records and the public
            # suffix list must all be reachable from inside
            "cleanup unix n - y - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "smtp unix - - n - - smtp",
            "relay unix - - n - - smtp",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
        ])
    instance.start()
    instance.smtp_port = port
    instance.maillog = os.path.join(workdir, "maillog")
    sink.messages.clear()
    return instance


@pytest.fixture
def mta(instance, workdir, dns, sink):
    return start_mta(instance, workdir, dns, sink)


def message(sender_domain, body=b"Hello.\r\n", extra=b""):
    return (extra + b"From: Alice <alice@" + sender_domain.encode() + b">\r\n"
            b"To: bob@dest.test\r\nSubject: verify\r\n"
            b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
            b"Message-ID: <m." + sender_domain.encode() + b"@x>\r\n\r\n"
            + body)


def signed(keys, msg, domain):
    sig = dkim.sign(msg, b"sel", domain.encode(), keys["pem"],
                    include_headers=[b"from", b"to", b"subject", b"date",
                                     b"message-id"])
    return sig + msg


def send(inst, msg, sender="alice@x.test"):
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30,
                      source_address=(OUTSIDE, 0)) as s:
        s.ehlo("client.outside.test")
        s.sendmail(sender, ["bob@dest.test"], msg)


def delivered(sink, marker, inst):
    assert wait_for(lambda: any(marker in m for m in sink.messages), 20), \
        maillog(inst)
    return [m for m in sink.messages if marker in m][0]


def header_fields(raw):
    """(name, value) of each header field, unfolded, in order."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode()
    fields = []
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and fields:
            fields[-1][1] += "\r\n" + line
        else:
            name, _, value = line.partition(":")
            fields.append([name, value.lstrip(" ")])
    return fields


def our_results(raw):
    """The Authentication-Results fields that claim our authserv-id,
    parsed; and the topmost field's name."""
    fields = header_fields(raw)
    ours = []
    for name, value in fields:
        if name.lower() == "authentication-results":
            h = authres.AuthenticationResultsHeader.parse(
                "Authentication-Results: " + value)
            if h.authserv_id.lower() == SERVID:
                ours.append(h)
    return ours, fields[0][0]


def results(raw):
    ours, top = our_results(raw)
    assert len(ours) == 1, raw
    assert top == "Authentication-Results", raw
    out = {}
    for r in ours[0].results:
        props = {"%s.%s" % (p.type, p.name): p.value for p in r.properties}
        out.setdefault(r.method, []).append((r.result, props))
    return out


def maillog(inst):
    try:
        with open(inst.maillog) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def test_authres_dkimpy_signature_passes_and_dmarc_aligns(mta, sink, keys):
    msg = signed(keys, message("dk.test", b"signed pass\r\n"), "dk.test")
    send(mta, msg)
    raw = delivered(sink, b"signed pass", mta)
    res = results(raw)
    [(result, props)] = res["dkim"]
    assert result == "pass", raw
    assert props["header.d"] == "dk.test"
    assert props["header.s"] == "sel"
    b = msg.split(b" b=", 1)[1].replace(b"\r\n", b"").replace(b" ", b"")
    assert props["header.b"] == b[:8].decode()
    assert res["dmarc"] == [("pass", {"header.from": "dk.test"})]
    # One log line per message, countable.
    assert wait_for(lambda: "authentication: spf=none dkim=pass "
                    "header.d=dk.test dmarc=pass header.from=dk.test"
                    in maillog(mta)), \
        maillog(mta)


@pytest.mark.needs("nacl")
def test_authres_rsa_and_ed25519_signatures_each_get_a_result(mta, sink, keys,
                                                            ed25519):
    msg = message("dk.test", b"two signatures\r\n")
    ed = dkim.sign(msg, b"ed", b"dk.test", ed25519["private"],
                   signature_algorithm=b"ed25519-sha256",
                   include_headers=[b"from", b"subject"])
    msg = signed(keys, ed + msg, "dk.test")
    send(mta, msg)
    res = results(delivered(sink, b"two signatures", mta))
    assert sorted((r, p["header.s"]) for r, p in res["dkim"]) == \
        [("pass", "ed"), ("pass", "sel")]
    assert res["dmarc"][0][0] == "pass"


def test_authres_body_altered_after_signing_fails(mta, sink, keys):
    msg = signed(keys, message("none.test", b"original body\r\n"), "none.test")
    msg = msg.replace(b"original body", b"altered body!")
    send(mta, msg)
    res = results(delivered(sink, b"altered body!", mta))
    assert [r for r, _ in res["dkim"]] == ["fail"]
    assert res["dkim"][0][1]["header.d"] == "none.test"
    assert res["dmarc"][0][0] == "fail"


def test_authres_unsigned_is_dkim_none(mta, sink):
    send(mta, message("nodmarc.test", b"unsigned\r\n"))
    res = results(delivered(sink, b"unsigned", mta))
    assert res["dkim"] == [("none", {})]
    assert res["dmarc"] == [("none", {"header.from": "nodmarc.test"})]


def test_authres_dmarc_reject_is_refused_at_data(mta, sink):
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(mta, message("rej.test", b"must not arrive\r\n"))
    assert e.value.smtp_code == 550
    assert e.value.smtp_error.decode().startswith("5.7.1"), e.value
    out = run_cmd(["postelqueue", "-c", mta.confdir, "-j"])
    assert out.stdout.strip() == "", out.stdout
    for folder in ("incoming", "active", "deferred", "hold"):
        path = os.path.join(mta.queue, folder)
        assert not [f for _, _, fs in os.walk(path) for f in fs], folder
    assert wait_for(lambda: "reject: DMARC policy of rej.test" in maillog(mta))
    assert not any(b"must not arrive" in m for m in sink.messages)


def test_authres_dmarc_quarantine_holds(mta, sink):
    send(mta, message("quar.test", b"quarantined\r\n"))
    out = run_cmd(["postelqueue", "-c", mta.confdir, "-j"])
    [msg] = [json.loads(line) for line in out.stdout.splitlines()]
    assert msg["queue_name"] == "hold", msg
    p = run_cmd(["postelqueue", "-c", mta.confdir, "-p"]).stdout
    assert msg["queue_id"] + "!" in p, p
    # The verdict is in the held message (postelcat shows the content).
    r = run_cmd(["postelcat", "-c", mta.confdir, "-q", msg["queue_id"]])
    assert r.returncode == 0, r.stderr
    raw = r.stdout.encode()
    assert b"dmarc=fail (p=quarantine dis=quarantine) header.from=quar.test" \
        in raw, raw
    # Released by the admin, it is delivered.
    r = run_cmd(["postelsuper", "-c", mta.confdir, "-H", msg["queue_id"]])
    assert r.returncode == 0, r.stderr
    raw = delivered(sink, b"quarantined", mta)
    assert results(raw)["dmarc"] == [("fail", {"header.from": "quar.test"})]


def test_authres_dmarc_none_is_delivered_annotated(mta, sink):
    send(mta, message("none.test", b"monitored\r\n"))
    raw = delivered(sink, b"monitored", mta)
    assert results(raw)["dmarc"] == [("fail", {"header.from": "none.test"})]
    assert b"(p=none dis=none)" in raw


def test_authres_dmarc_pct_zero_never_applies_reject(mta, sink):
    send(mta, message("pct.test", b"sampled out\r\n"))
    raw = delivered(sink, b"sampled out", mta)
    assert results(raw)["dmarc"][0][0] == "fail"
    assert b"(p=reject dis=none)" in raw


def test_authres_dmarc_sp_of_organizational_domain(mta, sink):
    # No record at sub.example.com: example.com's sp=reject applies.
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(mta, message("sub.example.com", b"subdomain\r\n"))
    assert e.value.smtp_code == 550
    send(mta, message("example.com", b"org itself\r\n"))
    raw = delivered(sink, b"org itself", mta)
    assert results(raw)["dmarc"][0][0] == "fail"
    assert b"(p=none dis=none)" in raw


def test_authres_dmarc_relaxed_and_strict_alignment(mta, sink, keys):
    # The organizational domain signs mail from a subdomain: that aligns
    # under the default adkim=r ...
    msg = signed(keys, message("sub.example.org", b"relaxed\r\n"),
                 "example.org")
    send(mta, msg)
    res = results(delivered(sink, b"relaxed", mta))
    assert res["dkim"][0][0] == "pass"
    assert res["dmarc"] == [("pass", {"header.from": "sub.example.org"})]
    # ... but not when the policy says adkim=s.
    msg = signed(keys, message("sub.example.net", b"strict\r\n"),
                 "example.net")
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(mta, msg)
    assert e.value.smtp_code == 550


def test_authres_forged_results_with_our_id_are_removed(mta, sink, keys):
    forged = (b"Authentication-Results: " + SERVID.upper().encode()
              + b" (forged) 1;\r\n\tdkim=pass header.d=bank.test\r\n"
              b"Authentication-Results: \"mx.verify.test\"; spf=pass\r\n"
              b"Authentication-Results: other.example; spf=pass "
              b"smtp.mailfrom=x.test\r\n")
    send(mta, message("nodmarc.test", b"forged\r\n", extra=forged))
    raw = delivered(sink, b"forged\r\n", mta)
    ours, top = our_results(raw)
    assert len(ours) == 1 and top == "Authentication-Results"
    assert b"bank.test" not in raw
    assert [r.method for r in ours[0].results] == ["spf", "dkim", "dmarc"]
    others = [v for n, v in header_fields(raw)
              if n.lower() == "authentication-results"
              and v.startswith("other.example")]
    assert others == ["other.example; spf=pass smtp.mailfrom=x.test"]


def test_authres_temporary_dns_failures_accept_with_temperror(mta, sink, keys):
    msg = signed(keys, message("tmp.test", b"dns trouble\r\n"), "tmp.test")
    send(mta, msg)
    res = results(delivered(sink, b"dns trouble", mta))
    assert [r for r, _ in res["dkim"]] == ["temperror"]
    assert res["dmarc"][0][0] == "temperror"


def test_authres_mynetworks_mail_is_not_verified(mta, sink):
    with smtplib.SMTP("127.0.0.1", mta.smtp_port, timeout=30) as s:
        s.sendmail("a@x.test", ["bob@dest.test"],
                   message("rej.test", b"outbound\r\n"))
    raw = delivered(sink, b"outbound", mta)
    assert b"Authentication-Results" not in raw


@pytest.mark.needs("opendkim_tools")
def test_authres_opendkim_signed_message_passes(mta, sink, keys):
    msg = message("other.test", b"signed by opendkim\r\n")
    r = subprocess.run(["opendkim-testmsg", "-C", "-d", "other.test",
                        "-s", "sel", "-k", keys["path"]],
                       input=msg, capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.startswith(b"DKIM-Signature:"), out
    send(mta, out)
    res = results(delivered(sink, b"signed by opendkim", mta))
    [(result, props)] = res["dkim"]
    assert result == "pass" and props["header.d"] == "other.test"


def test_authres_key_missing_is_permerror_and_log_counts(mta, sink, keys):
    # No key record for selector "gone"; two messages, two log lines.
    msg = message("none.test", b"no key\r\n")
    sig = dkim.sign(msg, b"gone", b"none.test", keys["pem"],
                    include_headers=[b"from"])
    send(mta, sig + msg)
    res = results(delivered(sink, b"no key", mta))
    assert [r for r, _ in res["dkim"]] == ["permerror"]
    assert res["dkim"][0][1]["header.s"] == "gone"
    send(mta, message("nodmarc.test", b"second\r\n"))
    delivered(sink, b"second", mta)
    assert wait_for(lambda: maillog(mta).count(": authentication: ") == 2)


def test_authres_several_from_domains_is_dmarc_permerror(mta, sink):
    msg = message("rej.test", b"two authors\r\n").replace(
        b"From: Alice <alice@rej.test>",
        b"From: Alice <alice@rej.test>, Eve <eve@none.test>")
    send(mta, msg)
    res = results(delivered(sink, b"two authors", mta))
    assert res["dmarc"][0][0] == "permerror"


def test_authres_signature_limit(instance, workdir, dns, sink, keys):
    inst = start_mta(instance, workdir, dns, sink,
                     {"dkim_verify_signature_limit": "1"})
    msg = signed(keys, message("dk.test", b"limited\r\n"), "dk.test")
    msg = signed(keys, msg, "dk.test")
    assert msg.count(b"DKIM-Signature:") == 2
    send(inst, msg)
    res = results(delivered(sink, b"limited", inst))
    assert [r for r, _ in res["dkim"]] == ["pass"]


def test_authres_dmarc_reject_disabled_only_annotates(instance, workdir, dns,
                                                     sink):
    inst = start_mta(instance, workdir, dns, sink,
                     {"dmarc_reject_enable": "no"})
    send(inst, message("rej.test", b"let through\r\n"))
    raw = delivered(sink, b"let through", inst)
    assert results(raw)["dmarc"][0][0] == "fail"
    assert b"(p=reject dis=none)" in raw


def test_authres_checks_disabled(instance, workdir, dns, sink, keys):
    inst = start_mta(instance, workdir, dns, sink,
                     {"dkim_verify_enable": "no", "dmarc_enable": "no"})
    msg = signed(keys, message("rej.test", b"unchecked\r\n"), "rej.test")
    send(inst, msg)
    raw = delivered(sink, b"unchecked", inst)
    assert b"dkim=" not in raw.split(b"DKIM-Signature:")[0]
    assert b"dmarc=" not in raw


def test_authres_custom_authserv_id(instance, workdir, dns, sink):
    inst = start_mta(instance, workdir, dns, sink,
                     {"authserv_id": "auth.example.net"})
    forged = (b"Authentication-Results: auth.example.net; dmarc=pass\r\n"
              b"Authentication-Results: " + SERVID.encode()
              + b"; dmarc=pass\r\n")
    send(inst, message("nodmarc.test", b"custom id\r\n", extra=forged))
    raw = delivered(sink, b"custom id", inst)
    fields = [v for n, v in header_fields(raw)
              if n.lower() == "authentication-results"]
    assert len(fields) == 2, fields
    assert fields[0].startswith("auth.example.net;\r\n\tspf=none")
    # Another host's id (here: the hostname) is not ours to remove.
    assert fields[1] == SERVID + "; dmarc=pass"


def test_authres_unreadable_public_suffix_list_is_named(instance, workdir,
                                                        dns, sink):
    inst = start_mta(instance, workdir, dns, sink,
                     {"dmarc_public_suffix_list": "/nonexistent/psl.dat"})
    with pytest.raises(smtplib.SMTPResponseException) as e:
        send(inst, message("dk.test", b"no psl\r\n"))
    assert 400 <= e.value.smtp_code < 500
    assert wait_for(lambda: "dmarc_public_suffix_list: cannot read "
                    "\"/nonexistent/psl.dat\"" in maillog(inst)), \
        maillog(inst)


def test_authres_one_key_tempfail_leaves_other_signature_verified(mta, sink,
                                                                  keys):
    msg = message("dk.test", b"mixed keys\r\n")
    bad = dkim.sign(msg, b"sel", b"tmp.test", keys["pem"],
                    include_headers=[b"from"])
    msg = signed(keys, bad + msg, "dk.test")
    send(mta, msg)
    res = results(delivered(sink, b"mixed keys", mta))
    assert sorted((p["header.d"], r) for r, p in res["dkim"]) == \
        [("dk.test", "pass"), ("tmp.test", "temperror")]
    assert res["dmarc"][0][0] == "pass"


def test_authres_spf_result_and_dmarc_through_spf_alignment(mta, sink):
    # Unsigned, but MAIL FROM's domain passes SPF and is the From: domain.
    send(mta, message("spf.test", b"spf aligned\r\n"),
         sender="alice@spf.test")
    raw = delivered(sink, b"spf aligned", mta)
    res = results(raw)
    assert res["spf"] == [("pass", {"smtp.mailfrom": "spf.test"})]
    assert res["dkim"] == [("none", {})]
    assert res["dmarc"] == [("pass", {"header.from": "spf.test"})]
    # Authentication-Results on top, smtpd's Received-SPF right below.
    names = [n for n, _ in header_fields(raw)]
    assert names[:2] == ["Authentication-Results", "Received-SPF"], names
    assert wait_for(lambda: "authentication: spf=pass dkim=none "
                    "dmarc=pass header.from=spf.test" in maillog(mta))
    # SPF passes for another domain only: not aligned, p=reject applies.
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(mta, message("spf.test", b"not aligned\r\n"),
             sender="alice@bounces.test")
    assert e.value.smtp_code == 550
