# DKIM signing in cleanup (dkim_signing_table, dkim_key_table): outbound
# mail relayed by a real instance to an aiosmtpd sink is verified there by
# dkimpy (Debian's python3-dkim, python3-nacl for Ed25519), which fetches
# the public keys from the loopback DNS server; OpenDKIM itself verifies
# one message too.
#
# Keys live below queue_directory (cleanup runs chrooted, as in the
# shipped master.cf) and belong to mail_owner, mode 0600.
#
# SPDX-License-Identifier: ISC
import base64
import os
import pwd
import shutil
import smtplib
import socket
import subprocess
import tempfile

import pytest

from conftest import bin_path, free_port, missing_module, require, wait_for

try:
    from aiosmtpd.controller import Controller
except ImportError:
    raise missing_module("aiosmtpd") from None
try:
    import dkim
except ImportError:
    raise missing_module("dkimpy") from None

from dnsserver import DNSServer, query

pytestmark = pytest.mark.needs("dkimpy", "nacl", "aiosmtpd", "dnslib",
                               "openssl")

DOMAIN = "example.com"


# ---------------------------------------------------------------------------
# Keys and DNS, made once for the module.

def genkey(folder, name, algorithm):
    """A PEM private key from openssl genpkey and its DNS TXT value."""
    path = os.path.join(folder, name + ".pem")
    opts = ["-pkeyopt", "rsa_keygen_bits:2048"] if algorithm == "RSA" else []
    subprocess.run(["openssl", "genpkey", "-algorithm", algorithm, "-out",
                    path] + opts, check=True, capture_output=True, timeout=60)
    der = subprocess.run(["openssl", "pkey", "-in", path, "-pubout",
                          "-outform", "DER"], check=True,
                         capture_output=True, timeout=60).stdout
    if algorithm == "RSA":
        txt = "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
    else:
        # RFC 8463: the bare 32-byte public key, not the SPKI structure.
        txt = "v=DKIM1; k=ed25519; p=" + base64.b64encode(der[-32:]).decode()
    return path, txt


@pytest.fixture(scope="module")
def keys():
    require("openssl")
    folder = tempfile.mkdtemp(prefix="postel-dkim-keys-")
    made = {
        "rsa": genkey(folder, "rsa", "RSA"),
        "ed": genkey(folder, "ed", "ED25519"),
        "other": genkey(folder, "other", "RSA"),
    }
    yield made
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def dns(keys):
    require("dnslib")
    with DNSServer() as server:
        server.add("rsa._domainkey." + DOMAIN, "TXT", keys["rsa"][1])
        server.add("ed._domainkey." + DOMAIN, "TXT", keys["ed"][1])
        server.add("sub._domainkey.sub." + DOMAIN, "TXT", keys["other"][1])
        yield server


def dnsfunc(server):
    """dkimpy's key lookup, answered by the loopback DNS server."""
    def lookup(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        reply = query(server.address, name, "TXT")
        for rr in reply.rr:
            return b"".join(rr.rdata.data)
        return None
    return lookup


def signatures(message):
    """The DKIM-Signature fields of the message header (not of a message
    attached in the body, as a DSN has one)."""
    header = message.split(b"\r\n\r\n", 1)[0]
    return [line for line in header.split(b"\r\n")
            if line.lower().startswith(b"dkim-signature:")]


def verify_all(message, server):
    """True when every DKIM-Signature of message verifies (dkimpy)."""
    d = dkim.DKIM(message)
    count = len(signatures(message))
    return count > 0 and all(d.verify(idx=i, dnsfunc=dnsfunc(server))
                             for i in range(count))


def tags(message, idx=0):
    """The tags of the idx-th DKIM-Signature, as a dict of bytes."""
    d = dkim.DKIM(message)
    sigs = [v for n, v in d.headers if n.lower() == b"dkim-signature"]
    return dkim.util.parse_tag_value(sigs[idx])


# ---------------------------------------------------------------------------
# The instance: smtpd -> cleanup -> qmgr -> smtp -> sink, and pickup.

class Sink:
    def __init__(self):
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        if address.startswith("bounce"):
            return "550 5.1.1 <%s>: no such user" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.original_content or envelope.content)
        return "250 2.0.0 Ok"


class Site:
    def __init__(self, instance, workdir, keys, dns, main=None,
                 signing=None, keytable=None, smtpd_opts=""):
        self.instance = instance
        self.workdir = workdir
        self.sink = Sink()
        self.sink_port = free_port()
        self.ctl = Controller(self.sink, hostname="127.0.0.1",
                              port=self.sink_port)
        self.ctl.start()
        self.port = free_port()
        self.maillog = os.path.join(workdir, "maillog")
        keydir = os.path.join(instance.queue, "dkim")
        os.makedirs(keydir, exist_ok=True)
        self.keydir = keydir
        for name in ("rsa", "ed", "other"):
            shutil.copy(keys[name][0], os.path.join(keydir, name + ".pem"))
            os.chmod(os.path.join(keydir, name + ".pem"), 0o600)
        self.write_table("signing", signing if signing is not None else {
            DOMAIN: "rsa"})
        self.write_table("keys", keytable if keytable is not None else {
            "rsa": "%s:rsa:%s/rsa.pem" % (DOMAIN, keydir),
            "ed": "%s:ed:%s/ed.pem" % (DOMAIN, keydir),
            "other": "sub.%s:sub:%s/other.pem" % (DOMAIN, keydir),
        })
        settings = {
            "myhostname": "mta.example.com",
            "mydomain": DOMAIN,
            "mydestination": "",
            "relayhost": "[127.0.0.1]:%d" % self.sink_port,
            "relay_domains": "inbound.test",
            "local_recipient_maps": "",
            "mynetworks": "127.0.0.0/8",
            "dns_nameservers": dns.address,
            "maillog_file": self.maillog,
            "smtpd_error_sleep_time": "0",
            "smtp_connect_timeout": "5s",
            "dkim_signing_table": "texthash:" + self.path("signing"),
            "dkim_key_table": "texthash:" + self.path("keys"),
        }
        settings.update(main or {})
        instance.write_config(main=settings, services=[
            "postlog unix-dgram n - n - 1 postlogd",
            ("127.0.0.1:%d inet n - y - - smtpd" % self.port)
            + smtpd_opts,
            "pickup unix n - y 60 1 pickup",
            "cleanup unix n - y - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "smtp unix - - n - - smtp",
            "relay unix - - n - - smtp",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
        ])
        if os.geteuid() == 0:
            instance.set_permissions()
            owner = pwd.getpwnam(instance.main.get("mail_owner", "postel"))
            for name in os.listdir(keydir):
                os.chown(os.path.join(keydir, name), owner.pw_uid,
                         owner.pw_gid)
        instance.start()

    def path(self, name):
        return os.path.join(self.workdir, name)

    def write_table(self, name, entries):
        with open(self.path(name), "w") as f:
            for k, v in entries.items():
                f.write("%s %s\n" % (k, v))

    def send(self, msg, sender="me@example.com", rcpts=("you@remote.test",)):
        """One SMTP transaction; (code, text) of the DATA reply."""
        s = smtplib.SMTP("127.0.0.1", self.port, timeout=30)
        try:
            s.ehlo("client.test")
            code, text = s.mail(sender)
            assert code == 250, text
            for r in rcpts:
                code, text = s.rcpt(r)
                assert code == 250, (r, text)
            code, text = s.data(msg)
            return code, text.decode()
        finally:
            try:
                s.quit()
            except smtplib.SMTPException:
                pass

    def relayed(self, count=1, timeout=30):
        assert wait_for(lambda: len(self.sink.messages) >= count, timeout), \
            self.log()
        return self.sink.messages[count - 1]

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def close(self):
        self.ctl.stop()


@pytest.fixture
def site(instance, workdir, keys, dns):
    made = []

    def make(**kw):
        s = Site(instance, workdir, keys, dns, **kw)
        made.append(s)
        return s
    yield make
    for s in made:
        s.close()


def message(frm="Alice <alice@example.com>", extra=b""):
    return (b"From: " + frm.encode() + b"\r\nTo: you@remote.test\r\n"
            b"Subject: signed\r\nDate: Mon, 07 Dec 2026 10:00:00 +0000\r\n"
            b"Message-ID: <m1@example.com>\r\n" + extra
            + b"\r\nHello,\r\n\r\n  white  space\t kept\r\n.dot\r\n\r\n\r\n")


# ---------------------------------------------------------------------------

def test_dkim_sign_rsa_signature_verifies_at_the_next_hop(site, dns):
    s = site()
    code, text = s.send(message())
    assert code == 250, text
    got = s.relayed()
    assert len(signatures(got)) == 1, got
    assert got.startswith(b"DKIM-Signature:"), got[:200]
    t = tags(got)
    assert t[b"a"] == b"rsa-sha256" and t[b"d"] == DOMAIN.encode()
    assert t[b"s"] == b"rsa" and t[b"c"] == b"relaxed/relaxed"
    # From oversigned: listed once more than it occurs
    h = [n.strip().lower() for n in t[b"h"].split(b":")]
    assert h.count(b"from") == 2 and b"subject" in h and b"received" not in h
    assert b"x" not in t
    assert verify_all(got, dns)
    assert wait_for(lambda: "DKIM-Signature field added (s=rsa, "
                    "d=example.com, a=rsa-sha256)" in s.log()), s.log()


def test_dkim_sign_ed25519_signature_verifies(site, dns):
    s = site(signing={DOMAIN: "ed"})
    assert s.send(message())[0] == 250
    got = s.relayed()
    assert tags(got)[b"a"] == b"ed25519-sha256"
    assert verify_all(got, dns)


def test_dkim_sign_two_keys_give_two_signatures_that_both_verify(site, dns):
    s = site(signing={DOMAIN: "rsa, ed"})
    assert s.send(message())[0] == 250
    got = s.relayed()
    assert len(signatures(got)) == 2
    # the first key listed is the topmost signature
    assert tags(got, 0)[b"s"] == b"rsa" and tags(got, 1)[b"s"] == b"ed"
    assert verify_all(got, dns)


def test_dkim_sign_subdomain_and_address_entries_match(site, dns):
    s = site(signing={"boss@example.com": "ed", ".example.com": "other",
                      DOMAIN: "rsa"})
    # the address entry wins over the domain entry
    assert s.send(message("boss@example.com"))[0] == 250
    first = s.relayed(1)
    assert tags(first)[b"s"] == b"ed" and verify_all(first, dns)
    # a subdomain matches the ".example.com" (parent) entry
    assert s.send(message("x@deep.sub.example.com"))[0] == 250
    second = s.relayed(2)
    assert tags(second)[b"d"] == b"sub.example.com"
    assert verify_all(second, dns)
    # the domain itself matches its own entry, not ".example.com"
    assert s.send(message("y@example.com"))[0] == 250
    assert tags(s.relayed(3))[b"s"] == b"rsa"


def test_dkim_sign_from_matching_no_entry_is_not_signed(site):
    s = site()
    assert s.send(message("a@elsewhere.test"))[0] == 250
    got = s.relayed()
    assert signatures(got) == []
    assert "DKIM-Signature field added" not in s.log()


def test_dkim_sign_missing_key_file_defers_with_451_and_logs_why(site):
    s = site()
    os.unlink(os.path.join(s.keydir, "rsa.pem"))
    code, text = s.send(message())
    assert text == '4.3.0 Error: DKIM signing key "rsa": No such file ' \
        'or directory', text
    assert code == 451
    # The log goes through postlogd: wait for cleanup's line to land.
    assert wait_for(lambda: 'key "rsa": file ' in s.log()), s.log()
    log = s.log()
    assert "dkim-sign: configuration error: dkim_key_table texthash:" in log
    assert 'key "rsa": file %s/rsa.pem: No such file or directory' \
        % s.keydir in log, log
    assert s.sink.messages == []


def test_dkim_sign_malformed_key_entry_and_bad_key_defer(site):
    s = site(signing={DOMAIN: "rsa", "bad@example.com": "broken",
                      "junk@example.com": "junk"},
             keytable=None)
    with open(s.path("keys"), "a") as f:
        f.write("broken example.com-no-selector\n")
        f.write("junk %s:junk:%s/junk.pem\n" % (DOMAIN, s.keydir))
    with open(os.path.join(s.keydir, "junk.pem"), "w") as f:
        f.write("-----BEGIN PRIVATE KEY-----\nnot a key\n"
                "-----END PRIVATE KEY-----\n")
    s.instance.reload()
    code, text = s.send(message("bad@example.com"))
    assert code == 451, text
    assert wait_for(lambda: 'key "broken": expected domain:selector:'
                    in s.log()), s.log()
    code, text = s.send(message("junk@example.com"))
    assert code == 451, text
    assert wait_for(lambda: "junk.pem: not a PEM private key" in s.log()), \
        s.log()


def test_dkim_sign_covers_canonical_rewrite_of_from(site, dns, workdir):
    with open(os.path.join(workdir, "canonical"), "w") as f:
        f.write("alice@old.test alice@example.com\n")
    s = site(main={"canonical_maps": "texthash:"
                   + os.path.join(workdir, "canonical"),
                   "local_header_rewrite_clients": "permit_mynetworks"})
    assert s.send(message("Alice <alice@old.test>"),
                  sender="alice@old.test")[0] == 250
    got = s.relayed()
    assert b"From: Alice <alice@example.com>" in got, got
    # signed for the rewritten From: domain, and it still verifies
    assert tags(got)[b"d"] == DOMAIN.encode()
    assert verify_all(got, dns)


def test_dkim_sign_sendmail_mail_with_added_headers_verifies(site, dns):
    s = site(main={"myorigin": DOMAIN})
    r = subprocess.run([bin_path("sendmail"), "-C", s.instance.confdir,
                        "-f", "root@example.com", "you@remote.test"],
                       input=b"Subject: from sendmail\n\nlocal body\n",
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    got = s.relayed()
    # cleanup added From:, Date: and Message-ID: before signing
    assert b"Message-ID: <" in got and b"\r\nDate: " in got
    assert b"From: root@example.com" in got
    assert len(signatures(got)) == 1
    assert verify_all(got, dns)


def test_dkim_sign_missing_key_keeps_sendmail_mail_in_maildrop(site):
    s = site(main={"myorigin": DOMAIN})
    saved = os.path.join(s.keydir, "rsa.saved")
    os.rename(os.path.join(s.keydir, "rsa.pem"), saved)
    r = subprocess.run([bin_path("sendmail"), "-C", s.instance.confdir,
                        "-f", "root@example.com", "you@remote.test"],
                       input=b"Subject: x\n\nbody\n", capture_output=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: "maildrop/" in s.log()
                    and "will retry" in s.log(), 30), s.log()
    assert "No such file or directory" in s.log()
    names = os.listdir(os.path.join(s.instance.queue, "maildrop"))
    assert len(names) == 1
    # postelqueue -p lists the waiting message with cleanup's reason
    reason = ('(451 4.3.0 Error: DKIM signing key "rsa": '
              'No such file or directory)')
    q = lambda: subprocess.run([bin_path("postelqueue"), "-c",
                                s.instance.confdir, "-p"],
                               capture_output=True, text=True,
                               timeout=30).stdout
    assert wait_for(lambda: reason in q(), 10), q()
    assert "you@remote.test" in q()
    assert s.sink.messages == []
    # the key comes back: the next pickup run sends it, signed, and the
    # noted reason goes with the maildrop file
    os.rename(saved, os.path.join(s.keydir, "rsa.pem"))
    wake = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    wake.connect(s.instance.unix_path("pickup", private=False))
    wake.sendall(b"W")
    wake.close()
    got = s.relayed(timeout=60)
    assert len(signatures(got)) == 1
    assert reason not in q()
    defer = os.path.join(s.instance.queue, "defer")
    assert [f for _, _, files in os.walk(defer) for f in files
            if f in names] == []


def test_dkim_sign_inbound_mail_is_not_signed(site):
    s = site(main={"mynetworks": "10.0.0.0/8"})
    code, text = s.send(message(), rcpts=("x@inbound.test",))
    assert code == 250, text
    got = s.relayed()
    assert signatures(got) == []


def test_dkim_sign_expiration_and_simple_canonicalization(site, dns):
    s = site(main={"dkim_signature_expiration": "7d",
                   "dkim_canonicalization": "simple/relaxed"})
    assert s.send(message())[0] == 250
    got = s.relayed()
    t = tags(got)
    assert int(t[b"x"]) - int(t[b"t"]) == 7 * 86400
    assert t[b"c"] == b"simple/relaxed"
    assert verify_all(got, dns)


@pytest.mark.needs("opendkim")
def test_dkim_sign_opendkim_itself_says_pass(site, keys, workdir):
    """Interoperability: Debian's opendkim in test mode (-t) verifies what
    Postel signed, its key records given as TestDNSData."""
    s = site(signing={DOMAIN: "rsa, ed"})
    assert s.send(message())[0] == 250
    got = s.relayed()
    msgfile = os.path.join(workdir, "signed.eml")
    with open(msgfile, "wb") as f:
        f.write(got)
    data = os.path.join(workdir, "dnsdata")
    with open(data, "w") as f:
        f.write("rsa._domainkey.%s %s\n" % (DOMAIN, keys["rsa"][1]))
        f.write("ed._domainkey.%s %s\n" % (DOMAIN, keys["ed"][1]))
    conf = os.path.join(workdir, "opendkim.conf")
    with open(conf, "w") as f:
        f.write("Mode v\nSyslog no\nTestDNSData %s\n" % data)
    r = subprocess.run(["opendkim", "-x", conf, "-vvv", "-t", msgfile],
                       capture_output=True, text=True, timeout=60)
    out = r.stdout + r.stderr
    assert "verification (s=rsa, d=example.com, 2048-bit key) succeeded" \
        in out, out
    assert "dkim=pass (2048-bit key) header.d=example.com" in out, out
    assert "header.s=rsa" in out and "failed" not in out, out


def test_dkim_sign_postel_check_warns_about_key_files(instance, workdir, keys):
    inq = os.path.join(instance.queue, "dkim")
    os.makedirs(inq, exist_ok=True)
    good = os.path.join(inq, "good.pem")
    loose = os.path.join(inq, "loose.pem")
    outside = os.path.join(workdir, "outside.pem")
    shared = os.path.join(inq, "shared.pem")
    for path, mode in ((good, 0o600), (loose, 0o644), (outside, 0o600),
                       (shared, 0o660)):
        shutil.copy(keys["rsa"][0], path)
        os.chmod(path, mode)
    table = os.path.join(workdir, "keys")
    with open(table, "w") as f:
        f.write("good %s:good:%s\n" % (DOMAIN, good))
        f.write("loose %s:loose:%s\n" % (DOMAIN, loose))
        f.write("outside %s:outside:%s\n" % (DOMAIN, outside))
        f.write("gone %s:gone:%s/gone.pem\n" % (DOMAIN, inq))
        f.write("broken nonsense\n")
        f.write("shared %s:shared:%s\n" % (DOMAIN, shared))
    instance.write_config(main={"dkim_key_table": "texthash:" + table,
                                "dkim_signing_table": "static:good"},
                          services=["cleanup unix n - y - 0 cleanup"])
    r = instance.postel("check")
    assert r.returncode == 0, r.stderr
    out = r.stderr
    assert 'key "loose": private key file %s is world-readable (mode 0644)' \
        % loose in out, out
    assert 'key "outside": file %s is outside queue_directory' % outside \
        in out, out
    assert 'key "gone": file %s/gone.pem: No such file or directory' % inq \
        in out, out
    assert 'key "broken": expected domain:selector:/path/to/key' in out, out
    assert 'key "shared": private key file %s is group-writable ' \
        '(mode 0660)' % shared in out, out
    assert 'key "good"' not in out, out


def test_dkim_sign_key_file_replaced_is_read_again(site, dns, keys):
    """Key rotation in place: cleanup notices the new file by itself."""
    s = site()
    assert s.send(message())[0] == 250
    assert verify_all(s.relayed(1), dns)
    # same path, another key: the next message is signed with it
    path = os.path.join(s.keydir, "rsa.pem")
    st = os.stat(path)
    shutil.copy(keys["other"][0], path + ".new")
    os.chown(path + ".new", st.st_uid, st.st_gid)
    os.chmod(path + ".new", 0o600)
    os.rename(path + ".new", path)
    assert s.send(message())[0] == 250
    second = s.relayed(2)
    assert not verify_all(second, dns)      # the published key is the old one
    with DNSServer() as rotated:
        rotated.add("rsa._domainkey." + DOMAIN, "TXT", keys["other"][1])
        assert verify_all(second, rotated)


def test_dkim_sign_header_only_message_verifies(site, dns):
    s = site()
    code, text = s.send(b"From: a@example.com\r\nTo: you@remote.test\r\n"
                        b"Subject: no body at all\r\n")
    assert code == 250, text
    got = s.relayed()
    assert len(signatures(got)) == 1
    assert verify_all(got, dns)


def test_dkim_sign_headers_setting_and_oversigning(site, dns):
    s = site(main={"dkim_sign_headers": "From, +Subject, X-Custom"})
    assert s.send(message(extra=b"X-Custom: one\r\n"))[0] == 250
    got = s.relayed()
    h = [n.strip().lower() for n in tags(got)[b"h"].split(b":")]
    # From once (not oversigned here), Subject once more than it occurs
    assert h.count(b"from") == 1 and h.count(b"subject") == 2
    assert b"x-custom" in h and b"date" not in h
    assert verify_all(got, dns)


def test_dkim_sign_key_outside_the_chroot_is_a_config_error(site, keys):
    s = site(keytable={"rsa": "%s:rsa:%s" % (DOMAIN, keys["rsa"][0])})
    code, text = s.send(message())
    if os.geteuid() != 0:
        # Started by an ordinary user nothing is chrooted (DESIGN 2): the
        # key is read where it is.
        assert code == 250, text
        assert len(signatures(s.relayed())) == 1
        return
    assert code == 451, text
    assert 'DKIM signing key "rsa": key file outside the chroot' in text
    assert wait_for(lambda: "is outside queue_directory %s, which cleanup "
                    "is chrooted into" % s.instance.queue in s.log()), \
        s.log()


def test_dkim_sign_header_without_empty_line_and_a_huge_first_line(site):
    """A header that ends at a line that is no field: cleanup writes the
    body right after it, and the signer takes that line (here 300 KB, far
    over header_size_limit) as body without holding it whole."""
    s = site()
    body = b"x" * 300000 + b"\r\nsecond line\r\n"
    code, text = s.send(b"From: a@example.com\r\nTo: you@remote.test\r\n"
                        b"Subject: odd\r\n" + body)
    assert code == 250, text
    got = s.relayed()
    assert len(signatures(got)) == 1
    assert b"second line" in got
    assert wait_for(lambda: "DKIM-Signature field added" in s.log()), \
        s.log()


def test_dkim_sign_bounce_notification_is_signed(site, dns):
    """bounce's own DSNs are outbound mail: signed for its From: domain."""
    s = site(signing={DOMAIN: "rsa", ".example.com": "ed"})
    code, text = s.send(message(), rcpts=("bounce-me@remote.test",))
    assert code == 250, text
    dsn = s.relayed(1, timeout=60)
    assert b"MAILER-DAEMON@mta.example.com" in dsn, dsn[:600]
    # From: MAILER-DAEMON@mta.example.com matches ".example.com"
    assert tags(dsn)[b"s"] == b"ed"
    assert verify_all(dsn, dns)


def test_dkim_sign_both_roles_signature_survives_authentication_results(
        site, dns):
    """-o smtpd_mail_auth_role=both: cleanup verifies (Authentication-
    Results) and signs the same message; the signature still verifies."""
    s = site(smtpd_opts=" -o smtpd_mail_auth_role=both")
    assert s.send(message())[0] == 250
    got = s.relayed()
    head = got.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nAuthentication-Results: mta.example.com" in b"\r\n" + head
    assert len(signatures(got)) == 1
    assert verify_all(got, dns)
