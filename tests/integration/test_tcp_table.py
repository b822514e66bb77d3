# tcp: tables (Postfix's tcp_table(5) protocol) and SRS with Debian's
# postsrsd 1.x, which speaks only that protocol (its -f and -r ports): a
# small tcp_table server the test runs checks the %XX encoding both ways
# and the error replies; postsrsd, started by the test in a temporary
# folder with its own secret on free loopback ports, rewrites the
# envelope sender of forwarded mail to SRS0=...@srs.test through
# sender_canonical_maps = tcp:..., and a bounce sent to that address is
# turned back to the original sender through recipient_canonical_maps.
# SPDX-License-Identifier: ISC
import os
import smtplib
import socket
import threading
import time

import pytest

import mail_peers
from conftest import (ContentSink, close_listener, free_port, maillog,
                      missing_module, run_cmd, wait_for)

try:
    from aiosmtpd.controller import Controller
except ImportError:
    raise missing_module("aiosmtpd") from None

SRS_DOMAIN = "srs.test"


class TcpTableServer:
    """get KEY -> 200/400/500 per the table; keys and values as sent."""

    def __init__(self, table):
        self.table = table
        self.requests = []
        self.connections = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.spec = "tcp:127.0.0.1:%d" % self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    def _serve(self, conn):
        f = conn.makefile("rwb")
        try:
            for line in f:
                assert line.startswith(b"get ") and line.endswith(b"\n")
                key = line[4:-1]
                self.requests.append(key)
                f.write(self.table.get(key, b"500 not found") + b"\n")
                f.flush()
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self):
        close_listener(self.sock)


@pytest.fixture(scope="module")
def table_server():
    server = TcpTableServer({
        b"plain@x.test": b"200 value@y.test",
        # Keys arrive %XX-encoded; values come back encoded.
        b"a%20b@x.test": b"200 with%20space%25and%0Anewline",
        b"down@x.test": b"400 backend down",
        b"bad@x.test": b"200 broken%2",
        b"nul@x.test": b"200 a%00b",
        b"odd@x.test": b"302 maybe",
        b"long@x.test": b"200 " + b"y" * 100001,
    })
    yield server
    server.stop()


def write_main(instance, **main):
    instance.write_config(main=main,
                          services=["cleanup unix - - n - 0 cleanup"])


def query(instance, key, spec, input=None):
    return run_cmd(["postelmap", "-c", instance.confdir, "-q", key, spec],
                   input=input)


def test_tcp_table_lookup_and_encoding_both_ways(instance, table_server):
    write_main(instance)
    r = query(instance, "Plain@X.test", table_server.spec)
    assert r.returncode == 0 and r.stdout == "value@y.test\n", r.stderr
    r = query(instance, "a b@x.test", table_server.spec)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "with space%and\nnewline\n", r.stdout
    assert b"a%20b@x.test" in table_server.requests
    r = query(instance, "nobody@x.test", table_server.spec)
    assert r.returncode == 1 and r.stdout == "", r.stderr


def test_tcp_table_keeps_its_connection(instance, table_server):
    write_main(instance)
    before = table_server.connections
    r = query(instance, "-", table_server.spec,
              input="plain@x.test\nnobody@x.test\n" * 4)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("value@y.test") == 4
    assert table_server.connections == before + 1


@pytest.mark.parametrize("key,text", [
    ("down@x.test", "error: 400 backend down"),
    ("bad@x.test", "malformed reply: \"200 broken%2\""),
    ("nul@x.test", "malformed reply"),
    ("odd@x.test", "malformed reply: \"302 maybe\""),
    ("long@x.test", "longer than the limit"),
])
def test_tcp_table_errors_are_table_errors(instance, table_server, key,
                                           text):
    write_main(instance)
    r = query(instance, key, table_server.spec)
    assert r.returncode == 75, (r.returncode, r.stdout, r.stderr)
    assert table_server.spec in r.stderr and text in r.stderr, r.stderr


def test_tcp_table_unreachable_is_a_table_error(instance):
    write_main(instance)
    spec = "tcp:127.0.0.1:%d" % free_port()
    r = query(instance, "k@x.test", spec)
    assert r.returncode == 75, (r.returncode, r.stderr)
    assert spec in r.stderr and "Connection refused" in r.stderr, r.stderr
    r = query(instance, "k@x.test", "tcp:127.0.0.1")
    assert r.returncode not in (0, 1, 75), r.stderr
    assert "expected tcp:host:port" in r.stderr, r.stderr


# -- postsrsd ---------------------------------------------------------------

@pytest.fixture(scope="module")
def postsrsd(tmp_path_factory):
    d = tmp_path_factory.mktemp("postsrsd")
    secret = d / "postsrsd.secret"
    secret.write_bytes(os.urandom(24).hex().encode() + b"\n")
    os.chmod(secret, 0o600)
    with mail_peers.postsrsd(secret, SRS_DOMAIN, d) as ports:
        yield {"forward": "tcp:127.0.0.1:%d" % ports["forward"],
               "reverse": "tcp:127.0.0.1:%d" % ports["reverse"]}


@pytest.mark.needs("postsrsd")
def test_postsrsd_forward_and_reverse_through_postelmap(instance, postsrsd):
    write_main(instance)
    r = query(instance, "alice@origin.test", postsrsd["forward"])
    assert r.returncode == 0, r.stderr
    srs = r.stdout.strip()
    assert srs.startswith("SRS0=") and srs.endswith("@" + SRS_DOMAIN), srs
    assert "=origin.test=alice@" in srs, srs
    r = query(instance, srs, postsrsd["reverse"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "alice@origin.test\n"
    # A forged SRS address does not reverse.
    forged = srs.replace("SRS0=", "SRS0=AAAA", 1)
    r = query(instance, forged, postsrsd["reverse"])
    assert r.returncode == 1, (r.stdout, r.stderr)


class EnvelopeSink(ContentSink):
    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 2.0.0 Ok"


@pytest.fixture(scope="module")
def env_sink():
    handler = EnvelopeSink()
    handler.envelopes = []
    port = free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=port)
    ctl.start()
    handler.port = port
    yield handler
    ctl.stop()


def start_srs_mta(instance, workdir, sink, postsrsd):
    """A forwarder: user@fwd.test goes on to bob@dest.test (virtual
    alias), everything leaves through the sink; postsrsd as Postfix's
    own SRS guide configures it."""
    port = free_port()
    instance.write_config(main={
        "myhostname": "mx." + SRS_DOMAIN, "mydomain": SRS_DOMAIN,
        "mydestination": "", "mynetworks": "127.0.0.1/32",
        "virtual_alias_domains": "fwd.test",
        "virtual_alias_maps": "inline:{ user@fwd.test=bob@dest.test }",
        "relayhost": "[127.0.0.1]:%d" % sink.port,
        "sender_canonical_maps": postsrsd["forward"],
        "sender_canonical_classes": "envelope_sender",
        "recipient_canonical_maps": postsrsd["reverse"],
        "recipient_canonical_classes": "envelope_recipient,header_recipient",
        "maillog_file": os.path.join(workdir, "maillog"),
        "smtpd_error_sleep_time": "0", "smtp_connect_timeout": "5s",
    }, services=[
        "postlog unix-dgram n - n - 1 postlogd",
        "127.0.0.1:%d inet n - n - - smtpd" % port,
        "cleanup unix n - n - 0 cleanup",
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
    return instance


@pytest.mark.needs("postsrsd", "aiosmtpd")
def test_postsrsd_forwarded_mail_leaves_with_srs_sender_and_bounce_returns(
        instance, workdir, postsrsd, env_sink):
    env_sink.envelopes.clear()
    inst = start_srs_mta(instance, workdir, env_sink, postsrsd)
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as s:
        s.ehlo("client.test")
        s.sendmail("alice@origin.test", ["user@fwd.test"],
                   b"Subject: forwarded\r\n\r\nbody\r\n")
    assert wait_for(lambda: env_sink.envelopes, 30), maillog(inst)
    mail_from, rcpts = env_sink.envelopes[0]
    assert rcpts == ["bob@dest.test"], rcpts
    assert mail_from.startswith("SRS0=") and \
        mail_from.endswith("@" + SRS_DOMAIN), (mail_from, maillog(inst))
    assert "=origin.test=alice@" in mail_from

    # dest.test bounces it: the DSN goes to the SRS address, and leaves
    # for the original sender.
    env_sink.envelopes.clear()
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as s:
        s.ehlo("dest.test")
        s.sendmail("", [mail_from],
                   b"Subject: Undelivered Mail Returned to Sender\r\n"
                   b"\r\nbounce\r\n")
    assert wait_for(lambda: env_sink.envelopes, 30), maillog(inst)
    mail_from2, rcpts2 = env_sink.envelopes[0]
    assert rcpts2 == ["alice@origin.test"], (rcpts2, maillog(inst))
    assert mail_from2 in ("", "<>"), mail_from2
