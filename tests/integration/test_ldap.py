# ldap: tables (util/dict_ldap.c) against a real slapd started by the
# module (ldap_peer.py): virtual_alias_maps with group expansion through
# special_result_attribute delivering into Maildirs, smtpd_sender_login_maps
# with reject_sender_login_mismatch, LDAP filter metacharacters in keys,
# slapd stopped (451 at RCPT) and back, bind_dn/bind_pw, failover over
# server_host, and postelmap -q / -q -.
#
# SPDX-License-Identifier: ISC
import os
import pwd
import re
import shutil
import smtplib
import socket
import tempfile
import time

import pytest

from conftest import free_port, run_cmd, wait_for, wait_smtp
from ldap_peer import READER_DN, READER_PW, SUFFIX, Slapd
from tlscerts import CA

pytestmark = [pytest.mark.needs("slapd", "ldap_utils")]

LDIF = """\
dn: uid=alice,ou=people,%(s)s
objectClass: inetOrgPerson
objectClass: postelMailObject
uid: alice
cn: Alice
sn: A
mailacceptinggeneralid: alice@example.test
maildrop: alice@mbox.test

dn: uid=bob,ou=people,%(s)s
objectClass: inetOrgPerson
objectClass: postelMailObject
uid: bob
cn: Bob
sn: B
mailacceptinggeneralid: bob@example.test
maildrop: bob@mbox.test

dn: uid=star,ou=people,%(s)s
objectClass: inetOrgPerson
objectClass: postelMailObject
uid: star
cn: Star
sn: S
mailacceptinggeneralid: st*r@example.test
maildrop: star@mbox.test

dn: uid=o\\,brien,ou=people,%(s)s
objectClass: inetOrgPerson
objectClass: postelMailObject
uid: o,brien
cn: OBrien
sn: O
mailacceptinggeneralid: o,brien@example.test
maildrop: obrien@mbox.test

dn: uid=al,ou=people,%(s)s
objectClass: alias
objectClass: extensibleObject
uid: al
aliasedObjectName: uid=alice,ou=people,%(s)s

dn: ou=elsewhere,%(s)s
objectClass: referral
objectClass: extensibleObject
ou: elsewhere
ref: @URL@/ou=people,%(s)s

dn: cn=staff,ou=groups,%(s)s
objectClass: groupOfNames
objectClass: postelMailObject
cn: staff
mailacceptinggeneralid: staff@example.test
member: uid=alice,ou=people,%(s)s
member: uid=bob,ou=people,%(s)s

dn: cn=loop,ou=groups,%(s)s
objectClass: groupOfNames
objectClass: postelMailObject
cn: loop
mailacceptinggeneralid: loop@example.test
member: cn=loop,ou=groups,%(s)s
member: cn=staff,ou=groups,%(s)s
member: uid=gone,ou=people,%(s)s

dn: uid=carol,ou=private,%(s)s
objectClass: inetOrgPerson
objectClass: postelMailObject
uid: carol
cn: Carol
sn: C
mailacceptinggeneralid: carol@example.test
maildrop: carol@mbox.test

""" % {"s": SUFFIX}


@pytest.fixture(scope="module")
def slapd():
    folder = tempfile.mkdtemp(prefix="postel-slapd-")
    os.chmod(folder, 0o755)
    ca = CA(os.path.join(folder, "ca"))
    # libldap checks a server named "localhost" against this host's own
    # name (its ldap_pvt_tls_check_hostname), so the certificate has both.
    names = ["localhost"] + sorted({socket.gethostname(), socket.getfqdn()})
    key, cert, _ = ca.issue("slapd", names)
    server = Slapd(folder, LDIF, tls=(key, cert, ca.cert))
    server.ca = ca.cert
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


def write_cf(workdir, name, slapd, **extra):
    """An ldap_table(5) file: the module's slapd, search_base the suffix,
    and the given parameters (Postfix's defaults for the rest)."""
    settings = {"server_host": slapd.url, "search_base": SUFFIX}
    settings.update(extra)
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        for key, value in settings.items():
            f.write("%s = %s\n" % (key, value))
    os.chmod(path, 0o644)
    return path


def query(spec, key):
    return run_cmd(["postelmap", "-q", key, spec])


# ---------------------------------------------------------------------------
# postelmap -q

def test_ldap_postelmap_query_and_group_expansion(slapd, workdir):
    cf = write_cf(workdir, "aliases.cf", slapd,
                  special_result_attribute="member")
    spec = "ldap:" + cf
    r = query(spec, "alice@example.test")
    assert (r.returncode, r.stdout) == (0, "alice@mbox.test\n"), r.stderr
    # Keys fold to lower case, as Postfix's ldap: tables do.
    r = query(spec, "ALICE@Example.TEST")
    assert (r.returncode, r.stdout) == (0, "alice@mbox.test\n"), r.stderr
    r = query(spec, "staff@example.test")
    assert (r.returncode, r.stdout) == (
        0, "alice@mbox.test,bob@mbox.test\n"), r.stderr
    r = query(spec, "nobody@example.test")
    assert (r.returncode, r.stdout) == (1, ""), r.stderr
    r = run_cmd(["postelmap", "-q", "-", spec],
                input="alice@example.test\nnobody@example.test\n"
                "staff@example.test\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("alice@example.test\talice@mbox.test\n"
                        "staff@example.test\talice@mbox.test,bob@mbox.test\n")


def test_ldap_leaf_terminal_and_result_format(slapd, workdir):
    # A leaf attribute comes from the members, not from the group entry
    # (it has a special attribute), which holds staff@example.test.
    cf = write_cf(workdir, "leaf.cf", slapd,
                  special_result_attribute="member",
                  leaf_result_attribute="mailacceptinggeneralid",
                  result_format="<%s>")
    r = query("ldap:" + cf, "staff@example.test")
    assert r.stdout == ("<alice@mbox.test>,<alice@example.test>,"
                        "<bob@mbox.test>,<bob@example.test>\n"), r.stderr
    # An entry with a terminal attribute gives only that.
    cf = write_cf(workdir, "terminal.cf", slapd,
                  special_result_attribute="member",
                  terminal_result_attribute="uid")
    r = query("ldap:" + cf, "alice@example.test")
    assert r.stdout == "alice\n", r.stderr
    r = query("ldap:" + cf, "staff@example.test")
    assert r.stdout == "alice,bob\n", r.stderr


def test_ldap_nested_groups_loops_and_recursion_limit(slapd, workdir):
    # loop holds itself (skipped with a warning), the staff group and a
    # member that no longer exists (skipped).
    spec = "ldap:" + write_cf(workdir, "nested.cf", slapd,
                              special_result_attribute="member")
    r = query(spec, "loop@example.test")
    assert (r.returncode, r.stdout) == (
        0, "alice@mbox.test,bob@mbox.test\n"), r.stderr
    assert "contains itself" in r.stderr
    spec = "ldap:" + write_cf(workdir, "shallow.cf", slapd,
                              special_result_attribute="member",
                              recursion_limit="1")
    r = query(spec, "staff@example.test")
    assert (r.returncode, r.stdout) == (
        0, "alice@mbox.test,bob@mbox.test\n"), r.stderr
    r = query(spec, "loop@example.test")
    assert r.returncode == 75, (r.returncode, r.stdout, r.stderr)
    assert "recursion_limit=1" in r.stderr


def test_ldap_domain_scope_port_and_limits(slapd, workdir):
    port = slapd.url.rsplit(":", 1)[1]
    # domain: only keys in example.test are searched, although the filter
    # would find alice for any domain.
    spec = "ldap:" + write_cf(
        workdir, "domain.cf", slapd, server_host="127.0.0.1",
        server_port=port, domain="example.test",
        query_filter="(mailacceptinggeneralid=%u@example.test)")
    r = query(spec, "alice@example.test")
    assert (r.returncode, r.stdout) == (0, "alice@mbox.test\n"), r.stderr
    r = query(spec, "alice@other.test")
    assert (r.returncode, r.stdout) == (1, ""), r.stderr
    # scope = one sees the entries right below search_base only.
    spec = "ldap:" + write_cf(workdir, "one.cf", slapd, scope="one",
                              search_base="ou=people," + SUFFIX)
    assert query(spec, "alice@example.test").stdout == "alice@mbox.test\n"
    spec = "ldap:" + write_cf(workdir, "one-top.cf", slapd, scope="one")
    assert query(spec, "alice@example.test").returncode == 1
    # expansion_limit counts results, size_limit entries: past either the
    # lookup fails rather than giving part of the answer.
    spec = "ldap:" + write_cf(workdir, "explimit.cf", slapd,
                              special_result_attribute="member",
                              expansion_limit="1")
    assert query(spec, "alice@example.test").stdout == "alice@mbox.test\n"
    r = query(spec, "staff@example.test")
    assert r.returncode == 75 and "expansion_limit=1" in r.stderr, r
    spec = "ldap:" + write_cf(
        workdir, "sizelimit.cf", slapd, size_limit="1",
        query_filter="(|(mailacceptinggeneralid=%s)(uid=bob))")
    r = query(spec, "alice@example.test")
    assert r.returncode == 75 and "size_limit=1" in r.stderr, r


@pytest.mark.parametrize("deref,found", [("0", False), ("1", False),
                                         ("2", True), ("3", True)])
def test_ldap_dereference(slapd, workdir, deref, found):
    # search_base names an alias entry for alice: only dereferencing when
    # finding the base (2, 3) reaches alice's maildrop.
    spec = "ldap:" + write_cf(workdir, "deref.cf", slapd,
                              search_base="uid=al,ou=people," + SUFFIX,
                              scope="base", query_filter="(objectclass=*)",
                              dereference=deref)
    r = query(spec, "x@example.test")
    assert (r.returncode, r.stdout) == (
        (0, "alice@mbox.test\n") if found else (1, "")), r.stderr


def test_ldap_chase_referrals(slapd, workdir):
    # ou=elsewhere is a referral to ou=people: followed only when asked,
    # and not followed it is a table error rather than "not found".
    settings = {"search_base": "ou=elsewhere," + SUFFIX, "version": "3"}
    spec = "ldap:" + write_cf(workdir, "chase.cf", slapd,
                              chase_referrals="yes", **settings)
    r = query(spec, "alice@example.test")
    assert (r.returncode, r.stdout) == (0, "alice@mbox.test\n"), r.stderr
    spec = "ldap:" + write_cf(workdir, "nochase.cf", slapd, **settings)
    r = query(spec, "alice@example.test")
    assert r.returncode == 75, (r.returncode, r.stdout, r.stderr)
    assert "Referral" in r.stderr
    # A referral inside the searched subtree is skipped (LDAPv2 servers
    # answer "partial results", LDAPv3 ones a continuation reference).
    for version in ("2", "3"):
        spec = "ldap:" + write_cf(workdir, "sub%s.cf" % version, slapd,
                                  version=version)
        r = query(spec, "alice@example.test")
        assert (r.returncode, r.stdout) == (0, "alice@mbox.test\n"), \
            (version, r.stderr)


def test_ldap_timeout_on_a_server_that_never_answers(workdir):
    # A listener that accepts connections (the kernel's backlog) and
    # never reads: the bind times out after timeout seconds.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    try:
        path = os.path.join(workdir, "silent.cf")
        with open(path, "w") as f:
            f.write("server_host = ldap://127.0.0.1:%d\ntimeout = 1\n"
                    % silent.getsockname()[1])
        start = time.monotonic()
        r = query("ldap:" + path, "alice@example.test")
        took = time.monotonic() - start
    finally:
        silent.close()
    assert r.returncode == 75, (r.returncode, r.stdout, r.stderr)
    assert "no LDAP server answered" in r.stderr
    assert 0.9 < took < 10, took


def test_ldap_filter_metacharacters_find_nothing(slapd, workdir):
    spec = "ldap:" + write_cf(workdir, "aliases.cf", slapd)
    # Unescaped, each of these would match alice, bob or every entry.
    for key in ("*", "*@example.test", "a*@example.test",
                "alice@example.test)(mailacceptinggeneralid=*",
                "*)(|(uid=*", "\\2a@example.test", "(alice@example.test)"):
        r = query(spec, key)
        assert (r.returncode, r.stdout) == (1, ""), (key, r.stdout, r.stderr)
    # An address that really holds a metacharacter is found as itself.
    r = query(spec, "st*r@example.test")
    assert (r.returncode, r.stdout) == (0, "star@mbox.test\n"), r.stderr
    r = query(spec, "st*@example.test")
    assert (r.returncode, r.stdout) == (1, ""), r.stderr


def test_ldap_search_base_value_escaped_as_dn(slapd, workdir):
    # uid=%u in search_base: the key's local part is one RDN value, so a
    # comma in it is escaped (RFC 4514) instead of making a broken DN.
    spec = "ldap:" + write_cf(workdir, "dn.cf", slapd,
                              search_base="uid=%u,ou=people," + SUFFIX,
                              scope="base",
                              query_filter="(objectclass=*)")
    r = query(spec, "alice@example.test")
    assert (r.returncode, r.stdout) == (0, "alice@mbox.test\n"), r.stderr
    r = query(spec, "o,brien@example.test")
    assert (r.returncode, r.stdout) == (0, "obrien@mbox.test\n"), r.stderr
    for key in ("a,,b@example.test", "=x+y=@example.test",
                "alice,ou=private@example.test"):
        r = query(spec, key)
        assert (r.returncode, r.stdout) == (1, ""), (key, r.stderr)


def test_ldap_bind_dn_and_bind_pw(slapd, workdir):
    anon = write_cf(workdir, "anon.cf", slapd)
    r = query("ldap:" + anon, "carol@example.test")
    assert (r.returncode, r.stdout) == (1, ""), r.stderr
    bound = write_cf(workdir, "bound.cf", slapd, bind_dn=READER_DN,
                     bind_pw=READER_PW, version="3")
    r = query("ldap:" + bound, "carol@example.test")
    assert (r.returncode, r.stdout) == (0, "carol@mbox.test\n"), r.stderr
    wrong = write_cf(workdir, "wrong.cf", slapd, bind_dn=READER_DN,
                     bind_pw="not-the-password")
    r = query("ldap:" + wrong, "carol@example.test")
    assert r.returncode == 75, (r.returncode, r.stdout, r.stderr)
    assert "Invalid credentials" in r.stderr


def test_ldap_failover_and_ldapi(slapd, workdir):
    dead = "ldap://127.0.0.1:%d" % free_port()
    cf = write_cf(workdir, "failover.cf", slapd,
                  server_host="%s, %s" % (dead, slapd.url))
    r = query("ldap:" + cf, "alice@example.test")
    assert (r.returncode, r.stdout) == (0, "alice@mbox.test\n"), r.stderr
    assert dead in r.stderr
    cf = write_cf(workdir, "ldapi.cf", slapd, server_host=slapd.ldapi_url)
    r = query("ldap:" + cf, "bob@example.test")
    assert (r.returncode, r.stdout) == (0, "bob@mbox.test\n"), r.stderr
    cf = write_cf(workdir, "down.cf", slapd, server_host=dead)
    r = query("ldap:" + cf, "alice@example.test")
    assert r.returncode == 75, (r.returncode, r.stdout, r.stderr)
    assert "no LDAP server answered" in r.stderr


def test_ldap_start_tls_and_ldaps(slapd, workdir):
    other = CA(os.path.join(workdir, "other-ca"), name="Other CA")
    tls = {"version": "3", "tls_ca_cert_file": slapd.ca,
           "tls_require_cert": "yes"}
    host = slapd.url.replace("127.0.0.1", "localhost")
    cf = write_cf(workdir, "starttls.cf", slapd, server_host=host,
                  start_tls="yes", **tls)
    r = query("ldap:" + cf, "alice@example.test")
    assert (r.returncode, r.stdout) == (0, "alice@mbox.test\n"), r.stderr
    cf = write_cf(workdir, "ldaps.cf", slapd, server_host=slapd.ldaps_url,
                  **tls)
    r = query("ldap:" + cf, "bob@example.test")
    assert (r.returncode, r.stdout) == (0, "bob@mbox.test\n"), r.stderr
    # A certificate from another CA is refused when it must verify...
    tls["tls_ca_cert_file"] = other.cert
    cf = write_cf(workdir, "wrongca.cf", slapd, server_host=host,
                  start_tls="yes", **tls)
    r = query("ldap:" + cf, "alice@example.test")
    assert r.returncode == 75, (r.returncode, r.stdout, r.stderr)
    assert "STARTTLS" in r.stderr
    cf = write_cf(workdir, "wrongca-ldaps.cf", slapd,
                  server_host=slapd.ldaps_url, **tls)
    r = query("ldap:" + cf, "alice@example.test")
    assert r.returncode == 75, (r.returncode, r.stdout, r.stderr)
    # Without tls_ca_cert_file the CAs of ldap.conf (here LDAPTLS_CACERT,
    # its environment form) verify the server.
    cf = write_cf(workdir, "defaultca.cf", slapd, server_host=host,
                  start_tls="yes", version="3", tls_require_cert="yes")
    r = run_cmd(["postelmap", "-q", "alice@example.test", "ldap:" + cf],
                env=dict(os.environ, LDAPTLS_CACERT=slapd.ca))
    assert (r.returncode, r.stdout) == (0, "alice@mbox.test\n"), r.stderr
    r = run_cmd(["postelmap", "-q", "alice@example.test", "ldap:" + cf],
                env=dict(os.environ, LDAPTLS_CACERT=other.cert))
    assert r.returncode == 75, (r.returncode, r.stdout, r.stderr)
    # ... and accepted with tls_require_cert = no.
    tls["tls_require_cert"] = "no"
    cf = write_cf(workdir, "noverify.cf", slapd, server_host=host,
                  start_tls="yes", **tls)
    r = query("ldap:" + cf, "alice@example.test")
    assert (r.returncode, r.stdout) == (0, "alice@mbox.test\n"), r.stderr


@pytest.mark.parametrize("setting,message", [
    ("bind = sasl", "bind = sasl is not supported"),
    ("cache = yes", "unknown parameter \"cache\""),
    ("scope = subtree", "scope = \"subtree\""),
    ("start_tls = yes", "start_tls = yes needs version = 3"),
    ("server_host = http://x", "not an ldap://"),
    ("query_filter = (mail=%x)", "query_filter"),
])
def test_ldap_bad_settings_fail_the_open(workdir, setting, message):
    path = os.path.join(workdir, "bad.cf")
    with open(path, "w") as f:
        f.write("server_host = ldap://127.0.0.1:9\n%s\n" % setting)
    r = query("ldap:" + path, "alice@example.test")
    assert r.returncode != 0 and r.returncode != 1, r
    assert message in r.stderr and path in r.stderr, r.stderr


# ---------------------------------------------------------------------------
# Mail through an instance.

def mail_owner_ids():
    """uid/gid virtual(8) writes the Maildirs as."""
    if os.geteuid() == 0:
        pw = pwd.getpwnam("nobody")
        return pw.pw_uid, pw.pw_gid
    return os.getuid(), os.getgid()


def start_virtual(instance, workdir, main, extra_services=()):
    """An instance: smtpd (chrooted), cleanup, qmgr and virtual(8) with
    mbox.test's Maildirs under workdir/vmail; returns (port, base)."""
    uid, gid = mail_owner_ids()
    base = os.path.join(workdir, "vmail")
    os.makedirs(os.path.join(base, "mbox.test"))
    os.chown(os.path.join(base, "mbox.test"), uid, gid)
    port = free_port()
    settings = {
        "myhostname": "mx.test.invalid", "mydestination": "",
        "maillog_file": os.path.join(workdir, "maillog"),
        "virtual_mailbox_domains": "mbox.test",
        "virtual_mailbox_maps": "inline:{ alice@mbox.test=mbox.test/alice/,"
                                " bob@mbox.test=mbox.test/bob/ }",
        "virtual_uid_maps": "static:%d" % uid,
        "virtual_gid_maps": "static:%d" % gid,
        "virtual_minimum_uid": "1",
        "virtual_mailbox_base": base,
        "virtual_alias_domains": "example.test",
        "smtpd_error_sleep_time": "0",
        "minimal_backoff_time": "300s", "queue_run_delay": "300s",
    }
    settings.update(main)
    instance.write_config(main=settings, services=[
        "postlog unix-dgram n - n - 1 postlogd",
        "127.0.0.1:%d inet n - y - - smtpd" % port,
        "qmgr unix n - n 300 1 qmgr",
        "cleanup unix n - y - 0 cleanup",
        "virtual unix - n n - - virtual",
        "bounce unix - - n - 0 bounce",
        "defer unix - - n - 0 bounce",
        "trace unix - - n - 0 bounce",
    ] + list(extra_services))
    instance.start()
    wait_smtp(instance, port)
    return port, base


def maillog(workdir):
    try:
        with open(os.path.join(workdir, "maillog"), errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def maildir_messages(base, user):
    new = os.path.join(base, "mbox.test", user, "new")
    if not os.path.isdir(new):
        return []
    return [open(os.path.join(new, n), "rb").read()
            for n in sorted(os.listdir(new))]


def test_ldap_virtual_alias_maps_group_delivers_to_mailboxes(
        slapd, instance, workdir):
    cf = write_cf(workdir, "aliases.cf", slapd,
                  special_result_attribute="member")
    port, base = start_virtual(instance, workdir, {
        "virtual_alias_maps": "ldap:" + cf})
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
        s.sendmail("s@example.org", ["staff@example.test"],
                   b"Subject: to staff\r\n\r\nstaff body\r\n")
        s.sendmail("s@example.org", ["bob@example.test"],
                   b"Subject: to bob\r\n\r\nbob body\r\n")
        code, text = s.rcpt("nobody@example.test") if s.mail(
            "s@example.org")[0] == 250 else (0, b"")
        assert code == 550, text
    assert wait_for(lambda: len(maildir_messages(base, "alice")) == 1
                    and len(maildir_messages(base, "bob")) == 2, 30), \
        maillog(workdir)
    assert b"staff body" in maildir_messages(base, "alice")[0]
    bodies = b"".join(maildir_messages(base, "bob"))
    assert b"staff body" in bodies and b"bob body" in bodies
    log = maillog(workdir)
    assert re.search(r"to=<alice@mbox\.test>, orig_to=<staff@example\.test>"
                     r".*status=sent", log), log


def test_ldap_metacharacter_recipient_is_unknown(slapd, instance, workdir):
    cf = write_cf(workdir, "aliases.cf", slapd)
    port, base = start_virtual(instance, workdir, {
        "virtual_alias_maps": "ldap:" + cf})
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
        s.ehlo("client.test")
        assert s.mail("s@example.org")[0] == 250
        for rcpt in ("*@example.test", "a*@example.test"):
            code, text = s.rcpt(rcpt)
            assert code == 550, (rcpt, text)
        code, text = s.rcpt("alice@example.test")
        assert code == 250, text


def test_ldap_server_down_is_451_at_rcpt_then_recovers(
        slapd, instance, workdir):
    cf = write_cf(workdir, "aliases.cf", slapd)
    port, base = start_virtual(instance, workdir, {
        "virtual_alias_maps": "ldap:" + cf})
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
        s.ehlo("client.test")
        assert s.mail("s@example.org")[0] == 250
        code, text = s.rcpt("alice@example.test")
        assert code == 250, text
        slapd.stop()
        try:
            code, text = s.rcpt("bob@example.test")
            assert code == 451, text
            assert b"4.3.0" in text
        finally:
            slapd.start()
        # The same smtpd reconnects once slapd is back.
        code, text = s.rcpt("bob@example.test")
        assert code == 250, text
        # A kept connection the server closed is made again at once,
        # without a temporary failure.
        slapd.stop()
        slapd.start()
        code, text = s.rcpt("alice@example.test")
        assert code == 250, text
    assert wait_for(lambda: "no LDAP server answered" in maillog(workdir), 15), \
        maillog(workdir)


def test_ldap_through_proxymap(slapd, instance, workdir):
    # proxy:ldap: the chrooted smtpd and cleanup ask proxymap, which holds
    # the LDAP connection; its failures reach smtpd as 451.
    cf = write_cf(workdir, "aliases.cf", slapd,
                  special_result_attribute="member")
    port, base = start_virtual(
        instance, workdir, {"virtual_alias_maps": "proxy:ldap:" + cf},
        extra_services=["proxymap unix - - n - - proxymap"])
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
        s.sendmail("s@example.org", ["staff@example.test"],
                   b"Subject: via proxymap\r\n\r\nproxied\r\n")
        assert s.mail("s@example.org")[0] == 250
        code, text = s.rcpt("*@example.test")
        assert code == 550, text
        slapd.stop()
        try:
            code, text = s.rcpt("alice@example.test")
            assert code == 451, text
        finally:
            slapd.start()
        code, text = s.rcpt("alice@example.test")
        assert code == 250, text
    assert wait_for(lambda: len(maildir_messages(base, "alice")) == 1
                    and len(maildir_messages(base, "bob")) == 1, 30), \
        maillog(workdir)
    assert b"proxied" in maildir_messages(base, "bob")[0]


def test_ldap_sender_login_maps(slapd, instance, workdir):
    from test_sasl import PASSWORD, USER, SaslServer
    cf = write_cf(workdir, "logins.cf", slapd, result_attribute="uid")
    srv = SaslServer(instance, workdir, main={
        "smtpd_sender_login_maps": "ldap:" + cf,
        "smtpd_sender_restrictions": "reject_sender_login_mismatch",
    })
    with srv.smtp() as s:
        s.login(USER, PASSWORD)
        s.mail("alice@example.test")
        code, text = s.rcpt("someone@remote.test")
        assert code == 250, text
        s.rset()
        s.mail("bob@example.test")
        code, text = s.rcpt("someone@remote.test")
        assert code == 553, text
        assert b"not owned by user alice" in text
        s.rset()
        s.mail("*@example.test")
        code, text = s.rcpt("someone@remote.test")
        assert code == 553, text
    with srv.smtp() as s:
        s.ehlo("client.test")
        s.mail("alice@example.test")
        code, text = s.rcpt("someone@mx.test")
        assert code == 553, text
        assert b"not logged in" in text
        s.rset()
        # Unescaped, "*" would name alice and bob as its owners.
        s.mail("*@example.test")
        code, text = s.rcpt("someone@mx.test")
        assert code == 250, text
