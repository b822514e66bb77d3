# smtpd TLS: STARTTLS on 25 and 587, implicit TLS on 465, the
# CVE-2011-0411 plain-text injection defence, protocol floor, RSA and
# ECDSA certificates side by side, session resumption and log lines;
# against smtplib, swaks, openssl s_client and raw sockets.
# SPDX-License-Identifier: ISC
import os
import re
import smtplib
import socket
import ssl
import subprocess

import pytest

from conftest import free_port, wait_for
from test_smtpd import Client, Smtpd, queued_file, read_text
from tlscerts import CA, san_environment

pytestmark = pytest.mark.needs("openssl")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("pki"))
    os.chmod(folder, 0o755)
    ca = CA(folder)
    rsa = ca.issue("mx-rsa", ["mx.test", "localhost"])
    ecdsa = ca.issue("mx-ec", ["mx.test", "localhost"], kind="ec")
    return {"ca": ca, "rsa": rsa, "ecdsa": ecdsa}


def tls_settings(pki, **extra):
    settings = {
        "smtpd_tls_security_level": "may",
        "smtpd_tls_chain_files": "%s, %s" % (pki["rsa"][2], pki["ecdsa"][2]),
        "smtpd_forbid_unauth_pipelining": "no",
        # One summary line per handshake (the default, 0, logs none).
        "smtpd_tls_loglevel": "1",
    }
    settings.update(san_environment())
    settings.update(extra)
    return settings


class TlsSmtpd(Smtpd):
    """Smtpd plus a submission (encrypt) and an smtps (wrapper) port."""

    def __init__(self, instance, workdir, pki, main=None):
        settings = tls_settings(pki)
        settings.update(main or {})
        orig = instance.write_config

        def write_config(main=None, services=None):
            # Three ports that are free together.
            socks = [socket.socket() for _ in range(2)]
            for s in socks:
                s.bind(("127.0.0.1", 0))
            self.sub_port, self.smtps_port = [s.getsockname()[1]
                                              for s in socks]
            for s in socks:
                s.close()
            assert self.port not in (self.sub_port, self.smtps_port)
            extra = [
                "127.0.0.1:%d inet n - y - 1 smtpd -o "
                "smtpd_tls_security_level=encrypt" % self.sub_port,
                "127.0.0.1:%d inet n - y - 1 smtpd -o "
                "smtpd_tls_wrappermode=yes" % self.smtps_port,
            ]
            return orig(main=main, services=list(services) + extra)
        instance.write_config = write_config
        super().__init__(instance, workdir, main=settings)


@pytest.fixture
def tsmtpd(instance, workdir, pki):
    return TlsSmtpd(instance, workdir, pki)


def client_ctx(pki):
    ctx = ssl.create_default_context(cafile=pki["ca"].cert)
    ctx.check_hostname = False
    return ctx


def test_starttls_on_port_25_with_smtplib(tsmtpd, pki):
    s = smtplib.SMTP("localhost", tsmtpd.port, timeout=20)
    code, text = s.ehlo("client.test")
    assert b"STARTTLS" in text
    code, _ = s.starttls(context=client_ctx(pki))
    assert code == 220
    code, text = s.ehlo("client.test")
    assert code == 250 and b"STARTTLS" not in text
    s.sendmail("a@client.test", ["u@mx.test"], b"Subject: t\r\n\r\nhi\r\n")
    s.quit()
    assert tsmtpd.wait_log("Anonymous TLS connection established from"), \
        tsmtpd.log()
    assert re.search(r"TLS connection established from \S+\[127\.0\.0\.1\]: "
                     r"TLSv1\.[23] with cipher \S+ \(\d+/\d+ bits\)",
                     tsmtpd.log())
    assert tsmtpd.wait_log("starttls=1")


def tls_received(srv, pki):
    s = smtplib.SMTP("localhost", srv.port, timeout=20)
    s.starttls(context=client_ctx(pki))
    s.ehlo("client.test")
    s.mail("a@client.test")
    s.rcpt("u@mx.test")
    code, msg = s.data(b"Subject: t\r\n\r\nhi\r\n")
    s.quit()
    assert code == 250, msg
    return queued_file(srv, "250 " + msg.decode()).header("Received")


def test_received_header_with_tls_details(instance, workdir, pki):
    srv = Smtpd(instance, workdir, main=tls_settings(
        pki, smtpd_tls_received_header="yes"))
    rcvd = tls_received(srv, pki)
    assert re.search(r"\(using TLSv1\.[23] with cipher \S+ \(\d+/\d+ "
                     r"bits\)\)", rcvd), rcvd
    assert "with ESMTPS id" in rcvd


def test_received_header_default_says_esmtps_only(tsmtpd, pki):
    rcvd = tls_received(tsmtpd, pki)
    assert "with ESMTPS id" in rcvd
    assert "(using" not in rcvd


def test_plain_connection_has_no_esmtps(tsmtpd):
    s = tsmtpd.smtp()
    s.sendmail("a@client.test", ["u@mx.test"], b"Subject: t\r\n\r\nhi\r\n")
    s.quit()
    assert "TLS connection established" not in tsmtpd.log()


def test_submission_587_requires_starttls(tsmtpd, pki):
    c = Client(tsmtpd.sub_port)
    assert c.cmd("EHLO client.test")[-1].startswith("250")
    r = c.cmd("MAIL FROM:<a@client.test>")
    assert r[0].startswith("530 5.7.0"), r
    c.close()


@pytest.mark.needs("swaks", "swaks_tls")
def test_submission_587_with_swaks(tsmtpd, pki):
    r = subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port", str(tsmtpd.sub_port),
         "--tls", "--from", "a@client.test", "--to", "u@mx.test",
         "--helo", "client.test", "--timeout", "20"],
        capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "TLS started" in r.stdout + r.stderr
    assert "queued as" in r.stdout


def test_implicit_tls_465_with_s_client(tsmtpd, pki):
    r = subprocess.run(
        ["openssl", "s_client", "-connect",
         "127.0.0.1:%d" % tsmtpd.smtps_port, "-CAfile", pki["ca"].cert,
         "-verify_hostname", "mx.test", "-verify_return_error",
         "-ign_eof"],
        input=b"EHLO client.test\r\nQUIT\r\n", capture_output=True,
        timeout=30)
    out = r.stdout.decode(errors="replace")
    assert "Verify return code: 0 (ok)" in out, out
    assert "220 mx.test" in out
    assert "250-mx.test" in out
    # No STARTTLS inside TLS.
    assert "STARTTLS" not in out


def test_implicit_tls_465_with_smtplib(tsmtpd, pki):
    ctx = ssl.create_default_context(cafile=pki["ca"].cert)
    s = smtplib.SMTP_SSL("localhost", tsmtpd.smtps_port, context=ctx,
                         timeout=20)
    s.sendmail("a@client.test", ["u@mx.test"], b"Subject: t\r\n\r\nhi\r\n")
    s.quit()
    assert tsmtpd.wait_log("TLS connection established from")


def test_cve_2011_0411_pipelined_command_is_discarded(tsmtpd, pki):
    c = Client(tsmtpd.port)
    assert c.cmd("EHLO client.test")[-1].startswith("250")
    c.send(b"STARTTLS\r\nNOOP\r\n")
    assert c.reply()[0].startswith("220 2.0.0")
    assert c.buf == b""
    tls = client_ctx(pki).wrap_socket(c.sock, server_hostname="mx.test")
    tls.settimeout(1.5)
    # The plain-text NOOP must not be answered inside TLS.
    with pytest.raises(socket.timeout):
        tls.recv(100)
    tls.settimeout(20)
    tls.sendall(b"NOOP\r\n")
    assert tls.recv(100).startswith(b"250 2.0.0 Ok")
    tls.sendall(b"QUIT\r\n")
    tls.close()


def test_starttls_pipelined_by_default_is_refused(instance, workdir, pki):
    srv = Smtpd(instance, workdir, main=tls_settings(
        pki, smtpd_forbid_unauth_pipelining="yes"))
    c = Client(srv.port)
    assert c.cmd("EHLO client.test")[-1].startswith("250")
    c.send(b"STARTTLS\r\nNOOP\r\n")
    r = c.reply()
    assert r[0].startswith("554 5.5.0"), r
    assert c.closed()


def test_starttls_resets_helo(tsmtpd, pki):
    c = Client(tsmtpd.port)
    c.cmd("EHLO client.test")
    assert c.cmd("STARTTLS")[0].startswith("220")
    tls = client_ctx(pki).wrap_socket(c.sock, server_hostname="mx.test")
    c.sock = tls
    r = c.cmd("STARTTLS")
    assert r[0].startswith("554 5.5.1"), r
    r = c.cmd("EHLO client.test")
    assert "250-STARTTLS" not in r
    c.cmd("QUIT")


def s_client(port, *args, starttls=False):
    """openssl s_client against 127.0.0.1:port; (exit code, output).
    -cipher DEFAULT:@SECLEVEL=0 lets this OpenSSL offer TLS 1.0 and 1.1
    (at its default level it refuses them by itself, and a test of the
    server's floor would prove nothing)."""
    argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
            "-cipher", "DEFAULT:@SECLEVEL=0"] + list(args)
    if starttls:
        argv += ["-starttls", "smtp"]
    r = subprocess.run(argv, input=b"", capture_output=True, timeout=30)
    return r.returncode, (r.stdout + r.stderr).decode(errors="replace")


@pytest.mark.parametrize("port", ["port", "sub_port", "smtps_port"])
def test_old_protocols_refused(tsmtpd, port):
    port = getattr(tsmtpd, port)
    starttls = port != tsmtpd.smtps_port
    # Control: the same client settings do complete a TLS 1.2 handshake.
    code, out = s_client(port, "-tls1_2", starttls=starttls)
    assert code == 0 and re.search(r"Protocol\s*: TLSv1\.2", out), out
    for flag in ("-tls1", "-tls1_1"):
        code, out = s_client(port, flag, starttls=starttls)
        # The client offered the old version and the server refused it with
        # a protocol_version alert (70); nothing was negotiated.
        assert "no protocols available" not in out, out
        assert code != 0, out
        assert "alert protocol version" in out, out
        assert "SSL alert number 70" in out, out
        assert "Cipher is (NONE)" in out, out


def test_rsa_and_ecdsa_certificates_side_by_side(tsmtpd, pki):
    seen = {}
    for cipher in ("ECDHE-RSA-AES128-GCM-SHA256",
                   "ECDHE-ECDSA-AES128-GCM-SHA256"):
        r = subprocess.run(
            ["openssl", "s_client", "-connect",
             "127.0.0.1:%d" % tsmtpd.smtps_port, "-tls1_2", "-cipher",
             cipher, "-CAfile", pki["ca"].cert],
            input=b"", capture_output=True, timeout=30)
        out = r.stdout.decode(errors="replace")
        assert "Verify return code: 0 (ok)" in out, out
        m = re.search(r"Peer signature type: (\S+)", out)
        seen[cipher] = m.group(1) if m else out
    assert "ECDSA" in seen["ECDHE-ECDSA-AES128-GCM-SHA256"]
    assert "RSA" in seen["ECDHE-RSA-AES128-GCM-SHA256"]


def test_session_resumption(tsmtpd, pki, workdir):
    sess = os.path.join(workdir, "sess.pem")
    outs = []
    for extra in (["-sess_out", sess], ["-sess_in", sess]):
        r = subprocess.run(
            ["openssl", "s_client", "-connect",
             "127.0.0.1:%d" % tsmtpd.smtps_port, "-tls1_2",
             "-CAfile", pki["ca"].cert] + extra,
            input=b"", capture_output=True, timeout=30)
        outs.append(r.stdout.decode(errors="replace"))
    assert "New, TLSv1.2" in outs[0]
    assert "Reused, TLSv1.2" in outs[1], outs[1]


def test_client_certificate_is_logged(instance, workdir, pki):
    client = pki["ca"].issue("client", ["client.test"])
    srv = Smtpd(instance, workdir, main=tls_settings(
        pki, smtpd_tls_ask_ccert="yes", smtpd_tls_CAfile=pki["ca"].cert))
    r = subprocess.run(
        ["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.port,
         "-starttls", "smtp", "-cert", client[1], "-key", client[0],
         "-CAfile", pki["ca"].cert],
        input=b"", capture_output=True, timeout=30)
    assert b"Verify return code: 0 (ok)" in r.stdout, r.stdout
    assert srv.wait_log('Trusted TLS connection established from '
                        'localhost[127.0.0.1]'), srv.log()
    assert 'client cert CN="client.test" issuer CN="Postel Test CA"' \
        in srv.log()


def test_bad_certificate_with_wrappermode_is_fatal(instance, workdir, pki):
    bad = os.path.join(workdir, "missing.pem")
    port = free_port()
    instance.write_config(main={
        "maillog_file": os.path.join(workdir, "maillog"),
        "smtpd_tls_wrappermode": "yes",
        "smtpd_tls_cert_file": bad,
    }, services=[
        "postlog unix-dgram n - n - 1 postlogd",
        "127.0.0.1:%d inet n - y - 1 smtpd" % port,
    ])
    instance.start()
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        try:
            data = s.recv(100)
        except (ConnectionResetError, socket.timeout):
            data = b""
    assert not data.startswith(b"220")
    log = os.path.join(workdir, "maillog")
    assert wait_for(lambda: "cannot load certificate chain" in
                    read_text(log), timeout=10), read_text(log)


def test_bad_certificate_with_encrypt_refuses_mail(instance, workdir):
    srv = Smtpd(instance, workdir, main={
        "smtpd_tls_security_level": "encrypt",
        "smtpd_tls_cert_file": os.path.join(workdir, "missing.pem"),
    })
    c = Client(srv.port)
    r = c.cmd("EHLO client.test")
    assert "250-STARTTLS" not in r
    assert c.cmd("MAIL FROM:<a@client.test>")[0].startswith("530 5.7.0")
    c.close()
    assert srv.wait_log("STARTTLS is not offered")


@pytest.mark.parametrize("level", ["0", "1", "2"])
def test_smtpd_tls_loglevel(instance, workdir, pki, level):
    srv = Smtpd(instance, workdir, main=tls_settings(
        pki, smtpd_tls_loglevel=level))
    s = smtplib.SMTP("localhost", srv.port, timeout=20)
    s.ehlo("client.test")
    s.starttls(context=client_ctx(pki))
    s.ehlo("client.test")
    s.quit()
    assert srv.wait_log("disconnect from"), srv.log()
    log = srv.log()
    summary = re.search(r"Anonymous TLS connection established from "
                        r"\S+\[127\.0\.0\.1\]: TLSv1\.3 with cipher", log)
    setup = "setting up TLS connection from localhost[127.0.0.1]" in log
    detail = "localhost[127.0.0.1]: no client certificate; new session" \
        in log
    assert (bool(summary), setup, detail) == {
        "0": (False, False, False), "1": (True, False, False),
        "2": (True, True, True)}[level], log


def s_client_starttls(port, pki):
    r = subprocess.run(
        ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
         "-starttls", "smtp", "-CAfile", pki["ca"].cert],
        input=b"QUIT\r\n", capture_output=True, timeout=30)
    return r.stdout.decode(errors="replace")


def test_legacy_smtpd_use_tls_with_only_a_cert_file_offers_starttls(
        instance, workdir, pki):
    # An old main.cf: smtpd_use_tls and one PEM file holding the leaf and
    # its key (smtpd_tls_key_file defaults to smtpd_tls_cert_file).
    key, cert, _ = pki["rsa"]
    pem = os.path.join(workdir, "mx.pem")
    with open(pem, "w") as out:
        for p in (cert, key):
            with open(p) as f:
                out.write(f.read())
    settings = {"smtpd_use_tls": "yes", "smtpd_tls_cert_file": pem}
    settings.update(san_environment())
    srv = Smtpd(instance, workdir, main=settings)
    out = s_client_starttls(srv.port, pki)
    assert "CN = mx.test" in out and "Verify return code: 0 (ok)" in out, out
    assert srv.wait_log("obsolete parameter smtpd_use_tls=yes: using "
                        "smtpd_tls_security_level = may; set "
                        "smtpd_tls_security_level instead"), srv.log()
    r = instance.postel("check")
    assert r.returncode == 0, r.stderr
    assert re.search(r"postel: warning: \S+/main\.cf, line \d+: obsolete "
                     r"parameter: smtpd_use_tls=yes: use "
                     r"smtpd_tls_security_level instead", r.stderr), r.stderr
    assert "unused parameter" not in r.stderr


def test_legacy_smtpd_enforce_tls_requires_starttls(instance, workdir, pki):
    key, cert, _ = pki["rsa"]
    settings = {"smtpd_enforce_tls": "yes", "smtpd_tls_cert_file": cert,
                "smtpd_tls_key_file": key}
    settings.update(san_environment())
    srv = Smtpd(instance, workdir, main=settings)
    c = Client(srv.port)
    assert "250-STARTTLS" in c.cmd("EHLO client.test")
    assert c.cmd("MAIL FROM:<a@client.test>")[0].startswith("530 5.7.0")
    c.close()
    assert "CN = mx.test" in s_client_starttls(srv.port, pki)
    assert srv.wait_log("obsolete parameter smtpd_enforce_tls=yes: using "
                        "smtpd_tls_security_level = encrypt")


def test_legacy_smtpd_use_tls_yields_to_the_modern_level(instance, workdir,
                                                         pki):
    key, cert, _ = pki["rsa"]
    srv = Smtpd(instance, workdir, main={
        "smtpd_use_tls": "yes", "smtpd_tls_security_level": "none",
        "smtpd_tls_cert_file": cert, "smtpd_tls_key_file": key})
    c = Client(srv.port)
    assert "250-STARTTLS" not in c.cmd("EHLO client.test")
    c.close()
    assert srv.wait_log("obsolete parameter smtpd_use_tls=yes is ignored: "
                        "smtpd_tls_security_level is set")
