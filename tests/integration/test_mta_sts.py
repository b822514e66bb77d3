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
    types { text/plain txt; }
    default_type application/octet-stream;
    server {
        listen %(ip)s:443 ssl;
        server_name mta-sts.remote.test;
        ssl_certificate %(cert)s;
        ssl_certificate_key %(key)s;
        root %(d)s/www;
        location /redirect/ { return 302 /.well-known/mta-sts.txt; }
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
        with open(os.path.join(self.www, "mta-sts.txt"), "w") as f:
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
    data = os.path.join(workdir, "data")
    os.makedirs(data, exist_ok=True)
    os.chmod(data, 0o777)

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
