"""A scripted stand-in for django-authd, for the modules' contract tests that
need exact control: what each request gets, how many came, silence, garbage.

    class MyFake(FakeDaemon):
        def answer(self, op, payload): ...

FakeDaemon(directory) listens on directory/socket (a new temporary directory,
removed by close(), when none is given), serves each connection in a thread,
reads frames with djproto and counts requests by op name (count(), .requests
for what a subclass records). answer(op, payload) returns the bytes to send,
Last(bytes) to send and then close, None to close without answering, or HOLD
to keep the connection open and silent until close()."""
import os
import pathlib
import shutil
import socket
import tempfile
import threading

import djproto

OP_NAMES = {v: k for k, v in djproto.OP.items()}
HOLD = object()


class Last(bytes):
    """An answer after which the fake closes the connection."""


class FakeDaemon:
    def __init__(self, directory=None):
        self._own_dir = directory is None
        self.dir = pathlib.Path(directory or tempfile.mkdtemp(prefix="djfake-"))
        self.path = str(self.dir / "socket")
        self.counts = {}
        self.requests = []
        self.lock = threading.Lock()
        self.held = []
        self.stopping = False
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)
        self.sock.listen(64)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    # --- for subclasses -----------------------------------------------------------
    def answer(self, op, payload):
        raise NotImplementedError

    def on_connect(self, conn):
        """Before any frame is read: False holds the connection unread."""
        return True

    # --- for tests ----------------------------------------------------------------
    def count(self, op):
        with self.lock:
            return self.counts.get(op, 0)

    def reset_counts(self):
        with self.lock:
            self.counts.clear()

    def close(self):
        self.stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(timeout=5)
        with self.lock:
            held, self.held = self.held, []
        for c in held:
            try:
                c.close()
            except OSError:
                pass
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            try:
                os.unlink(self.path)
            except OSError:
                pass

    # --- serving ------------------------------------------------------------------
    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _hold(self, conn):
        with self.lock:
            self.held.append(conn)

    def _handle(self, conn):
        if not self.on_connect(conn):
            self._hold(conn)
            return
        try:
            while True:
                payload = djproto.read_frame(conn)
                if payload is None or len(payload) < 4:
                    break
                op = payload[1]
                with self.lock:
                    name = OP_NAMES.get(op, op)
                    self.counts[name] = self.counts.get(name, 0) + 1
                reply = self.answer(op, payload)
                if reply is HOLD:
                    self._hold(conn)
                    return
                if reply is None:
                    break
                conn.sendall(reply)
                if isinstance(reply, Last):
                    break
        except OSError:
            pass
        conn.close()
