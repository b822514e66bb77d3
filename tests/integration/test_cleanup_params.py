# cleanup parameters that change what is queued, driven through a real
# instance (smtpd + cleanup) with smtplib: automatic BCC, MIME-aware
# header checks, the percent hack and bang paths, canonical_classes.
# Queue files are read with queuefile.py.
# SPDX-License-Identifier: ISC
import os
import smtplib
import subprocess

import pytest

from conftest import free_port, service_path, wait_for
from queuefile import QueueFile

NOTIFY_NEVER = 1      # REC_NOTIFY_NEVER
SEND = service_path("cleanup_send")


class Site:
    """smtpd on 127.0.0.1 and cleanup; no qmgr, so files stay in incoming/."""

    def __init__(self, instance, workdir, main=None, files=None):
        self.workdir = workdir
        self.instance = instance
        for name, text in (files or {}).items():
            with open(os.path.join(workdir, name), "w") as f:
                f.write(text)
        self.port = free_port()
        self.maillog = os.path.join(workdir, "maillog")
        settings = {
            "myhostname": "mx.example.test",
            "mydomain": "example.test",
            "mydestination": "mx.example.test, example.test",
            "local_recipient_maps": "",
            "relay_domains": "remote.test",
            "maillog_file": self.maillog,
            "smtpd_error_sleep_time": "0",
        }
        settings.update(main or {})
        instance.write_config(main=settings, services=[
            "postlog unix-dgram n - n - 1 postlogd",
            "127.0.0.1:%d inet n - y - - smtpd" % self.port,
            "cleanup unix - - n - 0 cleanup",
        ])
        instance.start()
        self.queue = instance.queue

    def path(self, name):
        return os.path.join(self.workdir, name)

    def send(self, sender, rcpts, msg):
        """One message with smtplib; returns (code, text) of the DATA reply."""
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

    def same(self, q, msg):
        """The queued content is cleanup's Received field and msg."""
        got = q.content[q.content.find(msg[:20]):]
        k = next((i for i, (a, b) in enumerate(zip(got, msg)) if a != b),
                 min(len(got), len(msg)))
        assert got == msg, (k, got[max(0, k - 60):k + 60], msg[max(0, k - 60):k + 60])
        assert q.content.endswith(b"\r\n" + msg)
        return True

    def queued(self, reply):
        code, text = reply
        assert code == 250, reply
        qid = text.rsplit(" ", 1)[1]
        path = os.path.join(self.queue, "incoming", qid)
        assert os.path.exists(path), reply
        return QueueFile(path)

    def wait_log(self, text, timeout=10):
        return wait_for(lambda: text in self.log(), timeout=timeout)

    def local_submit(self, sender, msg, rcpts):
        """A local submission (as pickup makes it) straight to cleanup."""
        r = subprocess.run([SEND, "-c", self.instance.confdir, "-f", sender,
                            "-u", "1000", "-l"] + rcpts, input=msg,
                           capture_output=True, timeout=30)
        line = r.stdout.decode().strip().splitlines()[-1]
        status, qid, _ = line.split(" ", 2)
        assert status == "0", (line, r.stderr)
        return QueueFile(os.path.join(self.queue, "incoming", qid))

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


@pytest.fixture
def site(instance, workdir):
    return lambda main=None, files=None: Site(instance, workdir, main, files)


# Complete headers, so that cleanup adds nothing but its Received field.
HEAD = (b"From: a@client.test\r\nTo: r@example.test\r\n"
        b"Date: Mon, 7 Dec 2026 08:00:00 +0000\r\nMessage-ID: <m1@client.test>\r\n")
MSG = HEAD + b"Subject: hello\r\n\r\nplain text\r\n"


def rcpt(q, addr):
    found = [r for r in q.recipients if r["addr"] == addr]
    assert len(found) == 1, q.recipients
    return found[0]


# --- always_bcc, sender_bcc_maps, recipient_bcc_maps -----------------------


def test_bcc_always_sender_and_recipient_copies_without_dsn(site):
    s = site(main={
        "always_bcc": "archive@example.test",
        "sender_bcc_maps": "inline:{ boss@client.test=boss-copy@remote.test, "
                           "@other.test=domain-copy@remote.test }",
        "recipient_bcc_maps": "inline:{ alice@example.test=alice-copy, "
                              "bob@example.test=archive@example.test }",
    })
    q = s.queued(s.send("boss@client.test",
                        ["alice@example.test", "bob@example.test"], MSG))
    # unqualified table results are qualified like envelope addresses;
    # the second archive@ (from bob's entry) is a duplicate and dropped
    assert sorted(q.rcpt_addrs) == sorted([
        "alice@example.test", "bob@example.test",
        "boss-copy@remote.test", "archive@example.test",
        "alice-copy@mx.example.test"])
    for a in ("boss-copy@remote.test", "archive@example.test",
              "alice-copy@mx.example.test"):
        assert rcpt(q, a)["notify"] == NOTIFY_NEVER
    for a in ("alice@example.test", "bob@example.test"):
        assert rcpt(q, a)["notify"] != NOTIFY_NEVER
    # the header says nothing about the copies
    assert b"archive" not in q.content and b"copy" not in q.content

    # sender_bcc_maps: @domain entry, no recipient_bcc match
    q = s.queued(s.send("someone@other.test", ["carol@example.test"], MSG))
    assert sorted(q.rcpt_addrs) == sorted([
        "carol@example.test", "domain-copy@remote.test",
        "archive@example.test"])

    # the null sender gets no sender BCC, always_bcc still applies
    q = s.queued(s.send("<>", ["carol@example.test"], MSG))
    assert sorted(q.rcpt_addrs) == ["archive@example.test",
                                    "carol@example.test"]


def test_bcc_recipient_that_is_also_a_real_recipient_keeps_its_dsn(site):
    s = site(main={"always_bcc": "alice@example.test"})
    q = s.queued(s.send("x@client.test", ["alice@example.test"], MSG))
    assert q.rcpt_addrs == ["alice@example.test"]
    assert rcpt(q, "alice@example.test")["notify"] != NOTIFY_NEVER



# --- MIME: header checks in body parts and attached messages ---------------

ATTACHMENT_RULE = (r'/^Content-(Disposition|Type).*name\s*=\s*"?.*\.(exe|scr|bat)"?\s*$/'
                   " REJECT Attachment type not allowed\n")


def multipart(parts, boundary="=-b1", preamble=b"This is MIME.\r\n",
              top=HEAD + b"Subject: mime\r\nMIME-Version: 1.0\r\n"):
    out = top + (b"Content-Type: multipart/mixed;\r\n\tboundary=\"%s\"\r\n\r\n"
                 % boundary.encode()) + preamble
    for p in parts:
        out += b"--" + boundary.encode() + b"\r\n" + p
    return out + b"--" + boundary.encode() + b"--\r\nepilogue\r\n"


TEXT_PART = b"Content-Type: text/plain\r\n\r\nhello\r\n"


def exe_part(name=b"setup.exe", folded=False):
    sep = b";\r\n filename=" if folded else b"; filename="
    return (b"Content-Type: application/octet-stream\r\n"
            b"Content-Disposition: attachment" + sep + b'"' + name + b'"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA\r\n")


def reject(s, msg, sender="a@client.test"):
    try:
        reply = s.send(sender, ["r@example.test"], msg)
    except smtplib.SMTPDataError as e:
        return e.smtp_code, e.smtp_error.decode()
    return reply


def test_mime_attachment_rule_in_header_checks_rejects_at_smtp_time(site, workdir):
    s = site(main={"header_checks": "regexp:" + os.path.join(workdir, "hc")},
             files={"hc": ATTACHMENT_RULE})
    code, text = reject(s, multipart([TEXT_PART, exe_part()]))
    assert (code, text) == (550, "5.7.1 Attachment type not allowed")
    code, text = reject(s, multipart([TEXT_PART, exe_part(b"x.scr", folded=True)]))
    assert (code, text) == (550, "5.7.1 Attachment type not allowed")
    assert s.wait_log('reject: header Content-Disposition: attachment; '
                      'filename="setup.exe" from ')
    # a harmless attachment and a plain message pass, byte for byte
    ok = multipart([TEXT_PART, exe_part(b"report.pdf")])
    q = s.queued(s.send("a@client.test", ["r@example.test"], ok))
    s.same(q, ok)
    q = s.queued(s.send("a@client.test", ["r@example.test"], MSG))
    s.same(q, MSG)


def test_mime_attachment_found_deep_in_a_large_message(site, workdir):
    # the part header comes after several content frames of smtpd
    s = site(main={"header_checks": "regexp:" + os.path.join(workdir, "hc"),
                   "message_size_limit": "4000000"},
             files={"hc": ATTACHMENT_RULE})
    filler = b"Content-Type: text/plain\r\n\r\n" + b"".join(
        b"line %07d of a long text part, nothing to see here\r\n" % i
        for i in range(20011))
    code, text = reject(s, multipart([filler, TEXT_PART, exe_part(b"a.bat")]))
    assert (code, text) == (550, "5.7.1 Attachment type not allowed")
    ok = multipart([filler, TEXT_PART, exe_part(b"a.txt")])
    q = s.queued(s.send("a@client.test", ["r@example.test"], ok))
    s.same(q, ok)


def test_mime_nested_message_and_mime_header_tables_apply_to_their_fields(site, workdir):
    s = site(main={
        "header_checks": "regexp:" + os.path.join(workdir, "hc"),
        "mime_header_checks": "regexp:" + os.path.join(workdir, "mhc"),
        "nested_header_checks": "regexp:" + os.path.join(workdir, "nhc"),
    }, files={
        "hc": "/^Subject: top-bad/ REJECT top subject\n"
              "/^Content-Type: image/ REJECT header_checks saw a MIME field\n",
        "mhc": "/^Content-Type: image/ REJECT no images\n"
               "/^X-Part-Note:/ IGNORE\n",
        "nhc": "/^Subject: nested-bad/ REJECT nested subject\n",
    })
    attached = (b"Content-Type: message/rfc822\r\n\r\n"
                b"From: x@y.test\r\nSubject: nested-bad\r\n\r\nold mail\r\n")
    assert reject(s, multipart([TEXT_PART, attached])) == (
        550, "5.7.1 nested subject")
    # the message's own Content-Type goes to mime_header_checks too
    top_image = (HEAD + b"Subject: pic\r\n"
                 b"Content-Type: image/png\r\n\r\nPNG\r\n")
    assert reject(s, top_image) == (550, "5.7.1 no images")
    image_part = b"Content-Type: image/gif\r\nX-Part-Note: x\r\n\r\nGIF\r\n"
    assert reject(s, multipart([image_part])) == (550, "5.7.1 no images")
    # header_checks do not see nested or part fields; IGNORE drops a field
    harmless = (b"Content-Type: message/rfc822\r\n\r\n"
                b"Subject: top-bad\r\n\r\nquoted\r\n")
    note = b"Content-Type: text/plain\r\nX-Part-Note: drop me\r\n\r\nhi\r\n"
    msg = multipart([harmless, note])
    q = s.queued(s.send("a@client.test", ["r@example.test"], msg))
    s.same(q, msg.replace(b"X-Part-Note: drop me\r\n", b""))
    # the primary header still gets header_checks
    assert reject(s, b"Subject: top-bad\r\n\r\nx\r\n") == (550, "5.7.1 top subject")


def test_mime_body_checks_see_part_bodies_not_part_headers(site, workdir):
    s = site(main={"body_checks": "regexp:" + os.path.join(workdir, "bc")},
             files={"bc": "/^Content-Disposition:/ REJECT body saw it\n"})
    msg = multipart([TEXT_PART, exe_part()])
    q = s.queued(s.send("a@client.test", ["r@example.test"], msg))
    s.same(q, msg)
    inbody = multipart([b"Content-Type: text/plain\r\n\r\n"
                        b"Content-Disposition: in the text\r\n"])
    assert reject(s, inbody) == (550, "5.7.1 body saw it")


def test_mime_disabled_treats_everything_after_the_header_as_body(site, workdir):
    s = site(main={"header_checks": "regexp:" + os.path.join(workdir, "hc"),
                   "body_checks": "regexp:" + os.path.join(workdir, "bc"),
                   "disable_mime_input_processing": "yes"},
             files={"hc": ATTACHMENT_RULE,
                    "bc": "/^Content-Disposition: attachment/ WARN part header as body\n"})
    msg = multipart([TEXT_PART, exe_part()])
    q = s.queued(s.send("a@client.test", ["r@example.test"], msg))
    s.same(q, msg)
    assert s.wait_log("warning: body Content-Disposition: attachment")


def nested_multipart(depth):
    """depth multipart levels, each the only part of the one outside it."""
    inner = TEXT_PART
    for level in range(depth, 1, -1):
        b = b"=-lvl%d" % level
        inner = (b"Content-Type: multipart/mixed; boundary=\"" + b + b"\"\r\n\r\n"
                 b"--" + b + b"\r\n" + inner + b"--" + b + b"--\r\n")
    return multipart([inner])


def test_mime_nesting_beyond_the_limit_is_refused(site, workdir):
    s = site(main={"header_checks": "regexp:" + os.path.join(workdir, "hc"),
                   "mime_nesting_limit": "3"},
             files={"hc": "/^Subject: nothing matches this/ REJECT\n"})
    msg = nested_multipart(3)
    q = s.queued(s.send("a@client.test", ["r@example.test"], msg))
    s.same(q, msg)
    assert reject(s, nested_multipart(4)) == (
        550, "5.6.0 MIME nesting exceeds safety limit")
    assert s.wait_log("reject: mime-error MIME nesting exceeds safety limit: "
                      "Content-Type: multipart/mixed")


# --- swap_bangpath, allow_percent_hack -------------------------------------


def test_percent_hack_and_bang_path_route_local_recipients(site):
    s = site()
    q = s.queued(s.send("a@client.test", ["user%remote.test@example.test",
                                          "remote.test!bob@mx.example.test",
                                          "carol%remote.test@remote.test"], MSG))
    assert q.rcpt_addrs == ["user@remote.test", "bob@remote.test",
                            "carol%remote.test@remote.test"]
    # the address as given stays for DSN
    assert [r["orig"] for r in q.recipients] == [
        "user%remote.test@example.test", "remote.test!bob@mx.example.test",
        "carol%remote.test@remote.test"]
    # local submission: an unqualified sender and header addresses are
    # canonicalised (smtpd refuses an unqualified sender)
    q = s.local_submit("uucp.test!old",
                       b"To: remote.test!friend\r\nCc: u%x.test\r\n\r\nhi\r\n",
                       ["r@example.test"])
    assert q.sender == "old@uucp.test"
    assert q.header("To") == "friend@remote.test"
    assert q.header("Cc") == "u@x.test"


def test_percent_hack_and_bang_path_can_be_turned_off(site):
    s = site(main={"allow_percent_hack": "no", "swap_bangpath": "no"})
    q = s.queued(s.send("a@client.test", ["user%remote.test@example.test",
                                          "remote.test!bob@example.test"], MSG))
    assert q.rcpt_addrs == ["user%remote.test@example.test",
                            "remote.test!bob@example.test"]
    q = s.local_submit("uucp.test!old", b"To: remote.test!friend\r\n\r\nhi\r\n",
                       ["r@example.test"])
    assert q.sender == "uucp.test!old@mx.example.test"
    assert q.header("To") == "remote.test!friend@mx.example.test"


# --- canonical_classes, sender_/recipient_canonical_classes ----------------


def test_canonical_classes_choose_the_addresses_each_table_rewrites(site):
    table = "inline:{ old@example.test=new@example.test }"
    s = site(main={"canonical_maps": table,
                   "canonical_classes": "envelope_recipient, header_sender",
                   "sender_canonical_maps": "inline:{ me@example.test=you@example.test }",
                   "sender_canonical_classes": "header_sender",
                   "recipient_canonical_maps": "inline:{ x@example.test=y@example.test }",
                   "recipient_canonical_classes": "envelope_recipient"})
    q = s.local_submit("old@example.test",
                       b"From: me@example.test\r\nSender: old@example.test\r\n"
                       b"To: old@example.test, x@example.test\r\n\r\nhi\r\n",
                       ["old@example.test", "x@example.test"])
    assert q.sender == "old@example.test"               # envelope_sender: no
    assert q.rcpt_addrs == ["new@example.test", "y@example.test"]
    assert q.header("From") == "you@example.test"       # header_sender
    assert q.header("Sender") == "new@example.test"
    assert q.header("To") == "old@example.test, x@example.test"  # header_recipient: no


def test_canonical_classes_default_rewrites_everything(site):
    s = site(main={"canonical_maps": "inline:{ old@example.test=new@example.test }"})
    q = s.local_submit("old@example.test",
                       b"From: old@example.test\r\nTo: old@example.test\r\n\r\nhi\r\n",
                       ["old@example.test"])
    assert q.sender == "new@example.test"
    assert q.rcpt_addrs == ["new@example.test"]
    assert q.header("From") == "new@example.test"
    assert q.header("To") == "new@example.test"


# --- end to end: a failed BCC copy never reaches the sender ----------------


class Sink:
    """aiosmtpd next hop: local parts bounce* get 550, the rest 250."""

    def __init__(self):
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.split("@")[0].startswith("bounce"):
            return "550 5.1.1 <%s>: Recipient address rejected" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              envelope.original_content or envelope.content))
        return "250 2.0.0 Ok"


def test_bcc_failure_is_left_out_of_the_senders_dsn(instance, workdir):
    from aiosmtpd.controller import Controller

    sink = Sink()
    sink_port = free_port()
    ctl = Controller(sink, hostname="127.0.0.1", port=sink_port)
    ctl.start()
    try:
        port = free_port()
        instance.write_config(main={
            "myhostname": "mta.test.invalid", "mydestination": "",
            "relayhost": "[127.0.0.1]:%d" % sink_port,
            "always_bcc": "bounce-archive@example.com",
            "smtpd_error_sleep_time": "0", "smtp_connect_timeout": "5s",
            "maillog_file": os.path.join(workdir, "maillog"),
        }, services=[
            "postlog unix-dgram n - n - 1 postlogd",
            "127.0.0.1:%d inet n - y - - smtpd" % port,
            "qmgr unix n - n 300 1 qmgr",
            "cleanup unix n - n - 0 cleanup",
            "smtp unix - - n - - smtp",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
        ])
        instance.start()
        s = smtplib.SMTP("127.0.0.1", port, timeout=30)
        s.sendmail("a@example.org", ["ok@example.com", "bounce-me@example.com"],
                   MSG)
        s.quit()
        # the sender's DSN comes for bounce-me only
        log = lambda: open(os.path.join(workdir, "maillog")).read()
        assert wait_for(lambda: any(m[0] in ("", "<>") for m in sink.messages),
                        30), log()
        dsn = [m for m in sink.messages if m[0] in ("", "<>")]
        assert len(dsn) == 1 and dsn[0][1] == ["a@example.org"]
        assert b"bounce-me@example.com" in dsn[0][2]
        assert b"bounce-archive" not in dsn[0][2]
        assert wait_for(lambda: "to=<bounce-archive@example.com>" in log()
                        and "status=bounced" in log()), log()
        delivered = [r for m in sink.messages for r in m[1]]
        assert delivered.count("ok@example.com") == 1
    finally:
        ctl.stop()
