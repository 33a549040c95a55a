"""E-mails become requests: the IMAP mailbox read by `qualicite tick`, and .eml/mbox imports.

One conversion serves both: `record_message(organisation, raw)` turns the bytes of a message
into a request (subject, plain text, sender, attachments, date) or says why it cannot.
A message is recorded once: its Message-ID (or, without one, a hash of its bytes) is kept on
the request and `services.create_request` returns the request already recorded for it.

Reading a mailbox (`fetch_mailbox`): every message of the folder read is converted; recorded
ones are moved to the folder for processed messages; one that cannot be recorded stays where
it is and is logged. A mailbox that cannot be reached keeps its error (shown in the admin)
and is tried again on the next tick.
"""

import base64
import contextlib
import email
import email.header
import email.policy
import email.utils
import hashlib
import imaplib
import logging
import mailbox as mbox_files
import mimetypes
import re
import ssl
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from html.parser import HTMLParser
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from qualicite.core import events
from qualicite.core.choices import Channel, RequestKind
from qualicite.core.tick import tick_job
from qualicite.requests import attachments as attachment_rules
from qualicite.requests import queries, services
from qualicite.requests.models import Mailbox, Request, RequestEvent

logger = logging.getLogger("qualicite.requests")

IMAP_TIMEOUT_SECONDS = 30
# A tick reads at most this many messages per mailbox; the rest wait for the next tick.
MESSAGES_PER_TICK = 200
MESSAGE_ID_MAX = 998  # the length of Request.message_id

IMPORTED, KNOWN, SKIPPED, REFUSED = "imported", "known", "skipped", "refused"


# Reading a message.


@dataclass
class ParsedMessage:
    message_id: str
    subject: str
    body: str
    sender_name: str
    sender_email: str
    date: datetime | None
    attachments: list[attachment_rules.Upload] = field(default_factory=list)
    automatic: bool = False


def _decode_surrogates(text: str) -> str:
    """Raw 8-bit bytes in headers come back as surrogates: read them as UTF-8, else cp1252."""

    def decode(match: re.Match) -> str:
        raw = match.group().encode("utf-8", "surrogateescape")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("cp1252", "replace")

    return re.sub("[\udc80-\udcff]+", decode, text)


def _one_line(text: str) -> str:
    """A header value as one clean line: folded whitespace collapsed, control characters out."""
    text = " ".join(_decode_surrogates(text).split())
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cc")


def _raw_header(message: Message, name: str) -> str | None:
    """The header as received (raw 8-bit bytes show as surrogates), or None."""
    return next((str(v) for k, v in message.raw_items() if k.lower() == name.lower()), None)


def _unencoded_8bit(raw: str | None) -> bool:
    """Raw 8-bit text without encoded words: the parser read it as UTF-8, maybe wrongly."""
    return raw is not None and "=?" not in raw and re.search("[\udc80-\udcff]", raw) is not None


def _header(message: Message, name: str) -> str:
    """A header decoded (RFC 2047), or "" — a malformed header never stops the message."""
    try:
        value = message[name]
    except Exception:  # the header parser has known crashes on hostile input: decode by hand
        raw = _raw_header(message, name)
        value = None if raw is None else _decode_words(raw)
    if value is None:
        return ""
    text = str(value)
    if "\ufffd" in text:
        raw = _raw_header(message, name)
        if _unencoded_8bit(raw):
            text = raw  # its bytes are read as UTF-8, else windows-1252, by _one_line
    return _one_line(text)


def _decode_words(raw: str) -> str:
    parts = []
    try:
        chunks = email.header.decode_header(raw)
    except Exception:
        return raw
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            parts.append(chunk)
        else:
            parts.append(_decode_bytes(chunk, charset))
    return "".join(parts)


# Declared charsets that senders use for windows-1252 text (WHATWG's encoding standard).
_CP1252_ALIASES = {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "us-ascii", "ascii"}


def _decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes as text, whatever the declared charset says: it may be missing, unknown or wrong."""
    declared = (charset or "").strip().strip('"').lower()
    candidates = []
    if declared in ("", "us-ascii", "ascii"):
        candidates.append("utf-8")  # undeclared 8-bit text is nowadays mostly UTF-8
    if declared in _CP1252_ALIASES:
        candidates.append("cp1252")
    if declared:
        candidates.append(declared)
    candidates += ["utf-8", "cp1252"]
    for candidate in candidates:
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("latin-1")  # never fails: every byte is a character


def _part_text(part: Message) -> str:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if data is None:
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    return _decode_bytes(data, charset)


class _TextFromHTML(HTMLParser):
    """The readable text of an HTML e-mail: paragraphs, line breaks, lists and link targets."""

    PARAGRAPH = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "ul", "ol"}
    PARAGRAPH |= {"pre", "dl", "hr", "address", "figure", "form", "fieldset"}
    LINE = {"div", "li", "tr", "dt", "dd", "section", "article", "header", "footer", "main"}
    LINE |= {"nav", "aside", "caption", "center"}
    HIDDEN = {"script", "style", "head", "title", "template", "noscript", "svg"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._newlines = 0
        self._space = False
        self._hidden = 0
        self._pre = 0
        self._links: list[tuple[str, int]] = []

    def _break(self, count: int) -> None:
        self._newlines = max(self._newlines, count)
        self._space = False

    def _write(self, text: str) -> None:
        if self.out and self._newlines:
            self.out.append("\n" * self._newlines)
        elif self.out and self._space:
            self.out.append(" ")
        self._newlines, self._space = 0, False
        self.out.append(text)

    def handle_starttag(self, tag, attrs):
        if tag in self.HIDDEN:
            self._hidden += 1
        elif tag == "br":
            self._newlines += 1  # several <br> make blank lines
            self._space = False
        elif tag in self.PARAGRAPH:
            self._break(2)
            if tag == "pre":
                self._pre += 1
        elif tag in self.LINE:
            self._break(1)
            if tag == "li":
                self._write("- ")
        elif tag in ("td", "th"):
            self._space = True
        elif tag == "a":
            self._links.append((dict(attrs).get("href") or "", len(self.out)))
        elif tag == "img":
            alt = (dict(attrs).get("alt") or "").strip()
            if alt and not self._hidden:
                self._write(f"[{alt}]")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag in self.HIDDEN:
            self._hidden -= 1

    def handle_endtag(self, tag):
        if tag in self.HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self.PARAGRAPH:
            if tag == "pre" and self._pre:
                self._pre -= 1
            self._break(2)
        elif tag in self.LINE:
            self._break(1)
        elif tag == "a" and self._links:
            # The target of a link matters to the agent when the text does not show it.
            href, start = self._links.pop()
            text = "".join(self.out[start:])
            if href.startswith(("http://", "https://")) and href not in text and text.strip():
                self._space = True
                self._write(f"({href})")

    def handle_data(self, data):
        if self._hidden:
            return
        if self._pre:
            lines = data.split("\n")
            for number, line in enumerate(lines):
                if number:
                    self.out.append("\n")
                if line:
                    self._write(line)
            return
        if data[:1].isspace():
            self._space = True
        text = " ".join(data.split())
        if text:
            self._write(text)
            self._space = data[-1:].isspace()


def html_to_text(html: str) -> str:
    parser = _TextFromHTML()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # HTMLParser is lenient; this only guards against the unforeseen
        logger.warning("HTML body could not be fully read", exc_info=True)
    lines = [line.rstrip() for line in "".join(parser.out).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _clean_body(text: str) -> str:
    text = _decode_surrogates(text).replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def _is_attachment(part: Message) -> bool:
    try:
        disposition = part.get_content_disposition()
        filename = part.get_filename()
    except Exception:
        return True
    return disposition == "attachment" or bool(filename)


def _content(part: Message) -> bytes:
    try:
        if not part.is_multipart():
            return part.get_payload(decode=True) or b""
        # A forwarded message (message/rfc822) or a report: the messages it holds.
        inner = [m for m in part.get_payload() if isinstance(m, Message)]
        return b"\n".join(m.as_bytes() for m in inner)
    except Exception:  # a broken part is dropped rather than the whole message
        logger.warning("an attachment could not be read", exc_info=True)
        return b""


def _upload(part: Message, number: int) -> attachment_rules.Upload:
    try:
        name = part.get_filename() or ""
    except Exception:
        name = ""
    name = _one_line(name).replace("/", "_").replace("\\", "_").strip(". ")
    kind = part.get_content_type()
    if not name:
        extension = ".eml" if kind == "message/rfc822" else mimetypes.guess_extension(kind)
        name = f"piece-jointe-{number}{extension or '.bin'}"
    return attachment_rules.Upload(name[:255], _content(part))


def _rank(part: Message) -> int:
    """Which alternative to read: plain text first, then a multipart, then HTML."""
    kind = part.get_content_type()
    return {"text/plain": 0, "text/html": 2}.get(kind, 1 if part.is_multipart() else 3)


def _collect(part: Message, texts: list[str], files: list[Message]) -> None:
    kind = part.get_content_type()
    if kind == "message/rfc822" or (part.is_multipart() and not kind.startswith("multipart/")):
        files.append(part)
    elif part.is_multipart():
        children = [child for child in part.get_payload() if isinstance(child, Message)]
        if kind != "multipart/alternative":
            for child in children:
                _collect(child, texts, files)
            return
        # Alternatives say the same thing: read the best one that has text.
        for child in sorted(children, key=_rank):
            found: list[str] = []
            _collect(child, found, files)
            if any(text.strip() for text in found):
                texts.extend(found)
                return
    elif _is_attachment(part) or kind not in ("text/plain", "text/html"):
        files.append(part)  # calendars, vCards and CSV files too: they are documents
    elif kind == "text/html":
        texts.append(html_to_text(_part_text(part)))
    else:
        texts.append(_clean_body(_part_text(part)))


def _address(message: Message, header: str) -> tuple[str, str]:
    """The first (name, address) of an address header, or ("", "").

    The name is decoded from the raw header: the structured parser of email.policy puts a
    space between adjacent encoded words, which RFC 2047 says to join (a long name folded by
    the sender's mail client would gain spaces).
    """
    raw = _raw_header(message, header)
    if raw is None:
        return "", ""
    try:
        pairs = [(_decode_words(name), spec) for name, spec in email.utils.getaddresses([raw])]
    except Exception:  # the lenient parser failed too: try the structured one
        pairs = []
    if not any("@" in spec for _name, spec in pairs):
        try:
            found = message[header]
            pairs = [(a.display_name, a.addr_spec) for a in found.addresses] if found else []
        except Exception:
            pairs = []
    for display, spec in pairs:
        spec = _one_line(spec or "")
        if "@" in spec:
            return _one_line(display or ""), spec
    return "", ""


def _sender(message: Message) -> tuple[str, str]:
    """Who to answer: Reply-To when given (web forms relay that way), else From."""
    name, address = _address(message, "from")
    reply_name, reply_address = _address(message, "reply-to")
    if reply_address and reply_address.lower() != address.lower():
        return reply_name, reply_address
    return name or reply_name, address


def _date(message: Message) -> datetime | None:
    raw = _header(message, "date")
    if not raw:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _is_automatic(message: Message) -> bool:
    """Out-of-office replies and delivery reports: answering them would start a mail loop."""
    auto = _header(message, "auto-submitted").lower()
    precedence = _header(message, "precedence").lower()
    kind = message.get_content_type()
    return (
        (auto not in ("", "no"))
        or precedence in ("bulk", "junk", "auto_reply", "list")
        or bool(_header(message, "x-autoreply") or _header(message, "x-autorespond"))
        or (kind == "multipart/report")
        or _sender(message)[1].lower().startswith(("mailer-daemon@", "postmaster@"))
    )


def message_id_of(raw: bytes, message: Message | None = None) -> str:
    """The Message-ID, or a stable one made from the bytes (line endings do not count)."""
    if message is not None:
        found = _header(message, "message-id")
        if found:
            return found[:MESSAGE_ID_MAX]
    digest = hashlib.sha256(raw.replace(b"\r\n", b"\n").strip()).hexdigest()
    return f"<sha256-{digest}@qualicite.invalid>"


def parse_message(raw: bytes) -> ParsedMessage:
    """Read a message's bytes; any charset, encoded headers, HTML-only bodies, attachments."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    texts: list[str] = []
    files: list[Message] = []
    _collect(message, texts, files)
    name, address = _sender(message)
    return ParsedMessage(
        message_id=message_id_of(raw, message),
        subject=_header(message, "subject"),
        body="\n\n".join(text for text in texts if text.strip()),
        sender_name=name,
        sender_email=address,
        date=_date(message),
        attachments=[
            upload
            for upload in (_upload(part, number) for number, part in enumerate(files, 1))
            if upload.content  # an empty or unreadable part is no document
        ],
        automatic=_is_automatic(message),
    )


# Recording a message as a request.


@dataclass
class Outcome:
    status: str  # IMPORTED, KNOWN, SKIPPED or REFUSED
    message_id: str = ""
    subject: str = ""
    request: Request | None = None
    reason: str = ""
    dropped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """True when the message needs nothing more (it may leave the folder read)."""
        return self.status in (IMPORTED, KNOWN, SKIPPED)


def _messages(error: ValidationError) -> str:
    return " ".join(str(text) for text in error.messages)


def _keep_acceptable(uploads: list[attachment_rules.Upload]):
    """The attachments the rules accept, and (name, reason) for each one refused."""
    kept, dropped, total = [], [], 0
    for upload in uploads:
        try:
            attachment_rules.check([upload])
        except ValidationError as error:
            dropped.append((upload.name, _messages(error)))
            continue
        if total + upload.size > attachment_rules.MAX_TOTAL_BYTES:
            dropped.append((upload.name, _("The attachments of one request are too large.")))
            continue
        total += upload.size
        kept.append(upload)
    return kept, dropped


def _body_with_note(body: str, dropped: list[tuple[str, str]]) -> str:
    if not dropped:
        return body
    lines = [_("Attachments not kept:")]
    lines += [f"- {name}: {reason}" for name, reason in dropped]
    return "\n\n".join(part for part in (body, "\n".join(lines)) if part)


def _failed(outcome: Outcome, error: Exception, organisation) -> Outcome:
    logger.exception("message %s not recorded (%s)", outcome.message_id, organisation)
    outcome.status, outcome.reason = REFUSED, f"{type(error).__name__}: {error}"
    return outcome


def record_message(organisation, raw: bytes, *, service=None) -> Outcome:
    """Turn one message into a request of `organisation`; never raises for a bad message."""
    try:
        parsed = parse_message(raw)
    except Exception as error:  # a message the parser cannot read stays for a human
        logger.exception("message could not be read (%s)", organisation)
        return Outcome(REFUSED, message_id_of(raw), reason=f"{type(error).__name__}: {error}")
    outcome = Outcome(KNOWN, parsed.message_id, parsed.subject)
    outcome.request = queries.recorded_with(organisation, "message_id", parsed.message_id).first()
    if outcome.request is not None:
        return outcome
    if parsed.automatic:
        outcome.status = SKIPPED
        outcome.reason = _("Automatic message (absence notice or delivery report).")
        logger.info("automatic message %s not recorded (%s)", parsed.message_id, organisation)
        return outcome
    now = timezone.now()
    received_at = min(parsed.date or now, now)
    with translation.override(settings.LANGUAGE_CODE):
        kept, outcome.dropped = _keep_acceptable(parsed.attachments)
        body = _body_with_note(parsed.body, outcome.dropped)
        try:
            request = services.create_request(
                organisation,
                actor=None,
                kind=RequestKind.INFORMATION,
                channel=Channel.EMAIL,
                subject=parsed.subject,
                body=body,
                citizen_name=parsed.sender_name[:200],
                citizen_email=parsed.sender_email,
                uploads=kept,
                message_id=parsed.message_id,
                service=service,
                received_at=received_at,
            )
        except ValidationError as error:
            outcome.status, outcome.reason = REFUSED, _messages(error)
            logger.error(
                "message %s not recorded (%s): %s", parsed.message_id, organisation, outcome.reason
            )
            return outcome
        except IntegrityError as error:
            # Recorded at the same moment by another tick: it is known now.
            outcome.request = queries.recorded_with(
                organisation, "message_id", parsed.message_id
            ).first()
            if outcome.request is None:
                return _failed(outcome, error, organisation)
            return outcome
        except Exception as error:  # disk full, a storage error: this message only, not the rest
            return _failed(outcome, error, organisation)
    outcome.status, outcome.request = IMPORTED, request
    return outcome


def read_mail_file(path: Path) -> Iterator[bytes]:
    """The messages of a .eml file, or of an mbox file (it starts with "From ")."""
    with open(path, "rb") as file:
        is_mbox = file.read(5) == b"From "
    if not is_mbox:
        yield Path(path).read_bytes()
        return
    box = mbox_files.mbox(str(path), create=False)
    try:
        for key in box.iterkeys():
            yield box.get_bytes(key)
    finally:
        box.close()


# Reading an IMAP mailbox.


class MailboxError(Exception):
    """The mailbox cannot be read now (server down, login refused, folder missing)."""


@dataclass
class FetchReport:
    mailbox: Mailbox
    imported: int = 0
    known: int = 0
    skipped: int = 0
    refused: int = 0
    error: str = ""

    def count(self, outcome: Outcome) -> None:
        setattr(self, outcome.status, getattr(self, outcome.status) + 1)


def imap_utf7(name: str) -> str:
    """A folder name in IMAP's modified UTF-7 (RFC 3501 §5.1.3): "Traitées" → "Trait&AOk-es"."""
    out, pending = [], []

    def flush():
        if pending:
            data = base64.b64encode("".join(pending).encode("utf-16-be")).decode("ascii")
            out.append("&" + data.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def _folder(name: str) -> str:
    encoded = imap_utf7(name)
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check(response, what: str):
    typ, data = response
    if typ != "OK":
        detail = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
        raise MailboxError(f"{what}: {detail or typ}")
    return data


def _connect(mailbox: Mailbox) -> imaplib.IMAP4:
    if mailbox.use_ssl:
        imap = imaplib.IMAP4_SSL(
            mailbox.host,
            mailbox.port,
            ssl_context=ssl.create_default_context(),
            timeout=IMAP_TIMEOUT_SECONDS,
        )
    else:
        imap = imaplib.IMAP4(mailbox.host, mailbox.port, timeout=IMAP_TIMEOUT_SECONDS)
    try:
        if mailbox.password.isascii() and mailbox.username.isascii():
            imap.login(mailbox.username, mailbox.password)
        else:  # LOGIN is ASCII only; AUTHENTICATE PLAIN carries UTF-8
            secret = f"\0{mailbox.username}\0{mailbox.password}".encode()
            imap.authenticate("PLAIN", lambda _challenge: secret)
    except BaseException:
        _close(imap)
        raise
    return imap


def _close(imap: imaplib.IMAP4) -> None:
    with contextlib.suppress(OSError, imaplib.IMAP4.error):
        imap.logout()


def capabilities(imap: imaplib.IMAP4) -> set[str]:
    """Asked after login: servers announce MOVE and UIDPLUS only to logged-in users."""
    data = _check(imap.capability(), "CAPABILITY")
    return {word.upper() for line in data if line for word in line.decode().split()}


def _ensure_folder(imap: imaplib.IMAP4, name: str) -> None:
    typ, data = imap.list('""', _folder(name))
    if typ == "OK" and any(line for line in data if line):
        return
    _check(imap.create(_folder(name)), _("creating folder %(name)s") % {"name": name})
    imap.subscribe(_folder(name))  # so that mail clients show it


def _move(imap: imaplib.IMAP4, uid: bytes, folder: str, caps: set[str]) -> None:
    if "MOVE" in caps:
        _check(imap.uid("MOVE", uid, _folder(folder)), "MOVE")
        return
    _check(imap.uid("COPY", uid, _folder(folder)), "COPY")
    _check(imap.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)"), "STORE")
    if "UIDPLUS" in caps:
        _check(imap.uid("EXPUNGE", uid), "UID EXPUNGE")
    else:
        _check(imap.expunge(), "EXPUNGE")


def _fetch(imap: imaplib.IMAP4, uid: bytes) -> bytes | None:
    data = _check(imap.uid("FETCH", uid, "(BODY.PEEK[])"), "FETCH")
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            return item[1]
    return None  # deleted meanwhile by a mail client


def _read_folder(mailbox: Mailbox, report: FetchReport) -> None:
    imap = _connect(mailbox)
    try:
        caps = capabilities(imap)
        _ensure_folder(imap, mailbox.processed_folder)
        _check(imap.select(_folder(mailbox.folder)), mailbox.folder)
        uids = _check(imap.uid("SEARCH", "ALL"), "SEARCH")[0].split()
        for uid in uids:
            if report.imported + report.known + report.skipped >= MESSAGES_PER_TICK:
                break  # the rest waits for the next tick; refused ones never hold it up
            raw = _fetch(imap, uid)
            if raw is None:
                continue
            outcome = record_message(mailbox.organisation, raw, service=mailbox.default_service)
            report.count(outcome)
            if not outcome.done:
                continue
            try:
                _move(imap, uid, mailbox.processed_folder, caps)
            except MailboxError:
                # Recorded but not moved: the next tick finds it known and moves it then.
                logger.warning("message %s of %s not moved", uid, mailbox, exc_info=True)
    finally:
        _close(imap)


def _describe(error: BaseException) -> str:
    text = str(error)
    if text.startswith(("b'", 'b"')) and text.endswith(("'", '"')):
        text = text[2:-1]
    if isinstance(error, TimeoutError) and not text:
        text = "timed out"
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


@transaction.atomic
def record_check(mailbox: Mailbox, *, actor, error: str = "", now: datetime | None = None):
    """Keep the outcome of a read on the mailbox; an event when it breaks or comes back."""
    now = now or timezone.now()
    was_failing = Mailbox.objects.filter(pk=mailbox.pk).exclude(last_error="").exists()
    if error:
        mailbox.last_error, mailbox.last_error_at = error[:2000], now
        Mailbox.objects.filter(pk=mailbox.pk).update(
            last_error=mailbox.last_error, last_error_at=now
        )
    else:
        mailbox.last_error, mailbox.last_checked_at = "", now
        Mailbox.objects.filter(pk=mailbox.pk).update(last_error="", last_checked_at=now)
    # Only changes of state are events: a mailbox read every minute would flood the log.
    if bool(error) != was_failing:
        events.record(
            RequestEvent,
            organisation=mailbox.organisation,
            actor=actor,
            verb="mailbox.unreachable" if error else "mailbox.reachable",
            subject=mailbox,
            details={"error": mailbox.last_error} if error else {},
        )


def fetch_mailbox(mailbox: Mailbox, *, actor=None) -> FetchReport:
    """Read one mailbox now; its errors are recorded on it, never raised."""
    report = FetchReport(mailbox)
    try:
        _read_folder(mailbox, report)
    except (OSError, imaplib.IMAP4.error, MailboxError) as error:
        report.error = _describe(error)
        logger.warning(
            "mailbox %s (%s) unreachable: %s", mailbox, mailbox.organisation, report.error
        )
    except Exception as error:  # whatever happens, the other mailboxes are still read
        report.error = _describe(error)
        logger.exception("mailbox %s (%s) failed", mailbox, mailbox.organisation)
    if report.refused:
        logger.error("%s: %s message(s) could not be recorded", mailbox, report.refused)
    record_check(mailbox, actor=actor, error=report.error)
    return report


def active_mailboxes():
    return Mailbox.objects.filter(is_active=True, organisation__is_active=True).select_related(
        "organisation", "default_service"
    )


def summary(reports: list[FetchReport]) -> str | None:
    totals = {
        name: sum(getattr(r, name) for r in reports) for name in (IMPORTED, KNOWN, SKIPPED, REFUSED)
    }
    failing = sum(1 for report in reports if report.error)
    parts = []
    if totals[IMPORTED] or totals[KNOWN]:
        parts.append(f"{totals[IMPORTED] + totals[KNOWN]} message(s) recorded")
    if totals[SKIPPED]:
        parts.append(f"{totals[SKIPPED]} automatic message(s) set aside")
    if totals[REFUSED]:
        parts.append(f"{totals[REFUSED]} message(s) refused")
    if failing:
        parts.append(f"{failing} mailbox(es) unreachable")
    return ", ".join(parts) or None


@tick_job("requests.fetch_mail")
def fetch_all_mailboxes(now: datetime) -> str | None:
    """Every active mailbox is read; one that fails does not stop the others."""
    return summary([fetch_mailbox(mailbox) for mailbox in active_mailboxes()])
