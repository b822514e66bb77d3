# A small socketmap server (Sendmail's socketmap protocol, as Postfix's
# socketmap_table(5) describes it) for the tests: netstring requests
# "name key", netstring replies "OK value" / "NOTFOUND " / "TEMP ..." /
# "TIMEOUT ..." / "PERM ...".  It listens on a unix socket or a free
# loopback port, counts the connections it accepted and the requests it
# answered, and can misbehave on purpose:
#   maps[name][key] = value          OK value
#   maps[name][key] = ("TEMP", txt)  any status word with its text
#   maps[name][key] = ("SLEEP", s, value)  answer after s seconds
#   maps[name][key] = ("DROP",)      close the connection, no reply
#   maps[name][key] = ("RAW", bytes) send these bytes as the reply
#   maps[name][key] = ("CHUNKS", n, bytes)  send them n bytes a write, the
#                                    first 64 pieces 10 ms apart, so the
#                                    client reads the reply in pieces
#   close_after = N                  close each connection after N replies
# SPDX-License-Identifier: ISC
import os
import socket
import threading
import time

from conftest import close_listener


class SocketmapServer:
    def __init__(self, maps, path=None):
        self.maps = maps
        self.close_after = 0
        self.connections = 0
        self.requests = []
        self.lock = threading.Lock()
        self.clients = []
        if path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(path)
            os.chmod(path, 0o666)
            self.endpoint = "unix:" + path
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.bind(("127.0.0.1", 0))
            self.endpoint = "inet:127.0.0.1:%d" % self.sock.getsockname()[1]
        self.sock.listen(16)
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def spec(self, name):
        return "socketmap:%s:%s" % (self.endpoint, name)

    def reset_counts(self):
        with self.lock:
            self.connections = 0
            self.requests = []

    def stop(self):
        self.stopping = True
        close_listener(self.sock)
        for c in list(self.clients):
            try:
                c.close()
            except OSError:
                pass

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.clients.append(conn)
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    @staticmethod
    def _read_netstring(conn, buf):
        while b":" not in buf:
            data = conn.recv(4096)
            if not data:
                return None, buf
            buf += data
        length, _, rest = buf.partition(b":")
        n = int(length)
        while len(rest) < n + 1:
            data = conn.recv(4096)
            if not data:
                return None, buf
            rest += data
        assert rest[n:n + 1] == b",", rest
        return rest[:n], rest[n + 1:]

    @staticmethod
    def _send_chunks(conn, n, data):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for piece in range(64):
            chunk = data[piece * n:(piece + 1) * n]
            if not chunk:
                return
            conn.sendall(chunk)
            time.sleep(0.01)
        conn.sendall(data[64 * n:])

    @staticmethod
    def netstring(data):
        return b"%d:%s," % (len(data), data)

    def _serve(self, conn):
        buf = b""
        answered = 0
        try:
            while True:
                req, buf = self._read_netstring(conn, buf)
                if req is None:
                    return
                name, _, key = req.decode().partition(" ")
                with self.lock:
                    self.requests.append((name, key))
                value = self.maps.get(name, {}).get(key)
                if value is None:
                    reply = b"NOTFOUND "
                elif isinstance(value, str):
                    reply = b"OK " + value.encode()
                elif value[0] == "DROP":
                    return
                elif value[0] == "RAW":
                    conn.sendall(value[1])
                    answered += 1
                    continue
                elif value[0] == "CHUNKS":
                    self._send_chunks(conn, value[1], value[2])
                    answered += 1
                    continue
                elif value[0] == "SLEEP":
                    time.sleep(value[1])
                    reply = b"OK " + value[2].encode()
                else:
                    reply = ("%s %s" % value).encode()
                conn.sendall(self.netstring(reply))
                answered += 1
                if self.close_after and answered >= self.close_after:
                    return
        except OSError:
            return
        finally:
            conn.close()
