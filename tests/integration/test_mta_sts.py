# MTA-STS (RFC 8461) in the smtp client and mtasts(8): Debian's nginx
# serves https://mta-sts.remote.test/.well-known/mta-sts.txt on
# 127.0.0.33:443 with a certificate from the test CA, the loopback DNS
# server has _mta-sts.remote.test TXT, the MX and the A records, and
# aiosmtpd sinks with STARTTLS play the MX hosts.
# SPDX-License-Identifier: ISC
import os
import socket
import subprocess
import time

import pytest

from conftest import bin_path, run_cmd, wait_for
from test_smtp_client import Env, pick_port
from test_tls_client import TlsSink, add_mx, deliver, log_text  # noqa: F401
from test_tls_client import dns, server_ctx  # noqa: F401
from tlscerts import CA, san_environment, spki_der, tlsa_sha256

from aiosmtpd.controller import Controller

pytestmark = pytest.mark.needs("nginx", "openssl", "dnslib", "aiosmtpd")

MX1, MX2, WEB = "127.0.0.31", "127.0.0.32", "127.0.0.33"
GET = "GET /.well-known/mta-sts.txt"
MTASTS = "mtasts unix - n n - 1 mtasts"


class Nginx:
    """Debian's nginx from its own folder: config, pid, logs, temp."""

    def __init__(self, folder, cert):
        self.folder = folder
        self.www = os.path.join(folder, "www", ".well-known")
        self.access = os.path.join(folder, "access.log")
        self.proc = None
        os.makedirs(self.www, exist_ok=True)
        os.makedirs(os.path.join(folder, "tmp"), exist_ok=True)
        self.conf = os.path.join(folder, "nginx.conf")
        tmp = os.path.join(folder, "tmp")
        with open(self.conf, "w") as f:
            f.write("""daemon off;
master_process off;
worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log info;
events { worker_connections 64; }
http {
    access_log %(d)s/access.log;
    client_body_temp_path %(t)s/body;
    proxy_temp_path %(t)s/proxy;
    fastcgi_temp_path %(t)s/fastcgi;
    uwsgi_temp_path %(t)s/uwsgi;
    scgi_temp_path %(t)s/scgi;
    types { text/plain txt; text/html html; }
    default_type application/octet-stream;
    server {
        listen %(ip)s:443 ssl;
        server_name mta-sts.remote.test;
        ssl_certificate %(cert)s;
        ssl_certificate_key %(key)s;
        root %(d)s/www;
        # Files beside the policy make nginx misbehave on purpose.
        location = /.well-known/mta-sts.txt {
            if (-f $document_root/redirect) {
                return 302 https://mta-sts.remote.test/policy.txt;
            }
            try_files /policy.html /.well-known/mta-sts.txt =404;
        }
    }
}
""" % {"d": folder, "t": tmp, "ip": WEB, "cert": cert[1], "key": cert[0]})

    def start(self):
        self.proc = subprocess.Popen(
            [bin_or("nginx"), "-p", self.folder, "-c", self.conf,
             "-e", os.path.join(self.folder, "error.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up():
            try:
                socket.create_connection((WEB, 443), timeout=0.5).close()
                return True
            except OSError:
                return self.proc.poll() is not None
        assert wait_for(up, timeout=10)
        assert self.proc.poll() is None, self.error_log()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def error_log(self):
        try:
            with open(os.path.join(self.folder, "error.log")) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def serve(self, text):
        for name in ("redirect", "policy.html", "policy.txt"):
            try:
                os.unlink(os.path.join(self.folder, "www", name))
            except FileNotFoundError:
                pass
        with open(os.path.join(self.www, "mta-sts.txt"), "w") as f:
            f.write(text)

    def touch(self, name, text=""):
        with open(os.path.join(self.folder, "www", name), "w") as f:
            f.write(text)

    def gets(self):
        try:
            with open(self.access) as f:
                return sum(1 for line in f if GET in line)
        except FileNotFoundError:
            return 0


def bin_or(name):
    for d in ("/usr/sbin", "/usr/bin", "/sbin"):
        if os.path.exists(os.path.join(d, name)):
            return os.path.join(d, name)
    return name


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("sts_pki"))
    os.chmod(folder, 0o755)
    ca = CA(folder, name="STS Test CA")
    return {
        "ca": ca,
        "web": ca.issue("web", ["mta-sts.remote.test"]),
        "mx1": ca.issue("mx1", ["mx1.remote.test"]),
        "mx2": ca.issue("mx2", ["mx2.remote.test"]),
        "wrong": ca.issue("wrong", ["elsewhere.test"]),
    }


@pytest.fixture(scope="module")
def nginx(tmp_path_factory, pki):
    folder = str(tmp_path_factory.mktemp("sts_nginx"))
    os.chmod(folder, 0o755)
    n = Nginx(folder, pki["web"])
    n.start()
    yield n
    n.stop()


def policy(mode="enforce", mx=("mx1.remote.test",), max_age=86400):
    return ("version: STSv1\r\nmode: %s\r\n%smax_age: %d\r\n"
            % (mode, "".join("mx: %s\r\n" % m for m in mx), max_age))


def set_txt(dns, value):
    dns.records["_mta-sts.remote.test"] = [("TXT", value, 300)]


def publish(dns, txt_id="1"):
    set_txt(dns, "v=STSv1; id=%s;" % txt_id)
    dns.add("mta-sts.remote.test", "A", WEB)


def start_sink(env, host, port, cert=None, starttls=True):
    handler = TlsSink()
    kw = {}
    if starttls:
        # aiosmtpd sends the leaf and the CA (the chain file).
        kw["tls_context"] = server_ctx((cert[0], cert[2]))
    c = Controller(handler, hostname=host, port=port, **kw)
    c.start()
    env.controllers.append(c)
    return handler


@pytest.fixture
def senv(instance, workdir, dns, pki):
    envs = []
    # mtasts makes the folder of its cache for mail_owner.
    data = os.path.join(workdir, "data")

    def make(services=(MTASTS,), **main):
        conf = {"smtp_tls_CAfile": pki["ca"].cert, "smtp_tls_loglevel": "1",
                "smtp_mta_sts_CAfile": pki["ca"].cert,
                "data_directory": data,
                "smtp_mta_sts_fetch_timeout": "5s"}
        conf.update(san_environment())
        conf.update(main)
        e = Env(instance, workdir, dns, main=conf, services=services)
        envs.append(e)
        return e
    yield make
    for e in envs:
        e.close()


def test_mta_sts_enforce_matching_mx_delivers_over_tls(senv, dns, nginx, pki):
    env = senv()
    nginx.serve(policy())
    publish(dns)
    port = pick_port([MX1])
    sink = start_sink(env, MX1, port, pki["mx1"])
    add_mx(dns, "remote.test", "mx1.remote.test", MX1)
    before = nginx.gets()
    res = deliver(env, "remote.test", port, "u@remote.test")
    assert res["action"] == "sent", res
    assert sink.tls == [True]
    assert nginx.gets() == before + 1
    assert wait_for(lambda: "remote.test: MTA-STS policy id 1 fetched: "
                    "mode enforce, max_age 86400" in log_text(env)), \
        log_text(env)
    assert "Verified TLS connection established to mx1.remote.test" \
        in log_text(env)


def test_mta_sts_enforce_mx_not_in_policy_defers(senv, dns, nginx, pki):
    env = senv()
    nginx.serve(policy(mx=("mx9.remote.test", "*.other.test")))
    publish(dns)
    port = pick_port([MX1])
    sink = start_sink(env, MX1, port, pki["mx1"])
    add_mx(dns, "remote.test", "mx1.remote.test", MX1)
    res = deliver(env, "remote.test", port, "u@remote.test")
    assert res["action"] == "deferred", res
    assert res["dsn"] == "4.7.5"
    assert res["reply"].startswith("MTA-STS policy for remote.test: no MX "
                                   "host matches the policy"), res
    assert "mx9.remote.test, *.other.test" in res["reply"]
    assert sink.messages == []
    assert wait_for(lambda: "MX host mx1.remote.test does not match the "
                    "policy: not used" in log_text(env))


def test_mta_sts_enforce_skips_unlisted_mx_for_listed_one(senv, dns, nginx,
                                                          pki):
    # Two MX hosts, the better one not in the policy: only mx2 is tried.
    env = senv()
    nginx.serve(policy(mx=("mx2.remote.test",)))
    publish(dns)
    port = pick_port([MX1, MX2])
    sink1 = start_sink(env, MX1, port, pki["mx1"])
    sink2 = start_sink(env, MX2, port, pki["mx2"])
    add_mx(dns, "remote.test", "mx1.remote.test", MX1)
    dns.add("remote.test", "MX", (20, "mx2.remote.test"))
    dns.add("mx2.remote.test", "A", MX2)
    res = deliver(env, "remote.test", port, "u@remote.test")
    assert res["action"] == "sent", res
    assert res["relay"] == "mx2.remote.test[%s]:%d" % (MX2, port)
    assert sink1.messages == [] and sink2.tls == [True]


def test_mta_sts_enforce_certificate_for_another_name_defers(senv, dns, nginx,
                                                             pki):
    env = senv()
    nginx.serve(policy())
    publish(dns)
    port = pick_port([MX1])
    sink = start_sink(env, MX1, port, pki["wrong"])
    add_mx(dns, "remote.test", "mx1.remote.test", MX1)
    res = deliver(env, "remote.test", port, "u@remote.test")
    assert res["action"] == "deferred", res
    assert res["dsn"] == "4.7.5"
    assert res["reply"].startswith("MTA-STS policy for remote.test: "
                                   "Server certificate not verified"), res
    assert sink.messages == []


def test_mta_sts_enforce_requires_starttls(senv, dns, nginx, pki):
    env = senv()
    nginx.serve(policy())
    publish(dns)
    port = pick_port([MX1])
    sink = start_sink(env, MX1, port, starttls=False)
    add_mx(dns, "remote.test", "mx1.remote.test", MX1)
    res = deliver(env, "remote.test", port, "u@remote.test")
    assert res["action"] == "deferred", res
    assert res["dsn"] == "4.7.4"
    assert res["reply"].startswith("MTA-STS policy for remote.test: TLS is "
                                   "required, but was not offered"), res
    assert sink.messages == []


def test_mta_sts_testing_delivers_and_logs_the_failure(senv, dns, nginx, pki):
    env = senv()
    nginx.serve(policy(mode="testing", mx=("mx9.remote.test",)))
    publish(dns)
    port = pick_port([MX1])
    sink = start_sink(env, MX1, port, pki["wrong"])
    add_mx(dns, "remote.test", "mx1.remote.test", MX1)
    res = deliver(env, "remote.test", port, "u@remote.test")
    assert res["action"] == "sent", res
    assert sink.tls == [True]
    assert wait_for(lambda: "MTA-STS policy for remote.test (testing): MX "
                    "host mx1.remote.test does not match the policy: used "
                    "anyway" in log_text(env)), log_text(env)
    assert wait_for(lambda: "MTA-STS policy for remote.test (testing): "
                    "server certificate not verified" in log_text(env)), \
        log_text(env)


def test_mta_sts_mode_none_is_no_policy(senv, dns, nginx, pki):
    env = senv()
    nginx.serve(policy(mode="none", mx=()))
    publish(dns)
    port = pick_port([MX1])
    sink = start_sink(env, MX1, port, starttls=False)
    add_mx(dns, "remote.test", "mx1.remote.test", MX1)
    res = deliver(env, "remote.test", port, "u@remote.test")
    assert res["action"] == "sent", res
    assert sink.tls == [False]
    assert wait_for(lambda: "MTA-STS policy id 1 fetched: mode none"
                    in log_text(env))


def test_mta_sts_unchanged_id_is_not_fetched_again(senv, dns, nginx, pki):
    env = senv()
    nginx.serve(policy())
    publish(dns, "a1")
    port = pick_port([MX1])
    sink = start_sink(env, MX1, port, pki["mx1"])
    add_mx(dns, "remote.test", "mx1.remote.test", MX1)
    before = nginx.gets()
    for _ in range(3):
        res = deliver(env, "remote.test", port, "u@remote.test")
        assert res["action"] == "sent", res
    assert nginx.gets() == before + 1
    assert dns.queries.count(("_mta-sts.remote.test", "TXT")) >= 3
    # A new id: fetched once more.
    publish(dns, "a2")
    res = deliver(env, "remote.test", port, "u@remote.test")
    assert res["action"] == "sent", res
    assert nginx.gets() == before + 2
    assert len(sink.messages) == 4


def test_mta_sts_cached_policy_applies_while_nginx_is_down(senv, dns, nginx,
                                                           pki, instance):
    env = senv()
    nginx.serve(policy())
    publish(dns, "c1")
    port = pick_port([MX1, MX2])
    sink1 = start_sink(env, MX1, port, pki["mx1"])
    sink2 = start_sink(env, MX2, port, pki["mx2"])
    add_mx(dns, "remote.test", "mx1.remote.test", MX1)
    assert deliver(env, "remote.test", port, "u@remote.test")["action"] \
        == "sent"
    # The MX moves to a host the policy does not name, the id changes,
    # and the policy server is gone: the cached policy still applies.
    nginx.stop()
    try:
        dns.records["remote.test"] = [("MX", (10, "mx2.remote.test"), 300)]
        dns.add("mx2.remote.test", "A", MX2)
        publish(dns, "c2")
        res = deliver(env, "remote.test", port, "u@remote.test")
        assert res["action"] == "deferred", res
        assert res["reply"].startswith("MTA-STS policy for remote.test: no "
                                       "MX host matches"), res
        assert wait_for(lambda: "MTA-STS policy fetch from "
                        "mta-sts.remote.test failed" in log_text(env))
        assert "the cached policy still applies" in log_text(env)
        # With Postel stopped, `postel tls-policy` reads the cache itself.
        instance.stop()
        r = instance.postel("tls-policy", "remote.test")
        assert r.returncode == 0, r.stderr
        assert "(mtasts did not answer:" in r.stdout, r.stdout
        assert "sts_policy_id: c1" in r.stdout, r.stdout
        assert "sts_match: mx2.remote.test does not match" in r.stdout
        # The cache is durable: the same after a restart of Postel.
        instance.start()
        res = deliver(env, "remote.test", port, "u@remote.test")
        assert res["action"] == "deferred", res
        assert "MTA-STS policy for remote.test" in res["reply"]
        assert sink2.messages == [] and len(sink1.messages) == 1
    finally:
        nginx.start()


def test_mta_sts_without_mtasts_delivers_as_without_policy(senv, dns, nginx,
                                                           pki):
    env = senv(services=())
    nginx.serve(policy(mx=("mx9.remote.test",)))
    publish(dns)
    port = pick_port([MX1])
    sink = start_sink(env, MX1, port, pki["mx1"])
    add_mx(dns, "remote.test", "mx1.remote.test", MX1)
    res = deliver(env, "remote.test", port, "u@remote.test")
    assert res["action"] == "sent", res
    assert len(sink.messages) == 1
    assert wait_for(lambda: "MTA-STS policy of remote.test unavailable "
                    "(mtasts:" in log_text(env)), log_text(env)


def test_mta_sts_disabled_asks_nothing(senv, dns, nginx, pki):
    env = senv(smtp_mta_sts_enable="no")
    nginx.serve(policy(mx=("mx9.remote.test",)))
    publish(dns)
    port = pick_port([MX1])
    sink = start_sink(env, MX1, port, pki["mx1"])
    add_mx(dns, "remote.test", "mx1.remote.test", MX1)
    res = deliver(env, "remote.test", port, "u@remote.test")
    assert res["action"] == "sent", res
    assert len(sink.messages) == 1
    assert ("_mta-sts.remote.test", "TXT") not in dns.queries


def test_mta_sts_literal_next_hop_has_no_policy(senv, dns, nginx, pki):
    env = senv()
    nginx.serve(policy(mx=("mx9.remote.test",)))
    publish(dns)
    port = pick_port([MX1])
    sink = start_sink(env, MX1, port, pki["mx1"])
    dns.add("mx1.remote.test", "A", MX1)
    qid = env.queue(["u@remote.test"])
    res = env.send("[mx1.remote.test]:%d" % port, [qid])[qid]["u@remote.test"]
    assert res["action"] == "sent", res
    assert len(sink.messages) == 1
    assert ("_mta-sts.remote.test", "TXT") not in dns.queries


def test_mta_sts_dane_wins(senv, dns, nginx, pki):
    # Validated MX and TLSA records: DANE applies, MTA-STS is not asked.
    env = senv(smtp_tls_security_level="dane")
    nginx.serve(policy(mx=("mx9.remote.test",)))
    publish(dns)
    port = pick_port([MX1])
    sink = start_sink(env, MX1, port, pki["mx1"])
    add_mx(dns, "remote.test", "mx1.remote.test", MX1)
    dns.add("_%d._tcp.mx1.remote.test" % port, "TLSA",
            (3, 1, 1, tlsa_sha256(spki_der(pki["mx1"][1]))))
    dns.ad = True
    res = deliver(env, "remote.test", port, "u@remote.test")
    assert res["action"] == "sent", res
    assert sink.tls == [True]
    assert ("_mta-sts.remote.test", "TXT") not in dns.queries


def test_mta_sts_bad_policy_file_is_no_policy(senv, dns, nginx, pki):
    env = senv()
    nginx.serve("version: STSv1\nmode: enforce\nmax_age: 100\n")
    publish(dns)
    port = pick_port([MX1])
    sink = start_sink(env, MX1, port, pki["mx1"])
    add_mx(dns, "remote.test", "mx1.remote.test", MX1)
    res = deliver(env, "remote.test", port, "u@remote.test")
    assert res["action"] == "sent", res
    assert len(sink.messages) == 1
    assert wait_for(lambda: "no mx pattern (sts-policy-invalid)"
                    in log_text(env)), log_text(env)


def test_postel_tls_policy_shows_dane_and_mta_sts_state(senv, dns, nginx, pki,
                                                        instance):
    env = senv()
    nginx.serve(policy(mx=("mx1.remote.test", "*.backup.test")))
    publish(dns, "p7")
    port = pick_port([MX1])
    start_sink(env, MX1, port, pki["mx1"])
    add_mx(dns, "remote.test", "mx1.remote.test", MX1)
    dns.add("remote.test", "MX", (20, "mx2.remote.test"))
    assert deliver(env, "remote.test", port, "u@remote.test")["action"] \
        == "sent"
    r = instance.postel("tls-policy", "remote.test")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    for want in ("domain: remote.test",
                 "mx_dnssec_validated: no",
                 "mx: 10 mx1.remote.test",
                 "mx: 20 mx2.remote.test",
                 "tls_level: none (from smtp_tls_security_level)",
                 "dane: not used at this level",
                 "smtp_mta_sts_enable: yes",
                 'sts_txt: _mta-sts.remote.test: "v=STSv1; id=p7;"',
                 "sts_id: p7",
                 "sts_source: mtasts",
                 "sts_policy_id: p7",
                 "sts_mode: enforce",
                 "sts_mx: mx1.remote.test *.backup.test",
                 "sts_max_age: 86400",
                 "sts_match: mx1.remote.test matches",
                 "sts_match: mx2.remote.test does not match"):
        assert want in lines, (want, r.stdout)
    assert any(l.startswith("sts_expires: 20") for l in lines), r.stdout
    assert lines[-1].startswith("verdict: MTA-STS enforce"), r.stdout
    # At level dane with validated records DANE is the verdict.
    dns.add("_25._tcp.mx1.remote.test", "TLSA",
            (3, 1, 1, tlsa_sha256(spki_der(pki["mx1"][1]))))
    dns.ad = True
    instance.write_config(main={"smtp_tls_security_level": "dane"})
    r = instance.postel("tls-policy", "remote.test")
    assert r.returncode == 0, r.stderr
    assert "tls_level: dane (from smtp_tls_security_level)" in r.stdout
    assert "tlsa: _25._tcp.mx1.remote.test: 1 usable, DNSSEC-validated" \
        in r.stdout
    assert "tlsa: _25._tcp.mx2.remote.test: none" in r.stdout
    assert r.stdout.splitlines()[-1].startswith("verdict: DANE"), r.stdout


def test_postel_tls_policy_fails_clearly(senv, dns, instance):
    senv()
    dns.servfail("broken.test")
    r = instance.postel("tls-policy", "broken.test")
    assert r.returncode == 75, (r.returncode, r.stdout, r.stderr)
    assert "broken.test: MX lookup failed" in r.stderr
    r = instance.postel("tls-policy", "nowhere.test")
    assert r.returncode == 68, (r.returncode, r.stdout, r.stderr)
    assert "nowhere.test: no MX and no address records" in r.stderr
    r = instance.postel("tls-policy", "bad domain")
    assert r.returncode == 64
    r = instance.postel("tls-policy")
    assert r.returncode == 64


@pytest.mark.parametrize("trouble,reason", [
    ("redirect", "HTTP status 302"),
    ("html", "Content-Type is text/html, not text/plain"),
    ("missing", "HTTP status 404"),
    ("big", "policy larger than 64 KiB"),
])
def test_mta_sts_fetch_rules(senv, dns, nginx, pki, trouble, reason):
    # Each would be an enforce policy naming another MX: refused, so the
    # mail goes as without a policy and the log says why.
    env = senv()
    nginx.serve(policy(mx=("mx9.remote.test",)))
    if trouble == "redirect":
        nginx.touch("redirect")
        nginx.touch("policy.txt", policy(mx=("mx9.remote.test",)))
    elif trouble == "html":
        nginx.touch("policy.html", policy(mx=("mx9.remote.test",)))
    elif trouble == "missing":
        os.unlink(os.path.join(nginx.www, "mta-sts.txt"))
    else:
        nginx.serve(policy(mx=("mx9.remote.test",))
                    + "x: %s\n" % ("y" * 900) * 80)
    publish(dns)
    port = pick_port([MX1])
    sink = start_sink(env, MX1, port, pki["mx1"])
    add_mx(dns, "remote.test", "mx1.remote.test", MX1)
    res = deliver(env, "remote.test", port, "u@remote.test")
    assert res["action"] == "sent", res
    assert len(sink.messages) == 1
    assert wait_for(lambda: "MTA-STS policy fetch from mta-sts.remote.test "
                    "failed: %s (sts-policy-fetch-error)" % reason
                    in log_text(env)), log_text(env)
    if trouble == "redirect":
        with open(nginx.access) as f:
            assert "GET /policy.txt" not in f.read()


def test_mta_sts_policy_is_refreshed_before_it_expires(senv, dns, nginx, pki):
    env = senv()
    nginx.serve(policy(max_age=8))
    publish(dns, "r1")
    port = pick_port([MX1])
    start_sink(env, MX1, port, pki["mx1"])
    add_mx(dns, "remote.test", "mx1.remote.test", MX1)
    before = nginx.gets()
    assert deliver(env, "remote.test", port, "u@remote.test")["action"] \
        == "sent"
    assert nginx.gets() == before + 1
    # A quarter of max_age before expiry, without any delivery.
    assert wait_for(lambda: nginx.gets() >= before + 2, timeout=20)
    assert wait_for(lambda: "remote.test: refreshing the MTA-STS policy "
                    "before it expires" in log_text(env))


def test_mta_sts_sessions_are_in_the_tls_report(senv, dns, nginx, pki,
                                                instance):
    # The sessions of the cases above, counted by tlsrpt(8) under their
    # MTA-STS policies and mailed by `postel tls-report send` to the rua
    # of _smtp._tls.remote.test (RFC 8460), whose MX is a sink here.
    import email
    import email.policy
    import gzip
    import json

    reports_ip = "127.0.0.34"
    report_port = pick_port([reports_ip])
    env = senv(services=(MTASTS, "tlsrpt unix - n n - 1 tlsrpt",
                         "cleanup unix n - n - 0 cleanup",
                         "qmgr unix n - n 300 1 qmgr",
                         "bounce unix - - n - 0 bounce",
                         "defer unix - - n - 0 bounce",
                         "trace unix - - n - 0 bounce"),
               smtp_tls_report_enable="yes",
               smtp_tls_report_organization="Postel STS Test",
               smtp_tls_report_contact="tlsrpt@client.test",
               smtp_tls_report_sender="reporter@client.test",
               mydomain="client.test", mydestination="",
               transport_maps="inline:{ reports.test=smtp:reports.test:%d }"
               % report_port)
    report_sink = start_sink(env, reports_ip, report_port, starttls=False)
    add_mx(dns, "reports.test", "mx.reports.test", reports_ip)
    dns.add("_smtp._tls.remote.test", "TXT",
            "v=TLSRPTv1; rua=mailto:tlsrpt@reports.test")
    add_mx(dns, "remote.test", "mx1.remote.test", MX1)

    def send(port):
        qid = env.queue(["u@remote.test"])
        res = env.send("remote.test:%d" % port, [qid])[qid]["u@remote.test"]
        # qmgr runs (for the report): it must not find the test's file.
        os.unlink(os.path.join(instance.queue, "active", qid))
        return res

    ports = {}
    for name, cert in (("good", "mx1"), ("wrong", "wrong"),
                       ("testing", "wrong")):
        ports[name] = pick_port([MX1])     # free: the last one is bound
        start_sink(env, MX1, ports[name], pki[cert])
    good, wrong, testing = ports["good"], ports["wrong"], ports["testing"]
    nginx.serve(policy())
    publish(dns, "rpt1")
    assert send(good)["action"] == "sent"
    assert send(wrong)["action"] == "deferred"
    nginx.serve(policy(mode="testing"))
    publish(dns, "rpt2")
    assert send(testing)["action"] == "sent"

    r = instance.postel("tls-report", "send", timeout=120)
    assert r.returncode == 0, r.stderr
    assert "mailto:tlsrpt@reports.test: sent" in r.stdout, r.stdout
    assert wait_for(lambda: any("tlsrpt@reports.test" in m[1]
                                for m in report_sink.messages),
                    timeout=30), log_text(env)
    [content] = [m[2] for m in report_sink.messages
                 if "tlsrpt@reports.test" in m[1]]
    msg = email.message_from_bytes(content, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "tlsrpt"
    assert msg["TLS-Report-Domain"] == "remote.test"
    [gz] = [p for p in msg.iter_parts()
            if p.get_content_type() == "application/tlsrpt+gzip"]
    report = json.loads(gzip.decompress(gz.get_content()))
    assert report["organization-name"] == "Postel STS Test"
    by_mode = {}
    for p in report["policies"]:
        pol = p["policy"]
        assert pol["policy-type"] == "sts", report
        assert pol["policy-domain"] == "remote.test"
        assert pol["mx-host"] == ["mx1.remote.test"]
        [mode] = [s for s in pol["policy-string"] if s.startswith("mode:")]
        by_mode[mode] = p
    assert sorted(by_mode) == ["mode: enforce", "mode: testing"], report
    enforce, test_mode = by_mode["mode: enforce"], by_mode["mode: testing"]
    assert enforce["summary"] == {"total-successful-session-count": 1,
                                  "total-failure-session-count": 1}
    [f] = enforce["failure-details"]
    assert f["result-type"] == "certificate-host-mismatch", f
    assert f["receiving-mx-hostname"] == "mx1.remote.test"
    assert f["receiving-ip"] == MX1
    assert test_mode["summary"] == {"total-successful-session-count": 0,
                                    "total-failure-session-count": 1}
    [f] = test_mode["failure-details"]
    assert f["result-type"] == "certificate-host-mismatch", f


def test_mta_sts_tls_required_no_is_not_stopped_by_enforce(senv, dns, nginx,
                                                           pki):
    # RFC 8689 5: a message with "TLS-Required: No" goes even when the
    # enforce policy fails (here: a certificate for another name); the
    # same message without the header is deferred.
    env = senv()
    nginx.serve(policy())
    publish(dns, "trn1")
    port = pick_port([MX1])
    sink = start_sink(env, MX1, port, pki["wrong"])
    add_mx(dns, "remote.test", "mx1.remote.test", MX1)
    res = deliver(env, "remote.test", port, "u@remote.test")
    assert res["action"] == "deferred", res
    body = ("From: sender@client.test\nTo: u@remote.test\nSubject: t\n"
            "TLS-Required: No\n\nhello\n")
    qid = env.queue(["u@remote.test"], body=body)
    res = env.send("remote.test:%d" % port, [qid])[qid]["u@remote.test"]
    assert res["action"] == "sent", res
    assert sink.tls == [True]
    assert wait_for(lambda: "%s: MTA-STS policy of remote.test: not "
                    "enforced for this message (TLS-Required: No)" % qid
                    in log_text(env)), log_text(env)


def test_mta_sts_requiretls_goes_under_a_testing_policy(senv, dns, nginx,
                                                        pki):
    # RFC 8689 4.2.1: a REQUIRETLS message treats a testing policy as
    # enforce: delivered with REQUIRETLS to a listed MX host whose
    # certificate is valid; bounced 5.7.30 when it is not.
    from test_requiretls import start_rt_sink
    env = senv()
    nginx.serve(policy(mode="testing"))
    publish(dns, "rt1")
    add_mx(dns, "remote.test", "mx1.remote.test", MX1)
    port = pick_port([MX1])
    sink = start_rt_sink(env.controllers, MX1, port, pki["mx1"])
    qid = env.queue(["u@remote.test"])
    res = env.send("remote.test:%d" % port, [qid],
                   opts=["-R"])[qid]["u@remote.test"]
    assert res["action"] == "sent", res
    assert sink.requiretls == [True]
    port2 = pick_port([MX1])
    wrong = start_rt_sink(env.controllers, MX1, port2, pki["wrong"])
    qid = env.queue(["v@remote.test"])
    res = env.send("remote.test:%d" % port2, [qid],
                   opts=["-R"])[qid]["v@remote.test"]
    assert res["action"] == "bounced", res
    assert res["dsn"] == "5.7.30", res
    assert wrong.messages == []
