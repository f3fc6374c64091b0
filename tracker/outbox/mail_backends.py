"""Where mail goes when no SMTP server is set (EMAIL_HOST unset): one .eml file per message.

Django's file backend appends every message of a connection to one file, so a sweep that sends
twenty reminders leaves one file holding twenty emails. Here each message is its own file in
EMAIL_FILE_PATH (var/mail/), which any mail program opens, named by the UTC time it was written
so that `ls` lists them in order:

    var/mail/20261130-030130.123456Z-4242-000001.eml   (time, process id, counter)
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail.backends.base import BaseEmailBackend

_counter = itertools.count(1)


class FilePerMessageBackend(BaseEmailBackend):
    """Writes each message to its own .eml file; a reader never sees a half-written one."""

    def __init__(self, *args, file_path: str | Path | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.file_path = Path(file_path or settings.EMAIL_FILE_PATH).resolve()
        try:
            self.file_path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ImproperlyConfigured(
                f"Cannot keep mail in {self.file_path}: {error.strerror}"
            ) from error
        if not self.file_path.is_dir() or not os.access(self.file_path, os.W_OK):
            raise ImproperlyConfigured(f"Cannot write mail into {self.file_path}")

    def send_messages(self, email_messages) -> int:
        written = 0
        for message in email_messages:
            if not message.recipients():
                continue  # as the SMTP backend: nobody to deliver to
            try:
                self._write(message.message().as_bytes())
            except OSError:
                if not self.fail_silently:
                    raise
            else:
                written += 1
        return written

    def _write(self, content: bytes) -> Path:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S.%fZ")
        path = self.file_path / f"{stamp}-{os.getpid()}-{next(_counter):06d}.eml"
        partial = path.with_name(f".{path.name}.part")  # hidden until complete
        partial.write_bytes(content)
        partial.replace(path)
        return path
