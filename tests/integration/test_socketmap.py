# socketmap: tables (Sendmail's socketmap protocol, Postfix's
# socketmap_table(5)) against a socketmap server the test runs
# (socketmap_peer.py): postelmap -q and -q - over inet: and unix:, the
# connection kept across lookups and made again once when the server
# dropped it, and every way the server can fail (TEMP/TIMEOUT/PERM,
# unreachable, too slow, too long a reply) a table error that names the
# table and the server's words, never "not found".  Then a real delivery
# through virtual_alias_maps = socketmap:..., and a deferral when the
# server answers TEMP.
# SPDX-License-Identifier: ISC
import os
import smtplib

import pytest

from conftest import (ContentSink, free_port, maillog, missing_module, run_cmd,
                      wait_for)
from socketmap_peer import SocketmapServer

try:
    from aiosmtpd.controller import Controller
except ImportError:
    raise missing_module("aiosmtpd") from None

MAPS = {
    "virtual": {
        "alias@alias.test": "bob@dest.test",
        "two@alias.test": "bob@dest.test,carol@dest.test",
        "temp@alias.test": ("TEMP", "database is down"),
        "timeout@alias.test": ("TIMEOUT", "backend too slow"),
        "perm@alias.test": ("PERM", "map misconfigured"),
        "drop@alias.test": ("DROP",),
        "slow@alias.test": ("SLEEP", 4, "bob@dest.test"),
        "big@alias.test": ("RAW", SocketmapServer.netstring(
            b"OK " + b"x" * 100001)),
        "junk@alias.test": ("RAW", b"7:MAYBE x,"),
        "noise@alias.test": ("RAW", b"\x01OK no length,"),
        "bigpieces@alias.test": ("CHUNKS", 1, SocketmapServer.netstring(
            b"OK " + b"x" * 100001)),
        "pieces@alias.test": ("CHUNKS", 1, SocketmapServer.netstring(
            b"OK bob@dest.test")),
        "Two words": "a value with spaces",
    },
    "other": {"alias@alias.test": "other-map-answer"},
}


@pytest.fixture(scope="module")
def inet_server():
    server = SocketmapServer(MAPS)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def unix_server(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("sockmap") / "sockmap.sock")
    server = SocketmapServer(MAPS, path=path)
    yield server
    server.stop()


@pytest.fixture
def server(inet_server):
    inet_server.reset_counts()
    inet_server.close_after = 0
    yield inet_server
    inet_server.close_after = 0


def write_main(instance, **main):
    instance.write_config(main=main,
                          services=["cleanup unix - - n - 0 cleanup"])


def query(instance, key, spec, input=None):
    return run_cmd(["postelmap", "-c", instance.confdir, "-q", key, spec],
                   input=input)


def test_socketmap_postelmap_query_over_inet(instance, server):
    write_main(instance)
    r = query(instance, "alias@alias.test", server.spec("virtual"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "bob@dest.test\n"
    # The map name travels in the request: another map, another answer.
    r = query(instance, "alias@alias.test", server.spec("other"))
    assert r.stdout == "other-map-answer\n", r.stderr
    assert ("other", "alias@alias.test") in server.requests
    r = query(instance, "nobody@alias.test", server.spec("virtual"))
    assert r.returncode == 1 and r.stdout == "", (r.stdout, r.stderr)


def test_socketmap_keys_are_folded_and_may_hold_spaces(instance, server):
    write_main(instance)
    r = query(instance, "ALIAS@Alias.Test", server.spec("virtual"))
    assert r.stdout == "bob@dest.test\n", r.stderr
    assert ("virtual", "alias@alias.test") in server.requests
    r = query(instance, "two words", server.spec("virtual"))
    assert r.returncode == 1  # the server got "two words" after folding
    assert ("virtual", "two words") in server.requests


def test_socketmap_postelmap_query_over_unix_socket(instance, unix_server):
    write_main(instance)
    r = query(instance, "two@alias.test", unix_server.spec("virtual"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "bob@dest.test,carol@dest.test\n"


def test_socketmap_query_stdin_reuses_one_connection(instance, server):
    write_main(instance)
    keys = ["alias@alias.test", "nobody@alias.test", "two@alias.test"] * 5
    r = query(instance, "-", server.spec("virtual"),
              input="".join(k + "\n" for k in keys))
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("alias@alias.test\tbob@dest.test\n") == 5
    assert "nobody" not in r.stdout
    assert len(server.requests) == 15
    assert server.connections == 1, server.connections


def test_socketmap_reconnects_once_when_the_server_dropped_it(instance,
                                                            server):
    # The server closes each connection after two replies: every third
    # lookup finds its kept connection dead and is sent again.
    server.close_after = 2
    write_main(instance)
    keys = ["alias@alias.test"] * 6
    r = query(instance, "-", server.spec("virtual"),
              input="".join(k + "\n" for k in keys))
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("bob@dest.test") == 6, r.stdout
    assert server.connections == 3, server.connections


def test_socketmap_a_connection_that_dies_again_is_a_table_error(instance,
                                                               server):
    write_main(instance)
    r = query(instance, "-", server.spec("virtual"),
              input="alias@alias.test\ndrop@alias.test\n")
    # Sent on the kept connection, then once more on a new one: no more.
    assert r.returncode == 75, (r.returncode, r.stdout, r.stderr)
    assert "server closed the connection" in r.stderr, r.stderr
    assert server.requests.count(("virtual", "drop@alias.test")) == 2
    assert server.connections == 2


@pytest.mark.parametrize("key,text", [
    ("temp@alias.test", "TEMP database is down"),
    ("timeout@alias.test", "TIMEOUT backend too slow"),
    ("perm@alias.test", "PERM map misconfigured"),
])
def test_socketmap_server_errors_are_table_errors(instance, server, key,
                                                  text):
    write_main(instance)
    spec = server.spec("virtual")
    r = query(instance, key, spec)
    # EX_TEMPFAIL, with the table and the server's own words.
    assert r.returncode == 75, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    assert spec in r.stderr and text in r.stderr, r.stderr


def test_socketmap_unreachable_server_is_a_table_error(instance):
    write_main(instance)
    spec = "socketmap:inet:127.0.0.1:%d:virtual" % free_port()
    r = query(instance, "alias@alias.test", spec)
    assert r.returncode == 75, (r.returncode, r.stderr)
    assert spec in r.stderr and "Connection refused" in r.stderr, r.stderr
    r = query(instance, "alias@alias.test",
              "socketmap:unix:/nonexistent/sock:virtual")
    assert r.returncode == 75, (r.returncode, r.stderr)
    assert "No such file or directory" in r.stderr, r.stderr


def test_socketmap_timeout_is_a_table_error(instance, server):
    write_main(instance, socketmap_timeout="1s")
    r = query(instance, "slow@alias.test", server.spec("virtual"))
    assert r.returncode == 75, (r.returncode, r.stdout, r.stderr)
    assert "timeout" in r.stderr, r.stderr


def test_socketmap_reply_size_is_bounded(instance, server):
    write_main(instance)
    r = query(instance, "big@alias.test", server.spec("virtual"))
    assert r.returncode == 75, (r.returncode, r.stderr)
    assert "longer than the limit" in r.stderr, r.stderr
    r = query(instance, "junk@alias.test", server.spec("virtual"))
    assert r.returncode == 75, (r.returncode, r.stderr)
    assert "malformed reply" in r.stderr and "MAYBE x" in r.stderr, r.stderr


def test_socketmap_reply_read_in_pieces(instance, server):
    # A reply that reaches the client a byte at a time is put together
    # before it is judged: the length is checked as its digits arrive.
    write_main(instance)
    r = query(instance, "pieces@alias.test", server.spec("virtual"))
    assert r.returncode == 0 and r.stdout == "bob@dest.test\n", r.stderr
    r = query(instance, "bigpieces@alias.test", server.spec("virtual"))
    assert r.returncode == 75, (r.returncode, r.stderr)
    assert "longer than the limit" in r.stderr, r.stderr


def test_socketmap_unframed_reply_is_shown(instance, server):
    # Bytes that are no netstring at all: the warning says what came, so
    # the sender can be told apart (server, stray peer, wrong port).
    write_main(instance)
    r = query(instance, "noise@alias.test", server.spec("virtual"))
    assert r.returncode == 75, (r.returncode, r.stderr)
    # One 14-byte write, normally read whole; its first byte at least.
    assert "does not start with a length (" in r.stderr, r.stderr
    assert 'bytes read, beginning "\\x01' in r.stderr, r.stderr


def test_socketmap_bad_specs_are_refused(instance):
    write_main(instance)
    for spec in ("socketmap:inet:127.0.0.1:virtual",
                 "socketmap:tcp:127.0.0.1:1:virtual",
                 "socketmap:unix:/x"):
        r = query(instance, "k", spec)
        assert r.returncode != 0 and r.returncode != 1, (spec, r.stderr)
        assert "socketmap:" in r.stderr, r.stderr


# -- a real delivery -------------------------------------------------------

class EnvelopeSink(ContentSink):
    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos),
                               envelope.original_content
                               or envelope.content))
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


def start_mta(instance, workdir, sink, chroot="n", **main):
    port = free_port()
    settings = {"myhostname": "mx.test", "mydomain": "test",
                "mydestination": "", "mynetworks": "127.0.0.1/32",
                "relay_domains": "dest.test",
                "relayhost": "[127.0.0.1]:%d" % sink.port,
                "maillog_file": os.path.join(workdir, "maillog"),
                "smtpd_error_sleep_time": "0",
                "smtp_connect_timeout": "5s"}
    settings.update(main)
    instance.write_config(main=settings, services=[
        "postlog unix-dgram n - n - 1 postlogd",
        "127.0.0.1:%d inet n - %s - - smtpd" % (port, chroot),
        "cleanup unix n - %s - 0 cleanup" % chroot,
        "qmgr unix n - n 300 1 qmgr",
        "smtp unix - - n - - smtp",
        "relay unix - - n - - smtp",
        "bounce unix - - n - 0 bounce",
        "defer unix - - n - 0 bounce",
        "trace unix - - n - 0 bounce",
        "proxymap unix - - n - - proxymap",
    ])
    instance.start()
    instance.smtp_port = port
    instance.maillog = os.path.join(workdir, "maillog")
    return instance


@pytest.mark.needs("aiosmtpd")
def test_socketmap_virtual_alias_maps_deliver(instance, workdir, server,
                                              env_sink):
    env_sink.envelopes.clear()
    inst = start_mta(instance, workdir, env_sink,
                     virtual_alias_domains="alias.test",
                     virtual_alias_maps=server.spec("virtual"))
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as s:
        s.ehlo("client.test")
        assert s.mail("sender@example.org")[0] == 250
        code, msg = s.rcpt("nobody@alias.test")
        # Not in the map: an unknown user of a virtual alias domain.
        assert code == 550, (code, msg, maillog(inst))
        s.rset()
        s.sendmail("sender@example.org", ["alias@alias.test"],
                   b"Subject: through socketmap\r\n\r\nbody\r\n")
    assert wait_for(lambda: env_sink.envelopes, 30), maillog(inst)
    mail_from, rcpts, _ = env_sink.envelopes[0]
    assert rcpts == ["bob@dest.test"], (rcpts, maillog(inst))
    assert ("virtual", "alias@alias.test") in server.requests


@pytest.mark.needs("aiosmtpd")
def test_socketmap_temp_error_defers_never_not_found(instance, workdir,
                                                     server, env_sink):
    inst = start_mta(instance, workdir, env_sink,
                     virtual_alias_domains="alias.test",
                     virtual_alias_maps=server.spec("virtual"))
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as s:
        s.ehlo("client.test")
        s.mail("sender@example.org")
        code, msg = s.rcpt("temp@alias.test")
    assert code == 451, (code, msg, maillog(inst))
    assert wait_for(lambda: "TEMP database is down" in maillog(inst), 10), \
        maillog(inst)


@pytest.mark.needs("aiosmtpd")
def test_socketmap_through_proxymap_for_a_chrooted_smtpd(instance, workdir,
                                                         server, env_sink):
    # As a site with chrooted daemons runs it: proxy:socketmap:..., approved
    # by the default proxy_read_maps (it lists $virtual_alias_maps); smtpd
    # and cleanup, chrooted, reach the server only through proxymap.
    env_sink.envelopes.clear()
    spec = "proxy:" + server.spec("virtual")
    inst = start_mta(instance, workdir, env_sink, chroot="y",
                     virtual_alias_domains="alias.test",
                     virtual_alias_maps=spec)
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as s:
        s.ehlo("client.test")
        s.mail("sender@example.org")
        code, msg = s.rcpt("temp@alias.test")
        assert code == 451, (code, msg, maillog(inst))
        s.rset()
        s.sendmail("sender@example.org", ["two@alias.test"],
                   b"Subject: through proxymap\r\n\r\nbody\r\n")
    assert wait_for(lambda: env_sink.envelopes, 30), maillog(inst)
    _, rcpts, _ = env_sink.envelopes[0]
    assert sorted(rcpts) == ["bob@dest.test", "carol@dest.test"], rcpts
