"""A small SMTP server on loopback (RFC 5321's commands that Django's SMTP backend sends, without TLS or AUTH).

It records each message it accepts; while `down` is set it answers every connection with
`421 Service not available` and closes it, as a mail server that is out of service does.
"""

import email
import socketserver
import threading
from email.message import Message


class FakeSmtp:
    def __init__(self, *, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.down = False
        self.messages: list[Message] = []
        self.refused = 0
        self.lock = threading.Lock()
        self._server: socketserver.ThreadingTCPServer | None = None

    def __enter__(self) -> "FakeSmtp":
        fake = self

        class Session(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(f"{line}\r\n".encode())
                self.wfile.flush()

            def handle(self) -> None:
                if fake.down:
                    with fake.lock:
                        fake.refused += 1
                    self.reply("421 fake.smtp Service not available, closing transmission channel")
                    return
                self.reply("220 fake.smtp ESMTP")
                while line := self.rfile.readline():
                    command = line.decode("ascii", "replace").strip().upper()
                    if command.startswith(("EHLO", "HELO")):
                        self.reply("250 fake.smtp")
                    elif command.startswith(("MAIL FROM", "RCPT TO", "RSET", "NOOP")):
                        self.reply("250 OK")
                    elif command == "DATA":
                        self.reply("354 End data with <CR><LF>.<CR><LF>")
                        self.data()
                    elif command == "QUIT":
                        self.reply("221 Bye")
                        return
                    else:
                        self.reply("502 Command not implemented")

            def data(self) -> None:
                lines = []
                while (line := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(line[1:] if line.startswith(b"..") else line)
                with fake.lock:
                    fake.messages.append(email.message_from_bytes(b"".join(lines)))
                self.reply("250 OK: queued")

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer((self.host, 0), Session)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
