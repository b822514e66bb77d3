# dnsblog(8): the DNS allow/denylist lookup service behind postscreen.
# An instance runs the shipped dnsblog line with dns_nameservers pointing
# at the test's DNS server; the test speaks the real protocol on
# QUEUE/private/dnsblog (one request frame {domain, addr, id}, one reply
# frame {domain, addr, id, result, ttl}, then the connection closes) and
# checks the replies and Postfix's "addr A listed by domain D as R" log
# lines.  A listed IPv4 and IPv6 address, an unlisted one, a DNS server
# that fails or never answers (bounded by dns_timeout), and malformed
# requests.  Then postscreen's DNSBL client (postscreen/postscreen_dnsbl.c,
# driven by tests/services/psc_dnsbl_probe until postscreen calls it)
# against that dnsblog: filters, weights, allow lists, the reply map, a
# missing dnsblog and postscreen_dnsbl_timeout.
# SPDX-License-Identifier: ISC
import os
import re
import subprocess
import time

import pytest

from conftest import REPO, free_port, maillog, service_path, wait_for
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
    # An IPv4-mapped address is asked for in its IPv4 form and echoed
    # as sent.
    reply = ask(instance, "zen.example", "::ffff:127.0.0.2")
    assert reply["addr"] == "::ffff:127.0.0.2"
    assert sorted(reply["result"].split(" ")) == ["127.0.0.10", "127.0.0.4"]
    assert not [q for q in dns.queries if "ip6" in q[0] or
                q[0].startswith("2.0.0.0.0.0")]
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


def probe(instance, *addrs):
    """postscreen's DNSBL client (tests/services/psc_dnsbl_probe) against
    the instance's dnsblog: {addr: (score, site, reply name)}."""
    r = subprocess.run([service_path("psc_dnsbl_probe"), "-c",
                        instance.confdir] + list(addrs),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    out = {}
    for line in r.stdout.splitlines():
        addr, score, site, name = line.split(" ")
        out[addr] = (int(score), site, name)
    assert sorted(out) == sorted(addrs), r.stdout
    return out, r.stderr


def test_postscreen_dnsbl_client_scores_through_dnsblog(instance, workdir,
                                                         dns):
    # zen lists 127.0.0.2 and 127.0.0.3; bl lists 127.0.0.2 with a code
    # its filter accepts and 127.0.0.3 with one it refuses; wl allow-lists
    # 127.0.0.9.
    dns.add("2.0.0.127.secret.zen.example", "A", "127.0.0.4")
    dns.add("3.0.0.127.secret.zen.example", "A", "127.0.0.4")
    dns.add("2.0.0.127.bl.example", "A", "127.0.0.3")
    dns.add("2.0.0.127.bl.example", "A", "127.0.0.5")
    dns.add("3.0.0.127.bl.example", "A", "127.0.0.200")
    dns.add("9.0.0.127.wl.example", "A", "127.0.9.2")
    dns.add("9.0.0.127.secret.zen.example", "A", "127.0.0.2")
    start(instance, workdir, dns.address,
          postscreen_dnsbl_sites="secret.zen.example*2, "
          "bl.example=127.0.0.[2..11]*3 bl.example=127.0.0.5, "
          "wl.example=127.0.[0..255].[1;2;3]*-5",
          postscreen_dnsbl_reply_map="inline:{ "
          "secret.zen.example=zen.example }")
    out, err = probe(instance, "127.0.0.2", "127.0.0.3", "127.0.0.9",
                     "127.0.0.5")
    assert out["127.0.0.2"] == (6, "bl.example", "bl.example"), err
    assert out["127.0.0.3"] == (2, "secret.zen.example", "zen.example"), err
    assert out["127.0.0.9"] == (-3, "secret.zen.example", "zen.example"), err
    assert out["127.0.0.5"] == (0, "-", "-"), err
    # dnsblog was asked once per distinct domain and client.
    assert dns.queries.count(("2.0.0.127.bl.example", "A")) == 1
    assert logged(instance, "addr 127.0.0.9 listed by domain wl.example "
                  "as 127.0.9.2"), maillog(instance)
    assert "warning" not in err


def test_postscreen_dnsbl_client_without_dnsblog_counts_zero(instance,
                                                              workdir, dns):
    dns.add("2.0.0.127.zen.example", "A", "127.0.0.4")
    instance.maillog = os.path.join(workdir, "maillog")
    instance.write_config(main={
        "maillog_file": instance.maillog, "dns_nameservers": dns.address,
        "postscreen_dnsbl_sites": "zen.example*3",
        "postscreen_dnsbl_timeout": "2s"},
        services=["postlog unix-dgram n - n - 1 postlogd"])
    instance.start()
    out, err = probe(instance, "127.0.0.2")
    assert out["127.0.0.2"] == (0, "-", "-")
    assert "warning: connect to private/dnsblog service" in err, err


def test_postscreen_dnsbl_client_timeout_keeps_partial_score(
        instance, workdir, dns):
    dns.add("2.0.0.127.zen.example", "A", "127.0.0.4")
    dns.never_answer("2.0.0.127.slow.example")
    # dnsblog's own DNS wait (3s) outlasts postscreen's (1s).
    start(instance, workdir, dns.address, dns_timeout="3s",
          postscreen_dnsbl_sites="zen.example*3 slow.example*4",
          postscreen_dnsbl_timeout="1s")
    started = time.monotonic()
    out, err = probe(instance, "127.0.0.2")
    assert out["127.0.0.2"] == (3, "zen.example", "zen.example"), err
    assert "warning: dnsblog reply timeout 1s for slow.example" in err, err
    assert time.monotonic() - started < 10
