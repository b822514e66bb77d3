#!/bin/sh
# Install every Debian package Postel needs to build, run and test.
# Idempotent and quick when everything is present.
# SPDX-License-Identifier: ISC
set -eu

# Installed with --no-install-recommends, so every package a build step or a
# test uses is named here, including what a tool needs only optionally
# (tests/integration/conftest.py DEPENDENCIES checks the same list and fails
# a test naming the package when one is missing):
#   swaks: TLS needs libnet-ssleay-perl (a Recommends); AUTH PLAIN, LOGIN
#     and CRAM-MD5 need only core Perl (Authen::SASL is for DIGEST-MD5 and
#     NTLM, which the tests do not use)
#   testssl.sh: hexdump (bsdextrautils), dig (bind9-dnsutils), ps (procps)
#   pflogsumm: Date::Calc (libdate-calc-perl)
#   Cyrus SASL: the sasldb auxprop plugin and the PLAIN/LOGIN/CRAM-MD5/
#     SCRAM mechanisms (libsasl2-modules-db, libsasl2-modules)
#   dovecot: the LMTP server (dovecot-lmtpd), doveadm and the quota plugin
#     (dovecot-core)
#   mail authentication: libspf2 and libopendmarc with Debian's public
#     suffix list (publicsuffix); the interoperability tests run OpenDKIM
#     itself (opendkim, opendkim-tools) and read results with dkimpy
#     (python3-dkim, whose Ed25519 support needs python3-nacl) and
#     python3-authres
#   policy delegation: Debian's policyd-spf (fetched by the test, it
#     Depends on postfix) runs on python3-spf-engine python3-dnspython
#   the milter tests' own milter is written with python3-milter; rspamd
#     runs as a milter in the smtpd_milters tests
#   policyd-spf (unpacked by test_policy, not installed: it depends on
#     postfix) runs on python3-spf-engine; the test points its resolver
#     at the loopback DNS server with dnspython (python3-dnspython)
#   db5.3_dump reads back what postelmap writes (db5.3-util)
#   lookup tables: PCRE (libpcre2-dev), LMDB (liblmdb-dev, lmdb-utils for
#     mdb_dump in tests), SQLite (libsqlite3-dev, sqlite3), PostgreSQL
#     (libpq-dev; the tests run a server from postgresql), LDAP
#     (libldap-dev; the tests run slapd and load it with ldap-utils);
#     postsrsd answers the SRS lookups in the tests
#   readelf checks the hardening flags (binutils); runuser, useradd and
#     userdel run and make test users (util-linux, passwd)
#   TLS-RPT: zlib1g-dev (gzip of the reports), libcurl4-openssl-dev (https:
#     rua POSTs)
#   fail2ban: fail2ban-regex and the shipped postfix filter, run against
#     Postel's maillog (the daemon is never started by the tests)
#   haproxy: the PROXY protocol tests put Debian's haproxy (send-proxy,
#     send-proxy-v2) in front of smtpd and postscreen; each test module
#     runs its own instance from a temporary haproxy.cfg
#   MTA-STS: libcurl fetches policies (libcurl4-openssl-dev); the tests
#     serve them with nginx run from its own folder
#   metrics: the HTTP endpoint is libmicrohttpd (libmicrohttpd-dev); the
#     tests parse it with python3-prometheus-client and scrape it with a
#     prometheus server run from a temporary folder
#   the Debian package: `make deb` needs debhelper (dpkg-dev and fakeroot
#     come with build-essential's and debhelper's dependencies); its test
#     runs lintian on the result
#   queue selectors: GNU time (time) measures the peak memory of
#     postelqueue and postelsuper on a 1,000 and a 10,000 message queue
PKGS="
build-essential binutils clang pkg-config make
libssl-dev openssl
libsasl2-dev libsasl2-modules libsasl2-modules-db sasl2-bin
libdb5.3-dev db5.3-util
libopendkim-dev libspf2-dev libopendmarc-dev publicsuffix
opendkim opendkim-tools
libcmocka-dev
valgrind clang-format strace
python3 python3-pytest python3-aiosmtpd python3-dnslib python3-dkim
python3-nacl python3-authres
python3-spf-engine
python3-milter rspamd
pflogsumm libdate-calc-perl
dovecot-core dovecot-lmtpd
libpcre2-dev liblmdb-dev lmdb-utils libsqlite3-dev sqlite3
libpq-dev postgresql libldap-dev slapd ldap-utils postsrsd
testssl.sh bsdextrautils bind9-dnsutils procps
swaks libnet-ssleay-perl
util-linux passwd
fail2ban
haproxy
zlib1g-dev libcurl4-openssl-dev nginx
libmicrohttpd-dev prometheus python3-prometheus-client
debhelper dpkg-dev fakeroot lintian
time
"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
if [ -z "$missing" ]; then
	echo "deps: all packages present"
	exit 0
fi
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
