# smtpd's error accounting, as Postfix's smtpd(8) does it: every failed
# command (a reject, an unknown command, a syntax or sequence error, a
# failed AUTH) is one error; from smtpd_soft_error_limit errors on every
# reply waits smtpd_error_sleep_time; at smtpd_hard_error_limit the client
# gets 421 and is disconnected; junk commands past smtpd_junk_command_limit
# cost an error each; a delivered message forgives both counts.
# SPDX-License-Identifier: ISC
import base64
import time

import pytest

from test_sasl import SaslServer
from test_smtpd import Smtpd, queued_file, send_message

# Loopback clients are not in mynetworks: RCPT to elsewhere is refused.
UNTRUSTED = {"mynetworks": "192.0.2.0/24"}
MESSAGE = b"Subject: errors\r\n\r\nx\r\n.\r\n"


def errors_server(instance, workdir, **limits):
    main = dict(UNTRUSTED)
    main.update({"smtpd_" + k: str(v) for k, v in limits.items()})
    return Smtpd(instance, workdir, main=main)


def timed(c, text):
    t0 = time.monotonic()
    reply = c.cmd(text)
    return reply, time.monotonic() - t0


def test_hard_error_limit_disconnects_at_the_configured_count(instance,
                                                               workdir):
    s = errors_server(instance, workdir, hard_error_limit=4,
                      soft_error_limit=100)
    c = s.connect()
    assert c.cmd("EHLO client.test")[-1].startswith("250")
    assert c.cmd("MAIL FROM:<a@client.test>")[0].startswith("250")
    # 1: a policy reject (relay), 2: unknown command, 3: bad address.
    # (Postfix's default defer_unauth_destination: 454)
    assert c.cmd("RCPT TO:<x@remote.example>")[0].startswith(
        "454 4.7.1 <x@remote.example>: Relay access denied")
    assert c.cmd("BOGUS")[0].startswith("502 5.5.2")
    assert c.cmd("NOOP") == ["250 2.0.0 Ok"]
    assert c.cmd("RCPT TO:<bad@@x>")[0].startswith("501 5.1.3")
    # Three errors: the session goes on.
    assert c.cmd("RCPT TO:<u@mx.test>") == ["250 2.1.5 Ok"]
    # 4: a sequence error; the 421 follows its reply at once.
    assert c.cmd("MAIL FROM:<b@client.test>")[0].startswith("503 5.5.1")
    assert c.reply() == ["421 4.7.0 mx.test Error: too many errors"]
    assert c.closed()
    assert s.wait_log("too many errors after MAIL from "
                      "localhost[127.0.0.1]")
    assert s.wait_log("disconnect from localhost[127.0.0.1] ehlo=1 "
                      "mail=1/2 rcpt=1/3 noop=1 unknown=0/1 commands=4/8")


def test_soft_error_limit_delays_every_reply(instance, workdir):
    s = errors_server(instance, workdir, soft_error_limit=2,
                      error_sleep_time="1s", hard_error_limit=10)
    c = s.connect()
    first, t1 = timed(c, "BOGUS 1")
    second, t2 = timed(c, "BOGUS 2")
    assert first[0].startswith("502") and second[0].startswith("502")
    # The two replies that took the count to the limit are not delayed.
    assert t1 < 0.9 and t2 < 0.9, (t1, t2)
    third, t3 = timed(c, "BOGUS 3")
    assert third[0].startswith("502")
    assert t3 >= 0.9, t3
    # Past the limit every reply waits, a successful one too, and a
    # reply of many lines once.
    noop, t4 = timed(c, "NOOP")
    assert noop == ["250 2.0.0 Ok"]
    assert t4 >= 0.9, t4
    ehlo, t5 = timed(c, "EHLO client.test")
    assert len(ehlo) > 5 and ehlo[-1].startswith("250 ")
    assert 0.9 <= t5 < 5, t5  # not once per line
    c.cmd("QUIT")


def test_junk_commands_past_the_limit_are_errors(instance, workdir):
    s = errors_server(instance, workdir, junk_command_limit=3,
                      hard_error_limit=2, soft_error_limit=100)
    c = s.connect()
    # HELO and EHLO are junk too; as in Postfix limit + 1 come free.
    assert c.cmd("EHLO client.test")[-1].startswith("250")
    assert c.cmd("HELO client.test") == ["250 mx.test"]
    assert c.cmd("RSET") == ["250 2.0.0 Ok"]
    assert c.cmd("NOOP") == ["250 2.0.0 Ok"]
    # The 5th and 6th are answered, and each costs an error.
    assert c.cmd("VRFY user") == ["252 2.0.0 user"]
    assert c.cmd("NOOP") == ["250 2.0.0 Ok"]
    assert c.reply() == ["421 4.7.0 mx.test Error: too many errors"]
    assert c.closed()
    assert s.wait_log("too many errors after NOOP from localhost[127.0.0.1]")


def test_delivered_message_resets_error_and_junk_counts(instance, workdir):
    s = errors_server(instance, workdir, hard_error_limit=3,
                      junk_command_limit=1, soft_error_limit=100)
    c = s.connect()
    # Two junk commands (the free ones) and two errors ...
    assert c.cmd("NOOP") == ["250 2.0.0 Ok"]
    assert c.cmd("BOGUS 1")[0].startswith("502")
    assert c.cmd("BOGUS 2")[0].startswith("502")
    # ... then a message (its EHLO is the 2nd junk command) ...
    queued_file(s, send_message(c, "a@client.test", ["u@mx.test"], MESSAGE))
    # ... and the client starts afresh: without the reset BOGUS 3 would
    # be error 3, and the NOOP junk command 3.
    assert c.cmd("BOGUS 3")[0].startswith("502")
    assert c.cmd("BOGUS 4")[0].startswith("502")
    assert c.cmd("NOOP") == ["250 2.0.0 Ok"]
    assert c.cmd("NOOP") == ["250 2.0.0 Ok"]
    assert c.cmd("QUIT") == ["221 2.0.0 Bye"]
    # A refused transaction forgives nothing.
    c = s.connect()
    assert c.cmd("BOGUS 1")[0].startswith("502")
    assert c.cmd("EHLO client.test")[-1].startswith("250")
    assert c.cmd("MAIL FROM:<a@client.test>")[0].startswith("250")
    assert c.cmd("RCPT TO:<x@remote.example>")[0].startswith("454")
    assert c.cmd("DATA")[0].startswith("554 5.5.1")
    assert c.reply() == ["421 4.7.0 mx.test Error: too many errors"]


def test_leaving_after_a_message_is_not_a_lost_connection(instance,
                                                         workdir):
    s = errors_server(instance, workdir)
    c = s.connect()
    queued_file(s, send_message(c, "a@client.test", ["u@mx.test"], MESSAGE))
    c.close()
    c = s.connect()
    assert c.cmd("EHLO client.test")[-1].startswith("250")
    c.close()
    # Postfix logs the second client only.
    assert s.wait_log("lost connection after EHLO from localhost[127.0.0.1]")
    assert s.wait_log("ehlo=1 mail=1 rcpt=1 data=1 commands=4")
    assert "lost connection after END-OF-MESSAGE" not in s.log()


@pytest.mark.needs("saslpasswd2", "sasl_sasldb", "sasl_mechs", "openssl")
def test_auth_failures_count_as_errors(instance, workdir):
    srv = SaslServer(instance, workdir,
                     main={"smtpd_hard_error_limit": "3",
                           "smtpd_sasl_auth_failure_limit": "10"})
    bad = "AUTH PLAIN " + base64.b64encode(b"\0alice\0nope").decode()
    with srv.smtp() as s:
        s.ehlo("client.test")
        assert s.docmd(bad)[0] == 535
        assert s.docmd("BOGUS")[0] == 502
        assert s.docmd(bad)[0] == 535
        code, text = s.getreply()
        assert (code, text) == (421, b"4.7.0 mx.test Error: too many errors")
    assert srv.wait_log("too many errors after AUTH from "
                        "localhost[127.0.0.1]")
    assert srv.wait_log("warning: localhost[127.0.0.1]: SASL PLAIN "
                        "authentication failed: ")
    # Postfix's order: auth right after ehlo (fail2ban looks there).
    assert srv.wait_log("disconnect from localhost[127.0.0.1] ehlo=1 "
                        "auth=0/2 unknown=0/1 commands=1/4")


@pytest.mark.needs("saslpasswd2", "sasl_sasldb", "sasl_mechs", "openssl")
def test_auth_failure_limit_still_ends_the_session_first(instance, workdir):
    srv = SaslServer(instance, workdir,
                     main={"smtpd_sasl_auth_failure_limit": "2"})
    bad = "AUTH PLAIN " + base64.b64encode(b"\0alice\0nope").decode()
    with srv.smtp() as s:
        s.ehlo("client.test")
        assert s.docmd(bad)[0] == 535
        assert s.docmd(bad)[0] == 535
        code, text = s.getreply()
        assert code == 421, text
        assert b"too many failed authentications" in text
    assert srv.wait_log("too many failed authentications after AUTH from "
                        "localhost[127.0.0.1]")
