#!/usr/bin/python3
"""postscreen_compare - the same postscreen sessions against Debian's
Postfix and against Postel, and the postscreen log lines of both, side by
side with what differs.

Run as root after `make` (Postfix comes from bench/.cache, fetched by
bench.py with `apt-get download postfix` when missing):

    sudo /usr/bin/python3 bench/postscreen_compare.py

Each MTA runs in a throw-away folder (bench.py's instances) with
postscreen on a loopback port and smtpd behind it as the pass service,
postscreen_greet_action = enforce, the pipelining and non-SMTP command
tests on, and an empty access list.  The sessions, each from its own
127.0.0.x address: a client that talks before the banner and then tries
RCPT; one that hangs up in the greet wait; a clean client (PASS NEW),
which comes back (PASS OLD) and QUITs at smtpd; one that pipelines after
the greet wait; one that sends an HTTP request.  Lines are compared with
host, pid, port numbers and delays masked.  Exit status 0 when the two
sets of lines are the same.
"""
import os
import re
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

SETTINGS = {
    "postscreen_greet_action": "enforce",
    "postscreen_greet_wait": "2s",
    "postscreen_access_list": "",
    "postscreen_pipelining_enable": "yes",
    "postscreen_non_smtp_command_enable": "yes",
    "postscreen_non_smtp_command_action": "drop",
    "smtpd_banner": "$myhostname ESMTP",
}


def screened(mta):
    """Turn mta's smtpd line into postscreen + the smtpd pass service."""
    main = dict(SETTINGS)
    if mta.name == "postel":
        main["data_directory"] = os.path.join(mta.top, "data")
    with open(os.path.join(mta.conf, "main.cf"), "a") as f:
        for k, v in main.items():
            f.write("%s = %s\n" % (k, v))
    path = os.path.join(mta.conf, "master.cf")
    with open(path) as f:
        lines = f.read().splitlines()
    lines[0] = "127.0.0.1:%d inet n - n - 1 postscreen" % mta.port
    lines.insert(1, "smtpd pass - - n - - smtpd")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def connect(port, source):
    s = socket.create_connection(("127.0.0.1", port), timeout=10,
                                 source_address=(source, 0))
    return s


def read_until(s, text, timeout=10):
    s.settimeout(timeout)
    data = b""
    try:
        while text not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    return data


def sessions(port):
    # Talks before its turn, then is refused at RCPT.
    s = connect(port, "127.0.0.2")
    s.sendall(b"EHLO early.example\r\n")
    read_until(s, b"250 ")
    s.sendall(b"MAIL FROM:<a@early.example>\r\n")
    read_until(s, b"250 ")
    s.sendall(b"RCPT TO:<b@mta.bench.invalid>\r\n")
    read_until(s, b"550 ")
    s.sendall(b"QUIT\r\n")
    read_until(s, b"221 ")
    s.close()
    # Hangs up in the greet wait.
    s = connect(port, "127.0.0.3")
    read_until(s, b"\r\n")
    s.close()
    time.sleep(0.5)
    # Clean: passes the deep tests at RCPT (450), PASS NEW; comes back,
    # PASS OLD, and is handed to smtpd.
    s = connect(port, "127.0.0.4")
    read_until(s, b"220 ")
    for command, reply in ((b"EHLO clean.example", b"250 "),
                           (b"MAIL FROM:<a@clean.example>", b"250 "),
                           (b"RCPT TO:<b@mta.bench.invalid>", b"450 "),
                           (b"QUIT", b"221 ")):
        s.sendall(command + b"\r\n")
        read_until(s, reply)
    s.close()
    time.sleep(0.5)
    s = connect(port, "127.0.0.4")
    read_until(s, b"220 ")
    s.sendall(b"QUIT\r\n")
    read_until(s, b"221 ")
    s.close()
    time.sleep(0.5)
    # Pipelines after the greeting.
    s = connect(port, "127.0.0.5")
    read_until(s, b"220 ")
    s.sendall(b"EHLO pipe.example\r\nMAIL FROM:<a@pipe.example>\r\n")
    read_until(s, b"250 2.1.0")
    s.sendall(b"QUIT\r\n")
    read_until(s, b"221 ")
    s.close()
    # An HTTP client.
    s = connect(port, "127.0.0.6")
    read_until(s, b"220 ")
    s.sendall(b"GET / HTTP/1.0\r\n")
    read_until(s, b"521 ")
    s.close()
    time.sleep(1)


MASKS = [
    (re.compile(r"^\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ \S+?/postscreen\[\d+\]: "),
     ""),
    (re.compile(r"\]:\d+"), "]:PORT"),
    (re.compile(r"after \d+(\.\d+)?"), "after T"),
    (re.compile(r"cache \S+ full cleanup"), "cache TABLE full cleanup"),
]


def postscreen_lines(path):
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            if "/postscreen[" not in line or "warning" in line:
                continue
            line = line.rstrip("\n")
            for rx, repl in MASKS:
                line = rx.sub(repl, line)
            out.append(line)
    return out


def run(mta):
    mta.setup()
    screened(mta)
    mta.start()
    try:
        if not bench.wait_port(mta.port):
            raise RuntimeError("%s did not start" % mta.name)
        time.sleep(1)
        sessions(mta.port)
    finally:
        mta.stop()
    return postscreen_lines(mta.maillog)


def main():
    if os.geteuid() != 0:
        sys.exit("postscreen_compare.py: must run as root")
    bench.fetch_postfix()
    bench.ensure_accounts()
    top = tempfile.mkdtemp(prefix="postel-pscmp-")
    os.chmod(top, 0o755)
    try:
        pf = run(bench.Postfix(top, bench.free_port(), bench.free_port()))
        pe = run(bench.Postel(top, bench.free_port(), bench.free_port(),
                              os.path.join(bench.REPO, "build")))
    finally:
        shutil.rmtree(top, ignore_errors=True)
    width = max(len(x) for x in pf + pe + ["Postfix"])
    print("%-*s | %s" % (width, "Postfix", "Postel"))
    for i in range(max(len(pf), len(pe))):
        a = pf[i] if i < len(pf) else ""
        b = pe[i] if i < len(pe) else ""
        print("%-*s %s %s" % (width, a, "|" if a == b else "*", b))
    only_pf = sorted(set(pf) - set(pe))
    only_pe = sorted(set(pe) - set(pf))
    for title, lines in (("only Postfix:", only_pf), ("only Postel:", only_pe)):
        if lines:
            print(title)
            for line in lines:
                print("  " + line)
    sys.exit(1 if only_pf or only_pe else 0)


if __name__ == "__main__":
    main()
