# DANE (RFC 7672) in the smtp client: TLSA records served by the test DNS
# server, trusted only with the AD bit; DANE-EE (3 1 1) and DANE-TA
# (2 0 1) against aiosmtpd sinks with STARTTLS; the fallback rules.
# SPDX-License-Identifier: ISC
import os

import pytest

from conftest import wait_for
from test_smtp_client import H1, pick_port
from test_tls_client import add_mx, dns, deliver, log_text, start_sink  # noqa: F401
from test_tls_client import make_env
from tlscerts import CA, der, spki_der, tlsa_sha256

pytestmark = pytest.mark.needs("openssl", "dnslib", "aiosmtpd")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("dane"))
    os.chmod(folder, 0o755)
    ca = CA(folder, name="DANE TA")
    other = CA(os.path.join(folder, "other"), name="Nobody trusts me")
    return {
        "ca": other,    # smtp_tls_CAfile: does not know the DANE TA
        "ta": ca,
        "good": ca.issue("mx1", ["mx1.dane.test"]),
        "wrongname": ca.issue("wrong", ["elsewhere.test"]),
        # DANE-EE ignores names and issuers.
        "ee": other.issue("ee", ["whatever.invalid"]),
    }


@pytest.fixture
def denv(instance, workdir, dns, pki):
    envs = []

    def make(**main):
        main.setdefault("smtp_tls_security_level", "dane")
        e = make_env(instance, workdir, dns, pki, **main)
        envs.append(e)
        return e
    yield make
    for e in envs:
        e.close()


def chain_cert(cert):
    """aiosmtpd wants (key, certfile): send leaf and TA (the chain file)."""
    return (cert[0], cert[2])


def tlsa_ee(cert):
    return (3, 1, 1, tlsa_sha256(spki_der(cert[1])))


def tlsa_ta(ca):
    return (2, 0, 1, tlsa_sha256(der(ca.cert)))


def test_dane_ee_with_ad_bit(denv, dns, pki):
    env = denv()
    port = pick_port([H1])
    sink = start_sink(env, H1, port, pki["ee"])
    add_mx(dns, "dane.test", "mx1.dane.test", H1)
    dns.add("_%d._tcp.mx1.dane.test" % port, "TLSA", tlsa_ee(pki["ee"]))
    dns.ad = True
    res = deliver(env, "dane.test", port, "u@dane.test")
    assert res["action"] == "sent", res
    assert sink.tls == [True]
    assert ("_%d._tcp.mx1.dane.test" % port, "TLSA") in dns.queries
    assert wait_for(lambda: "Verified TLS connection established to "
                    "mx1.dane.test[%s]:%d" % (H1, port) in log_text(env))
    assert "(DANE)" in log_text(env)


def test_dane_ta_with_ad_bit(denv, dns, pki):
    env = denv()
    port = pick_port([H1])
    sink = start_sink(env, H1, port, chain_cert(pki["good"]))
    add_mx(dns, "dane.test", "mx1.dane.test", H1)
    dns.add("_%d._tcp.mx1.dane.test" % port, "TLSA", tlsa_ta(pki["ta"]))
    dns.ad = True
    res = deliver(env, "dane.test", port, "u@dane.test")
    assert res["action"] == "sent", res
    assert sink.tls == [True]
    assert wait_for(lambda: "Verified TLS connection established to "
                    "mx1.dane.test" in log_text(env))


def test_dane_ta_wrong_name_defers(denv, dns, pki):
    env = denv()
    port = pick_port([H1])
    sink = start_sink(env, H1, port, chain_cert(pki["wrongname"]))
    add_mx(dns, "dane.test", "mx1.dane.test", H1)
    dns.add("_%d._tcp.mx1.dane.test" % port, "TLSA", tlsa_ta(pki["ta"]))
    dns.ad = True
    res = deliver(env, "dane.test", port, "u@dane.test")
    assert res["action"] == "deferred", res
    assert res["dsn"] == "4.7.5"
    assert "Server certificate not verified" in res["reply"]
    assert "level dane" in res["reply"]
    assert sink.messages == []


def test_dane_digest_mismatch_defers(denv, dns, pki):
    env = denv()
    port = pick_port([H1])
    sink = start_sink(env, H1, port, pki["ee"])
    add_mx(dns, "dane.test", "mx1.dane.test", H1)
    dns.add("_%d._tcp.mx1.dane.test" % port, "TLSA", (3, 1, 1, "00" * 32))
    dns.ad = True
    res = deliver(env, "dane.test", port, "u@dane.test")
    assert res["action"] == "deferred", res
    assert "certificate not trusted" in res["reply"], res
    assert sink.messages == []


def test_dane_tlsa_without_ad_bit_is_ignored(denv, dns, pki):
    # Unvalidated records prove nothing: opportunistic TLS (RFC 7672 2.2).
    env = denv()
    port = pick_port([H1])
    sink = start_sink(env, H1, port, pki["ee"])
    add_mx(dns, "dane.test", "mx1.dane.test", H1)
    dns.add("_%d._tcp.mx1.dane.test" % port, "TLSA", (3, 1, 1, "00" * 32))
    dns.ad = False
    res = deliver(env, "dane.test", port, "u@dane.test")
    assert res["action"] == "sent", res
    assert sink.tls == [True]
    assert wait_for(lambda: "not DNSSEC validated" in log_text(env))
    assert "TLS connection established" in log_text(env)
    assert "Verified TLS" not in log_text(env)


def test_dane_without_tlsa_falls_back_to_may(denv, dns, pki):
    env = denv()
    port = pick_port([H1])
    sink = start_sink(env, H1, port, starttls=False)
    add_mx(dns, "dane.test", "mx1.dane.test", H1)
    dns.ad = True
    res = deliver(env, "dane.test", port, "u@dane.test")
    assert res["action"] == "sent", res
    assert sink.tls == [False]


def test_dane_with_tlsa_requires_starttls(denv, dns, pki):
    env = denv()
    port = pick_port([H1])
    sink = start_sink(env, H1, port, starttls=False)
    add_mx(dns, "dane.test", "mx1.dane.test", H1)
    dns.add("_%d._tcp.mx1.dane.test" % port, "TLSA", tlsa_ee(pki["ee"]))
    dns.ad = True
    res = deliver(env, "dane.test", port, "u@dane.test")
    assert res["action"] == "deferred", res
    assert res["dsn"] == "4.7.4"
    assert "TLS is required, but was not offered" in res["reply"]
    assert sink.messages == []


def test_dane_unusable_tlsa_means_encrypt(denv, dns, pki):
    # PKIX-EE (usage 1) is not usable for SMTP: mandatory TLS, no auth.
    env = denv()
    port = pick_port([H1])
    sink = start_sink(env, H1, port, pki["ee"])
    add_mx(dns, "dane.test", "mx1.dane.test", H1)
    dns.add("_%d._tcp.mx1.dane.test" % port, "TLSA", (1, 1, 1, "00" * 32))
    dns.ad = True
    res = deliver(env, "dane.test", port, "u@dane.test")
    assert res["action"] == "sent", res
    assert sink.tls == [True]


def test_dane_tlsa_servfail_defers(denv, dns, pki):
    env = denv()
    port = pick_port([H1])
    sink = start_sink(env, H1, port, pki["ee"])
    add_mx(dns, "dane.test", "mx1.dane.test", H1)
    dns.servfail("_%d._tcp.mx1.dane.test" % port)
    dns.ad = True
    res = deliver(env, "dane.test", port, "u@dane.test")
    assert res["action"] == "deferred", res
    assert "TLSA lookup error" in res["reply"], res
    assert sink.messages == []
