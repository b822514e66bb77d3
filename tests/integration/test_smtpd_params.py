# smtpd parameters that shape replies and policy on a real instance:
# smtpd_end_of_data_restrictions, smtpd_reject_footer,
# smtpd_reject_unlisted_sender, relocated_maps at RCPT, and the
# mynetworks default computed from mynetworks_style.
# SPDX-License-Identifier: ISC
import os

from conftest import bin_path, run_cmd
from test_smtpd import Client, Smtpd, send_message

MSG = b"Subject: t\r\n\r\nhello\r\n.\r\n"


def table(workdir, name, text):
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    return "texthash:" + path


def held(smtpd):
    d = os.path.join(smtpd.queue, "hold")
    return os.listdir(d) if os.path.isdir(d) else []


# --- smtpd_end_of_data_restrictions ----------------------------------------

def test_end_of_data_reject_after_the_dot_queues_nothing(instance, workdir):
    access = table(workdir, "access", "127.0.0.1 REJECT not after data\n")
    smtpd = Smtpd(instance, workdir, main={
        "smtpd_end_of_data_restrictions": "check_client_access " + access})
    c = smtpd.connect()
    reply = send_message(c, "a@client.test", ["u@mx.test"], MSG)
    assert reply == "554 5.7.1 <END-OF-MESSAGE>: End-of-data rejected: " \
        "not after data"
    assert smtpd.incoming() == []
    # The session carries on with the next transaction.
    assert c.cmd("MAIL FROM:<a@client.test>")[0].startswith("250")
    c.close()
    assert smtpd.wait_log("reject: END-OF-MESSAGE from localhost[127.0.0.1]: "
                          "554 5.7.1")


def test_end_of_data_hold_puts_the_message_on_hold(instance, workdir):
    access = table(workdir, "access", "127.0.0.1 HOLD look first\n")
    smtpd = Smtpd(instance, workdir, main={
        "smtpd_end_of_data_restrictions": "check_client_access " + access})
    c = smtpd.connect()
    reply = send_message(c, "a@client.test", ["u@mx.test"], MSG)
    c.close()
    assert reply.startswith("250 2.0.0 Ok: queued as "), reply
    assert held(smtpd) == [reply.rsplit(" ", 1)[1]]
    assert smtpd.incoming() == []


def test_end_of_data_restrictions_empty_accepts(instance, workdir):
    smtpd = Smtpd(instance, workdir)
    c = smtpd.connect()
    assert send_message(c, "a@client.test", ["u@mx.test"], MSG) \
        .startswith("250 2.0.0 Ok: queued as ")
    c.close()


# --- smtpd_reject_footer ---------------------------------------------------

def test_reject_footer_follows_every_error_reply(instance, workdir):
    smtpd = Smtpd(instance, workdir, main={
        "smtpd_reject_footer":
            "Call 555-0101 about $client_address\\nat $server_name "
            "($myhostname)"})
    c = smtpd.connect()
    assert c.cmd("EHLO client.test")[-1] == "250 CHUNKING"
    assert c.cmd("BOGUS") == [
        "502-5.5.2 Error: command not recognized",
        "502-5.5.2 Call 555-0101 about 127.0.0.1",
        "502 5.5.2 at mx.test (mx.test)"]
    # Success replies are left alone.
    assert c.cmd("NOOP") == ["250 2.0.0 Ok"]
    c.close()
    # A policy reply carries it too (a client outside mynetworks).
    c = smtpd.connect("127.0.0.5")
    assert c.cmd("EHLO client.test")[-1] == "250 CHUNKING"
    assert c.cmd("MAIL FROM:<a@client.test>") == ["250 2.1.0 Ok"]
    assert c.cmd("RCPT TO:<u@elsewhere.test>") == [
        "454-4.7.1 <u@elsewhere.test>: Relay access denied",
        "454-4.7.1 Call 555-0101 about 127.0.0.5",
        "454 4.7.1 at mx.test (mx.test)"]
    c.close()


def test_reject_footer_backslash_c_continues_the_line(instance, workdir):
    smtpd = Smtpd(instance, workdir, main={
        "smtpd_reject_footer": "\\c (see https://help.test/)"})
    c = smtpd.connect()
    assert c.cmd("BOGUS") == [
        "502 5.5.2 Error: command not recognized (see https://help.test/)"]
    c.close()


# --- smtpd_reject_unlisted_sender ------------------------------------------

UNLISTED = {"local_recipient_maps": "inline:{ user=1, postmaster=1 }"}


def test_unlisted_local_sender_rejected_when_enabled(instance, workdir):
    smtpd = Smtpd(instance, workdir, main=dict(
        UNLISTED, smtpd_reject_unlisted_sender="yes",
        sender_canonical_maps="inline:{ alias@mx.test=user@mx.test }"))
    c = smtpd.connect()
    assert c.cmd("EHLO client.test")[-1].startswith("250")
    # smtpd_delay_reject = yes: the verdict comes with RCPT.
    assert c.cmd("MAIL FROM:<nobody@mx.test>") == ["250 2.1.0 Ok"]
    assert c.cmd("RCPT TO:<user@mx.test>") == [
        "550 5.1.0 <nobody@mx.test>: Sender address rejected: "
        "User unknown in local recipient table"]
    assert c.cmd("RSET")[0].startswith("250")
    # A listed local sender, one a canonical table maps (Postfix: known),
    # a foreign one and <> pass.
    for sender in ("user@mx.test", "alias@mx.test", "someone@client.test",
                   ""):
        assert c.cmd("MAIL FROM:<%s>" % sender) == ["250 2.1.0 Ok"]
        assert c.cmd("RCPT TO:<user@mx.test>") == ["250 2.1.5 Ok"]
        assert c.cmd("RSET")[0].startswith("250")
    c.close()


def test_unlisted_sender_rejected_at_mail_without_delay(instance, workdir):
    smtpd = Smtpd(instance, workdir, main=dict(
        UNLISTED, smtpd_reject_unlisted_sender="yes",
        smtpd_delay_reject="no"))
    c = smtpd.connect()
    assert c.cmd("EHLO client.test")[-1].startswith("250")
    assert c.cmd("MAIL FROM:<nobody@mx.test>") == [
        "550 5.1.0 <nobody@mx.test>: Sender address rejected: "
        "User unknown in local recipient table"]
    c.close()


def test_unlisted_sender_accepted_by_default(instance, workdir):
    smtpd = Smtpd(instance, workdir, main=UNLISTED)
    c = smtpd.connect()
    assert c.cmd("EHLO client.test")[-1].startswith("250")
    assert c.cmd("MAIL FROM:<nobody@mx.test>") == ["250 2.1.0 Ok"]
    assert c.cmd("RCPT TO:<user@mx.test>") == ["250 2.1.5 Ok"]
    c.close()


# --- relocated_maps at RCPT ------------------------------------------------

def test_relocated_recipient_rejected_with_5_1_6(instance, workdir):
    relocated = table(workdir, "relocated",
                      "olduser@mx.test new@elsewhere.test\n"
                      "gone call +1 555 0101\n"
                      "@local.test postmaster@elsewhere.test\n")
    smtpd = Smtpd(instance, workdir, main={"relocated_maps": relocated,
                                           "recipient_delimiter": "+"})
    c = smtpd.connect()
    assert c.cmd("EHLO client.test")[-1].startswith("250")
    assert c.cmd("MAIL FROM:<a@client.test>") == ["250 2.1.0 Ok"]
    assert c.cmd("RCPT TO:<olduser@mx.test>") == [
        "550 5.1.6 <olduser@mx.test>: Recipient address rejected: "
        "User has moved to new@elsewhere.test"]
    # A bare user name applies in local domains; extensions are stripped.
    assert c.cmd("RCPT TO:<gone+x@mx.test>") == [
        "550 5.1.6 <gone+x@mx.test>: Recipient address rejected: "
        "User has moved to call +1 555 0101"]
    assert c.cmd("RCPT TO:<any@local.test>")[0].startswith("550 5.1.6 ")
    assert c.cmd("RCPT TO:<stays@mx.test>") == ["250 2.1.5 Ok"]
    c.close()


# --- mynetworks_style ------------------------------------------------------

def conf_value(instance, name):
    r = run_cmd([bin_path("postelconf"), "-c", instance.confdir, "-h", name])
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def relay_reply(smtpd, source):
    c = Client(smtpd.port, source)
    assert c.cmd("EHLO client.test")[-1].startswith("250")
    assert c.cmd("MAIL FROM:<a@client.test>")[0].startswith("250")
    reply = c.cmd("RCPT TO:<u@remote.test>")[0]
    c.close()
    return reply


def test_mynetworks_default_is_this_host_style_host(instance, workdir):
    smtpd = Smtpd(instance, workdir)
    assert "mynetworks" not in instance.main
    # inet_interfaces = 127.0.0.1: the host's address, not 127.0.0.0/8.
    assert conf_value(instance, "mynetworks").split() == ["127.0.0.1/32"]
    assert relay_reply(smtpd, "127.0.0.1") == "250 2.1.5 Ok"
    assert relay_reply(smtpd, "127.0.0.5") == \
        "454 4.7.1 <u@remote.test>: Relay access denied"


def test_mynetworks_style_subnet_trusts_the_interface_network(instance,
                                                              workdir):
    smtpd = Smtpd(instance, workdir, main={"mynetworks_style": "subnet"})
    assert conf_value(instance, "mynetworks").split() == ["127.0.0.0/8"]
    assert relay_reply(smtpd, "127.0.0.5") == "250 2.1.5 Ok"


def test_mynetworks_default_lists_every_interface_for_all(workdir):
    confdir = os.path.join(workdir, "etc-all")
    os.makedirs(confdir)
    with open(os.path.join(confdir, "main.cf"), "w") as f:
        f.write("inet_interfaces = all\ninet_protocols = ipv4\n")
    r = run_cmd([bin_path("postelconf"), "-c", confdir, "-h", "mynetworks"])
    assert r.returncode == 0, r.stderr
    nets = r.stdout.split()
    assert "127.0.0.1/32" in nets
    assert all(n.endswith("/32") and not n.startswith("[") for n in nets)
    r = run_cmd([bin_path("postelconf"), "-c", confdir, "-d", "mynetworks"])
    assert r.stdout.startswith("mynetworks = 127.0.0.1/32"), r.stdout
