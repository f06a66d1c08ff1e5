"""SMTP delivery that knows whether a failed send may still have been delivered.

smtplib's `sendmail` folds every failure into one exception. The ledger needs to tell
two kinds apart, so the transaction is driven step by step (MAIL, RCPT, DATA):
- anything before the message body is handed over, or a reply refusing it, proves the
  server did not take it: `SendFailed`, retried (transient ones) here and at the next run;
- a connection lost while the body is in flight or before the final reply may mean it was
  delivered: `SendUncertain`, never retried (at-most-once).
"""

from __future__ import annotations

import logging
import os
import smtplib
import socket
import ssl
import time
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from types import TracebackType

from storywatch.config import SmtpConfig

log = logging.getLogger(__name__)

PASSWORD_ENV = "STORYWATCH_SMTP_PASSWORD"
# Fault injection for the crash test: exit right after the server accepted a message and
# before the ledger records it, the worst moment for at-most-once delivery.
FAULT_EXIT_AFTER_SEND_ENV = "STORYWATCH_FAULT_EXIT_AFTER_SEND"


class SendFailed(Exception):
    """The server did not take the message; safe to try again later."""

    def __init__(self, message: str, *, connection: bool = False) -> None:
        super().__init__(message)
        # True when the server could not be reached or refused us as a client: the next
        # digest of the same run would fail the same way.
        self.connection = connection


class SendUncertain(Exception):
    """The connection broke while the message was handed over: it may have been delivered."""


class _Refused(Exception):
    def __init__(self, message: str, *, transient: bool, connection: bool) -> None:
        super().__init__(message)
        self.transient = transient
        self.connection = connection


def _reply(code: int, response: bytes | str) -> str:
    text = response.decode("utf-8", "replace") if isinstance(response, bytes) else response
    return f"{code} {' '.join(text.split())}"


class Mailer:
    """One SMTP connection reused for a run's digests, reopened when it breaks."""

    def __init__(self, config: SmtpConfig, password: str | None = None) -> None:
        self.config = config
        self.password = password if password is not None else os.environ.get(PASSWORD_ENV)
        self._conn: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (OSError, smtplib.SMTPException):
            conn.close()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _connect(self) -> smtplib.SMTP:
        if self._conn is not None:
            return self._conn
        cfg = self.config
        timeout = cfg.timeout.total_seconds()
        context = ssl.create_default_context()
        try:
            if cfg.security == "tls":
                conn: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=timeout,
                                                      context=context)
            else:
                conn = smtplib.SMTP(cfg.host, cfg.port, timeout=timeout)
                if cfg.security == "starttls":
                    conn.starttls(context=context)
                    conn.ehlo()
        except (OSError, smtplib.SMTPException) as exc:
            raise _Refused(f"cannot connect to {cfg.host}:{cfg.port}: {exc}", transient=True,
                           connection=True) from None
        if conn.sock is not None:
            # smtplib writes the end-of-data dot as its own small packet; with Nagle's
            # algorithm it waits for the server's delayed ACK (40 ms on Linux) every message.
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if cfg.username:
            if not self.password:
                conn.close()
                raise _Refused(f"smtp.username is set but ${PASSWORD_ENV} is empty",
                               transient=False, connection=True)
            try:
                conn.login(cfg.username, self.password)
            except smtplib.SMTPAuthenticationError as exc:
                conn.close()
                raise _Refused(f"SMTP login refused: {_reply(exc.smtp_code, exc.smtp_error)}",
                               transient=False, connection=True) from None
            except (OSError, smtplib.SMTPException) as exc:
                conn.close()
                raise _Refused(f"SMTP login failed: {exc}", transient=True,
                               connection=True) from None
        self._conn = conn
        return conn

    def _transaction(self, sender: str, recipients: list[str], data: bytes) -> None:
        conn = self._connect()
        try:
            conn.ehlo_or_helo_if_needed()
            code, response = conn.mail(sender)
            if code != 250:
                conn.rset()
                raise _Refused(f"MAIL FROM refused: {_reply(code, response)}",
                               transient=400 <= code < 500, connection=False)
            for recipient in recipients:
                code, response = conn.rcpt(recipient)
                if code not in (250, 251):
                    conn.rset()
                    raise _Refused(f"RCPT TO {recipient} refused: {_reply(code, response)}",
                                   transient=400 <= code < 500, connection=False)
        except (OSError, smtplib.SMTPException) as exc:
            # Nothing of the message has been sent yet; a stale reused connection ends here.
            self._drop()
            raise _Refused(f"SMTP error before DATA: {exc}", transient=True,
                           connection=False) from None
        try:
            conn.data(data)
        except smtplib.SMTPDataError as exc:
            # Either DATA itself or the finished message got a refusal reply: not delivered.
            conn.rset()
            raise _Refused(f"message refused: {_reply(exc.smtp_code, exc.smtp_error)}",
                           transient=400 <= exc.smtp_code < 500, connection=False) from None
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise SendUncertain(f"connection lost while handing over the message: {exc}") \
                from None
        if os.environ.get(FAULT_EXIT_AFTER_SEND_ENV):
            os._exit(75)

    def send(self, message: EmailMessage, recipients: list[str] | None = None) -> None:
        """Deliver one message; raise SendFailed (not delivered) or SendUncertain.

        `recipients` is the envelope; without it, the To: addresses as the stdlib reads
        them back (which decodes encoded words: the digest sender always passes it).
        """
        sender = parseaddr(str(message["From"]))[1]
        if recipients is None:
            recipients = [address for _name, address in getaddresses(message.get_all("To", []))]
        data = message.as_bytes()
        attempt = 0
        while True:
            try:
                self._transaction(sender, recipients, data)
                return
            except _Refused as exc:
                if not exc.transient or attempt >= self.config.retries:
                    raise SendFailed(str(exc), connection=exc.connection) from None
                # Exponential backoff from retry_backoff: 2 s, 4 s, 8 s by default.
                delay = self.config.retry_backoff.total_seconds() * 2**attempt
                log.warning("SMTP attempt %d failed (%s); retrying in %.1f s",
                            attempt + 1, exc, delay)
                time.sleep(delay)
                attempt += 1
