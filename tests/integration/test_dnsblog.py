# dnsblog(8): the DNS allow/denylist lookup service behind postscreen.
# An instance runs the shipped dnsblog line with dns_nameservers pointing
# at the test's DNS server; the test speaks the real protocol on
# QUEUE/private/dnsblog (one request frame {domain, addr, id}, one reply
# frame {domain, addr, id, result, ttl}, then the connection closes) and
# checks the replies and Postfix's "addr A listed by domain D as R" log
# lines.  A listed IPv4 and IPv6 address, an unlisted one, a DNS server
# that fails or never answers (bounded by dns_timeout), and malformed
# requests.
# SPDX-License-Identifier: ISC
import os
import re
import time

import pytest

from conftest import REPO, free_port, maillog, wait_for
from dnsserver import DNSServer

pytestmark = pytest.mark.needs("dnslib")


def netstring(data):
    return b"%d:%s," % (len(data), data)


def frame(pairs):
    return netstring(b"".join(netstring(k.encode()) + netstring(v.encode())
                              for k, v in pairs))


def read_netstring(data, pos):
    colon = data.index(b":", pos)
    n = int(data[pos:colon])
    end = colon + 1 + n
    assert data[end:end + 1] == b",", data
    return data[colon + 1:end], end + 1


def parse_frame(data):
    """{name: value} of one attr frame that is all of data."""
    payload, end = read_netstring(data, 0)
    assert end == len(data), "bytes after the frame: %r" % data
    attrs, pos = {}, 0
    while pos < len(payload):
        name, pos = read_netstring(payload, pos)
        value, pos = read_netstring(payload, pos)
        attrs[name.decode()] = value.decode()
    return attrs


def read_all(sock):
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return data
        data += chunk


def shipped_dnsblog_line():
    """conf/master.cf's dnsblog line, commented out there as in Postfix."""
    with open(os.path.join(REPO, "conf", "master.cf")) as f:
        for line in f:
            if re.match(r"#dnsblog\s+unix\s", line):
                return line[1:].strip()
    raise AssertionError("conf/master.cf lacks the #dnsblog line")


@pytest.fixture
def dns():
    with DNSServer() as server:
        yield server


def start(instance, workdir, dns_address, **main):
    instance.maillog = os.path.join(workdir, "maillog")
    settings = {"maillog_file": instance.maillog,
                "dns_nameservers": dns_address,
                "dns_timeout": "1s", "dns_attempts": "1"}
    settings.update(main)
    instance.write_config(main=settings, services=[
        "postlog unix-dgram n - n - 1 postlogd", shipped_dnsblog_line()])
    instance.start()


def ask(instance, domain, addr, ident="1", timeout=15):
    """One request on a new connection; the reply frame as a dict, or None
    when dnsblog closed without one."""
    s = instance.connect_unix_when_listening("dnsblog", timeout=timeout)
    try:
        s.sendall(frame([("domain", domain), ("addr", addr),
                         ("id", ident)]))
        data = read_all(s)
    finally:
        s.close()
    return parse_frame(data) if data else None


def logged(instance, text, timeout=10):
    return wait_for(lambda: text in maillog(instance), timeout)


def test_dnsblog_shipped_line_is_postfix_s():
    assert shipped_dnsblog_line().split() == \
        ["dnsblog", "unix", "-", "-", "y", "-", "0", "dnsblog"]


def test_dnsblog_answers_listed_ipv4_address_and_logs_each_record(
        instance, workdir, dns):
    dns.add("2.0.0.127.zen.example", "A", "127.0.0.4", ttl=600)
    dns.add("2.0.0.127.zen.example", "A", "127.0.0.10", ttl=120)
    start(instance, workdir, dns.address)
    reply = ask(instance, "zen.example", "127.0.0.2", ident="42")
    assert reply is not None, maillog(instance)
    assert reply["domain"] == "zen.example"
    assert reply["addr"] == "127.0.0.2"
    assert reply["id"] == "42"
    assert sorted(reply["result"].split(" ")) == ["127.0.0.10", "127.0.0.4"]
    assert reply["ttl"] == "120"
    assert ("2.0.0.127.zen.example", "A") in dns.queries
    for rec in ("127.0.0.4", "127.0.0.10"):
        line = "addr 127.0.0.2 listed by domain zen.example as %s" % rec
        assert logged(instance, line), maillog(instance)
    assert re.search(r"postel/dnsblog\[\d+\]: addr 127\.0\.0\.2 listed by "
                     r"domain zen\.example as 127\.0\.0\.4$",
                     maillog(instance), re.M), maillog(instance)


def test_dnsblog_asks_ipv6_addresses_by_nibbles(instance, workdir, dns):
    name = ".".join(reversed("20010db8000000000000000000000001")) + \
        ".bl.example"
    dns.add(name, "A", "127.0.0.2")
    start(instance, workdir, dns.address)
    reply = ask(instance, "bl.example", "2001:db8::1")
    assert reply["result"] == "127.0.0.2", maillog(instance)
    assert (name, "A") in dns.queries
    assert logged(instance, "addr 2001:db8::1 listed by domain bl.example "
                  "as 127.0.0.2"), maillog(instance)


def test_dnsblog_unlisted_address_gets_empty_result(instance, workdir, dns):
    dns.add("2.0.0.127.zen.example", "A", "127.0.0.4")
    start(instance, workdir, dns.address)
    reply = ask(instance, "zen.example", "127.0.0.3", ident="7")
    assert reply == {"domain": "zen.example", "addr": "127.0.0.3",
                     "id": "7", "result": "", "ttl": "-1"}, maillog(instance)
    assert ("3.0.0.127.zen.example", "A") in dns.queries
    # The listed address is still found by the same service afterwards.
    assert ask(instance, "zen.example", "127.0.0.2")["result"] == "127.0.0.4"
    assert logged(instance, "addr 127.0.0.2 listed by domain zen.example")
    assert "addr 127.0.0.3 listed" not in maillog(instance)


def test_dnsblog_dns_failure_gives_empty_result_and_warning(
        instance, workdir, dns):
    dns.servfail("2.0.0.127.broken.example")
    dns.never_answer("2.0.0.127.silent.example")
    start(instance, workdir, dns.address)
    reply = ask(instance, "broken.example", "127.0.0.2")
    assert reply["result"] == "", maillog(instance)
    assert logged(instance, "warning: lookup error for DNS query "
                  "2.0.0.127.broken.example"), maillog(instance)
    # A server that never answers: dns_timeout (1s) x dns_attempts (1)
    # bounds the wait; the socket timeout of ask() bounds the test.
    reply = ask(instance, "silent.example", "127.0.0.2", timeout=15)
    assert reply["result"] == "", maillog(instance)
    assert logged(instance, "warning: lookup error for DNS query "
                  "2.0.0.127.silent.example"), maillog(instance)
    assert "listed by domain" not in maillog(instance)


def test_dnsblog_dns_server_down_gives_empty_result_and_warning(
        instance, workdir):
    # Nothing listens on this port: the resolver gets no answer.
    start(instance, workdir, "127.0.0.1:%d" % free_port())
    started = time.monotonic()
    reply = ask(instance, "zen.example", "127.0.0.2", timeout=15)
    assert reply is not None and reply["result"] == "", maillog(instance)
    assert time.monotonic() - started < 15
    assert logged(instance, "warning: lookup error for DNS query "
                  "2.0.0.127.zen.example"), maillog(instance)


def test_dnsblog_malformed_requests_get_no_reply(instance, workdir, dns):
    dns.add("2.0.0.127.zen.example", "A", "127.0.0.4")
    start(instance, workdir, dns.address)
    assert ask(instance, "zen.example", "not-an-address") is None
    assert logged(instance, 'bad address "not-an-address"'), maillog(instance)
    assert ask(instance, "zen..example", "127.0.0.2") is None
    assert logged(instance, 'bad domain name "zen..example"')
    s = instance.connect_unix_when_listening("dnsblog")
    try:
        s.sendall(frame([("domain", "zen.example"), ("id", "1")]))
        assert read_all(s) == b""
    finally:
        s.close()
    assert logged(instance, "malformed request: domain, addr and id are "
                  "required")
    s = instance.connect_unix_when_listening("dnsblog")
    try:
        s.settimeout(15)
        s.sendall(b"5:junk!;")
        assert read_all(s) == b""
    finally:
        s.close()
    assert logged(instance, "dnsblog: read request:"), maillog(instance)
    # None of that was looked up, and the service still works.
    assert not [q for q in dns.queries if "not-an-address" in q[0]]
    assert ask(instance, "zen.example", "127.0.0.2")["result"] == "127.0.0.4"
