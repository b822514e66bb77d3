"""The metrics service (metrics(8), docs/METRICS.md) end to end.

One instance for the module: smtpd on 127.0.1.1, the metrics endpoint
on 127.0.1.1, qmgr, cleanup, smtp relaying to an aiosmtpd sink on
127.0.1.2, pickup for local submission and discard.  The endpoint is
scraped and parsed with Debian's python3-prometheus-client before and
after a run of messages, and every counter must move by exactly the
traffic sent; a real prometheus server scrapes it; slow scrapers do not
stop mail; counters survive the death of an smtpd process; postel start
makes the missing data_directory that holds the counters; the Grafana
dashboard names only metrics that a scrape has.

SPDX-License-Identifier: ISC
"""
import http.client
import json
import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
import urllib.parse
import urllib.request

import pytest

from conftest import (Instance, bin_path, free_port, missing_module,
                      procs_mentioning, wait_for)
from tlscerts import CA, san_environment

try:
    from aiosmtpd.controller import Controller
except ImportError:
    raise missing_module("aiosmtpd") from None
try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    raise missing_module("prometheus_client") from None

pytestmark = [pytest.mark.needs("aiosmtpd"),
              pytest.mark.needs("prometheus_client"),
              pytest.mark.needs("openssl")]

SMTPD_ADDR = "127.0.1.1"
SINK_ADDR = "127.0.1.2"
PROM_ADDR = "127.0.1.3"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BODY = (b"From: a@example.org\r\nTo: x@relay.test\r\nSubject: metrics\r\n"
        b"Message-ID: <%d@example.org>\r\n\r\nbody line\r\n")


class Sink:
    def __init__(self):
        self.rcpts = []

    async def handle_DATA(self, server, session, envelope):
        self.rcpts.extend(envelope.rcpt_tos)
        return "250 2.0.0 Ok"


class Mta:
    def __init__(self, workdir):
        self.inst = Instance(workdir)
        # Missing on purpose: postel start-fg (its check) must make it.
        self.data = os.path.join(workdir, "data")
        ca = CA(os.path.join(workdir, "ca"))
        key, cert, _ = ca.issue("mx", ["mx.metrics.test"])
        self.ca = ca.cert
        # The sink offers STARTTLS, so the smtp client's sessions count.
        sink_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        sink_tls.load_cert_chain(cert, key)
        self.sink = Sink()
        self.sink_port = free_port(SINK_ADDR)
        self.ctl = Controller(self.sink, hostname=SINK_ADDR,
                              port=self.sink_port, tls_context=sink_tls)
        self.ctl.start()
        self.port = free_port(SMTPD_ADDR)
        self.mport = free_port(SMTPD_ADDR)
        self.smtpd_service = "%s:%d" % (SMTPD_ADDR, self.port)
        self.metrics_service = "%s:%d" % (SMTPD_ADDR, self.mport)
        self.inst.write_config(main=dict(san_environment(), **{
            "myhostname": "mx.metrics.test",
            "smtpd_tls_cert_file": cert,
            "smtpd_tls_key_file": key,
            "smtpd_tls_security_level": "may",
            "smtp_tls_security_level": "may",
            "mydestination": "",
            "data_directory": self.data,
            "relayhost": "[%s]:%d" % (SINK_ADDR, self.sink_port),
            "transport_maps": "inline:{ discard.test=discard: }",
            "smtpd_recipient_restrictions":
                "check_recipient_access inline:{ reject.test=REJECT }",
            "smtpd_error_sleep_time": "0",
            "minimal_backoff_time": "300s", "queue_run_delay": "300s",
        }), services=[
            "%s inet n - y - - smtpd" % self.smtpd_service,
            "%s inet n - y - 1 metrics" % self.metrics_service,
            "qmgr unix n - n 300 1 qmgr",
            "cleanup unix n - n - 0 cleanup",
            "pickup unix n - n 60 1 pickup",
            "smtp unix - - n - - smtp",
            "discard unix - - n - - discard",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
        ])
        self.inst.start(foreground=True)
        assert wait_for(self.smtp_up, 10), self.inst.read_log()
        assert wait_for(lambda: os.path.exists(
            self.inst.unix_path("pickup", private=False))), \
            self.inst.read_log()

    def close(self):
        try:
            self.inst.cleanup()
        finally:
            self.ctl.stop()

    def smtp_up(self):
        try:
            smtplib.SMTP(SMTPD_ADDR, self.port, timeout=2).quit()
            return True
        except OSError:
            return False

    def send(self, rcpts, n=0):
        with smtplib.SMTP(SMTPD_ADDR, self.port, timeout=20) as s:
            return s.sendmail("a@example.org", rcpts, BODY % n)

    def sendmail(self, rcpt, n=0):
        r = subprocess.run([bin_path("sendmail"), "-C", self.inst.confdir,
                            "-f", "local@example.org", rcpt],
                           input=BODY % n, capture_output=True, timeout=30)
        assert r.returncode == 0, r.stderr

    def get(self, path="/metrics", method="GET"):
        conn = http.client.HTTPConnection(SMTPD_ADDR, self.mport, timeout=10)
        try:
            conn.request(method, path)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def scrape(self):
        """{(sample name, frozenset(labels)): value} and the family names."""
        status, headers, body = self.get()
        assert status == 200, body
        assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
        samples, families = {}, set()
        for fam in text_string_to_metric_families(body.decode()):
            families.add(fam.name)
            for s in fam.samples:
                samples[(s.name, frozenset(s.labels.items()))] = s.value
        return samples, families


@pytest.fixture(scope="module")
def mta():
    workdir = tempfile.mkdtemp(prefix="postel-test-")
    os.chmod(workdir, 0o755)
    m = Mta(workdir)
    yield m
    m.close()
    shutil.rmtree(workdir, ignore_errors=True)


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(before, after, name, **labels):
    return value(after, name, **labels) - value(before, name, **labels)


def test_metrics_counters_change_by_exactly_the_traffic_sent(mta):
    before, _ = mta.scrape()
    sent_before = len(mta.sink.rcpts)
    # 3 plain SMTP messages, relayed to the sink.
    for i in range(3):
        mta.send(["a%d@relay.test" % i], i)
    # 2 with one recipient refused at RCPT and one accepted.
    for i in range(2):
        refused = mta.send(["b%d@relay.test" % i, "x@reject.test"], 10 + i)
        assert list(refused) == ["x@reject.test"]
        assert refused["x@reject.test"][0] == 554
    # 1 whose only recipient is refused: no message.
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        mta.send(["y@reject.test"], 20)
    # 1 to the discard transport.
    mta.send(["d@discard.test"], 30)
    # 2 local submissions (sendmail -> postdrop -> pickup).
    for i in range(2):
        mta.sendmail("c%d@relay.test" % i, 40 + i)

    def done():
        after, _ = mta.scrape()
        return (delta(before, after, "postel_deliveries_total",
                      transport="smtp", status="sent") >= 7
                and delta(before, after, "postel_deliveries_total",
                          transport="discard", status="sent") >= 1
                and value(after, "postel_queue_messages", queue="active") == 0
                and value(after, "postel_queue_messages",
                          queue="incoming") == 0) and after
    after = wait_for(done, 30)
    assert after, mta.inst.read_log()
    assert len(mta.sink.rcpts) - sent_before == 7

    assert delta(before, after, "postel_smtpd_connections_total") == 7
    assert delta(before, after, "postel_smtpd_rejects_total",
                 stage="rcpt", code="554") == 3
    assert delta(before, after, "postel_messages_received_total",
                 origin="smtp") == 6
    assert delta(before, after, "postel_messages_received_total",
                 origin="local") == 2
    assert delta(before, after, "postel_deliveries_total",
                 transport="smtp", status="sent") == 7
    assert delta(before, after, "postel_deliveries_total",
                 transport="discard", status="sent") == 1
    for status in ("deferred", "bounced"):
        for transport in ("smtp", "discard", "none"):
            assert delta(before, after, "postel_deliveries_total",
                         transport=transport, status=status) == 0
    assert delta(before, after, "postel_message_size_bytes_count") == 8
    assert delta(before, after, "postel_delivery_delay_seconds_count",
                 transport="smtp") == 7
    assert delta(before, after, "postel_delivery_delay_seconds_bucket",
                 transport="smtp", le="+Inf") == 7
    assert delta(before, after, "postel_message_size_bytes_sum") > 8 * 50
    # Every message was small: all in the first size bucket.
    assert delta(before, after, "postel_message_size_bytes_bucket",
                 le="1024") == 8
    assert value(after, "postel_metrics_overflow_total") == 0


def test_metrics_data_directory_made_by_postel_start(mta):
    """data_directory did not exist: postel's check made it for
    mail_owner (the owner of the queue's private folder), mode 0700, as
    Postfix does, and master made the metrics table in it."""
    st = os.stat(mta.data)
    private = os.stat(os.path.join(mta.inst.queue, "private"))
    assert oct(st.st_mode & 0o7777) == oct(0o700)
    assert (st.st_uid, st.st_gid) == (private.st_uid, private.st_gid)
    shm = os.stat(os.path.join(mta.data, "metrics.shm"))
    assert shm.st_uid == private.st_uid


def test_postel_check_makes_and_repairs_data_directory(instance):
    """postel check alone (no master) makes a missing data_directory and
    repairs its mode, saying so; a relative one is refused."""
    data = os.path.join(instance.workdir, "lib")
    instance.write_config(main={"data_directory": data})
    r = instance.postel("check")
    assert r.returncode == 0, r.stderr
    assert "created %s (mode 0700" % data in r.stderr
    private = os.stat(os.path.join(instance.queue, "private"))
    st = os.stat(data)
    assert oct(st.st_mode & 0o7777) == oct(0o700)
    assert (st.st_uid, st.st_gid) == (private.st_uid, private.st_gid)
    os.chmod(data, 0o755)
    r = instance.postel("check")
    assert r.returncode == 0, r.stderr
    assert "fixed %s: mode 0755" % data in r.stderr
    assert os.stat(data).st_mode & 0o7777 == 0o700
    instance.write_config(main={"data_directory": "lib"})
    r = instance.postel("check")
    assert r.returncode != 0
    assert "data_directory must be an absolute path: lib" in r.stderr


def test_metrics_tls_sessions_in_and_out_are_counted(mta):
    before, _ = mta.scrape()
    count = len(mta.sink.rcpts)
    ctx = ssl.create_default_context(cafile=mta.ca)
    ctx.check_hostname = False
    with smtplib.SMTP(SMTPD_ADDR, mta.port, timeout=20) as s:
        s.starttls(context=ctx)
        protocol = s.sock.version()
        s.sendmail("a@example.org", ["tls@relay.test"], BODY % 70)
    assert wait_for(lambda: len(mta.sink.rcpts) > count, 30), \
        mta.inst.read_log()
    after = wait_for(lambda: [a for a in [mta.scrape()[0]] if delta(
        before, a, "postel_deliveries_total", transport="smtp",
        status="sent") == 1][:1], 10)
    assert after, mta.inst.read_log()
    after = after[0]
    assert delta(before, after, "postel_tls_sessions_total",
                 direction="in", protocol=protocol) == 1
    # The relay to the sink used STARTTLS too (a new or cached session).
    assert sum(v for (n, labels), v in after.items()
               if n == "postel_tls_sessions_total"
               and ("direction", "out") in labels) >= 1


def test_metrics_processes_gauge_reflects_running_services(mta):
    samples, _ = mta.scrape()
    # This scrape is served by the metrics process; qmgr always runs.
    assert value(samples, "postel_processes",
                 service=mta.metrics_service) == 1
    assert value(samples, "postel_processes", service="qmgr") == 1


def test_metrics_queue_gauges_count_a_held_message(mta):
    hold = os.path.join(mta.inst.queue, "hold")
    before, _ = mta.scrape()
    assert value(before, "postel_queue_messages", queue="hold") == 0
    assert value(before, "postel_queue_oldest_age_seconds", queue="hold") == 0
    # The gauges read names only: a file named by a queue ID from 1970
    # (qid.h: 6 base-52 digits of seconds, 4 of microseconds, 'z', inode).
    qid = "0000010000z1"
    path = os.path.join(hold, qid)
    with open(path, "w") as f:
        f.write("")
    try:
        after, _ = mta.scrape()
        assert value(after, "postel_queue_messages", queue="hold") == 1
        assert value(after, "postel_queue_oldest_age_seconds",
                     queue="hold") > 50 * 365 * 86400
    finally:
        os.unlink(path)


def test_metrics_http_paths_and_methods(mta):
    status, _, body = mta.get("/")
    assert status == 404, body
    status, _, _ = mta.get("/metrics/x")
    assert status == 404
    status, headers, _ = mta.get("/metrics", method="POST")
    assert status == 405
    assert "GET" in headers.get("Allow", "")
    status, _, body = mta.get("/metrics", method="HEAD")
    assert status == 200 and body == b""


def test_metrics_slow_scrapers_do_not_stop_mail(mta):
    socks = []
    try:
        # More clients than the service takes at once: half a request,
        # or nothing at all, and none of them reads.
        for i in range(24):
            s = socket.create_connection((SMTPD_ADDR, mta.mport), timeout=5)
            if i % 2:
                s.sendall(b"GET /metr")
            socks.append(s)
        count = len(mta.sink.rcpts)
        mta.send(["slow@relay.test"], 50)
        mta.sendmail("slow-local@relay.test", 51)
        assert wait_for(lambda: len(mta.sink.rcpts) >= count + 2, 30), \
            mta.inst.read_log()
        assert sorted(mta.sink.rcpts[count:]) == [
            "slow-local@relay.test", "slow@relay.test"]
    finally:
        for s in socks:
            s.close()

    # Once they are gone, scrapes are served again.
    def scraped():
        try:
            return mta.get()[0] == 200
        except OSError:
            return False
    assert wait_for(scraped, 30), mta.inst.read_log()


def smtpd_pids(mta):
    pids = []
    for pid in procs_mentioning(mta.inst.confdir):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv[0].rsplit(b"/", 1)[-1] == b"smtpd":
            pids.append(pid)
    return pids


def test_metrics_counters_survive_killing_smtpd(mta):
    before, _ = mta.scrape()
    s = smtplib.SMTP(SMTPD_ADDR, mta.port, timeout=10)
    s.ehlo("client.test")
    smtpds = smtpd_pids(mta)
    assert smtpds
    for pid in smtpds:
        os.kill(pid, signal.SIGKILL)
    s.close()
    mta.send(["after-kill@relay.test"], 60)
    after, _ = mta.scrape()
    assert delta(before, after, "postel_smtpd_connections_total") == 2
    assert value(after, "postel_smtpd_connections_total") >= 2
    # master reaped the killed ones: the gauge follows the live processes.
    assert wait_for(lambda: value(mta.scrape()[0], "postel_processes",
                                  service=mta.smtpd_service)
                    == len(smtpd_pids(mta)) > 0, 10), mta.inst.read_log()


def grafana_metric_names():
    with open(os.path.join(REPO, "conf", "grafana-postel.json")) as f:
        dashboard = json.load(f)
    exprs = []

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "expr" and isinstance(v, str):
                    exprs.append(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(dashboard)
    assert exprs, "the dashboard has no queries"
    return {n for e in exprs for n in re.findall(r"\bpostel_[a-z_]+", e)}


def test_metrics_grafana_dashboard_names_exist_in_a_scrape(mta):
    samples, families = mta.scrape()
    names = {name for (name, _) in samples}
    wanted = grafana_metric_names()
    assert len(wanted) >= 8
    missing = sorted(n for n in wanted if n not in names | families)
    assert not missing, missing


@pytest.mark.needs("prometheus")
def test_metrics_prometheus_server_scrapes_the_endpoint(mta, tmp_path):
    port = free_port(PROM_ADDR)
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: postel\n    static_configs:\n"
        "      - targets: ['%s']\n" % mta.metrics_service)
    log = open(tmp_path / "prometheus.log", "w")
    proc = subprocess.Popen(
        ["/usr/bin/prometheus", "--config.file=%s" % config,
         "--storage.tsdb.path=%s" % (tmp_path / "data"),
         "--web.listen-address=%s:%d" % (PROM_ADDR, port)],
        stdout=log, stderr=log, cwd=str(tmp_path))
    try:
        def query():
            url = "http://%s:%d/api/v1/query?%s" % (
                PROM_ADDR, port, urllib.parse.urlencode(
                    {"query": "postel_smtpd_connections_total"}))
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    data = json.load(r)
            except OSError:
                return None
            return data["data"]["result"] if data.get("status") == \
                "success" else None
        result = wait_for(query, 60, 0.5)
        assert result, (tmp_path / "prometheus.log").read_text()[-3000:]
        assert result[0]["metric"]["__name__"] == \
            "postel_smtpd_connections_total"
        assert float(result[0]["value"][1]) >= 1
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
