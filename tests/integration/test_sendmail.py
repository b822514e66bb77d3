# sendmail(1) and postdrop(1): local submission into maildrop/, then through
# pickup and cleanup into incoming/.
#
# SPDX-License-Identifier: ISC
import fcntl
import os
import pwd
import shutil
import subprocess

import pytest

from conftest import bin_path, stage_commands, wait_for

SERVICES = [
    "pickup unix n - y 60 1 pickup",
    "cleanup unix n - y - 0 cleanup",
]
SAN = os.environ.get("POSTEL_SAN") == "1"
# A fatal exit leaves memory behind on purpose; LeakSanitizer must not turn
# the sysexits code into 1 (commands run directly by the test only).
SAN_ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=0") if SAN else None


def start(instance, services=SERVICES, main=None):
    instance.write_config(main=dict({"myhostname": "host.example.com",
                                     "mydomain": "example.com"},
                                    **(main or {})),
                          services=services)
    instance.start(foreground=True)
    # postdrop wakes pickup through its socket: wait until it is there.
    assert wait_for(lambda: os.path.exists(
        instance.unix_path("pickup", private=False)))


def sendmail(instance, args, data=b"", user=None, env=None):
    folder = instance.main.get("command_directory") if user else None
    argv = [os.path.join(folder, "sendmail") if folder
            else bin_path("sendmail"), "-C", instance.confdir] + list(args)
    if user is not None:
        argv = ["runuser", "-u", user, "--"] + argv
    return subprocess.run(argv, input=data, capture_output=True,
                          timeout=30, env=env)


def queue_files(instance, queue):
    path = os.path.join(instance.queue, queue)
    if not os.path.isdir(path):
        return []
    # Temporary files (postdrop's, cleanup's) have a "." in their name.
    return sorted(n for n in os.listdir(path) if "." not in n)


def wait_queued(instance, count=1):
    assert wait_for(lambda: len(queue_files(instance, "incoming")) >= count,
                    timeout=10), instance.read_log()
    return queue_files(instance, "incoming")


def postelcat(instance, *args):
    r = subprocess.run([bin_path("postelcat"), "-c", instance.confdir]
                       + list(args), capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_sendmail_t_takes_recipients_from_headers_and_strips_bcc(instance):
    start(instance)
    msg = (b"From: alice@example.com\nTo: bob@example.com\n"
           b"Cc: carol@example.com\nBcc: secret@example.net\n"
           b"Subject: hello\n\nbody line 1\nbody line 2\n")
    r = sendmail(instance, ["-t", "-f", "alice@example.com"], msg)
    assert r.returncode == 0, r.stderr
    qid = wait_queued(instance)[0]
    env = postelcat(instance, "-e", "-q", qid).decode()
    for rcpt in ("bob@example.com", "carol@example.com",
                 "secret@example.net"):
        assert "recipient: %s\n" % rcpt in env
    assert "sender: alice@example.com\n" in env
    header = postelcat(instance, "-r", "-h", "-q", qid)
    assert b"Bcc:" not in header and b"secret" not in header
    assert b"Subject: hello\r\n" in header
    body = postelcat(instance, "-r", "-b", "-q", qid)
    assert body == b"body line 1\r\nbody line 2\r\n"
    assert not queue_files(instance, "maildrop")


def test_sendmail_records_sender_full_name_uid_and_dsn_in_maildrop(instance):
    # No master: the file stays in maildrop/ where we can read it.
    instance.write_config(services=SERVICES)
    instance.set_permissions()
    r = sendmail(instance, ["-f", "<>", "-F", "Alice Example", "-N",
                            "success,failure", "-R", "hdrs", "-V", "env-1",
                            "bob@example.com", "Joe <joe@example.org>"],
                 b"Subject: x\n\nhi\n")
    assert r.returncode == 0, r.stderr
    # postdrop could not wake pickup and says so, but queued the mail.
    assert b"unable to wake up" in r.stderr
    files = queue_files(instance, "maildrop")
    assert len(files) == 1
    path = os.path.join(instance.queue, "maildrop", files[0])
    st = os.stat(path)
    assert st.st_uid == os.getuid() and st.st_mode & 0o777 == 0o644
    env = subprocess.run([bin_path("postelcat"), "-e", path],
                         capture_output=True, text=True).stdout
    assert "sender: \n" in env
    assert "uid: %d\n" % os.getuid() in env
    assert "fullname: Alice Example\n" in env
    assert "dsn_envid: env-1\n" in env and "dsn_ret: HDRS\n" in env
    assert env.count("dsn_notify_flags: 6\n") == 2
    assert "recipient: bob@example.com\n" in env
    assert "recipient: joe@example.org\n" in env
    body = subprocess.run([bin_path("postelcat"), "-r", path],
                          capture_output=True).stdout
    assert body == b"Subject: x\r\n\r\nhi\r\n"


def test_sendmail_content_is_crlf_and_byte_exact(instance):
    instance.write_config(services=SERVICES)
    instance.set_permissions()
    long_line = b"x" * 3000000  # longer than one postdrop frame
    data = (b"Subject: t\n\nCRLF line\r\nbare\rcr\n" + long_line +
            b"\n..two dots\n.\n")
    r = sendmail(instance, ["-i", "u@example.com"], data + b"no newline")
    assert r.returncode == 0, r.stderr
    path = os.path.join(instance.queue, "maildrop",
                        queue_files(instance, "maildrop")[0])
    out = subprocess.run([bin_path("postelcat"), "-r", path],
                         capture_output=True).stdout
    assert out == (b"Subject: t\r\n\r\nCRLF line\r\nbare\r\ncr\r\n" +
                   long_line + b"\r\n..two dots\r\n.\r\nno newline\r\n")


def test_sendmail_lone_dot_ends_input_unless_i(instance):
    instance.write_config(services=SERVICES)
    instance.set_permissions()
    r = sendmail(instance, ["u@example.com"], b"a\n.\nnot sent\n")
    assert r.returncode == 0, r.stderr
    r = sendmail(instance, ["-oi", "u@example.com"], b"a\n.\nsent\n")
    assert r.returncode == 0, r.stderr
    bodies = []
    for name in queue_files(instance, "maildrop"):
        path = os.path.join(instance.queue, "maildrop", name)
        bodies.append(subprocess.run([bin_path("postelcat"), "-r", path],
                                     capture_output=True).stdout)
    assert sorted(bodies) == [b"a\r\n", b"a\r\n.\r\nsent\r\n"]


@pytest.mark.parametrize("args,code,text", [
    (["bad address@@x"], 67, b"bad recipient address"),
    (["-f", "a@@b", "u@example.com"], 67, b"bad sender address"),
    ([], 64, b"no recipients"),
    (["-N", "sometimes", "u@example.com"], 64, b"-N"),
    (["-R", "most", "u@example.com"], 64, b"-R"),
    (["-bz"], 64, b"unsupported"),
])
def test_sendmail_usage_errors_name_the_cause(instance, args, code, text):
    instance.write_config(services=SERVICES)
    r = sendmail(instance, args, b"x\n")
    assert r.returncode == code, r.stderr
    assert text in r.stderr
    assert not queue_files(instance, "maildrop")


def smtp_exchange(proc, line, expect):
    """Send one command line, read one (possibly multi-line) reply."""
    if line is not None:
        proc.stdin.write(line)
        proc.stdin.flush()
    reply = b""
    while True:
        got = proc.stdout.readline()
        assert got, reply
        reply += got
        if got[3:4] != b"-":
            break
    assert reply.startswith(expect), reply
    return reply


def test_sendmail_bs_smtp_session_queues_through_postdrop(instance):
    start(instance)
    proc = subprocess.Popen([bin_path("sendmail"), "-C", instance.confdir,
                             "-bs"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        smtp_exchange(proc, None, b"220 ")
        assert b"250-PIPELINING" in smtp_exchange(proc, b"EHLO me\r\n",
                                                  b"250")
        smtp_exchange(proc, b"DATA\r\n", b"503 5.5.1")
        smtp_exchange(proc, b"MAIL FROM:<a@example.com> ENVID=e1\r\n",
                      b"250 2.1.0")
        smtp_exchange(proc, b"MAIL FROM:<a@example.com>\r\n", b"503")
        smtp_exchange(proc, b"RCPT TO:<bad@@x>\r\n", b"501 5.1.3")
        smtp_exchange(proc, b"RCPT TO:<b@example.com> NOTIFY=NEVER\r\n",
                      b"250 2.1.5")
        smtp_exchange(proc, b"DATA\r\n", b"354")
        smtp_exchange(proc, b"Subject: bs\r\n\r\n..stuffed\r\nend\r\n"
                      b".\r\n", b"250 2.0.0")
        smtp_exchange(proc, b"NOOP\r\n", b"250")
        smtp_exchange(proc, b"VRFY x\r\n", b"502")
        # Pipelined second message, ends with QUIT.
        proc.stdin.write(b"MAIL FROM:<>\r\nRCPT TO:<c@example.com>\r\n"
                         b"DATA\r\nSubject: two\r\n\r\nsecond\r\n.\r\n"
                         b"QUIT\r\n")
        proc.stdin.flush()
        for expect in (b"250", b"250", b"354", b"250 2.0.0", b"221"):
            smtp_exchange(proc, None, expect)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    files = wait_queued(instance, 2)
    bodies = sorted(postelcat(instance, "-r", "-b", "-q", f) for f in files)
    assert bodies == [b".stuffed\r\nend\r\n", b"second\r\n"]
    envs = [postelcat(instance, "-e", "-q", f).decode() for f in files]
    assert any("dsn_envid: e1" in e and "sender: a@example.com" in e
               for e in envs)
    assert any("sender: \n" in e and "recipient: c@example.com" in e
               for e in envs)


def test_sendmail_bs_limits_line_length_and_errors(instance):
    instance.write_config(services=SERVICES)
    data = (b"HELO x\r\n" + b"NOOP " + b"a" * 10000 + b"\r\n" +
            b"BOGUS\r\n" * 30 + b"QUIT\r\n")
    r = sendmail(instance, ["-bs"], data)
    assert r.returncode == 0
    assert b"500 5.5.2 Error: line too long" in r.stdout
    assert b"421 4.7.0" in r.stdout
    assert b"221" not in r.stdout


def test_postdrop_rejects_garbage_and_leaves_no_file(instance):
    instance.write_config(services=SERVICES)
    instance.set_permissions()
    for data in (b"", b"garbage", b"10:7:request,", b"0:,"):
        r = subprocess.run([bin_path("postdrop"), "-c", instance.confdir],
                           input=data, capture_output=True, timeout=10,
                           env=SAN_ENV)
        assert r.returncode == 65, (data, r.stderr)
        assert b"input from sendmail" in r.stderr or \
            b"malformed input" in r.stderr
    assert os.listdir(os.path.join(instance.queue, "maildrop")) == []


def test_postdrop_tempfails_when_the_queue_is_missing(instance):
    instance.write_config(services=SERVICES)
    r = sendmail(instance, ["u@example.com"], b"x\n")
    assert r.returncode == 75, r.stderr
    assert b"maildrop" in r.stderr


@pytest.fixture
def default_config():
    """/etc/postel/main.cf for the test, the setgid postdrop's trust
    anchor: test runs on this machine take turns (a lock), and what was
    there before is put back afterwards."""
    folder, path = "/etc/postel", "/etc/postel/main.cf"
    with open("/tmp/postel-test-etc-postel.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        made = not os.path.isdir(folder)
        os.makedirs(folder, exist_ok=True)
        saved = None
        if os.path.exists(path):
            with open(path, "rb") as f:
                saved = f.read()
        try:
            yield path
        finally:
            if made:
                shutil.rmtree(folder, ignore_errors=True)
            elif saved is not None:
                with open(path, "wb") as f:
                    f.write(saved)
            else:
                os.unlink(path)


@pytest.mark.needs("runuser")
@pytest.mark.needs("root")
@pytest.mark.skipif(SAN, reason="sanitizers do not run in setgid programs")
def test_sendmail_as_ordinary_user_goes_through_setgid_postdrop(
        instance, default_config):
    # nobody runs sendmail and postdrop: copies it can reach, wherever the
    # clone is.
    start(instance, main={"command_directory": stage_commands(
        instance.workdir, ["sendmail", "postdrop"])})
    postdrop = os.stat(os.path.join(instance.main["command_directory"],
                                    "postdrop"))
    assert postdrop.st_mode & 0o2000, "postdrop is not setgid"
    nobody = pwd.getpwnam("nobody").pw_uid
    # An unlisted configuration folder is refused by the setgid postdrop.
    with open(default_config, "w") as f:
        f.write("alternate_config_directories =\n")
    r = sendmail(instance, ["u@example.com"], b"Subject: 1\n\nx\n",
                 user="nobody")
    assert r.returncode == 77, r.stderr
    assert b"untrusted configuration folder" in r.stderr
    # Listed: accepted, and pickup logs the submitting uid.
    with open(default_config, "w") as f:
        f.write("alternate_config_directories = /nowhere, %s\n"
                % instance.confdir)
    r = sendmail(instance, ["u@example.com"], b"Subject: 2\n\nx\n",
                 user="nobody")
    assert r.returncode == 0, r.stderr
    qid = wait_queued(instance)[0]
    assert wait_for(lambda: "%s: uid=%d from=<nobody>" % (qid, nobody)
                    in instance.read_log()), instance.read_log()
    # A user cannot write maildrop/ without postdrop's group.
    r = subprocess.run(["runuser", "-u", "nobody", "--", "touch",
                        os.path.join(instance.queue, "maildrop", "x")],
                       capture_output=True)
    assert r.returncode != 0


def test_mailq_and_newaliases_entry_points_run_their_commands(instance):
    instance.write_config(services=SERVICES,
                          main={"alias_database": "hash:%s/aliases"
                                % instance.workdir})
    with open(os.path.join(instance.workdir, "aliases"), "w") as f:
        f.write("postmaster: root\n")
    r = sendmail(instance, ["-bi"])
    assert r.returncode == 0, r.stderr
    assert os.path.exists(os.path.join(instance.workdir, "aliases.db"))
    r = sendmail(instance, ["-q"])
    assert r.returncode != 0
    assert b"not running" in r.stderr


def test_mailq_and_postelqueue_list_the_queue(instance):
    import json
    instance.write_config(services=SERVICES)
    instance.set_permissions()
    r = sendmail(instance, ["-bp"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"Mail queue is empty\n"
    for sender in ("a@example.com", "<>"):
        r = sendmail(instance, ["-f", sender, "x@example.com",
                                "y@example.com"], b"Subject: q\n\nbody\n")
        assert r.returncode == 0, r.stderr
    first, second = queue_files(instance, "maildrop")
    os.rename(os.path.join(instance.queue, "maildrop", second),
              os.path.join(instance.queue, "hold", second))
    r = subprocess.run([bin_path("mailq"), "-C", instance.confdir],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("-Queue ID-")
    assert lines[1].startswith(first + " ") and "a@example.com" in lines[1]
    assert lines[2].strip() == "x@example.com"
    held = [line for line in lines if line.startswith(second)]
    assert held and held[0].startswith(second + "!")
    assert "MAILER-DAEMON" in held[0]
    assert lines[-1] == "-- 1 Kbytes in 2 Requests."
    r = subprocess.run([bin_path("postelqueue"), "-c", instance.confdir,
                        "-j"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    objs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o["queue_name"] for o in objs] == ["maildrop", "hold"]
    assert objs[0]["queue_id"] == first
    assert objs[0]["sender"] == "a@example.com"
    assert objs[0]["message_size"] == len(b"Subject: q\r\n\r\nbody\r\n")
    assert objs[0]["forced_expire"] is False
    assert isinstance(objs[0]["arrival_time"], int)
    assert [x["address"] for x in objs[1]["recipients"]] == \
        ["x@example.com", "y@example.com"]
    assert objs[1]["sender"] == ""


def netstring(data):
    return b"%d:%s," % (len(data), data)


def frame(**attrs):
    return netstring(b"".join(netstring(k.encode()) + netstring(v)
                              for k, v in attrs.items()))


def test_postdrop_survives_mutated_input_streams(instance):
    import random
    instance.write_config(services=SERVICES)
    instance.set_permissions()
    good = (frame(request=b"envelope", sender=b"a@example.com",
                  extract=b"0", ret=b"0", fullname=b"A")
            + frame(request=b"rcpt", addr=b"b@example.com", notify=b"2")
            + frame(request=b"data", data=b"Subject: x\r\n\r\nhi\r\n")
            + frame(request=b"end"))
    maildrop = os.path.join(instance.queue, "maildrop")
    r = subprocess.run([bin_path("postdrop"), "-c", instance.confdir],
                       input=good, capture_output=True, env=SAN_ENV)
    assert r.returncode == 0, r.stderr
    assert len(os.listdir(maildrop)) == 1
    rng = random.Random(3)
    codes = set()
    for i in range(150):
        data = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            op = rng.randrange(3)
            pos = rng.randrange(len(data))
            if op == 0:
                data[pos] = rng.randrange(256)
            elif op == 1:
                del data[pos:pos + rng.randint(1, 8)]
            else:
                data[pos:pos] = bytes([rng.randrange(256)])
        r = subprocess.run([bin_path("postdrop"), "-c", instance.confdir],
                           input=bytes(data), capture_output=True,
                           env=SAN_ENV, timeout=10)
        assert r.returncode in (0, 65), (bytes(data), r.returncode, r.stderr)
        codes.add(r.returncode)
    assert 65 in codes
    # Failures never leave a temporary file behind; what was accepted
    # is a well-formed maildrop file.
    for name in os.listdir(maildrop):
        assert "." not in name
        r = subprocess.run([bin_path("postelcat"),
                            os.path.join(maildrop, name)],
                           capture_output=True)
        assert r.returncode == 0, r.stderr


def test_killed_submission_leaves_nothing_in_maildrop(instance):
    import signal
    instance.write_config(services=SERVICES)
    instance.set_permissions()
    maildrop = os.path.join(instance.queue, "maildrop")
    proc = subprocess.Popen([bin_path("sendmail"), "-C", instance.confdir,
                             "u@example.com"], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=SAN_ENV)
    try:
        proc.stdin.write(b"Subject: half\n\n" + b"x" * 300000 + b"\n")
        proc.stdin.flush()
        # postdrop has its temporary file open: not yet a queue ID.
        assert wait_for(lambda: os.listdir(maildrop))
        assert all("." in n for n in os.listdir(maildrop))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # postdrop sees the end of its input and removes the file.
    assert wait_for(lambda: os.listdir(maildrop) == []), \
        os.listdir(maildrop)


def test_sendmail_full_name_goes_into_the_added_from_header(instance):
    start(instance)
    r = sendmail(instance, ["-F", "Alice Example", "-f", "alice@example.com",
                            "bob@example.com"], b"Subject: no from\n\nhi\n")
    assert r.returncode == 0, r.stderr
    r = sendmail(instance, ["-F", 'J. "Q" Public', "-f", "jq@example.com",
                            "bob@example.com"], b"Subject: quoted\n\nhi\n")
    assert r.returncode == 0, r.stderr
    headers = [postelcat(instance, "-r", "-h", "-q", qid)
               for qid in wait_queued(instance, 2)]
    froms = {l for h in headers for l in h.split(b"\r\n")
             if l.startswith(b"From: ")}
    assert froms == {b"From: Alice Example <alice@example.com>",
                     b'From: "J. \\"Q\\" Public" <jq@example.com>'}
