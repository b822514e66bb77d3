# A throw-away OpenLDAP server for the ldap: table tests: Debian's slapd
# with its own slapd.conf in a temporary folder, an mdb database loaded
# with slapadd from an LDIF, listening on a free 127.0.0.1 port and on an
# ldapi socket in the folder.  stop() ends it (the fixture calls it even
# when a test fails); start() after stop() brings the same data back.
#
# The schema adds Postfix's default attributes (mailacceptinggeneralid,
# maildrop) to the stock core/cosine/inetorgperson ones, so the tests can
# rely on the ldap_table(5) defaults.
#
# SPDX-License-Identifier: ISC
import os
import shutil
import signal
import subprocess
import time
import urllib.parse

from conftest import free_port, tool_path, wait_for

SLAPD = tool_path("slapd")
SLAPADD = tool_path("slapadd")
LDAPSEARCH = tool_path("ldapsearch")

SUFFIX = "dc=example,dc=test"
ROOT_DN = "cn=admin," + SUFFIX
ROOT_PW = "admin-Pw1"
# A reader account for the bind_dn/bind_pw tests; anonymous reads are
# refused for the ou=private subtree.
READER_DN = "cn=reader," + SUFFIX
READER_PW = "reader-Pw2"

POSTFIX_SCHEMA = """\
attributetype ( 1.3.6.1.4.1.4203.666.11.99.1 NAME 'mailacceptinggeneralid'
  EQUALITY caseIgnoreIA5Match SUBSTR caseIgnoreIA5SubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{256} )
attributetype ( 1.3.6.1.4.1.4203.666.11.99.2 NAME 'maildrop'
  EQUALITY caseIgnoreIA5Match SUBSTR caseIgnoreIA5SubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{256} )
objectclass ( 1.3.6.1.4.1.4203.666.11.99.3 NAME 'postelMailObject'
  SUP top AUXILIARY MAY ( mailacceptinggeneralid $ maildrop ) )
"""


class Slapd:
    """slapd in workdir, ldap://127.0.0.1:port and ldapi in workdir; with
    tls=(key, cert, ca) files also STARTTLS on that port and ldaps on
    ldaps_url (names: localhost)."""

    def __init__(self, workdir, ldif, tls=None):
        self.workdir = workdir
        self.port = free_port()
        self.url = "ldap://127.0.0.1:%d" % self.port
        self.ldaps_url = None
        if tls:
            self.ldaps_url = "ldaps://localhost:%d" % free_port()
        self.sock = os.path.join(workdir, "ldapi")
        self.ldapi_url = "ldapi://" + urllib.parse.quote(self.sock, safe="")
        self.proc = None
        self.log_path = os.path.join(workdir, "slapd.log")
        os.makedirs(os.path.join(workdir, "db"), exist_ok=True)
        with open(os.path.join(workdir, "postel.schema"), "w") as f:
            f.write(POSTFIX_SCHEMA)
        self.conf = os.path.join(workdir, "slapd.conf")
        with open(self.conf, "w") as f:
            f.write(
                "include /etc/ldap/schema/core.schema\n"
                "include /etc/ldap/schema/cosine.schema\n"
                "include /etc/ldap/schema/inetorgperson.schema\n"
                "include %(dir)s/postel.schema\n"
                "pidfile %(dir)s/slapd.pid\n"
                "modulepath /usr/lib/ldap\n"
                "moduleload back_mdb\n"
                # Postfix's ldap_table(5) default is LDAPv2.
                "allow bind_v2\n"
                "%(tls)s"
                "database mdb\n"
                "maxsize 10485760\n"
                "suffix \"%(suffix)s\"\n"
                "rootdn \"%(root)s\"\n"
                "rootpw %(rootpw)s\n"
                "directory %(dir)s/db\n"
                "access to dn.subtree=\"ou=private,%(suffix)s\"\n"
                "  by dn.exact=\"%(reader)s\" read\n"
                "  by * none\n"
                "access to attrs=userPassword\n"
                "  by anonymous auth\n"
                "  by * none\n"
                "access to * by * read\n"
                % {"dir": workdir, "suffix": SUFFIX, "root": ROOT_DN,
                   "rootpw": ROOT_PW, "reader": READER_DN,
                   "tls": "" if not tls else
                   "TLSCertificateKeyFile %s\nTLSCertificateFile %s\n"
                   "TLSCACertificateFile %s\n" % tls})
        ldif_path = os.path.join(workdir, "data.ldif")
        with open(ldif_path, "w") as f:
            # @URL@ in the LDIF (a referral's ref) is this server.
            f.write(self.base_ldif() + ldif.replace("@URL@", self.url))
        r = subprocess.run([SLAPADD, "-f", self.conf, "-l", ldif_path],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, "slapadd: " + r.stderr

    @staticmethod
    def base_ldif():
        return (
            "dn: %(s)s\nobjectClass: dcObject\nobjectClass: organization\n"
            "dc: example\no: Example\n\n"
            "dn: %(r)s\nobjectClass: person\ncn: reader\nsn: reader\n"
            "userPassword: %(pw)s\n\n"
            "dn: ou=people,%(s)s\nobjectClass: organizationalUnit\n"
            "ou: people\n\n"
            "dn: ou=groups,%(s)s\nobjectClass: organizationalUnit\n"
            "ou: groups\n\n"
            "dn: ou=private,%(s)s\nobjectClass: organizationalUnit\n"
            "ou: private\n\n" % {"s": SUFFIX, "r": READER_DN,
                                 "pw": READER_PW})

    def start(self):
        self.log = open(self.log_path, "a")
        # -d 0: stay in the foreground (so the fixture owns the process)
        # and log nothing but errors.
        urls = "%s/ %s" % (self.url, self.ldapi_url)
        if self.ldaps_url:
            urls += " " + self.ldaps_url.replace("localhost", "127.0.0.1")
        self.proc = subprocess.Popen(
            [SLAPD, "-f", self.conf, "-h", urls, "-d", "0"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        assert wait_for(self.answers, timeout=20), \
            "slapd did not start: " + self.read_log()

    def answers(self):
        if self.proc is None or self.proc.poll() is not None:
            return False
        r = subprocess.run([LDAPSEARCH, "-x", "-H", self.url, "-b", SUFFIX,
                            "-s", "base", "-LLL", "dn"],
                           capture_output=True, text=True, timeout=10)
        return r.returncode == 0

    def search(self, *args):
        """ldapsearch as the root DN; its stdout."""
        r = subprocess.run([LDAPSEARCH, "-x", "-H", self.url, "-D", ROOT_DN,
                            "-w", ROOT_PW, "-b", SUFFIX, "-LLL"]
                           + list(args), capture_output=True, text=True,
                           timeout=10)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def read_log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None
        self.log.close()
        # The port is free again once slapd has closed it.
        time.sleep(0.1)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
