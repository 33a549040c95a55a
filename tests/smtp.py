"""A real SMTP server (aiosmtpd) on loopback: e-mails go over the wire and are read back.

Use the `smtp_server` fixture: it points Django's SMTP backend at the server and returns
it; `smtp_server.messages` holds each received message as an `email.message.EmailMessage`.
It is registered as a plugin by tests/conftest.py: every test can ask for it.
"""

import email
import email.policy
import socket

import pytest
from aiosmtpd.controller import Controller


class _Handler:
    def __init__(self):
        self.messages = []
        self.refuse = False

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return "451 Try again later"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"


class SMTPServer:
    def __init__(self, handler, port):
        self._handler = handler
        self.port = port

    @property
    def messages(self):
        return self._handler.messages

    def refuse_messages(self, refuse=True):
        """Answer 451 to every message, as a mail server that is down for a while."""
        self._handler.refuse = refuse


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    handler = _Handler()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield SMTPServer(handler, port)
    finally:
        controller.stop()
