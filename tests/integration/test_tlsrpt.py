# TLS-RPT (RFC 8460): the smtp client notes each TLS session attempt to
# the tlsrpt service, which counts per policy domain and UTC day, keeps
# the counts across a restart, shows them (`postel tls-report show`) and
# sends them (`postel tls-report send`): mailed as multipart/report to a
# mailto: rua through cleanup/qmgr/smtp to an aiosmtpd sink, POSTed to an
# https: rua on a loopback HTTPS server.  DANE sessions (good, TLSA
# mismatch) and a no-policy session run as real deliveries to aiosmtpd
# sinks with STARTTLS, as in test_dane.
# SPDX-License-Identifier: ISC
import email
import email.policy
import gzip
import http.server
import json
import os
import ssl
import threading

import pytest

from conftest import wait_for
from test_dane import tlsa_ee
from test_smtp_client import Env, Sink, pick_port
from test_tls_client import add_mx, log_text, server_ctx, start_sink
from tlscerts import CA, san_environment

pytestmark = pytest.mark.needs("openssl", "dnslib", "aiosmtpd")

MX = "127.0.0.51"       # mx1.remote.test / mx1.https.test
REPORTS = "127.0.0.53"  # mx.reports.test (mailto: rua)
HTTPS = "127.0.0.54"    # reports.test https: rua


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("tlsrpt"))
    os.chmod(folder, 0o755)
    ca = CA(folder, name="TLSRPT test CA")
    return {"ca": ca,
            "ee": ca.issue("ee", ["mx1.remote.test", "mx1.https.test"]),
            "web": ca.issue("web", ["reports.test"])}


@pytest.fixture
def dns():
    from dnsserver import DNSServer
    with DNSServer() as d:
        d.ad = True
        yield d


class Site:
    """An instance with smtp, cleanup, qmgr and tlsrpt, TLS-RPT on."""

    def __init__(self, instance, workdir, dns, pki, tlsrpt=True, **main):
        self.dns = dns
        self.pki = pki
        self.report_sink = Sink()
        self.report_port = pick_port([REPORTS])
        from aiosmtpd.controller import Controller
        self.ctl = Controller(self.report_sink, hostname=REPORTS,
                              port=self.report_port)
        self.ctl.start()
        add_mx(dns, "reports.test", "mx.reports.test", REPORTS)
        conf = {
            "smtp_tls_security_level": "dane",
            "smtp_tls_CAfile": pki["ca"].cert,
            "smtp_tls_loglevel": "1",
            "smtp_tls_report_enable": "yes",
            "smtp_tls_report_organization": "Postel Test Org",
            "smtp_tls_report_contact": "tlsrpt-contact@client.test",
            "smtp_tls_report_submitter": "client.test",
            "smtp_tls_report_sender": "reporter@client.test",
            "smtp_tls_report_CAfile": pki["ca"].cert,
            "mydomain": "client.test",
            "mydestination": "",
            "data_directory": os.path.join(workdir, "data"),
            "transport_maps": "inline:{ reports.test=smtp:reports.test:%d }"
                              % self.report_port,
        }
        conf.update(san_environment())
        conf.update(main)
        services = ["cleanup unix n - n - 0 cleanup",
                    "qmgr unix n - n 300 1 qmgr",
                    "bounce unix - - n - 0 bounce",
                    "defer unix - - n - 0 bounce",
                    "trace unix - - n - 0 bounce"]
        if tlsrpt:
            services.append("tlsrpt unix - n n - 1 tlsrpt")
        self.env = Env(instance, workdir, dns, main=conf, services=services)
        self.instance = instance

    def deliver(self, dest, port, rcpt):
        qid = self.env.queue([rcpt])
        res = self.env.send("%s:%d" % (dest, port), [qid])[qid][rcpt]
        # qmgr must not find the test's queue file after a restart.
        os.unlink(os.path.join(self.instance.queue, "active", qid))
        return res

    def tls_report(self, what):
        r = self.instance.postel("tls-report", what, timeout=120)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def state_path(self):
        return os.path.join(self.instance.main["data_directory"], "tlsrpt",
                            "state")

    def close(self):
        self.env.close()
        self.ctl.stop()


@pytest.fixture
def site(instance, workdir, dns, pki):
    made = []

    def make(**kw):
        s = Site(instance, workdir, dns, pki, **kw)
        made.append(s)
        return s
    yield make
    for s in made:
        s.close()


def run_sessions(s):
    """DANE good, DANE TLSA mismatch, no policy: three sessions to
    mx1.remote.test, each on its own port (so its own TLSA name)."""
    ee = s.pki["ee"]
    dns = s.dns
    add_mx(dns, "remote.test", "mx1.remote.test", MX)
    good, bad, nopol = [pick_port([MX]) for _ in range(3)]
    start_sink(s.env, MX, good, ee)
    start_sink(s.env, MX, bad, ee)
    start_sink(s.env, MX, nopol, ee)
    dns.add("_%d._tcp.mx1.remote.test" % good, "TLSA", tlsa_ee(ee))
    dns.add("_%d._tcp.mx1.remote.test" % bad, "TLSA", (3, 1, 1, "00" * 32))
    dns.add("_smtp._tls.remote.test", "TXT",
            "v=TLSRPTv1; rua=mailto:tlsrpt@reports.test")
    assert s.deliver("remote.test", good, "u@remote.test")["action"] == "sent"
    res = s.deliver("remote.test", bad, "u@remote.test")
    assert res["action"] == "deferred", res
    assert s.deliver("remote.test", nopol, "u@remote.test")["action"] \
        == "sent"
    return tlsa_ee(ee)


def policies_by_kind(report):
    """{("tlsa", "3 1 1 ...") or ("no-policy-found", None): entry}"""
    out = {}
    for p in report["policies"]:
        pol = p["policy"]
        strings = pol.get("policy-string")
        out[(pol["policy-type"], strings[0] if strings else None)] = p
    return out


def check_remote_report(report, good_tlsa):
    assert report["organization-name"] == "Postel Test Org"
    assert report["contact-info"] == "tlsrpt-contact@client.test"
    assert report["report-id"]
    assert report["date-range"]["start-datetime"].endswith("T00:00:00Z")
    assert report["date-range"]["end-datetime"].endswith("Z")
    pols = policies_by_kind(report)
    good = pols[("tlsa", "%d %d %d %s" % good_tlsa)]
    bad = pols[("tlsa", "3 1 1 " + "00" * 32)]
    nopol = pols[("no-policy-found", None)]
    assert len(pols) == 3, report
    for p in (good, bad, nopol):
        assert p["policy"]["policy-domain"] == "remote.test"
        assert p["policy"]["mx-host"] == ["mx1.remote.test"]
    assert good["summary"] == {"total-successful-session-count": 1,
                               "total-failure-session-count": 0}
    assert good["failure-details"] == []
    assert bad["summary"] == {"total-successful-session-count": 0,
                              "total-failure-session-count": 1}
    [f] = bad["failure-details"]
    assert f["result-type"] == "certificate-not-trusted", f
    assert f["receiving-mx-hostname"] == "mx1.remote.test"
    assert f["receiving-ip"] == MX
    assert f["failed-session-count"] == 1
    assert f["sending-mta-ip"].startswith("127.")
    assert nopol["summary"] == {"total-successful-session-count": 1,
                                "total-failure-session-count": 0}


def remote_reports(shown):
    return [r for r in json.loads(shown)
            if r["policies"][0]["policy"]["policy-domain"] == "remote.test"]


def test_tlsrpt_counts_survive_restart_and_are_mailed_as_rfc8460(site):
    s = site()
    good_tlsa = run_sessions(s)
    # show: the pending report of the current day, with the counts.
    assert wait_for(lambda: len(remote_reports(s.tls_report("show"))) == 1
                    and len(remote_reports(s.tls_report("show"))[0]
                            ["policies"]) == 3, timeout=15)
    check_remote_report(remote_reports(s.tls_report("show"))[0], good_tlsa)
    # Durable: the state file is written within about a second, and the
    # counts are there again after a restart.
    assert wait_for(lambda: os.path.exists(s.state_path()), timeout=10)
    s.instance.stop()
    s.instance.start()
    check_remote_report(remote_reports(s.tls_report("show"))[0], good_tlsa)

    out = s.tls_report("send")
    assert "remote.test" in out and "mailto:tlsrpt@reports.test: sent" in out
    assert wait_for(lambda: any("tlsrpt@reports.test" in rcpts
                                for _, rcpts, _ in s.report_sink.messages),
                    timeout=30), log_text(s.env)
    [(sender, _, content)] = [m for m in s.report_sink.messages
                              if "tlsrpt@reports.test" in m[1]]
    assert sender == "reporter@client.test"
    msg = email.message_from_bytes(content, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "tlsrpt"
    assert msg["TLS-Report-Domain"] == "remote.test"
    assert msg["TLS-Report-Submitter"] == "client.test"
    assert msg["Subject"].startswith(
        "Report Domain: remote.test Submitter: client.test Report-ID: <")
    parts = list(msg.iter_parts())
    assert parts[0].get_content_type() == "text/plain"
    gz = [p for p in parts if p.get_content_type()
          == "application/tlsrpt+gzip"]
    assert len(gz) == 1
    fname = gz[0].get_filename()
    assert fname.startswith("client.test!remote.test!")
    assert fname.endswith(".json.gz")
    report = json.loads(gzip.decompress(gz[0].get_content()))
    check_remote_report(report, good_tlsa)
    assert report["report-id"] in msg["Subject"]
    # Sent reports are gone: nothing for remote.test any more.
    assert remote_reports(s.tls_report("show")) == []


class _Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.server.posts.append((self.path, self.headers.get(
            "Content-Type"), self.rfile.read(n)))
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def https_receiver(pki):
    srv = http.server.HTTPServer((HTTPS, 0), _Receiver)
    srv.posts = []
    srv.status = 201
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki["web"][1], pki["web"][0])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    t.join(timeout=5)


def test_tlsrpt_https_rua_gets_the_gzip_report(site, https_receiver, dns):
    s = site()
    port = pick_port([MX])
    start_sink(s.env, MX, port, s.pki["ee"])
    add_mx(dns, "https.test", "mx1.https.test", MX)
    dns.add("reports.test", "A", HTTPS)
    dns.add("_smtp._tls.https.test", "TXT",
            "v=TLSRPTv1;rua=https://reports.test:%d/v1/tlsrpt"
            % https_receiver.server_address[1])
    assert s.deliver("https.test", port, "u@https.test")["action"] == "sent"
    out = s.tls_report("send")
    assert "https.test" in out and ": sent (HTTP status 201)" in out, out
    [(path, ctype, body)] = https_receiver.posts
    assert path == "/v1/tlsrpt"
    assert ctype == "application/tlsrpt+gzip"
    report = json.loads(gzip.decompress(body))
    [p] = report["policies"]
    assert p["policy"] == {"policy-type": "no-policy-found",
                           "policy-domain": "https.test",
                           "mx-host": ["mx1.https.test"]}
    assert p["summary"]["total-successful-session-count"] == 1


def test_tlsrpt_failed_send_is_kept_and_retried(site, https_receiver, dns):
    s = site()
    port = pick_port([MX])
    start_sink(s.env, MX, port, s.pki["ee"])
    add_mx(dns, "https.test", "mx1.https.test", MX)
    dns.add("reports.test", "A", HTTPS)
    dns.add("_smtp._tls.https.test", "TXT",
            "v=TLSRPTv1; rua=https://reports.test:%d/r"
            % https_receiver.server_address[1])
    assert s.deliver("https.test", port, "u@https.test")["action"] == "sent"
    https_receiver.status = 503
    out = s.tls_report("send")
    assert ": failed (HTTP status 503)" in out, out

    def pending():
        return [r for r in json.loads(s.tls_report("show"))
                if r["policies"][0]["policy"]["policy-domain"]
                == "https.test"]
    assert len(pending()) == 1
    https_receiver.status = 200
    out = s.tls_report("send")
    assert ": sent (HTTP status 200)" in out, out
    assert len(https_receiver.posts) == 2
    assert pending() == []


def test_tlsrpt_starttls_not_offered_is_a_no_policy_failure(site, dns):
    s = site()
    port = pick_port([MX])
    start_sink(s.env, MX, port, starttls=False)
    add_mx(dns, "plain.test", "mx1.plain.test", MX)
    assert s.deliver("plain.test", port, "u@plain.test")["action"] == "sent"

    def plain():
        return [r for r in json.loads(s.tls_report("show"))
                if r["policies"][0]["policy"]["policy-domain"]
                == "plain.test"]
    assert wait_for(lambda: len(plain()) == 1, timeout=10)
    [p] = plain()[0]["policies"]
    assert p["summary"] == {"total-successful-session-count": 0,
                            "total-failure-session-count": 1}
    assert p["failure-details"][0]["result-type"] == "starttls-not-supported"


def test_tlsrpt_disabled_records_nothing(site, dns):
    s = site(smtp_tls_report_enable="no")
    port = pick_port([MX])
    start_sink(s.env, MX, port, s.pki["ee"])
    add_mx(dns, "remote.test", "mx1.remote.test", MX)
    assert s.deliver("remote.test", port, "u@remote.test")["action"] == "sent"
    r = s.instance.postel("tls-report", "show")
    assert r.returncode != 0
    assert "TLS reporting is disabled" in r.stderr
    assert not os.path.exists(s.state_path())


def test_tlsrpt_service_down_warns_once_and_delivers(site, dns):
    s = site(tlsrpt=False)
    port = pick_port([MX])
    start_sink(s.env, MX, port, s.pki["ee"])
    add_mx(dns, "remote.test", "mx1.remote.test", MX)
    for _ in range(2):
        assert s.deliver("remote.test", port, "u@remote.test")["action"] \
            == "sent"
    assert wait_for(lambda: "TLS-RPT: connect to private/tlsrpt"
                    in log_text(s.env))
    assert log_text(s.env).count("TLS-RPT: connect to private/tlsrpt") == 1


def test_tlsrpt_mailed_report_is_dkim_signed_for_the_sender_domain(
        instance, workdir, dns, pki):
    import pwd
    from test_dkim_sign import dnsfunc, genkey, verify_all
    import dkim
    keydir = os.path.join(workdir, "dkim")
    os.makedirs(keydir, mode=0o755)
    key, txt = genkey(keydir, "rpt", "RSA")
    dns.add("rpt._domainkey.client.test", "TXT", txt)
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam(instance.main.get("mail_owner", "postel"))
        except KeyError:
            instance.set_permissions()
            owner = pwd.getpwnam(instance.main.get("mail_owner", "postel"))
        os.chown(key, owner.pw_uid, owner.pw_gid)
    os.chmod(key, 0o600)
    with open(os.path.join(workdir, "signing"), "w") as f:
        f.write("client.test rpt\n")
    with open(os.path.join(workdir, "keys"), "w") as f:
        f.write("rpt client.test:rpt:%s\n" % key)
    s = Site(instance, workdir, dns, pki,
             dkim_signing_table="texthash:" + os.path.join(workdir,
                                                            "signing"),
             dkim_key_table="texthash:" + os.path.join(workdir, "keys"))
    try:
        port = pick_port([MX])
        start_sink(s.env, MX, port, pki["ee"])
        add_mx(dns, "remote.test", "mx1.remote.test", MX)
        dns.add("_smtp._tls.remote.test", "TXT",
                "v=TLSRPTv1; rua=mailto:tlsrpt@reports.test")
        assert s.deliver("remote.test", port, "u@remote.test")["action"] \
            == "sent"
        assert wait_for(lambda: remote_reports(s.tls_report("show")),
                        timeout=10)
        assert "sent" in s.tls_report("send")
        assert wait_for(lambda: s.report_sink.messages, timeout=30), \
            log_text(s.env)
        content = s.report_sink.messages[0][2]
        assert verify_all(content, dns), content[:2000]
        tags = dkim.util.parse_tag_value(
            [v for n, v in dkim.DKIM(content).headers
             if n.lower() == b"dkim-signature"][0])
        assert tags[b"d"] == b"client.test"
        assert tags[b"s"] == b"rpt"
    finally:
        s.close()
