# SNI: smtpd chooses its certificate by the name a client sends
# (tls_server_sni_maps, built with `postelmap -F`), checked with openssl
# s_client -servername; the smtp client sends the name that
# smtp_tls_servername asks for (hostname, nexthop, a literal, none) to an
# aiosmtpd sink that records it.
# SPDX-License-Identifier: ISC
import base64
import os
import re
import ssl
import subprocess

import pytest
from aiosmtpd.controller import Controller

from conftest import bin_path, run_cmd, wait_for
from test_smtp_client import pick_port
from test_smtpd import Smtpd
from test_tls import tls_settings
from test_tls_client import TlsSink, add_mx, deliver, make_env
from dnsserver import DNSServer
from tlscerts import CA

pytestmark = pytest.mark.needs("openssl")

SNI_HOST = "127.0.0.61"  # the client tests' sink (sni tests use 127.0.0.6x)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("snipki"))
    os.chmod(folder, 0o755)
    ca = CA(folder)
    return {
        "ca": ca,
        # The default chain of the tls_settings() of test_tls.
        "rsa": ca.issue("mx-rsa", ["mx.test", "localhost"]),
        "ecdsa": ca.issue("mx-ec", ["mx.test", "localhost"], kind="ec"),
        "one": ca.issue("sni-one", ["one.sni.test"]),
        "wild": ca.issue("sni-wild", ["wild.example.test",
                                      "*.wild.example.test"]),
        "ec": ca.issue("sni-ec", ["ec.sni.test"], kind="ec"),
    }


def postelmap(workdir, *args):
    conf = os.path.join(workdir, "mapconf")
    os.makedirs(conf, exist_ok=True)
    return run_cmd([bin_path("postelmap"), "-c", conf] + list(args))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def sni_table(workdir, pki, text=None):
    src = os.path.join(workdir, "sni")
    if text is None:
        text = ("one.sni.test %s\n"
                ".wild.example.test %s\n"
                "ec.sni.test %s, %s\n"
                % (pki["one"][2], pki["wild"][2], pki["ec"][0],
                   pki["ec"][1]))
    with open(src, "w") as f:
        f.write(text)
    r = postelmap(workdir, "-F", "hash:" + src)
    assert r.returncode == 0, r.stderr
    return src


def s_client(port, name=None):
    argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
            "-starttls", "smtp", "-showcerts"]
    if name:
        argv += ["-servername", name]
    else:
        argv += ["-noservername"]
    r = subprocess.run(argv, input=b"", capture_output=True, timeout=30)
    return r.returncode, (r.stdout + r.stderr).decode(errors="replace")


def leaf_subject(out):
    m = re.search(r"^subject=(.*)$", out, re.M)
    return m.group(1) if m else None


# postelmap -F


def test_postelmap_F_stores_files_base64(workdir, pki):
    src = sni_table(workdir, pki)
    want = read(pki["ec"][0]) + read(pki["ec"][1])
    # -Fq decodes: the files' contents, then a newline (as postmap -Fq).
    r = postelmap(workdir, "-Fq", "ec.sni.test", "hash:" + src)
    assert r.returncode == 0, r.stderr
    assert r.stdout.encode() == want + b"\n"
    # Without -F the stored value is the base64 of the same bytes.
    r = postelmap(workdir, "-q", "ec.sni.test", "hash:" + src)
    assert r.returncode == 0
    assert base64.b64decode(r.stdout.strip()) == want
    # -F -s lists every key with its decoded value.
    r = postelmap(workdir, "-F", "-s", "hash:" + src)
    assert r.returncode == 0
    assert "one.sni.test\t" + read(pki["one"][2]).decode() in r.stdout
    assert ".wild.example.test\t" in r.stdout


def test_postelmap_F_missing_file_fails(workdir):
    src = os.path.join(workdir, "sni")
    with open(src, "w") as f:
        f.write("a.test /nonexistent/chain.pem\n")
    r = postelmap(workdir, "-F", "hash:" + src)
    assert r.returncode != 0
    assert "sni:1" in r.stderr and "/nonexistent/chain.pem" in r.stderr
    assert not os.path.exists(src + ".db")


# smtpd: tls_server_sni_maps


@pytest.fixture
def sni_smtpd(instance, workdir, pki):
    src = sni_table(workdir, pki)
    return Smtpd(instance, workdir, main=tls_settings(
        pki, tls_server_sni_maps="hash:" + src))


def test_smtpd_sni_name_gets_mapped_certificate(sni_smtpd):
    code, out = s_client(sni_smtpd.port, "one.sni.test")
    assert code == 0, out
    assert leaf_subject(out) == "CN = one.sni.test", out
    assert sni_smtpd.wait_log("server-name one.sni.test"), sni_smtpd.log()


def test_smtpd_sni_parent_domain_entry(sni_smtpd):
    # a.wild.example.test is found as ".wild.example.test".
    code, out = s_client(sni_smtpd.port, "A.Wild.Example.Test")
    assert code == 0, out
    assert leaf_subject(out) == "CN = wild.example.test", out
    # The bare parent has no entry of its own (only ".wild...").
    code, out = s_client(sni_smtpd.port, "wild.example.test")
    assert code == 0, out
    assert leaf_subject(out) == "CN = mx.test", out


def test_smtpd_sni_key_and_cert_in_two_files(sni_smtpd):
    code, out = s_client(sni_smtpd.port, "ec.sni.test")
    assert code == 0, out
    assert leaf_subject(out) == "CN = ec.sni.test", out


def test_smtpd_sni_unknown_or_no_name_gets_default(sni_smtpd):
    code, out = s_client(sni_smtpd.port, "other.test")
    assert code == 0, out
    assert leaf_subject(out) == "CN = mx.test", out
    assert sni_smtpd.wait_log("TLS SNI other.test from "), sni_smtpd.log()
    assert "not matched, using the default certificate" in sni_smtpd.log()
    code, out = s_client(sni_smtpd.port)
    assert code == 0, out
    assert leaf_subject(out) == "CN = mx.test", out


def test_smtpd_sni_malformed_entry_aborts_handshake(instance, workdir, pki):
    src = os.path.join(workdir, "badsni")
    with open(src, "w") as f:
        # Built without -F: the value is a file name, not base64.
        f.write("bad.sni.test %s\n" % pki["one"][2])
    assert postelmap(workdir, "hash:" + src).returncode == 0
    srv = Smtpd(instance, workdir, main=tls_settings(
        pki, tls_server_sni_maps="hash:" + src))
    code, out = s_client(srv.port, "bad.sni.test")
    assert leaf_subject(out) is None, out
    assert srv.wait_log("TLS SNI bad.sni.test from "), srv.log()
    assert "malformed BASE64 value" in srv.log()
    assert "aborting the TLS handshake" in srv.log()
    # Other names still work in the same server.
    code, out = s_client(srv.port, "other.test")
    assert code == 0 and leaf_subject(out) == "CN = mx.test", out


# smtp client: smtp_tls_servername


class SniSink(TlsSink):
    def __init__(self):
        super().__init__()
        self.names = []


def start_sni_sink(env, host, port, cert):
    handler = SniSink()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert[1], cert[0])

    def record(sslobj, name, _ctx):
        handler.names.append(name)
    ctx.sni_callback = record
    c = Controller(handler, hostname=host, port=port, tls_context=ctx)
    c.start()
    env.controllers.append(c)
    return handler


@pytest.fixture
def dns():
    with DNSServer() as d:
        yield d


@pytest.mark.needs("dnslib", "aiosmtpd")
@pytest.mark.parametrize("servername,want", [
    ("hostname", "mx1.sni.test"),
    ("nexthop", "sni.test"),
    ("name.example", "name.example"),
    ("", None),
])
def test_smtp_client_sends_servername(instance, workdir, dns, pki,
                                      servername, want):
    env = make_env(instance, workdir, dns, pki,
                   smtp_tls_security_level="may",
                   smtp_tls_servername=servername)
    try:
        port = pick_port([SNI_HOST])
        sink = start_sni_sink(env, SNI_HOST, port, pki["one"])
        add_mx(dns, "sni.test", "mx1.sni.test", SNI_HOST)
        res = deliver(env, "sni.test", port, "u@sni.test")
        assert res["action"] == "sent", res
        assert sink.tls == [True]
        assert sink.names == [want]
    finally:
        env.close()


@pytest.mark.needs("dnslib", "aiosmtpd")
def test_smtp_client_nexthop_servername_never_an_address(instance, workdir,
                                                         dns, pki):
    env = make_env(instance, workdir, dns, pki,
                   smtp_tls_security_level="may",
                   smtp_tls_servername="nexthop")
    try:
        port = pick_port([SNI_HOST])
        sink = start_sni_sink(env, SNI_HOST, port, pki["one"])
        res = deliver(env, "[%s]" % SNI_HOST, port, "u@sni.test")
        assert res["action"] == "sent", res
        assert sink.names == [None]
    finally:
        env.close()
