"""Attachments: size limits and a type read from the content, never from the name.

Accepted: PDF, PNG, JPEG, GIF, WebP, the OpenDocument and Office Open XML formats (zip files
that say what they hold), legacy Office files (OLE2), plain text. Anything else is refused.
"""

import io
import zipfile
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_TOTAL_BYTES = 25 * 1024 * 1024

_OOXML = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}


@dataclass(frozen=True)
class Upload:
    name: str
    content: bytes

    @property
    def size(self) -> int:
        return len(self.content)


def sniff(content: bytes) -> str | None:
    """The MIME type the bytes really are, or None when it is not one we accept."""
    head = content[:16]
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "application/x-ole-storage"  # .doc, .xls, .ppt
    if head.startswith(b"PK\x03\x04"):
        return _zip_document(content)
    return _plain_text(content)


def _zip_document(content: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                declared = archive.read("mimetype").decode("ascii", "replace").strip()
                if declared.startswith("application/vnd.oasis.opendocument."):
                    return declared
            for prefix, mime in _OOXML.items():
                if "[Content_Types].xml" in names and any(n.startswith(prefix) for n in names):
                    return mime
    except (zipfile.BadZipFile, OSError, KeyError):
        return None
    return None


def _plain_text(content: bytes) -> str | None:
    sample = content[:4096]
    if b"\x00" in sample:
        return None
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(sample) - 4:  # a cut multibyte character at the end is fine
            return None
    return "text/plain"


def check(uploads: list[Upload]) -> list[tuple[Upload, str]]:
    """Each upload with its sniffed type; ValidationError listing every refused file."""
    problems, accepted = [], []
    for upload in uploads:
        if upload.size > MAX_FILE_BYTES:
            problems.append(
                _("“%(name)s” is too large (%(size)s; at most %(max)s per file).")
                % {
                    "name": upload.name,
                    "size": filesizeformat(upload.size),
                    "max": filesizeformat(MAX_FILE_BYTES),
                }
            )
            continue
        mime = sniff(upload.content)
        if mime is None:
            problems.append(
                _("“%(name)s” is not an accepted type: send a PDF, an image or an office document.")
                % {"name": upload.name}
            )
            continue
        accepted.append((upload, mime))
    total = sum(upload.size for upload in uploads)
    if total > MAX_TOTAL_BYTES:
        problems.append(
            _("The attachments weigh %(size)s together; at most %(max)s per request.")
            % {"size": filesizeformat(total), "max": filesizeformat(MAX_TOTAL_BYTES)}
        )
    if problems:
        raise ValidationError(problems)
    return accepted
