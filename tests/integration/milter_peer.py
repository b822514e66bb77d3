#!/usr/bin/python3
# A test milter written with Debian's python3-milter (pymilter, on
# libmilter): it records every callback it gets (one JSON line each, with
# the macros the MTA sent) and performs one action, named on the command
# line, so each milter test checks one behaviour.
#
#   milter_peer.py SOCKET RECORD ACTION [--skip hello,body] [--tag NAME]
#
# SOCKET is libmilter's spec (inet:PORT@127.0.0.1 or unix:/path).
# ACTION "VERDICT@STAGE" (reject, tempfail, discard, accept, custom: a
# multi-line 554 reply) answers that command stage (connect, helo, mail,
# rcpt: only recipients with "bad" in them, data, unknown) that way.
#
# SPDX-License-Identifier: ISC
import argparse
import json
import sys
import time

import Milter

p = argparse.ArgumentParser()
p.add_argument("socket")
p.add_argument("record")
p.add_argument("action")
p.add_argument("--skip", default="")
p.add_argument("--tag", default="peer")
p.add_argument("--rcpt-rej", action="store_true",
               help="negotiate SMFIP_RCPT_REJ (see refused recipients)")
args = p.parse_args()
SKIP = set(s for s in args.skip.split(",") if s)
MACROS = ("i", "j", "v", "_", "{daemon_name}", "{client_addr}",
          "{mail_addr}", "{rcpt_addr}", "{client_name}", "{client_port}",
          "{auth_type}", "{auth_authen}", "{auth_author}", "{tls_version}",
          "{cipher}", "{cert_subject}", "{cert_issuer}", "{mail_host}",
          "{mail_mailer}", "{rcpt_host}", "{rcpt_mailer}")


def record(stage, *values):
    with open(args.record, "a") as f:
        f.write(json.dumps({"stage": stage, "values": [
            v.decode("latin-1") if isinstance(v, bytes) else v
            for v in values]}) + "\n")


def at(milter, stage):
    """The verdict of an ACTION "VERDICT@STAGE" at this stage."""
    verdict, _, where = args.action.partition("@")
    if where != stage:
        return Milter.CONTINUE
    if verdict == "custom":
        milter.setreply("554", "5.7.9", "refused at %s" % stage,
                        "second line")
        return Milter.REJECT
    return {"reject": Milter.REJECT, "tempfail": Milter.TEMPFAIL,
            "discard": Milter.DISCARD, "accept": Milter.ACCEPT}[verdict]


class Peer(Milter.Base):
    def macros(self):
        out = {}
        for m in MACROS:
            v = self.getsymval(m)
            if v is not None:
                out[m] = v
        return out

    def connect(self, host, family, addr):
        record("connect", host, str(addr), self.macros())
        return at(self, "connect")

    def hello(self, helo):
        record("helo", helo, self.macros())
        return at(self, "helo")

    def envfrom(self, f, *params):
        record("mail", f, list(params), self.macros())
        if args.action == "hang":
            time.sleep(60)
        if args.action == "tempfail_mail":
            return Milter.TEMPFAIL
        return at(self, "mail")

    def envrcpt(self, to, *params):
        record("rcpt", to, self.macros())
        if args.action == "reject_rcpt":
            self.setreply("550", "5.7.1", "recipient %s refused" % to)
            return Milter.REJECT
        return at(self, "rcpt") if "bad" in to else Milter.CONTINUE

    def data(self):
        record("data")
        return at(self, "data")

    def unknown(self, cmd):
        record("unknown", cmd)
        return at(self, "unknown")

    def header(self, name, value):
        record("header", name, value)
        return Milter.CONTINUE

    def eoh(self):
        record("eoh", self.macros())
        return Milter.CONTINUE

    def body(self, chunk):
        record("body", chunk)
        return Milter.CONTINUE

    def eom(self):
        record("eom", self.macros())
        a = args.action
        if a == "addheader":
            self.addheader("X-Milter-" + args.tag, "added by " + args.tag)
        elif a == "addheader_folded":
            self.addheader("X-Folded", "first\n\tsecond")
        elif a == "insheader":
            self.addheader("X-Milter-Top", "inserted", 0)
        elif a == "chgheader":
            self.chgheader("Subject", 1, "changed subject")
        elif a == "delheader":
            self.chgheader("X-Remove-Me", 1, "")
        elif a == "replbody":
            self.replacebody(b"replaced body line\r\n")
        elif a == "addrcpt":
            self.addrcpt("<added@remote.test>")
        elif a == "addrcpt_par":
            self.addrcpt("<added2@remote.test>", "NOTIFY=NEVER")
        elif a == "delrcpt":
            self.delrcpt("<gone@remote.test>")
        elif a == "chgfrom":
            self.chgfrom("<changed@example.com>")
        elif a == "quarantine":
            self.quarantine("suspicious content")
        elif a == "reject":
            self.setreply("550", "5.7.1", "message refused by test milter")
            return Milter.REJECT
        elif a == "slow_reject":
            # answers end of message only after the MTA gave up waiting
            time.sleep(4)
            self.setreply("550", "5.7.1", "late refusal by test milter")
            return Milter.REJECT
        elif a == "reject_multiline":
            self.setreply("550", "5.7.0", "first line", "second line")
            return Milter.REJECT
        elif a == "tempfail":
            return Milter.TEMPFAIL
        elif a == "discard":
            return Milter.DISCARD
        elif a == "accept":
            return Milter.ACCEPT
        return Milter.CONTINUE

    def abort(self):
        record("abort")
        return Milter.CONTINUE

    def close(self):
        record("close")
        return Milter.CONTINUE


# Stages the milter does not want: pymilter negotiates SMFIP_NO* for
# callbacks marked @nocallback.
for name in SKIP:
    setattr(Peer, name, Milter.nocallback(getattr(Peer, name)))

if args.rcpt_rej:
    Peer = Milter.rejected_recipients(Peer)
Milter.factory = Peer
Milter.set_flags(Milter.ADDHDRS | Milter.CHGHDRS | Milter.CHGBODY
                 | Milter.ADDRCPT | Milter.ADDRCPT_PAR | Milter.DELRCPT
                 | Milter.CHGFROM | Milter.QUARANTINE)
sys.stdout.write("ready\n")
sys.stdout.flush()
Milter.runmilter("postel-test", args.socket, 240)
