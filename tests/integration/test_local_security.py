"""local(8) and virtual(8) against the security review's delivery
findings (issue 9, section 3: 2, 3, 9, 10, 11, 13, 15b) and the local
parameters that were declared but read by nothing: each test drives a
real instance over SMTP with real accounts (useradd) and checks the
files that were (or were not) written, the log and the queue.

SPDX-License-Identifier: ISC
"""
import os
import pwd
import re
import smtplib
import subprocess
import time

from conftest import (bin_path, free_port, procs_mentioning, wait_for,
                      wait_smtp)
from test_local import BODY, HOST, maildir_files, mta, rcpt, users  # noqa: F401
from test_virtual import accounts  # noqa: F401


def postelqueue_p(mta):
    r = subprocess.run([bin_path("postelqueue"), "-c", mta.inst.confdir, "-p"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def local_line(mta, to, status):
    """local's own log line for to (an agent local passed it to logs too)."""
    pat = re.compile(r"to=<%s>, relay=local,.*status=%s.*"
                     % (re.escape(to), status))
    assert wait_for(lambda: pat.search(mta.log()), 20), mta.log()
    return pat.search(mta.log()).group(0)


def own(path, u):
    os.chown(path, u.pw_uid, u.pw_gid)


# -- finding 2: strict_mailbox_ownership ----------------------------------

def test_local_mailbox_owned_by_someone_else_defers(mta, users):
    u, other = users("so"), users("sx")
    mta.start()
    box = os.path.join(mta.spool, u.pw_name)
    with open(box, "w") as f:
        f.write("From x  Mon Nov 23 10:00:00 2026\n\nmine\n\n")
    os.chmod(box, 0o666)
    own(box, other)
    to = rcpt(u.pw_name)
    mta.send([to], BODY)
    line = mta.wait_status(to, "deferred")
    assert "dsn=4.2.0" in line and "not owned by recipient" in line
    log = mta.log()
    assert re.search(r"warning: .*%s.*owner uid %d.*recipient uid %d"
                     % (re.escape(box), other.pw_uid, u.pw_uid), log), log
    assert "strict_mailbox_ownership = no" in log
    # Nothing was written to the file that belongs to somebody else.
    assert open(box).read() == "From x  Mon Nov 23 10:00:00 2026\n\nmine\n\n"
    # The reason reaches the queue listing once qmgr deferred the file.
    assert wait_for(lambda: "not owned by recipient" in postelqueue_p(mta),
                    20), postelqueue_p(mta)


def test_local_strict_mailbox_ownership_no_delivers(mta, users):
    u, other = users("sn"), users("sy")
    mta.start(strict_mailbox_ownership="no")
    box = os.path.join(mta.spool, u.pw_name)
    open(box, "w").close()
    os.chmod(box, 0o666)
    own(box, other)
    to = rcpt(u.pw_name)
    mta.send([to], BODY)
    mta.wait_status(to, "sent")
    assert b"Delivered-To: " + to.encode() in open(box, "rb").read()


def test_virtual_mbox_not_owned_by_mapped_uid_defers(instance, workdir,
                                                     accounts):
    os.chmod(workdir, 0o755)
    a, b = accounts("o"), accounts("p")
    base = os.path.join(workdir, "vmail")
    os.makedirs(os.path.join(base, "a.test"))
    own(os.path.join(base, "a.test"), a)
    box = os.path.join(base, "a.test", "carol.mbox")
    open(box, "w").close()
    os.chmod(box, 0o666)
    own(box, b)
    for name, text in (("vmailbox", "carol@a.test a.test/carol.mbox\n"),
                       ("vuids", "@a.test %d\n" % a.pw_uid),
                       ("vgids", "@a.test %d\n" % a.pw_gid)):
        with open(os.path.join(workdir, name), "w") as f:
            f.write(text)
    port = free_port()
    instance.write_config(main={
        "myhostname": "mx.test.invalid", "mydestination": "",
        "virtual_mailbox_domains": "a.test",
        "virtual_mailbox_maps": "texthash:" + workdir + "/vmailbox",
        "virtual_uid_maps": "texthash:" + workdir + "/vuids",
        "virtual_gid_maps": "texthash:" + workdir + "/vgids",
        "virtual_mailbox_base": base, "virtual_minimum_uid": "100",
        "minimal_backoff_time": "300s", "queue_run_delay": "300s"},
        services=[
            "127.0.0.1:%d inet n - y - - smtpd" % port,
            "qmgr unix n - n 300 1 qmgr",
            "cleanup unix n - n - 0 cleanup",
            "virtual unix - n n - - virtual",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
        ])
    instance.start(foreground=True)

    wait_smtp(instance, port)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.sendmail("s@example.org", ["carol@a.test"], BODY)
    rx = re.compile(r"to=<carol@a\.test>, relay=virtual.*dsn=4\.2\.0.*"
                    r"status=deferred.*not owned by recipient")
    assert wait_for(lambda: rx.search(instance.read_log()), 20), \
        instance.read_log()
    assert re.search(r"warning: .*carol\.mbox.*owner uid %d.*recipient uid %d"
                     % (b.pw_uid, a.pw_uid), instance.read_log())
    assert os.path.getsize(box) == 0


# -- finding 3: root's mailbox belongs to root ----------------------------

def test_local_root_mailbox_is_owned_by_root(mta):
    # postmaster -> root, as the shipped aliases do.
    mta.start(aliases="postmaster: root\n")
    to = rcpt("postmaster")
    mta.send([to], BODY)
    mta.wait_status(to, "sent")
    mta.wait_status(rcpt("root"), "sent")
    box = os.path.join(mta.spool, "root")
    st = os.stat(box)
    assert (st.st_uid, st.st_gid) == (0, 0)
    assert b"Delivered-To: " + rcpt("root").encode() in open(box, "rb").read()


def test_local_root_maildir_in_root_only_spool(mta, workdir):
    # Like `make run` from a clone under /root: only root can enter the
    # spool; root's own Maildir must still be written (as root).
    spool = os.path.join(workdir, "rootonly", "mail")
    os.makedirs(spool)
    os.chmod(os.path.join(workdir, "rootonly"), 0o700)
    mta.start(mail_spool_directory=spool + "/")
    to = rcpt("root")
    mta.send([to], BODY)
    line = mta.wait_status(to, "(?:sent|bounced|deferred)")
    assert "status=sent" in line, line
    assert "//" not in line
    files = maildir_files(spool, "root")
    assert len(files) == 1
    assert os.stat(files[0]).st_uid == 0


def test_local_root_alias_commands_still_run_as_default_privs(mta, workdir):
    out = os.path.join(workdir, "pub")
    os.makedirs(out)
    os.chmod(out, 0o1777)
    mta.start(aliases='rootcmd: "|id -u > %s/id"\n' % out)
    mta.send([rcpt("rootcmd")], BODY)
    mta.wait_status(rcpt("rootcmd"), "sent")
    assert open(os.path.join(out, "id")).read().strip() == \
        str(pwd.getpwnam("nobody").pw_uid)


# -- finding 9: command_time_limit bounds the whole run -------------------

def test_local_command_that_closes_output_is_killed_at_time_limit(mta):
    mark = "1000.%d" % (os.getpid() % 997)
    mta.start(aliases='quiet: "|exec >/dev/null 2>&1; sleep %s"\n'
              'halfq: "|exec >&-; sleep %s1"\n'
              'forker: "|(exec >/dev/null 2>&1; sleep %s2 &); '
              'exec >/dev/null 2>&1; sleep %s3"\n' % (mark, mark, mark, mark),
              command_time_limit="3s")
    start = time.time()
    mta.send([rcpt("quiet"), rcpt("halfq"), rcpt("forker")], BODY)
    for who in ("quiet", "halfq", "forker"):
        line = mta.wait_status(rcpt(who), "bounced", 40)
        assert "dsn=5.3.0" in line and "time limit" in line, line
    assert time.time() - start < 30
    # The command and everything it left in its process group are gone.
    assert wait_for(lambda: not procs_mentioning("sleep " + mark), 10), \
        procs_mentioning("sleep " + mark)


# -- finding 10 and 15d: .forward files are read whole --------------------

def test_local_forward_over_4000_bytes_reaches_the_end(mta, users):
    u, v = users("fl"), users("fm")
    fwd = os.path.join(u.pw_dir, ".forward")
    with open(fwd, "w") as f:
        for i in range(120):
            f.write("# comment line %03d padding padding padding padding\n" % i)
        f.write("%s\n" % v.pw_name)
    own(fwd, u)
    assert os.path.getsize(fwd) > 5000
    mta.start(home_mailbox="Maildir/")
    to = rcpt(u.pw_name)
    mta.send([to], BODY)
    line = mta.wait_status(to, "sent")
    assert "forwarded as" in line, line
    assert wait_for(lambda: len(maildir_files(v.pw_dir)) == 1, 20), mta.log()
    assert maildir_files(u.pw_dir) == []


def test_local_forward_over_the_limit_defers_with_reason(mta, users):
    u = users("fo")
    fwd = os.path.join(u.pw_dir, ".forward")
    with open(fwd, "w") as f:
        f.write("# x\n" * 1500 + "nobody-else\n")
    own(fwd, u)
    mta.start(home_mailbox="Maildir/", forward_file_size_limit="4096")
    to = rcpt(u.pw_name)
    mta.send([to], BODY)
    line = mta.wait_status(to, "deferred")
    assert "larger than forward_file_size_limit" in line, line
    assert wait_for(lambda: "larger than forward_file_size_limit"
                    in postelqueue_p(mta), 20), postelqueue_p(mta)
    assert to in postelqueue_p(mta)
    assert maildir_files(u.pw_dir) == []


def test_local_include_file_is_read_whole(mta, users, workdir):
    v = users("im")
    inc = os.path.join(workdir, "big.inc")
    with open(inc, "w") as f:
        f.write("# padding line for a long include file .........\n" * 120)
        f.write("%s\n" % v.pw_name)
    os.chmod(inc, 0o644)
    mta.start(aliases="biglist: :include:%s\n" % inc, home_mailbox="Maildir/")
    mta.send([rcpt("biglist")], BODY)
    mta.wait_status(rcpt("biglist"), "sent")
    assert wait_for(lambda: len(maildir_files(v.pw_dir)) == 1, 20), mta.log()


def test_local_forward_with_only_comments_delivers_to_mailbox(mta, users):
    u = users("fe")
    fwd = os.path.join(u.pw_dir, ".forward")
    with open(fwd, "w") as f:
        f.write("# nothing here\n\n")
    own(fwd, u)
    mta.start(home_mailbox="Maildir/")
    mta.send([rcpt(u.pw_name)], BODY)
    mta.wait_status(rcpt(u.pw_name), "sent")
    assert len(maildir_files(u.pw_dir)) == 1


def test_local_forward_that_is_a_folder_is_no_forward(mta, users):
    u = users("fd")
    os.makedirs(os.path.join(u.pw_dir, ".forward"))
    mta.start(home_mailbox="Maildir/")
    mta.send([rcpt(u.pw_name)], BODY)
    line = mta.wait_status(rcpt(u.pw_name), "sent")
    assert "delivered to maildir" in line
    assert len(maildir_files(u.pw_dir)) == 1


# -- finding 11: expansion filters ----------------------------------------

def test_local_extension_cannot_walk_out_of_forward_path(mta, users):
    u, v = users("ft"), users("fu")
    # "/" in an extension would make forward_path name a file of the
    # sender's choosing (~u/.forward+x/evil here; with ".." anywhere).
    os.makedirs(os.path.join(u.pw_dir, ".forward+x"))
    evil = os.path.join(u.pw_dir, ".forward+x", "evil")
    with open(evil, "w") as f:
        f.write("%s\n" % v.pw_name)
    own(evil, u)
    mta.start(home_mailbox="Maildir/", local_recipient_maps="")
    to = "%s+x/evil@%s" % (u.pw_name, HOST)
    mta.send([to], BODY)
    mta.wait_status(to, "sent")
    assert wait_for(lambda: len(maildir_files(u.pw_dir)) == 1, 10), mta.log()
    time.sleep(1)
    assert maildir_files(v.pw_dir) == []
    assert "address with illegal extension" in mta.log()


def test_local_forward_expansion_filter_replaces_characters(mta, users):
    u, v = users("fx"), users("fy")
    # Extension "a&b" reaches forward_path as "a_b".
    fwd = os.path.join(u.pw_dir, ".forward+a_b")
    with open(fwd, "w") as f:
        f.write("%s\n" % v.pw_name)
    own(fwd, u)
    mta.start(home_mailbox="Maildir/", local_recipient_maps="")
    to = "%s+a&b@%s" % (u.pw_name, HOST)
    mta.send([to], BODY)
    assert wait_for(lambda: len(maildir_files(v.pw_dir)) == 1, 20), mta.log()


def test_local_command_environment_is_censored(mta, users, workdir):
    u = users("ce")
    pub = os.path.join(workdir, "pub")
    os.makedirs(pub)
    os.chmod(pub, 0o1777)
    out = os.path.join(pub, "env")
    mta.start(mailbox_command="env > %s" % out, local_recipient_maps="")
    to = "%s+a`id`$HOME|x&y'z@%s" % (u.pw_name, HOST)
    mta.send([to], BODY)
    assert wait_for(lambda: os.path.exists(out) and
                    "EXTENSION=" in open(out).read(), 20), mta.log()
    env = dict(l.split("=", 1) for l in open(out).read().splitlines()
               if "=" in l)
    assert env["EXTENSION"] == "a_id__home_x_y_z"
    assert env["RECIPIENT"] == "%s+a_id__HOME_x_y_z@%s" % (u.pw_name, HOST)


# -- finding 13: Maildir that cannot take the file defers -----------------

def test_local_maildir_new_unwritable_defers_and_keeps_mail(mta, users):
    u = users("mn")
    new = os.path.join(u.pw_dir, "Maildir", "new")
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(u.pw_dir, "Maildir", sub))
        own(os.path.join(u.pw_dir, "Maildir", sub), u)
    own(os.path.join(u.pw_dir, "Maildir"), u)
    os.chmod(new, 0o500)
    mta.start(home_mailbox="Maildir/")
    to = rcpt(u.pw_name)
    mta.send([to], BODY)
    line = mta.wait_status(to, "deferred")
    assert "dsn=4.2.0" in line, line
    assert os.listdir(new) == []
    assert os.listdir(os.path.join(u.pw_dir, "Maildir", "tmp")) == []
    assert to in postelqueue_p(mta)


def test_local_maildir_new_unreadable_is_not_reported_delivered(mta, users):
    # new/ without read permission: the rename works but the folder can
    # neither be opened nor fsync()ed, so success would be a lie.
    u = users("mr")
    new = os.path.join(u.pw_dir, "Maildir", "new")
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(u.pw_dir, "Maildir", sub))
        own(os.path.join(u.pw_dir, "Maildir", sub), u)
    own(os.path.join(u.pw_dir, "Maildir"), u)
    os.chmod(new, 0o300)
    mta.start(home_mailbox="Maildir/")
    to = rcpt(u.pw_name)
    mta.send([to], BODY)
    line = mta.wait_status(to, "deferred")
    assert "cannot open maildir folder" in line, line
    assert os.listdir(new) == []
    assert to in postelqueue_p(mta)


def test_local_maildir_new_is_a_file_defers(mta, users):
    u = users("mf")
    md = os.path.join(u.pw_dir, "Maildir")
    for sub in ("tmp", "cur"):
        os.makedirs(os.path.join(md, sub))
        own(os.path.join(md, sub), u)
    open(os.path.join(md, "new"), "w").close()
    own(md, u)
    mta.start(home_mailbox="Maildir/")
    to = rcpt(u.pw_name)
    mta.send([to], BODY)
    mta.wait_status(to, "deferred")
    assert os.listdir(os.path.join(md, "tmp")) == []
    assert to in postelqueue_p(mta)


# -- finding 15b: mailbox_command sees SENDER and RECIPIENT ----------------

def test_local_mailbox_command_shell_variables_from_main_cf(mta, users,
                                                            workdir):
    u = users("me")
    pub = os.path.join(workdir, "pub")
    os.makedirs(pub)
    os.chmod(pub, 0o1777)
    out = os.path.join(pub, "args")
    # The dovecot-lda idiom: "$SENDER" and "$RECIPIENT" are for the shell.
    mta.start(mailbox_command='printf "%s|%s|%s\\n" "$SENDER" '
              '"$RECIPIENT" "$ORIGINAL_RECIPIENT" > ' + out)
    to = rcpt(u.pw_name, "ext")
    mta.send([to], BODY)
    mta.wait_status(to, "sent")
    assert open(out).read() == "sender@example.org|%s|%s\n" % (to, to)


def test_local_export_environment_passes_only_named_variables(mta, users,
                                                              workdir):
    u = users("ex")
    pub = os.path.join(workdir, "pub")
    os.makedirs(pub)
    os.chmod(pub, 0o1777)
    out = os.path.join(pub, "env")
    mta.start(mailbox_command="env > " + out,
              import_environment="MAIL_CONFIG TZ LANG=C POSTEL_A=one "
              "POSTEL_B=two",
              export_environment="TZ MAIL_CONFIG LANG POSTEL_A")
    mta.send([rcpt(u.pw_name)], BODY)
    mta.wait_status(rcpt(u.pw_name), "sent")
    env = dict(l.split("=", 1) for l in open(out).read().splitlines()
               if "=" in l)
    assert env["POSTEL_A"] == "one" and env["LANG"] == "C"
    assert "POSTEL_B" not in env
    assert env["SENDER"] == "sender@example.org"
    assert env["CLIENT_ADDRESS"] == "127.0.0.1"


# -- expand_owner_alias, owner_request_special, propagate_unmatched_extensions

def test_local_expand_owner_alias_uses_the_owner_expansion(mta, users):
    a, o = users("ea"), users("eo")
    mta.start(aliases="elist: %s\nowner-elist: %s\n" % (a.pw_name, o.pw_name),
              expand_owner_alias="yes", home_mailbox="Maildir/")
    mta.send([rcpt("elist")], BODY)
    mta.wait_status(rcpt("elist"))
    assert wait_for(lambda: len(maildir_files(a.pw_dir)) == 1, 20), mta.log()
    head = open(maildir_files(a.pw_dir)[0], "rb").read().split(b"\n")[0]
    assert head == b"Return-Path: <%s@%s>" % (o.pw_name.encode(),
                                              HOST.encode())


def test_local_owner_request_special(mta, users):
    u = users("rq")
    mta.start(recipient_delimiter="-", local_recipient_maps="",
              home_mailbox="Maildir/")
    to = "%s-request@%s" % (u.pw_name, HOST)
    mta.send([to], BODY)
    line = mta.wait_status(to, "bounced")
    assert "dsn=5.1.1" in line
    assert maildir_files(u.pw_dir) == []


def test_local_owner_request_special_off_splits(mta, users):
    u = users("rr")
    mta.start(recipient_delimiter="-", local_recipient_maps="",
              home_mailbox="Maildir/", owner_request_special="no")
    to = "%s-request@%s" % (u.pw_name, HOST)
    mta.send([to], BODY)
    mta.wait_status(to, "sent")
    assert len(maildir_files(u.pw_dir)) == 1


def test_local_propagate_unmatched_extensions_alias_and_forward(mta, users):
    v, w, f = users("pv"), users("pw"), users("pf")
    fwd = os.path.join(f.pw_dir, ".forward")
    with open(fwd, "w") as fh:
        fh.write("%s\n" % w.pw_name)
    own(fwd, f)
    mta.start(aliases="plist: %s\n" % v.pw_name, home_mailbox="Maildir/",
              propagate_unmatched_extensions="canonical, virtual, alias, "
              "forward")
    mta.send([rcpt("plist", "t1"), rcpt(f.pw_name, "t2")], BODY)
    mta.wait_status(rcpt(v.pw_name, "t1"), "sent")
    mta.wait_status(rcpt(w.pw_name, "t2"), "sent")


def test_local_unmatched_extensions_not_propagated_by_default(mta, users):
    v = users("pd")
    mta.start(aliases="dlist: %s\n" % v.pw_name, home_mailbox="Maildir/")
    mta.send([rcpt("dlist", "t3")], BODY)
    mta.wait_status(rcpt(v.pw_name), "sent")
    assert rcpt(v.pw_name, "t3") not in mta.log()


# -- mailbox_transport and fallback_transport ------------------------------

def pipe_service(workdir, name):
    """A pipe(8) service that appends "nexthop recipient" and the message
    to workdir/pub/NAME.out."""
    pub = os.path.join(workdir, "pub")
    os.makedirs(pub, exist_ok=True)
    os.chmod(pub, 0o1777)
    script = os.path.join(workdir, name + ".sh")
    with open(script, "w") as f:
        f.write('#!/bin/sh\n{ echo "$1 $2"; cat; } >> %s/%s.out\n'
                % (pub, name))
    os.chmod(script, 0o755)
    return (os.path.join(pub, name + ".out"),
            "%s unix - n n - - pipe flags=R user=nobody "
            "argv=%s ${nexthop} ${recipient}" % (name, script))


def test_local_mailbox_transport_takes_every_local_recipient(mta, users,
                                                             workdir):
    u = users("mt")
    out, svc = pipe_service(workdir, "mbxpipe")
    mta.start(mailbox_transport="mbxpipe:box.example", local_recipient_maps="",
              home_mailbox="Maildir/", extra_services=[svc])
    to, unknown = rcpt(u.pw_name), rcpt("nosuchuser")
    mta.send([to, unknown], BODY)
    line = local_line(mta, to, "sent")
    assert "delivered via mbxpipe service" in line
    local_line(mta, unknown, "sent")
    text = open(out).read()
    assert "box.example %s\n" % to in text
    assert "box.example %s\n" % unknown in text
    assert "Return-Path: <sender@example.org>" in text
    assert maildir_files(u.pw_dir) == []


def test_local_fallback_transport_takes_unknown_users_only(mta, users,
                                                           workdir):
    u = users("ft")
    out, svc = pipe_service(workdir, "fbpipe")
    mta.start(fallback_transport="fbpipe", local_recipient_maps="",
              home_mailbox="Maildir/", extra_services=[svc])
    to, unknown = rcpt(u.pw_name), rcpt("nosuchuser")
    mta.send([to, unknown], BODY)
    local_line(mta, to, "sent")
    line = local_line(mta, unknown, "sent")
    assert "delivered via fbpipe service" in line
    # No nexthop in the setting: the one qmgr gave local.
    assert open(out).read().startswith("%s %s\n" % (HOST, unknown))
    assert len(maildir_files(u.pw_dir)) == 1


def test_local_fallback_transport_unreachable_defers(mta, users):
    mta.start(fallback_transport="nosuchservice", local_recipient_maps="")
    to = rcpt("nosuchuser")
    mta.send([to], BODY)
    line = mta.wait_status(to, "deferred")
    assert "dsn=4.3.0" in line and "nosuchservice" in line


def test_cleanup_virtual_alias_propagates_unmatched_extension(mta, users):
    u = users("va")
    # Default propagate_unmatched_extensions = canonical, virtual.
    mta.start(virtual_alias_maps="inline:{ vjoe@%s=%s@%s }"
              % (HOST, u.pw_name, HOST), local_recipient_maps="",
              home_mailbox="Maildir/")
    mta.send(["vjoe+tag@" + HOST], BODY)
    mta.wait_status(rcpt(u.pw_name, "tag"), "sent")
    data = open(maildir_files(u.pw_dir)[0], "rb").read()
    assert b"Delivered-To: " + rcpt(u.pw_name, "tag").encode() in data


def test_cleanup_virtual_alias_extension_dropped_without_class(mta, users):
    u = users("vb")
    mta.start(virtual_alias_maps="inline:{ vjoe@%s=%s@%s }"
              % (HOST, u.pw_name, HOST), local_recipient_maps="",
              home_mailbox="Maildir/", propagate_unmatched_extensions="")
    mta.send(["vjoe+tag@" + HOST], BODY)
    mta.wait_status(rcpt(u.pw_name), "sent")


def test_pipe_export_environment(mta, users, workdir):
    pub = os.path.join(workdir, "pub")
    os.makedirs(pub, exist_ok=True)
    os.chmod(pub, 0o1777)
    script = os.path.join(workdir, "envpipe.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\nenv > %s/pipe.env\ncat > /dev/null\n" % pub)
    os.chmod(script, 0o755)
    mta.start(mailbox_transport="envpipe", local_recipient_maps="",
              import_environment="MAIL_CONFIG TZ LANG=C POSTEL_A=one "
              "POSTEL_B=two",
              export_environment="LANG POSTEL_A",
              extra_services=["envpipe unix - n n - - pipe user=nobody "
                              "argv=%s" % script])
    to = rcpt("anyone")
    mta.send([to], BODY)
    local_line(mta, to, "sent")
    env = dict(l.split("=", 1) for l in
               open(os.path.join(pub, "pipe.env")).read().splitlines()
               if "=" in l)
    assert env["POSTEL_A"] == "one" and env["LANG"] == "C"
    assert "POSTEL_B" not in env and "MAIL_CONFIG" not in env
    assert env["PATH"] == "/usr/bin:/bin" and env["USER"] == "nobody"


def test_local_mailbox_transport_naming_local_itself_defers(mta, users):
    u = users("ms")
    mta.start(mailbox_transport="local")
    to = rcpt(u.pw_name)
    mta.send([to], BODY)
    line = local_line(mta, to, "deferred")
    assert "dsn=4.3.5" in line and "bad transport" in line
