# postscreen in front of smtpd: pregreet, access list, cache, limits, the
# small SMTP engine and its deep tests, against raw sockets and smtplib,
# with the real smtpd behind it (master.cf pass service).
# SPDX-License-Identifier: ISC
import os
import re
import resource
import smtplib
import socket
import time

import pytest

from conftest import free_port, wait_for


def raw_connect(port, source="127.0.0.1", timeout=20):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                    source_address=(source, 0))


def read_until(sock, predicate, timeout=20):
    """Bytes from sock until predicate(data) holds or the peer closes."""
    sock.settimeout(timeout)
    data = b""
    while not predicate(data):
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    return data


def reply_complete(data):
    """A whole SMTP reply (its last line has a space after the code)."""
    lines = data.split(b"\r\n")
    return any(len(l) >= 4 and l[3:4] == b" " for l in lines[:-1])


def read_reply(sock, timeout=20):
    return read_until(sock, reply_complete, timeout).decode(errors="replace")


def cmd(sock, text):
    sock.sendall(text.encode() + b"\r\n")
    return read_reply(sock)


class Screen:
    """An instance with postscreen on 127.0.0.1:port, smtpd behind it as
    the pass service "smtpd", cleanup and postlogd."""

    def __init__(self, instance, workdir, main=None, smtpd=True, extra=()):
        self.instance = instance
        self.port = free_port()
        self.maillog = os.path.join(workdir, "maillog")
        settings = {
            "myhostname": "mx.test",
            "mydomain": "test",
            "mydestination": "mx.test",
            "local_recipient_maps": "",
            "maillog_file": self.maillog,
            "smtpd_error_sleep_time": "0",
            "data_directory": os.path.join(workdir, "data"),
            "mynetworks": "127.0.0.99/32",
            "postscreen_greet_wait": "1s",
            "smtpd_banner": "$myhostname ESMTP test",
        }
        settings.update(main or {})
        services = [
            "postlog unix-dgram n - n - 1 postlogd",
            "127.0.0.1:%d inet n - n - 1 postscreen" % self.port,
            "cleanup unix - - n - 0 cleanup",
        ]
        if smtpd:
            services.append("smtpd pass - - n - - smtpd")
        services.extend(extra)
        instance.write_config(main=settings, services=services)
        instance.start()

    def _read(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=10):
        """The first match of regex pattern in the maillog (polled)."""
        found = wait_for(lambda: re.search(pattern, self._read(), re.M),
                         timeout=timeout)
        assert found, "no %r in maillog:\n%s" % (pattern, self._read())
        return found

    def connect(self, source="127.0.0.1"):
        return raw_connect(self.port, source)


@pytest.fixture
def screen(instance, workdir):
    return Screen(instance, workdir)


def addr_port(sock):
    return "[%s]:%d" % sock.getsockname()


# --- pregreet ------------------------------------------------------------

def test_pregreet_client_is_logged_and_refused_at_rcpt_under_enforce(
        instance, workdir):
    s = Screen(instance, workdir, main={"postscreen_greet_action": "enforce"})
    c = s.connect()
    who = addr_port(c)
    first = read_until(c, lambda d: b"\r\n" in d)
    assert first == b"220-mx.test ESMTP test\r\n"
    c.sendall(b"EHLO zombie.test\r\n")
    s.wait_log(r"PREGREET 18 after [0-9.]+ from %s: EHLO zombie\.test\\r\\n$"
               % re.escape(who))
    # postscreen completes the greeting and answers the EHLO itself.
    rest = read_reply(c)
    assert "220 mx.test ESMTP test" in rest
    ehlo = read_reply(c) if "250 " not in rest else rest
    assert "250" in ehlo
    assert cmd(c, "MAIL FROM:<bot@zombie.test>").startswith("250 2.1.0")
    r = cmd(c, "RCPT TO:<victim@mx.test>")
    assert r.startswith("550 5.5.1 Protocol error"), r
    s.wait_log(r"NOQUEUE: reject: RCPT from %s: 550 5\.5\.1 Protocol error; "
               r"from=<bot@zombie\.test>, to=<victim@mx\.test>, proto=ESMTP, "
               r"helo=<zombie\.test>" % re.escape(who))
    assert cmd(c, "QUIT").startswith("221")
    s.wait_log(r"DISCONNECT %s" % re.escape(who))
    c.close()
    assert "PASS NEW %s" % who not in s._read()


def test_pregreet_client_is_dropped_with_521_under_drop(instance, workdir):
    s = Screen(instance, workdir, main={"postscreen_greet_action": "drop"})
    c = s.connect()
    who = addr_port(c)
    read_until(c, lambda d: b"\r\n" in d)
    c.sendall(b"HELO x\r\n")
    data = read_until(c, lambda d: False)
    assert data.endswith(b"521 5.5.1 Protocol error\r\n"), data
    s.wait_log(r"PREGREET 8 after [0-9.]+ from %s: HELO x\\r\\n$"
               % re.escape(who))
    s.wait_log(r"DISCONNECT %s" % re.escape(who))
    c.close()


def test_client_that_hangs_up_in_the_greet_wait_is_logged(screen):
    c = screen.connect()
    who = addr_port(c)
    read_until(c, lambda d: b"\r\n" in d)
    c.close()
    screen.wait_log(r"HANGUP after [0-9.]+ from %s in tests before SMTP "
                    r"handshake" % re.escape(who))
    screen.wait_log(r"DISCONNECT %s" % re.escape(who))


# --- access list ---------------------------------------------------------

def test_access_list_denylist_enforce_refuses_with_550_5_3_2(instance,
                                                            workdir):
    cidr = os.path.join(workdir, "access.cidr")
    with open(cidr, "w") as f:
        f.write("127.0.0.7/32 reject\n127.0.0.0/8 dunno\n")
    s = Screen(instance, workdir, main={
        "postscreen_access_list": "permit_mynetworks, cidr:" + cidr,
        "postscreen_denylist_action": "enforce"})
    c = s.connect("127.0.0.7")
    who = addr_port(c)
    s.wait_log(r"DENYLISTED %s$" % re.escape(who))
    read_until(c, lambda d: b"220 " in d)
    cmd(c, "HELO bad.test")
    cmd(c, "MAIL FROM:<a@bad.test>")
    r = cmd(c, "RCPT TO:<b@mx.test>")
    assert r.startswith("550 5.3.2 Service currently unavailable"), r
    s.wait_log(r"NOQUEUE: reject: RCPT from %s: 550 5\.3\.2 Service "
               r"currently unavailable; from=<a@bad\.test>, to=<b@mx\.test>, "
               r"proto=SMTP, helo=<bad\.test>" % re.escape(who))
    c.close()
    # A refused client has not passed: no PASS line, as with Postfix.
    s.wait_log(r"DISCONNECT %s$" % re.escape(who))
    assert not re.search(r"PASS \w+ %s$" % re.escape(who), s._read(), re.M), \
        s._read()


def test_access_list_denylist_drop_and_old_blacklist_name(instance, workdir):
    cidr = os.path.join(workdir, "access.cidr")
    with open(cidr, "w") as f:
        f.write("127.0.0.7/32 REJECT\n")
    s = Screen(instance, workdir, main={
        "postscreen_access_list": "cidr:" + cidr,
        "postscreen_blacklist_action": "drop"})
    c = s.connect("127.0.0.7")
    data = read_until(c, lambda d: False)
    assert data == b"521 5.3.2 Service currently unavailable\r\n", data
    s.wait_log(r"DENYLISTED %s$" % re.escape(addr_port(c)))
    s.wait_log(r"warning: .*obsolete parameter postscreen_blacklist_action="
               r"drop: use postscreen_denylist_action instead")
    c.close()


# --- limits --------------------------------------------------------------

def test_client_connection_count_limit_refuses_the_next_connection(
        instance, workdir):
    s = Screen(instance, workdir, main={
        "postscreen_client_connection_count_limit": "2",
        "postscreen_greet_wait": "30s"})
    held = [s.connect("127.0.0.5") for _ in range(2)]
    for h in held:
        assert read_until(h, lambda d: b"\r\n" in d).startswith(b"220-")
    c = s.connect("127.0.0.5")
    data = read_until(c, lambda d: False)
    assert data == b"421 4.7.0 Error: too many connections\r\n", data
    s.wait_log(r"NOQUEUE: reject: CONNECT from %s: too many connections"
               % re.escape(addr_port(c)))
    # Another address is not affected.
    other = s.connect("127.0.0.6")
    assert read_until(other, lambda d: b"\r\n" in d).startswith(b"220-")
    for x in held + [c, other]:
        x.close()


def test_pre_queue_limit_refuses_with_all_screening_ports_busy(instance,
                                                              workdir):
    s = Screen(instance, workdir, main={
        "postscreen_pre_queue_limit": "3",
        "postscreen_greet_wait": "30s"})
    held = [s.connect("127.0.0.%d" % (10 + i)) for i in range(3)]
    for h in held:
        assert read_until(h, lambda d: b"\r\n" in d).startswith(b"220-")
    c = s.connect("127.0.0.20")
    data = read_until(c, lambda d: False)
    assert data == b"421 4.3.2 All screening ports are busy\r\n", data
    s.wait_log(r"reject: connect from %s: all screening ports busy"
               % re.escape(addr_port(c)))
    for x in held + [c]:
        x.close()


# --- hand-off to smtpd and the cache -------------------------------------

class FakeSmtpd:
    """A stand-in for the pass service at spool/private/smtpd: takes each
    handed-over descriptor (SCM_RIGHTS) and its info frame, greets the
    client with "220 fake" and closes.  With serve=False it never accepts
    (a busy smtpd whose listen queue fills up)."""

    def __init__(self, instance, backlog=16, serve=True):
        import threading
        self.path = instance.unix_path("smtpd")
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)
        self.sock.listen(backlog)
        self.infos = []
        self.thread = None
        if serve:
            self.thread = threading.Thread(target=self.run, daemon=True)
            self.thread.start()

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                try:
                    _, fds, _, _ = socket.recv_fds(conn, 1, 4)
                    info = b""
                    while True:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        info += chunk
                except OSError:
                    continue
            self.infos.append(info)
            for fd in fds:
                with socket.socket(fileno=fd) as client:
                    client.sendall(b"220 fake.test ESMTP\r\n")

    def close(self):
        from conftest import close_listener
        close_listener(self.sock)
        if self.thread:
            self.thread.join(timeout=10)


def greeting(sock):
    """The whole greeting a client sees, teaser and final line."""
    return read_until(sock, lambda d: re.search(rb"(^|\n)220 [^\n]*\r\n", d)
                      is not None).decode()


def test_clean_client_passes_new_then_old_without_greet_wait(instance,
                                                            workdir):
    s = Screen(instance, workdir, smtpd=False, main={
        "postscreen_greet_wait": "2s"})
    fake = FakeSmtpd(instance)
    try:
        c = s.connect("127.0.0.3")
        who = addr_port(c)
        start = time.monotonic()
        text = greeting(c)
        first = time.monotonic() - start
        assert text == "220-mx.test ESMTP test\r\n220 fake.test ESMTP\r\n"
        assert first >= 1.9, first
        s.wait_log(r"PASS NEW %s$" % re.escape(who))
        c.close()
        assert wait_for(lambda: fake.infos)
        assert b"pass-new" in fake.infos[0]
        assert b"127.0.0.3" in fake.infos[0]

        c = s.connect("127.0.0.3")
        who = addr_port(c)
        start = time.monotonic()
        text = greeting(c)
        second = time.monotonic() - start
        # Handed over at once: no teaser, no greet wait.
        assert text == "220 fake.test ESMTP\r\n"
        assert second < 1.0, second
        s.wait_log(r"PASS OLD %s$" % re.escape(who))
        c.close()
        assert wait_for(lambda: len(fake.infos) == 2)
        assert b"pass-old" in fake.infos[1]
        # The default cache: btree:$data_directory/postscreen_cache, made
        # (with its folder) for mail_owner.
        db = os.path.join(workdir, "data", "postscreen_cache.db")
        assert os.path.exists(db)
        assert os.stat(db).st_uid == os.stat(
            os.path.join(instance.queue, "private")).st_uid
    finally:
        fake.close()


def test_clean_client_is_handed_to_smtpd_and_comes_back_without_delay(
        instance, workdir):
    s = Screen(instance, workdir, main={"postscreen_greet_wait": "2s"})
    c = s.connect("127.0.0.9")
    who = addr_port(c)
    start = time.monotonic()
    text = greeting(c)
    first = time.monotonic() - start
    # postscreen's 220- line, then smtpd's own 220 line.
    assert text == "220-mx.test ESMTP test\r\n220 mx.test ESMTP test\r\n"
    assert first >= 1.9, first
    assert cmd(c, "EHLO clean.test").startswith("250-mx.test")
    assert cmd(c, "QUIT").startswith("221")
    c.close()
    s.wait_log(r"PASS NEW %s$" % re.escape(who))
    s.wait_log(r"smtpd\[\d+\]: connect from \S*\[127\.0\.0\.9\]$")

    smtp = smtplib.SMTP(timeout=30, source_address=("127.0.0.9", 0))
    start = time.monotonic()
    code, banner = smtp.connect("127.0.0.1", s.port)
    second = time.monotonic() - start
    assert code == 220 and banner == b"mx.test ESMTP test"
    assert second < 1.0, second
    smtp.sendmail("a@clean.test", ["postmaster@mx.test"],
                  b"Subject: cached\r\n\r\nbody\r\n")
    port = smtp.sock.getsockname()[1]
    smtp.quit()
    s.wait_log(r"PASS OLD \[127\.0\.0\.9\]:%d$" % port)
    s.wait_log(r"disconnect from \S*\[127\.0\.0\.9\] .*data=1")


def test_cache_in_lmdb_remembers_the_client(instance, workdir):
    s = Screen(instance, workdir, smtpd=False, main={
        "postscreen_cache_map":
            "lmdb:" + os.path.join(workdir, "data", "psc_cache")})
    fake = FakeSmtpd(instance)
    try:
        c = s.connect("127.0.0.4")
        greeting(c)
        s.wait_log(r"PASS NEW %s$" % re.escape(addr_port(c)))
        c.close()
        assert os.path.exists(os.path.join(workdir, "data",
                                           "psc_cache.lmdb"))
        c = s.connect("127.0.0.4")
        assert greeting(c) == "220 fake.test ESMTP\r\n"
        s.wait_log(r"PASS OLD %s$" % re.escape(addr_port(c)))
        c.close()
    finally:
        fake.close()


def test_cache_cleanup_drops_expired_entries(instance, workdir):
    s = Screen(instance, workdir, smtpd=False, main={
        "postscreen_cache_map":
            "btree:" + os.path.join(workdir, "data", "psc_cache"),
        "postscreen_greet_ttl": "1s",
        "postscreen_cache_retention_time": "1s",
        "postscreen_cache_cleanup_interval": "1s"})
    fake = FakeSmtpd(instance)
    try:
        c = s.connect("127.0.0.8")
        greeting(c)
        s.wait_log(r"PASS NEW %s$" % re.escape(addr_port(c)))
        c.close()
        s.wait_log(r"cache btree:\S+psc_cache full cleanup: retained=\d+ "
                   r"dropped=1 entries", timeout=15)
        # Forgotten: tested again, and new again.
        c = s.connect("127.0.0.8")
        assert greeting(c).startswith("220-")
        s.wait_log(r"PASS NEW %s$" % re.escape(addr_port(c)))
        c.close()
    finally:
        fake.close()


def test_post_queue_limit_when_smtpd_does_not_take_clients(instance,
                                                          workdir):
    s = Screen(instance, workdir, smtpd=False, main={
        "postscreen_post_queue_limit": "1",
        "postscreen_access_list": "permit_mynetworks",
        "mynetworks": "127.0.0.0/8"})
    # A smtpd that never accepts: one connection fits its listen queue
    # (backlog 0 holds one), the next waits in postscreen's post queue.
    busy = FakeSmtpd(instance, backlog=0, serve=False)
    try:
        first = s.connect("127.0.0.30")
        s.wait_log(r"ALLOWLISTED %s$" % re.escape(addr_port(first)))
        second = s.connect("127.0.0.31")
        s.wait_log(r"ALLOWLISTED %s$" % re.escape(addr_port(second)))
        time.sleep(0.3)
        third = s.connect("127.0.0.32")
        data = read_until(third, lambda d: False)
        assert data == b"421 4.3.2 All server ports are busy\r\n", data
        s.wait_log(r"NOQUEUE: reject: CONNECT from %s: all server ports busy"
                   % re.escape(addr_port(third)))
        for x in (first, second, third):
            x.close()
    finally:
        busy.close()


# --- the SMTP engine and the deep protocol tests ------------------------

def deep_screen(instance, workdir, **main):
    settings = {"postscreen_greet_banner": ""}
    settings.update(main)
    s = Screen(instance, workdir, smtpd=False, main=settings)
    s.fake = FakeSmtpd(instance)
    return s


def test_deep_tests_passed_get_450_then_pass_old(instance, workdir):
    s = deep_screen(instance, workdir,
                    postscreen_pipelining_enable="yes",
                    postscreen_non_smtp_command_enable="yes",
                    postscreen_bare_newline_enable="yes")
    try:
        c = s.connect("127.0.0.40")
        who = addr_port(c)
        # No teaser: the whole greeting comes after the greet wait.
        assert greeting(c) == "220 mx.test ESMTP test\r\n"
        ehlo = cmd(c, "EHLO good.test")
        assert "250-mx.test" in ehlo and "PIPELINING" not in ehlo, ehlo
        assert cmd(c, "MAIL FROM:<a@good.test>").startswith("250")
        r = cmd(c, "RCPT TO:<b@mx.test>")
        assert r.startswith("450 4.3.2 Service currently unavailable"), r
        s.wait_log(r"NOQUEUE: reject: RCPT from %s: 450 4\.3\.2 Service "
                   r"currently unavailable; from=<a@good\.test>, "
                   r"to=<b@mx\.test>, proto=ESMTP, helo=<good\.test>"
                   % re.escape(who))
        assert cmd(c, "QUIT").startswith("221 2.0.0")
        c.close()
        s.wait_log(r"PASS NEW %s$" % re.escape(who))
        s.wait_log(r"DISCONNECT %s$" % re.escape(who))
        # Came back: every test still valid, straight to smtpd.
        c = s.connect("127.0.0.40")
        assert greeting(c) == "220 fake.test ESMTP\r\n"
        s.wait_log(r"PASS OLD %s$" % re.escape(addr_port(c)))
        c.close()
    finally:
        s.fake.close()


def test_pipelining_without_permission_is_logged_and_enforced(instance,
                                                              workdir):
    s = deep_screen(instance, workdir, postscreen_pipelining_enable="yes")
    try:
        c = s.connect("127.0.0.41")
        who = addr_port(c)
        greeting(c)
        c.sendall(b"EHLO pipe.test\r\nMAIL FROM:<a@pipe.test>\r\n")
        s.wait_log(r"COMMAND PIPELINING from %s after EHLO: MAIL "
                   r"FROM:<a@pipe\.test>\\r\\n$" % re.escape(who))
        read_until(c, lambda d: b"250 2.1.0" in d)
        r = cmd(c, "RCPT TO:<b@mx.test>")
        assert r.startswith("550 5.5.1 Protocol error"), r
        c.close()
        s.wait_log(r"HANGUP after [0-9.]+ from %s in tests after SMTP "
                   r"handshake" % re.escape(who))
        assert "PASS NEW %s" % who not in s._read()
    finally:
        s.fake.close()


def test_non_smtp_command_is_dropped(instance, workdir):
    s = deep_screen(instance, workdir,
                    postscreen_non_smtp_command_enable="yes")
    try:
        c = s.connect("127.0.0.42")
        who = addr_port(c)
        greeting(c)
        c.sendall(b"GET / HTTP/1.0\r\n")
        data = read_until(c, lambda d: False)
        assert data == b"521 5.7.0 Error: I can break rules, too. " \
                       b"Goodbye.\r\n", data
        s.wait_log(r"NON-SMTP COMMAND from %s after CONNECT: GET / "
                   r"HTTP/1\.0$" % re.escape(who))
        s.wait_log(r"DISCONNECT %s$" % re.escape(who))
        c.close()
    finally:
        s.fake.close()


def test_bare_newline_is_logged_and_enforced(instance, workdir):
    s = deep_screen(instance, workdir,
                    postscreen_bare_newline_enable="yes",
                    postscreen_bare_newline_action="enforce")
    try:
        c = s.connect("127.0.0.43")
        who = addr_port(c)
        greeting(c)
        c.sendall(b"HELO lf.test\n")
        assert read_reply(c).startswith("250 mx.test")
        s.wait_log(r"BARE NEWLINE from %s after HELO lf\.test$" % re.escape(who))
        cmd(c, "MAIL FROM:<a@lf.test>")
        assert cmd(c, "RCPT TO:<b@mx.test>").startswith("550 5.5.1")
        s.wait_log(r"NOQUEUE: reject: RCPT from %s: 550 5\.5\.1 Protocol "
                   r"error; from=<a@lf\.test>, to=<b@mx\.test>, proto=SMTP, "
                   r"helo=<lf\.test>" % re.escape(who))
        c.close()
    finally:
        s.fake.close()


def test_command_count_and_time_limits(instance, workdir):
    s = deep_screen(instance, workdir,
                    postscreen_greet_action="enforce",
                    postscreen_command_count_limit="3",
                    postscreen_command_time_limit="1s")
    try:
        c = s.connect("127.0.0.44")
        who = addr_port(c)
        c.sendall(b"NOOP\r\n")
        # The greeting, then the answer to the NOOP sent early.
        data = read_until(c, lambda d: b"250 2.0.0" in d)
        assert data.startswith(b"220 mx.test"), data
        assert cmd(c, "NOOP").startswith("250")
        assert cmd(c, "NOOP").startswith("250")
        r = cmd(c, "NOOP")
        assert r.startswith("421 4.7.0 mx.test Error: too many commands"), r
        s.wait_log(r"COMMAND COUNT LIMIT from %s after NOOP$"
                   % re.escape(who))
        c.close()

        c = s.connect("127.0.0.45")
        who = addr_port(c)
        c.sendall(b"EHLO slow.test\r\n")
        read_until(c, lambda d: b"250 DSN\r\n" in d)
        start = time.monotonic()
        r = read_reply(c, timeout=10)
        assert r.startswith("421 4.4.2 mx.test Error: timeout exceeded"), r
        assert time.monotonic() - start < 5
        s.wait_log(r"COMMAND TIME LIMIT from %s after EHLO$"
                   % re.escape(who))
        c.close()
    finally:
        s.fake.close()


def test_allowlist_interfaces_veto_and_old_whitelist_name(instance,
                                                         workdir):
    s = deep_screen(instance, workdir,
                    postscreen_whitelist_interfaces="127.0.0.2")
    try:
        c = s.connect("127.0.0.46")
        who = addr_port(c)
        s.wait_log(r"ALLOWLIST VETO %s$" % re.escape(who))
        # Tested, but answered by postscreen: never handed over.
        assert greeting(c) == "220 mx.test ESMTP test\r\n"
        cmd(c, "HELO backup.test")
        cmd(c, "MAIL FROM:<a@backup.test>")
        assert cmd(c, "RCPT TO:<b@mx.test>").startswith("450 4.3.2")
        c.close()
        assert s.fake.infos == []
        s.wait_log(r"warning: .*obsolete parameter "
                   r"postscreen_whitelist_interfaces=127\.0\.0\.2: use "
                   r"postscreen_allowlist_interfaces instead")
    finally:
        s.fake.close()


def test_cache_through_proxywrite(instance, workdir):
    cache = "proxy:btree:" + os.path.join(workdir, "data", "psc_cache")
    os.makedirs(os.path.join(workdir, "data"))
    # The folder is root's: proxywrite runs as root (unpriv n) and
    # creates the missing table itself.
    s = Screen(instance, workdir, smtpd=False, main={
        "postscreen_cache_map": cache,
        "proxy_write_maps": cache},
        extra=["proxywrite unix - n n - 1 proxymap"])
    fake = FakeSmtpd(instance)
    try:
        c = s.connect("127.0.0.50")
        greeting(c)
        s.wait_log(r"PASS NEW %s$" % re.escape(addr_port(c)))
        c.close()
        assert wait_for(lambda: os.path.exists(
            os.path.join(workdir, "data", "psc_cache.db")))
        c = s.connect("127.0.0.50")
        assert greeting(c) == "220 fake.test ESMTP\r\n"
        s.wait_log(r"PASS OLD %s$" % re.escape(addr_port(c)))
        c.close()
    finally:
        fake.close()


# --- many idle clients, one process --------------------------------------

def test_500_idle_clients_held_by_one_process_while_mail_goes_through(
        instance, workdir):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2048:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    s = Screen(instance, workdir, main={
        "postscreen_greet_wait": "60s",
        "postscreen_pre_queue_limit": "1000",
        "postscreen_client_connection_count_limit": "50",
        "mynetworks": "127.0.0.99/32"})
    held = []
    try:
        for i in range(500):
            held.append(s.connect("127.0.0.%d" % (100 + i % 25)))
        for h in held:
            assert read_until(h, lambda d: b"\r\n" in d, timeout=30) \
                == b"220-mx.test ESMTP test\r\n"
        pids = [p for p in instance.children()
                if b"postscreen" in open("/proc/%d/cmdline" % p, "rb").read()]
        assert len(pids) == 1, pids
        assert len(os.listdir("/proc/%d/fd" % pids[0])) >= 500
        # Meanwhile a client in mynetworks is allow-listed and its mail
        # goes through smtpd.
        smtp = smtplib.SMTP(timeout=30, source_address=("127.0.0.99", 0))
        code, banner = smtp.connect("127.0.0.1", s.port)
        assert code == 220 and b"mx.test" in banner
        smtp.sendmail("a@client.test", ["postmaster@mx.test"],
                      b"Subject: through\r\n\r\nbody\r\n")
        smtp.quit()
        s.wait_log(r"ALLOWLISTED \[127\.0\.0\.99\]:\d+$")
        s.wait_log(r"smtpd\[\d+\]: \w+: client=\S*\[127\.0\.0\.99\]$")
        s.wait_log(r"disconnect from \S*\[127\.0\.0\.99\] .*data=1")
    finally:
        for h in held:
            h.close()


# --- DNSBL and DNSWL through dnsblog --------------------------------------

def dnsbl_screen(instance, workdir, dns, **main):
    settings = {"dns_nameservers": dns.address, "dns_timeout": "1s",
                "dns_attempts": "1"}
    settings.update(main)
    return Screen(instance, workdir, main=settings,
                  extra=["dnsblog unix - - n - 0 dnsblog"])


@pytest.fixture
def dns():
    from dnsserver import DNSServer
    with DNSServer() as server:
        yield server


@pytest.mark.needs("dnslib")
def test_dnsbl_listed_client_is_refused_with_the_reply_map_name(
        instance, workdir, dns):
    dns.add("2.0.0.127.zen.example", "A", "127.0.0.4")
    dns.add("2.0.0.127.other.example", "A", "127.0.0.2")
    s = dnsbl_screen(instance, workdir, dns,
                     postscreen_dnsbl_sites="zen.example=127.0.0.[2..11]*2 "
                                            "other.example",
                     postscreen_dnsbl_threshold="3",
                     postscreen_dnsbl_action="enforce",
                     postscreen_dnsbl_reply_map="inline:{ zen.example="
                                                "zen.spamhaus.example }")
    c = s.connect("127.0.0.2")
    who = addr_port(c)
    greeting(c)
    s.wait_log(r"DNSBL rank 3 for %s$" % re.escape(who))
    cmd(c, "EHLO listed.test")
    cmd(c, "MAIL FROM:<spam@listed.test>")
    r = cmd(c, "RCPT TO:<victim@mx.test>")
    assert r.startswith("550 5.7.1 Service unavailable; client [127.0.0.2] "
                        "blocked using zen.spamhaus.example"), r
    s.wait_log(r"NOQUEUE: reject: RCPT from %s: 550 5\.7\.1 Service "
               r"unavailable; client \[127\.0\.0\.2\] blocked using "
               r"zen\.spamhaus\.example; from=<spam@listed\.test>, "
               r"to=<victim@mx\.test>, proto=ESMTP, helo=<listed\.test>"
               % re.escape(who))
    c.close()
    # Below the threshold: not listed, passes.
    c = s.connect("127.0.0.3")
    greeting(c)
    s.wait_log(r"PASS NEW %s$" % re.escape(addr_port(c)))
    c.close()


@pytest.mark.needs("dnslib")
def test_dnsbl_drop_disconnects_with_521(instance, workdir, dns):
    dns.add("2.0.0.127.zen.example", "A", "127.0.0.2")
    s = dnsbl_screen(instance, workdir, dns,
                     postscreen_dnsbl_sites="zen.example",
                     postscreen_dnsbl_action="drop")
    c = s.connect("127.0.0.2")
    data = read_until(c, lambda d: False).decode()
    assert data.endswith("521 5.7.1 Service unavailable; client "
                         "[127.0.0.2] blocked using zen.example\r\n"), data
    s.wait_log(r"DNSBL rank 1 for %s$" % re.escape(addr_port(c)))
    s.wait_log(r"DISCONNECT %s$" % re.escape(addr_port(c)))
    c.close()


@pytest.mark.needs("dnslib")
def test_dnswl_allowlisted_client_skips_the_greet_wait(instance, workdir,
                                                      dns):
    dns.add("5.0.0.127.list.dnswl.example", "A", "127.0.10.1")
    s = dnsbl_screen(instance, workdir, dns,
                     postscreen_greet_wait="6s",
                     postscreen_dnsbl_sites="zen.example "
                                            "list.dnswl.example=127.0.[0..255]"
                                            ".[1..3]*-5",
                     postscreen_dnsbl_allowlist_threshold="-1",
                     postscreen_dnsbl_action="enforce")
    c = s.connect("127.0.0.5")
    who = addr_port(c)
    start = time.monotonic()
    text = greeting(c)
    elapsed = time.monotonic() - start
    assert text == "220-mx.test ESMTP test\r\n220 mx.test ESMTP test\r\n", text
    assert elapsed < 4, elapsed
    s.wait_log(r"PASS NEW %s$" % re.escape(who))
    c.close()


# --- fail2ban ------------------------------------------------------------

@pytest.mark.needs("fail2ban_regex", "dnslib")
def test_fail2ban_postfix_filter_matches_postscreen_lines(instance, workdir,
                                                          dns):
    from test_fail2ban import FILTER, fail2ban_regex
    dns.add("6.0.0.127.zen.example", "A", "127.0.0.2")
    s = dnsbl_screen(instance, workdir, dns,
                     syslog_name="postfix",
                     postscreen_greet_action="enforce",
                     postscreen_dnsbl_sites="zen.example",
                     postscreen_dnsbl_action="enforce",
                     postscreen_command_count_limit="3",
                     postscreen_command_time_limit="1s")
    c = s.connect("127.0.0.2")          # PREGREET
    c.sendall(b"EHLO early.test\r\n")
    s.wait_log(r"PREGREET \d+ after \S+ from \[127\.0\.0\.2\]")
    c.close()
    c = s.connect("127.0.0.3")          # HANGUP
    read_until(c, lambda d: b"\r\n" in d)
    c.close()
    s.wait_log(r"HANGUP after \S+ from \[127\.0\.0\.3\]")
    c = s.connect("127.0.0.4")          # COMMAND COUNT LIMIT
    c.sendall(b"NOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\n")
    s.wait_log(r"COMMAND COUNT LIMIT from \[127\.0\.0\.4\]")
    c.close()
    c = s.connect("127.0.0.5")          # COMMAND TIME LIMIT
    c.sendall(b"NOOP\r\n")
    s.wait_log(r"COMMAND TIME LIMIT from \[127\.0\.0\.5\]")
    c.close()
    c = s.connect("127.0.0.6")          # DNSBL reject at RCPT
    greeting(c)
    cmd(c, "EHLO listed.test")
    cmd(c, "MAIL FROM:<a@listed.test>")
    assert cmd(c, "RCPT TO:<b@mx.test>").startswith("550 5.7.1")
    c.close()
    s.wait_log(r"NOQUEUE: reject: RCPT from \[127\.0\.0\.6\]")

    want = {"PREGREET": "127.0.0.2", "HANGUP": "127.0.0.3",
            "COMMAND COUNT LIMIT": "127.0.0.4",
            "COMMAND TIME LIMIT": "127.0.0.5",
            "NOQUEUE: reject: RCPT": "127.0.0.6"}
    lines = {}
    for text, addr in want.items():
        found = [ln for ln in s._read().splitlines()
                 if "postfix/postscreen[" in ln and text in ln
                 and "[%s]" % addr in ln]
        assert len(found) == 1, (text, found, s._read())
        lines[text] = found[0]
    path = os.path.join(workdir, "postscreen.log")
    with open(path, "w") as f:
        f.write("".join(ln + "\n" for ln in lines.values()))
    ddos = ("PREGREET", "HANGUP", "COMMAND COUNT LIMIT", "COMMAND TIME LIMIT")
    modes = {FILTER: ("NOQUEUE: reject: RCPT",),
             FILTER + "[mode=ddos]": ddos,
             FILTER + "[mode=aggressive]": ddos + ("NOQUEUE: reject: RCPT",)}
    results = fail2ban_regex(path, list(modes))
    for (filt, names), (counts, matches) in zip(modes.items(), results):
        assert counts == (5, 0, len(names), 5 - len(names)), \
            (filt, counts, matches)
        assert matches == sorted((want[n], lines[n]) for n in names), filt
