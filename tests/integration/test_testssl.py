# testssl.sh (Debian's) against a real instance, as a mail admin would
# check a new server: STARTTLS on the port-25 service (opportunistic,
# smtpd_tls_ciphers) and on submission (encrypt, mandatory "high"), and
# implicit TLS on smtps, with the ports' settings from conf/master.cf.
# The JSON findings must show no weak protocol or cipher:
#   - no SSLv2, SSLv3, TLS 1.0 or TLS 1.1 offered; TLS 1.2 and 1.3 are;
#   - no NULL, aNULL, EXPORT, LOW, 3DES/IDEA (obsoleted) or RC4 cipher;
#   - no protocol or cipher finding above LOW (MEDIUM, HIGH, CRITICAL).
# Port 25's "medium" grade keeps TLS 1.2 CBC suites with SHA-1/SHA-2 MACs
# for old MTAs (smtpd(8), postel.conf(5)); testssl.sh rates those LOW at
# most, which is accepted here: an MTA that falls back to plain text
# when no cipher is shared is worse off than one that uses CBC.
#
# The instance is started once for the module; each port is one testssl
# run (-p protocols, -s cipher categories, -f forward secrecy, -E ciphers
# per protocol, --fast) into a JSON file.
# SPDX-License-Identifier: ISC
import json
import os
import shutil
import socket
import subprocess
import tempfile

import pytest

from conftest import Instance, wait_for
from tlscerts import CA, san_environment

pytestmark = pytest.mark.needs("testssl", "testssl_hexdump", "testssl_dig",
                               "testssl_ps", "openssl")

# Findings about protocols and ciphers; the rest of the JSON (certificate
# trust of a test CA, scan time, "service" lines) is not this test's
# subject.
CHECKED_PREFIXES = ("SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3",
                    "cipherlist_", "cipher_", "cipher-", "FS", "PFS",
                    "supportedciphers", "cipherorder", "protocol_negotiated",
                    "cipher_negotiated", "NPN", "ALPN")
BAD = ("MEDIUM", "HIGH", "CRITICAL")


def three_ports():
    socks = [socket.socket() for _ in range(3)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.fixture(scope="module")
def server():
    workdir = tempfile.mkdtemp(prefix="postel-testssl-")
    os.chmod(workdir, 0o755)
    ca = CA(os.path.join(workdir, "pki"))
    rsa = ca.issue("mx-rsa", ["mx.test", "localhost"])
    ecdsa = ca.issue("mx-ec", ["mx.test", "localhost"], kind="ec")
    inst = Instance(workdir)
    smtp, submission, smtps = three_ports()
    main = {
        "myhostname": "mx.test",
        "mydestination": "mx.test",
        "maillog_file": os.path.join(workdir, "maillog"),
        "smtpd_tls_security_level": "may",
        "smtpd_tls_chain_files": "%s, %s" % (rsa[2], ecdsa[2]),
    }
    main.update(san_environment())
    inst.write_config(main=main, services=[
        "postlog unix-dgram n - n - 1 postlogd",
        "127.0.0.1:%d inet n - y - - smtpd" % smtp,
        "127.0.0.1:%d inet n - y - - smtpd "
        "-o smtpd_tls_mandatory_ciphers=high "
        "-o smtpd_tls_security_level=encrypt" % submission,
        "127.0.0.1:%d inet n - y - - smtpd "
        "-o smtpd_tls_mandatory_ciphers=high "
        "-o smtpd_tls_wrappermode=yes" % smtps,
        "cleanup unix - - n - 0 cleanup",
    ])
    try:
        inst.start()

        def listening():
            for port in (smtp, submission, smtps):
                try:
                    socket.create_connection(("127.0.0.1", port), 2).close()
                except OSError:
                    return False
            return True
        assert wait_for(listening, 10)
        yield {"workdir": workdir, "smtp": smtp, "submission": submission,
               "smtps": smtps}
    finally:
        inst.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


def run_testssl(server, port, starttls):
    out = os.path.join(server["workdir"], "testssl-%d.json" % port)
    argv = ["testssl", "--quiet", "--color", "0", "--warnings", "off",
            "--fast", "-p", "-s", "-f", "-E", "--jsonfile", out,
            "--connect-timeout", "10", "--openssl-timeout", "10"]
    if starttls:
        argv += ["-t", "smtp"]
    argv.append("127.0.0.1:%d" % port)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=600,
                       stdin=subprocess.DEVNULL)
    assert os.path.exists(out), r.stdout + r.stderr
    with open(out) as f:
        findings = json.load(f)
    return findings, r.stdout


def by_id(findings):
    return {f["id"]: f for f in findings}


def check_findings(findings, text):
    ids = by_id(findings)
    # The scan really ran: it negotiated and listed protocols.
    for proto in ("SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3"):
        assert proto in ids, (proto, text)
    for proto in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
        assert ids[proto]["finding"].startswith("not offered"), \
            (ids[proto], text)
    for proto in ("TLS1_2", "TLS1_3"):
        assert ids[proto]["finding"].startswith("offered"), (ids[proto], text)
    # Cipher categories (-s): every weak one is absent.
    for cat in ("cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT",
                "cipherlist_LOW", "cipherlist_3DES_IDEA"):
        assert cat in ids, (cat, text)
        assert ids[cat]["finding"].startswith("not offered"), (ids[cat], text)
    # Every cipher offered (-E), by name: no RC4, DES, NULL, EXPORT, anon.
    offered = [f["finding"] for f in findings
               if f["id"].startswith("cipher-tls1")
               or f["id"].startswith("cipher_x")]
    assert offered, text
    for finding in offered:
        for weak in ("RC4", "DES-", "3DES", "NULL", "EXP", "ADH", "AECDH",
                     "anon"):
            assert weak not in finding, (finding, text)
    # No protocol or cipher finding rated above LOW.
    bad = [f for f in findings if f["id"].startswith(CHECKED_PREFIXES)
           and f["severity"] in BAD]
    assert not bad, (bad, text)
    return offered


def test_testssl_port_25_starttls_has_no_weak_protocol_or_cipher(server):
    findings, text = run_testssl(server, server["smtp"], starttls=True)
    check_findings(findings, text)


def test_testssl_submission_starttls_has_no_weak_protocol_or_cipher(server):
    findings, text = run_testssl(server, server["submission"], starttls=True)
    offered = check_findings(findings, text)
    # Mandatory "high": AEAD only, so no CBC suite at all.
    assert not [f for f in offered if "CBC" in f or "-SHA " in f
                or f.rstrip().endswith("-SHA")], offered


def test_testssl_smtps_has_no_weak_protocol_or_cipher(server):
    findings, text = run_testssl(server, server["smtps"], starttls=False)
    offered = check_findings(findings, text)
    assert not [f for f in offered if "CBC" in f], offered
