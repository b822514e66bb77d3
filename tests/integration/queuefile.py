"""Read Postel queue files (docs/QUEUE.md) in integration tests.

A record is one type byte, the payload length as a minimal unsigned
LEB128 varint (1-4 bytes) and the payload.  read_records() returns the
raw (type, payload) list; QueueFile gives the parts tests look at:
sender, recipients with their O/P/N records, attributes, content bytes,
message-id, the prepended header fields (H records, delivered above the
content) and the size record's values.

SPDX-License-Identifier: ISC
"""
import os


class QueueFileError(Exception):
    pass


def read_records(data):
    recs = []
    i = 0
    while i < len(data):
        rtype = chr(data[i])
        i += 1
        length = 0
        shift = 0
        for n in range(4):
            if i >= len(data):
                raise QueueFileError("truncated length")
            b = data[i]
            i += 1
            length |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        else:
            raise QueueFileError("length longer than 4 bytes")
        if i + length > len(data):
            raise QueueFileError("truncated payload")
        recs.append((rtype, data[i:i + length]))
        i += length
    return recs


class QueueFile:
    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self.raw = f.read()
        self.records = read_records(self.raw)
        if not self.records or self.records[0][0] != "S":
            raise QueueFileError("no size record first")
        if self.records[-1][0] != "E":
            raise QueueFileError("no end record last")
        self.size = [int(x) for x in self.records[0][1].split()]
        self.sender = None
        self.time = None
        self.envid = None
        self.ret = None
        self.attrs = {}
        self.extracted_attrs = {}
        self.recipients = []      # dicts: addr, orig, orcpt, notify, done
        self.content = b""
        self.prepended = []       # H payloads in file order
        self.message_id = None
        pending = {}
        section = "env"
        for rtype, payload in self.records[1:]:
            text = payload.decode("utf-8", "replace") if rtype not in "CH" else None
            if rtype == "M":
                section = "content"
            elif rtype == "X":
                section = "extracted"
            elif rtype == "T":
                self.time = text
            elif rtype == "F":
                self.sender = text
            elif rtype == "V":
                self.envid = text
            elif rtype == "K":
                self.ret = text
            elif rtype == "A":
                name, _, value = text.partition("=")
                (self.attrs if section == "env" else self.extracted_attrs)[name] = value
            elif rtype in "OPN":
                pending[rtype] = text
            elif rtype in "RD":
                self.recipients.append({
                    "addr": text, "orig": pending.get("O"),
                    "orcpt": pending.get("P"),
                    "notify": int(pending["N"]) if "N" in pending else 0,
                    "done": rtype == "D"})
                pending = {}
            elif rtype == "C":
                self.content += payload
            elif rtype == "H":
                self.prepended.append(payload)
            elif rtype == "I":
                self.message_id = text
        if self.size[2] != len(self.delivered):
            raise QueueFileError("size record disagrees with content")

    @property
    def delivered(self):
        """The message as delivery agents send it: H fields, then C."""
        return b"".join(self.prepended) + self.content

    @property
    def rcpt_addrs(self):
        return [r["addr"] for r in self.recipients]

    def header_and_body(self):
        """(header bytes including the final CRLF of the last field, body)."""
        head, sep, body = self.content.partition(b"\r\n\r\n")
        return head + b"\r\n", body

    def headers(self):
        """List of (name, value) with folding kept, in order."""
        head, _ = self.header_and_body()
        fields = []
        for line in head.split(b"\r\n"):
            if not line:
                continue
            if line[:1] in (b" ", b"\t") and fields:
                name, value = fields[-1]
                fields[-1] = (name, value + "\r\n" + line.decode("utf-8", "replace"))
            else:
                name, _, value = line.decode("utf-8", "replace").partition(":")
                fields.append((name, value.strip()))
        return fields

    def header(self, name):
        for n, v in self.headers():
            if n.lower() == name.lower():
                return v
        return None


def queue_files(queue_dir, folder="incoming"):
    d = os.path.join(queue_dir, folder)
    try:
        return sorted(os.path.join(d, n) for n in os.listdir(d))
    except FileNotFoundError:
        return []
