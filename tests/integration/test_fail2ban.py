# fail2ban's shipped postfix filter (Debian's fail2ban, fail2ban-regex)
# against a maillog written by Postel: the relay, unknown-user, too-many-
# errors and SASL lines each match and name the client, in the modes the
# filter's jails use (the default "more", "errors", "auth" for the
# postfix-sasl jail, "aggressive" with the lost-connection and failed-AUTH
# disconnect lines).  With syslog_name = postfix the file works as shipped;
# with Postel's default name the jail overrides _daemon (smtpd(8), LOGGING).
# SPDX-License-Identifier: ISC
import base64
import os
import re
import smtplib
import subprocess

import pytest

from conftest import tool_path
from test_sasl import SaslServer

pytestmark = pytest.mark.needs("fail2ban_regex", "saslpasswd2",
                               "sasl_sasldb", "sasl_mechs", "openssl")

FILTER = "/etc/fail2ban/filter.d/postfix.conf"
DAEMON = r'_daemon="postel(-\w+)?/\w+"'

RELAY, UNKNOWN, ERRORS, SASL, LOST = (
    "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6")

# The lines Postel writes for them: (the text that finds the line, the
# client it names).
LINES = {
    "relay": ("Relay access denied", RELAY),
    "unknown user": ("User unknown in local recipient table", UNKNOWN),
    "too many errors": ("too many errors after", ERRORS),
    "SASL": ("SASL PLAIN authentication failed", SASL),
    "lost connection": ("lost connection after EHLO", LOST),
    "failed AUTH disconnect": (" auth=0/1 ", SASL),
}

# What each mode of the filter must find among them (and nothing else).
MODES = {
    "more": ("relay", "unknown user", "too many errors"),
    "errors": ("too many errors",),
    "auth": ("SASL",),
    "aggressive": tuple(LINES),
}


def make_traffic(srv):
    def smtp(addr):
        s = smtplib.SMTP(timeout=20, source_address=(addr, 0))
        s.connect("127.0.0.1", srv.port)
        s.ehlo("client.test")
        return s

    with smtp(RELAY) as s:
        s.mail("a@client.test")
        assert s.rcpt("x@remote.example")[0] == 454
    with smtp(UNKNOWN) as s:
        s.mail("a@client.test")
        assert s.rcpt("nobody@mx.test")[0] == 550
    with smtp(ERRORS) as s:
        for i in range(3):
            assert s.docmd("BOGUS%d" % i)[0] == 502
        assert s.getreply()[0] == 421
    with smtp(SASL) as s:
        bad = base64.b64encode(b"\0alice\0wrong").decode()
        assert s.docmd("AUTH PLAIN " + bad)[0] == 535
        # A refused RCPT too: its "rcpt=0/1" must come after "auth=0/1"
        # in the disconnect line, as in Postfix's, for the filter to see.
        s.mail("a@client.test")
        assert s.rcpt("nobody@mx.test")[0] == 550
    smtp(LOST).close()
    for text, addr in LINES.values():
        assert srv.wait_log(text), (text, srv.log())
    assert srv.wait_log("[%s] ehlo=1 commands=1" % LOST)


def fail2ban_regex(path, filters):
    """For each filter: fail2ban-regex's counts (lines, ignored, matched,
    missed) and the (client address, line) of each match.  The runs (two
    per filter, a second each) go in parallel."""
    runs = []
    for filt in filters:
        argv = [tool_path("fail2ban-regex"), path, filt]
        runs.append([subprocess.Popen(argv + extra, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)
                     for extra in ([], ["-o", "<ip> <msg>"])])
    results = []
    for summary, matches in runs:
        out = [p.communicate(timeout=60)[0] for p in (summary, matches)]
        assert summary.returncode == 0 and matches.returncode == 0, out
        m = re.search(r"^Lines: (\d+) lines, (\d+) ignored, (\d+) matched, "
                      r"(\d+) missed", out[0], re.M)
        assert m, out[0]
        results.append((tuple(int(x) for x in m.groups()),
                        sorted(tuple(ln.split(" ", 1))
                               for ln in out[1].splitlines())))
    return results


def postel_lines(srv, workdir):
    """A log of the lines of interest, one each: {what: line}, path."""
    log = srv.log().splitlines()
    lines = {}
    for what, (text, addr) in LINES.items():
        found = [ln for ln in log if text in ln and "[%s]" % addr in ln]
        assert len(found) == 1, (what, found)
        lines[what] = found[0]
    path = os.path.join(workdir, "selected.log")
    with open(path, "w") as f:
        f.write("".join(ln + "\n" for ln in lines.values()))
    return lines, path


def check_modes(lines, path, filters):
    """filters: {filter: mode}; each finds exactly its mode's lines."""
    results = fail2ban_regex(path, filters)
    for (filt, mode), (counts, matches) in zip(filters.items(), results):
        want = MODES[mode]
        assert counts == (len(lines), 0, len(want),
                          len(lines) - len(want)), (filt, counts, matches)
        assert matches == sorted((LINES[w][1], lines[w]) for w in want), \
            filt


def server(instance, workdir, main):
    settings = {"local_recipient_maps": "inline:{ alice=1 }",
                "smtpd_hard_error_limit": "3"}
    settings.update(main)
    return SaslServer(instance, workdir, main=settings)


def test_fail2ban_postfix_filter_matches_as_shipped(instance, workdir):
    # An admin moving from Postfix keeps the program name, and the jails.
    srv = server(instance, workdir, {"syslog_name": "postfix"})
    make_traffic(srv)
    lines, path = postel_lines(srv, workdir)
    # The file as it is (its default mode is "more"), and with the modes
    # the shipped jails use (postfix-sasl is mode=auth).
    filters = {FILTER: "more"}
    for mode in ("errors", "auth", "aggressive"):
        filters["%s[mode=%s]" % (FILTER, mode)] = mode
    check_modes(lines, path, filters)


def test_fail2ban_postfix_filter_with_postel_name(instance, workdir):
    srv = server(instance, workdir, {})
    make_traffic(srv)
    assert "postel/smtpd[" in srv.log()
    lines, path = postel_lines(srv, workdir)
    check_modes(lines, path, {
        "%s[mode=%s, %s]" % (FILTER, mode, DAEMON): mode
        for mode in ("more", "aggressive")})
