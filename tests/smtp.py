"""A real SMTP server on loopback (aiosmtpd) that records what it receives.

`replies` lets a test script the server's answer to the next DATA commands, e.g.
["451 4.3.0 try later", "250 OK"], to exercise temporary and permanent failures.
"""

from __future__ import annotations

import email
import socket
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RecordingHandler:
    messages: list[email.message.Message] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    connections: int = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):
        if self.replies:
            reply = self.replies.pop(0)
            if not reply.startswith("250"):
                return reply
        self.messages.append(email.message_from_bytes(envelope.original_content))
        return "250 OK"


class SMTPServer:
    def __init__(self):
        self.handler = RecordingHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self):
        return self.handler.messages

    @property
    def connections(self) -> int:
        """SMTP sessions opened (EHLO commands seen)."""
        return self.handler.connections

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()
