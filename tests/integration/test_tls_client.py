# smtp client TLS: STARTTLS towards aiosmtpd sinks under the levels may,
# encrypt, verify and secure with a test CA made with openssl; failures
# (not offered, untrusted CA, wrong name) defer with a reason naming the
# cause; per-destination smtp_tls_policy_maps.
# SPDX-License-Identifier: ISC
import os
import ssl

import pytest
from aiosmtpd.controller import Controller

from conftest import wait_for
from dnsserver import DNSServer
from test_smtp_client import H1, H2, Env, Sink, pick_port
from tlscerts import CA, san_environment

pytestmark = pytest.mark.needs("openssl", "dnslib", "aiosmtpd")


class TlsSink(Sink):
    """Sink that remembers whether each message came over TLS."""

    def __init__(self):
        super().__init__()
        self.tls = []

    async def handle_DATA(self, server, session, envelope):
        self.tls.append(session.ssl is not None)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("pki"))
    os.chmod(folder, 0o755)
    ca = CA(folder)
    other = CA(os.path.join(folder, "other"), name="Other CA")
    good = ca.issue("mx1", ["mx1.tls.test"])
    wrong = ca.issue("wrong", ["elsewhere.test"])
    untrusted = other.issue("untrusted", ["mx1.tls.test"])
    return {"ca": ca, "good": good, "wrong": wrong, "untrusted": untrusted}


@pytest.fixture
def dns():
    with DNSServer() as d:
        yield d


def server_ctx(cert):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert[1], cert[0])
    return ctx


def start_sink(env, host, port, cert=None, starttls=True):
    handler = TlsSink()
    kw = {}
    if starttls:
        kw["tls_context"] = server_ctx(cert)
    c = Controller(handler, hostname=host, port=port, **kw)
    c.start()
    env.controllers.append(c)
    return handler


def make_env(instance, workdir, dns, pki, **main):
    # smtp_tls_loglevel 1: one summary line per handshake (0 logs none).
    conf = {"smtp_tls_CAfile": pki["ca"].cert, "smtp_tls_loglevel": "1"}
    conf.update(san_environment())
    conf.update(main)
    return Env(instance, workdir, dns, main=conf)


def add_mx(dns, domain, host, ip):
    dns.add(domain, "MX", (10, host))
    dns.add(host, "A", ip)


def log_text(env):
    try:
        with open(env.log) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def deliver(env, dest, port, rcpt):
    qid = env.queue([rcpt])
    return env.send("%s:%d" % (dest, port), [qid])[qid][rcpt]


def send_to_mx1(env, dns, start, cert):
    """A sink started by start() as mx1.tls.test on H1, the MX of
    tls.test; one message to u@tls.test.  Returns (sink, port, result)."""
    port = pick_port([H1])
    sink = start(env, H1, port, cert)
    add_mx(dns, "tls.test", "mx1.tls.test", H1)
    return sink, port, deliver(env, "tls.test", port, "u@tls.test")


@pytest.fixture
def tenv(instance, workdir, dns, pki):
    envs = []

    def make(**main):
        e = make_env(instance, workdir, dns, pki, **main)
        envs.append(e)
        return e
    yield make
    for e in envs:
        e.close()


def test_may_uses_starttls_when_offered(tenv, dns, pki):
    env = tenv(smtp_tls_security_level="may")
    sink, port, res = send_to_mx1(env, dns, start_sink, pki["good"])
    assert res["action"] == "sent", res
    assert sink.tls == [True]
    assert wait_for(lambda: "TLS connection established to "
                    "mx1.tls.test[%s]:%d: TLSv1." % (H1, port)
                    in log_text(env)), log_text(env)


def test_may_sends_plain_when_not_offered(tenv, dns, pki):
    env = tenv(smtp_tls_security_level="may")
    port = pick_port([H1])
    sink = start_sink(env, H1, port, starttls=False)
    add_mx(dns, "plain.test", "mx1.plain.test", H1)
    res = deliver(env, "plain.test", port, "u@plain.test")
    assert res["action"] == "sent", res
    assert sink.tls == [False]


def test_encrypt_defers_when_not_offered(tenv, dns, pki):
    env = tenv(smtp_tls_security_level="encrypt")
    port = pick_port([H1])
    sink = start_sink(env, H1, port, starttls=False)
    add_mx(dns, "plain.test", "mx1.plain.test", H1)
    res = deliver(env, "plain.test", port, "u@plain.test")
    assert res["action"] == "deferred", res
    assert res["dsn"] == "4.7.4"
    assert "TLS is required, but was not offered by host " \
        "mx1.plain.test[%s]" % H1 in res["reply"]
    assert sink.messages == []


def test_encrypt_accepts_any_certificate(tenv, dns, pki):
    env = tenv(smtp_tls_security_level="encrypt")
    sink, port, res = send_to_mx1(env, dns, start_sink, pki["untrusted"])
    assert res["action"] == "sent", res
    assert sink.tls == [True]
    assert wait_for(lambda: "Untrusted TLS connection established to "
                    "mx1.tls.test" in log_text(env)), log_text(env)


def test_verify_with_test_ca(tenv, dns, pki):
    env = tenv(smtp_tls_security_level="verify")
    sink, port, res = send_to_mx1(env, dns, start_sink, pki["good"])
    assert res["action"] == "sent", res
    assert sink.tls == [True]
    assert wait_for(lambda: "Verified TLS connection established to "
                    "mx1.tls.test[%s]:%d" % (H1, port) in log_text(env))


def test_verify_untrusted_ca_defers(tenv, dns, pki):
    env = tenv(smtp_tls_security_level="verify")
    sink, port, res = send_to_mx1(env, dns, start_sink, pki["untrusted"])
    assert res["action"] == "deferred", res
    assert res["dsn"] == "4.7.5"
    assert "Server certificate not verified: certificate not trusted" \
        in res["reply"], res
    assert sink.messages == []


def test_verify_wrong_name_defers(tenv, dns, pki):
    env = tenv(smtp_tls_security_level="verify")
    sink, port, res = send_to_mx1(env, dns, start_sink, pki["wrong"])
    assert res["action"] == "deferred", res
    assert res["dsn"] == "4.7.5"
    assert "certificate name mismatch" in res["reply"], res
    assert '"mx1.tls.test"' in res["reply"]
    assert sink.messages == []
    assert wait_for(lambda: "Trusted TLS connection established to "
                    "mx1.tls.test" in log_text(env))


def test_secure_matches_nexthop_domain(tenv, dns, pki):
    # The certificate names mx1.tls.test: secure wants tls.test or a
    # name below it.
    env = tenv(smtp_tls_security_level="secure")
    port = pick_port([H1])
    start_sink(env, H1, port, pki["good"])
    add_mx(dns, "tls.test", "mx1.tls.test", H1)
    res = deliver(env, "tls.test", port, "u@tls.test")
    assert res["action"] == "sent", res


def test_policy_maps_per_destination(tenv, dns, pki, workdir):
    policy = os.path.join(workdir, "tls_policy")
    with open(policy, "w") as f:
        f.write("tls.test verify match=mx1.tls.test\n"
                "other.test encrypt\n")
    env = tenv(smtp_tls_security_level="none",
               smtp_tls_policy_maps="texthash:" + policy)
    port = pick_port([H1, H2])
    s1 = start_sink(env, H1, port, pki["good"])
    s2 = start_sink(env, H2, port, starttls=False)
    add_mx(dns, "tls.test", "mx1.tls.test", H1)
    add_mx(dns, "other.test", "mx1.other.test", H2)
    add_mx(dns, "free.test", "mx1.free.test", H2)
    assert deliver(env, "tls.test", port, "a@tls.test")["action"] == "sent"
    assert s1.tls == [True]
    r = deliver(env, "other.test", port, "b@other.test")
    assert r["action"] == "deferred" and r["dsn"] == "4.7.4", r
    assert deliver(env, "free.test", port, "c@free.test")["action"] == "sent"
    assert s2.tls == [False]


def broken_tls_then_plain(conn, server):
    """Offer STARTTLS, answer the handshake with junk; plain SMTP after."""
    buf = [b""]
    conn.sendall(b"220 broken.test ESMTP\r\n")
    while True:
        line = server.read_line(conn, buf).upper()
        if line.startswith("EHLO"):
            conn.sendall(b"250-broken.test\r\n250-PIPELINING\r\n"
                         b"250 STARTTLS\r\n")
        elif line == "STARTTLS":
            conn.sendall(b"220 2.0.0 go ahead\r\n")
            conn.recv(4096)
            conn.sendall(b"this is not TLS\r\n")
            return
        elif line.startswith(("MAIL", "RCPT")):
            conn.sendall(b"250 2.0.0 Ok\r\n")
        elif line == "DATA":
            conn.sendall(b"354 go\r\n")
            while server.read_line(conn, buf) != ".":
                pass
            conn.sendall(b"250 2.0.0 Ok: queued as PLAIN1\r\n")
        elif line == "QUIT":
            conn.sendall(b"221 bye\r\n")
            return
        else:
            conn.sendall(b"502 what\r\n")


def test_may_retries_in_plain_text_after_handshake_failure(tenv, dns, pki):
    env = tenv(smtp_tls_security_level="may")
    port = pick_port([H1])
    srv = env.script(H1, port, broken_tls_then_plain)
    add_mx(dns, "broken.test", "mx1.broken.test", H1)
    res = deliver(env, "broken.test", port, "u@broken.test")
    assert res["action"] == "sent", res
    assert res["reply"] == "250 2.0.0 Ok: queued as PLAIN1"
    assert srv.conns == 2
    assert wait_for(lambda: "Cannot start TLS: " in log_text(env))


def test_encrypt_handshake_failure_defers(tenv, dns, pki):
    env = tenv(smtp_tls_security_level="encrypt")
    port = pick_port([H1])
    srv = env.script(H1, port, broken_tls_then_plain)
    add_mx(dns, "broken.test", "mx1.broken.test", H1)
    res = deliver(env, "broken.test", port, "u@broken.test")
    assert res["action"] == "deferred", res
    assert res["dsn"] == "4.7.5"
    assert "Cannot start TLS: " in res["reply"], res
    assert srv.conns == 1


def test_wrappermode_implicit_tls(tenv, dns, pki):
    env = tenv(smtp_tls_wrappermode="yes", smtp_tls_security_level="verify")
    port = pick_port([H1])
    handler = TlsSink()
    c = Controller(handler, hostname=H1, port=port,
                   ssl_context=server_ctx(pki["good"]))
    c.start()
    env.controllers.append(c)
    add_mx(dns, "tls.test", "mx1.tls.test", H1)
    res = deliver(env, "tls.test", port, "u@tls.test")
    assert res["action"] == "sent", res
    assert len(handler.messages) == 1
    # (aiosmtpd sets session.ssl only for STARTTLS; the log tells.)
    assert wait_for(lambda: "Verified TLS connection established to "
                    "mx1.tls.test" in log_text(env))


# --- mandatory protocols, STARTTLS offer notes, log levels -----------------

def start_tls12_sink(env, host, port, cert):
    """A sink whose STARTTLS speaks TLS 1.2 at most."""
    handler = TlsSink()
    ctx = server_ctx(cert)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    c = Controller(handler, hostname=host, port=port, tls_context=ctx)
    c.start()
    env.controllers.append(c)
    return handler


def test_mandatory_protocols_refuse_a_tls12_only_peer(tenv, dns, pki):
    env = tenv(smtp_tls_security_level="encrypt",
               smtp_tls_mandatory_protocols=">=TLSv1.3")
    sink, port, res = send_to_mx1(env, dns, start_tls12_sink, pki["good"])
    assert res["action"] == "deferred", res
    assert res["dsn"] == "4.7.5"
    assert "Cannot start TLS" in res["reply"], res
    assert sink.messages == []


def test_mandatory_protocols_do_not_apply_to_may(tenv, dns, pki):
    env = tenv(smtp_tls_security_level="may",
               smtp_tls_mandatory_protocols=">=TLSv1.3")
    sink, port, res = send_to_mx1(env, dns, start_tls12_sink, pki["good"])
    assert res["action"] == "sent", res
    assert sink.tls == [True]
    assert wait_for(lambda: "TLS connection established to mx1.tls.test"
                    "[%s]:%d: TLSv1.2 " % (H1, port) in log_text(env))


def test_mandatory_protocols_accept_a_matching_peer(tenv, dns, pki):
    env = tenv(smtp_tls_security_level="encrypt",
               smtp_tls_mandatory_protocols=">=TLSv1.3")
    sink, port, res = send_to_mx1(env, dns, start_sink, pki["good"])
    assert res["action"] == "sent", res
    assert wait_for(lambda: "TLS connection established to mx1.tls.test"
                    "[%s]:%d: TLSv1.3 " % (H1, port) in log_text(env))


@pytest.mark.parametrize("note", ["yes", "no"])
def test_note_starttls_offer_at_level_none(tenv, dns, pki, note):
    env = tenv(smtp_tls_security_level="none",
               smtp_tls_note_starttls_offer=note)
    sink, port, res = send_to_mx1(env, dns, start_sink, pki["good"])
    assert res["action"] == "sent", res
    assert sink.tls == [False]
    noted = "Host offered STARTTLS: [mx1.tls.test]"
    if note == "yes":
        assert wait_for(lambda: noted in log_text(env)), log_text(env)
    else:
        assert wait_for(lambda: "status=sent" in log_text(env))
        assert noted not in log_text(env)


@pytest.mark.parametrize("level", ["0", "2"])
def test_smtp_tls_loglevel(tenv, dns, pki, level):
    env = tenv(smtp_tls_security_level="verify", smtp_tls_loglevel=level)
    port = pick_port([H1])
    start_sink(env, H1, port, pki["good"])
    add_mx(dns, "tls.test", "mx1.tls.test", H1)
    res = deliver(env, "tls.test", port, "u@tls.test")
    assert res["action"] == "sent", res
    assert wait_for(lambda: "status=sent" in log_text(env))
    log = log_text(env)
    peer = "mx1.tls.test[%s]:%d" % (H1, port)
    if level == "0":
        assert "TLS connection" not in log, log
    else:
        assert "setting up TLS connection to %s" % peer in log, log
        assert "Verified TLS connection established to %s" % peer in log
        assert '%s: server certificate subject CN="mx1.tls.test" ' \
            'issuer CN="Postel Test CA"; chain verification: ok; ' \
            'new session' % peer in log, log


def test_legacy_smtp_use_tls_means_may(tenv, dns, pki):
    env = tenv(smtp_use_tls="yes")
    sink, port, res = send_to_mx1(env, dns, start_sink, pki["untrusted"])
    assert res["action"] == "sent", res
    assert sink.tls == [True]
    assert wait_for(lambda: "obsolete parameter smtp_use_tls=yes: using "
                    "smtp_tls_security_level = may" in log_text(env)), \
        log_text(env)


def test_legacy_smtp_enforce_tls_means_verify_as_in_postfix(tenv, dns, pki):
    # smtp_tls_enforce_peername defaults to yes: the name must match.
    env = tenv(smtp_enforce_tls="yes")
    sink, port, res = send_to_mx1(env, dns, start_sink, pki["wrong"])
    assert res["action"] == "deferred", res
    assert "certificate name mismatch" in res["reply"], res
    assert sink.messages == []
    assert wait_for(lambda: "obsolete parameter smtp_enforce_tls=yes: using "
                    "smtp_tls_security_level = verify" in log_text(env))


def test_legacy_smtp_enforce_tls_without_peername_means_encrypt(tenv, dns,
                                                                pki):
    env = tenv(smtp_enforce_tls="yes", smtp_tls_enforce_peername="no")
    port = pick_port([H1])
    sink = start_sink(env, H1, port, starttls=False)
    add_mx(dns, "plain.test", "mx1.plain.test", H1)
    res = deliver(env, "plain.test", port, "u@plain.test")
    assert res["action"] == "deferred", res
    assert "TLS is required, but was not offered" in res["reply"], res
    assert sink.messages == []
