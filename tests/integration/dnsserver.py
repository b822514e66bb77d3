# A small authoritative DNS server on loopback for tests (Debian's
# python3-dnslib).  Records are given by the test; the server answers
# over UDP and TCP on 127.0.0.1:<free port> from a background thread and
# records every query it saw.
#
#   with DNSServer() as dns:
#       dns.add("mx.example.test", "A", "127.0.0.2")
#       dns.add("example.test", "MX", (10, "mx.example.test"))
#       dns.add("nomail.test", "MX", (0, "."))          # null MX
#       dns.add("2.0.0.127.bl.test", "TXT", "listed")
#       dns.add("_25._tcp.mx.example.test", "TLSA", (3, 1, 1, "ab12..."))
#       dns.servfail("broken.test")
#       dns.ad = True                                    # set the AD bit
#       main["dns_nameservers"] = dns.address
#
# A name without records gets NXDOMAIN; a name with records of other
# types gets NOERROR without answers (NODATA).  stop() (or leaving the
# with block) closes both sockets and joins the threads.
#
# SPDX-License-Identifier: ISC
import socket
import socketserver
import threading

from conftest import missing_module

try:
    from dnslib import AAAA, MX, QTYPE, RCODE, RR, TLSA, TXT, A, DNSRecord
except ImportError:
    raise missing_module("dnslib") from None


def _norm(name):
    return name.lower().rstrip(".")


class _UDPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        reply = self.server.dns.answer(data)
        if reply is not None:
            sock.sendto(reply, self.client_address)


class _TCPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(5)
        try:
            head = self._read(2)
            data = self._read(int.from_bytes(head, "big"))
        except (OSError, EOFError):
            return
        reply = self.server.dns.answer(data)
        if reply is not None:
            self.request.sendall(len(reply).to_bytes(2, "big") + reply)

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.request.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf


class _UDPServer(socketserver.ThreadingUDPServer):
    daemon_threads = True
    allow_reuse_address = True


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class DNSServer:
    """Loopback DNS server with records set by the test."""

    def __init__(self, host="127.0.0.1"):
        self.host = host
        self.records = {}      # name -> list of (qtype name, value)
        self.failing = set()   # names answered with SERVFAIL
        self.silent = set()    # names never answered (timeouts)
        self.ad = False
        self.queries = []      # (name, type name) seen
        self._lock = threading.Lock()
        self._servers = []
        self._threads = []
        self.port = None

    # -- records -------------------------------------------------------------
    def add(self, name, rtype, value, ttl=300):
        """Add a record: A/AAAA "addr", MX (pref, host), TXT "text",
        TLSA (usage, selector, mtype, "hexdata"), CNAME/PTR "host"."""
        with self._lock:
            self.records.setdefault(_norm(name), []).append(
                (rtype.upper(), value, ttl))

    def servfail(self, name):
        self.failing.add(_norm(name))

    def never_answer(self, name):
        self.silent.add(_norm(name))

    @property
    def address(self):
        """The dns_nameservers value: "127.0.0.1:PORT"."""
        return "%s:%d" % (self.host, self.port)

    # -- wire ----------------------------------------------------------------
    def _rdata(self, rtype, value):
        if rtype == "A":
            return A(value)
        if rtype == "AAAA":
            return AAAA(value)
        if rtype == "MX":
            pref, host = value
            return MX(host if host != "." else ".", pref)
        if rtype == "TXT":
            # Long texts travel as several character-strings.
            data = value.encode() if isinstance(value, str) else value
            return TXT([data[i:i + 255] for i in range(0, len(data), 255)]
                       or [b""])
        if rtype == "TLSA":
            usage, selector, mtype, data = value
            return TLSA(usage, selector, mtype, bytes.fromhex(data))
        raise ValueError("unsupported record type %s" % rtype)

    def answer(self, data):
        try:
            query = DNSRecord.parse(data)
        except Exception:
            return None
        qname = _norm(str(query.q.qname))
        qtype = QTYPE.get(query.q.qtype, str(query.q.qtype))
        with self._lock:
            self.queries.append((qname, qtype))
            records = list(self.records.get(qname, []))
        if qname in self.silent:
            return None
        reply = query.reply()
        reply.header.ra = 1
        reply.header.ad = 1 if self.ad else 0
        if qname in self.failing:
            reply.header.rcode = RCODE.SERVFAIL
            return reply.pack()
        if not records:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply.pack()
        for rtype, value, ttl in records:
            if rtype == qtype:
                reply.add_answer(RR(qname, getattr(QTYPE, rtype),
                                    rdata=self._rdata(rtype, value), ttl=ttl))
        return reply.pack()

    # -- life cycle ----------------------------------------------------------
    def start(self):
        for _ in range(20):
            udp = _UDPServer((self.host, 0), _UDPHandler)
            port = udp.server_address[1]
            try:
                tcp = _TCPServer((self.host, port), _TCPHandler)
            except OSError:
                udp.server_close()
                continue
            break
        else:
            raise RuntimeError("no free port pair for the DNS server")
        self.port = port
        for srv in (udp, tcp):
            srv.dns = self
            t = threading.Thread(target=srv.serve_forever,
                                 kwargs={"poll_interval": 0.1}, daemon=True)
            t.start()
            self._servers.append(srv)
            self._threads.append(t)
        return self

    def stop(self):
        for srv in self._servers:
            srv.shutdown()
            srv.server_close()
        for t in self._threads:
            t.join(timeout=5)
        self._servers = []
        self._threads = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def query(server, name, rtype="A", timeout=2.0):
    """Ask server ("ip:port") one question over UDP; the parsed reply."""
    host, port = server.rsplit(":", 1)
    q = DNSRecord.question(name, rtype)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(q.pack(), (host, int(port)))
        data, _ = s.recvfrom(65535)
    return DNSRecord.parse(data)
