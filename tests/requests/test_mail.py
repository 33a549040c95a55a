"""E-mails become requests: read from a real Dovecot server over IMAP, or imported from files."""

import datetime as dt
import email.policy
import io
import logging
import mailbox as mbox_files
from email.headerregistry import Address
from email.message import EmailMessage

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone, translation
from django.utils.translation import gettext, override
from hypothesis import given, settings
from hypothesis import strategies as st

from qualicite.core import tick
from qualicite.core.choices import Channel, RequestKind
from qualicite.requests import mail
from qualicite.requests.models import Mailbox, Request, RequestEvent

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64


def message(
    subject="Horaires d'ouverture",
    body="Bonjour, à quelle heure ouvre la mairie samedi ?",
    sender="Camille Martin <camille@example.fr>",
    message_id="<horaires-1@example.fr>",
    date=None,
    **headers,
) -> EmailMessage:
    found = EmailMessage()
    found["Subject"] = subject
    if sender:
        found["From"] = sender
    found["To"] = "mairie@ville-a.fr"
    if message_id:
        found["Message-ID"] = message_id
    found["Date"] = date or dt.datetime(2025, 3, 3, 9, 30, tzinfo=dt.UTC)
    for name, value in headers.items():
        found[name.replace("_", "-")] = value
    found.set_content(body)
    return found


def wire(found: EmailMessage) -> bytes:
    """The bytes as a mail server holds them (CRLF line endings)."""
    return found.as_bytes(policy=email.policy.SMTP)


@pytest.fixture
def mailbox(org, dovecot, imap_account):
    return Mailbox.objects.create(
        organisation=org,
        host=dovecot.host,
        port=dovecot.port,
        use_ssl=False,
        username=imap_account.username,
        password=imap_account.password,
        default_service=org.service_set.get(code="accueil"),
    )


@pytest.fixture
def deliver(dovecot, imap_account):
    def put(raw: bytes, folder="INBOX"):
        dovecot.append(imap_account, raw, folder)

    return put


def fetch(mailbox) -> mail.FetchReport:
    mailbox.refresh_from_db()
    return mail.fetch_mailbox(mailbox)


# Conversion, read from the real server.


def test_a_plain_text_email_becomes_an_email_request_of_the_mailbox_service(mailbox, deliver, org):
    deliver(wire(message()))
    report = fetch(mailbox)
    assert (report.imported, report.refused, report.error) == (1, 0, "")
    request = Request.objects.get(organisation=org)
    assert (request.channel, request.kind) == (Channel.EMAIL, RequestKind.INFORMATION)
    assert request.subject == "Horaires d'ouverture"
    assert request.body == "Bonjour, à quelle heure ouvre la mairie samedi ?"
    assert (request.citizen_name, request.citizen_email) == ("Camille Martin", "camille@example.fr")
    assert request.message_id == "<horaires-1@example.fr>"
    assert request.service == mailbox.default_service
    assert request.received_at == dt.datetime(2025, 3, 3, 9, 30, tzinfo=dt.UTC)
    assert request.events.filter(verb="request.received", actor=None).exists()


def test_an_html_only_email_keeps_its_paragraphs_and_line_breaks(mailbox, deliver, org):
    found = message()
    found.set_content(
        "<html><head><style>p { color: red }</style></head><body>"
        "<p>Bonjour,</p><p>Le lampadaire du<br>12 rue des Lilas<br>est en panne.</p>"
        "<ul><li>depuis lundi</li><li>la nuit</li></ul>"
        "<p>Voir <a href='https://ville-a.fr/carte'>la carte</a> &amp; merci.</p>"
        "<script>alert('x')</script></body></html>",
        subtype="html",
    )
    deliver(wire(found))
    fetch(mailbox)
    body = Request.objects.get(organisation=org).body
    assert body.split("\n\n") == [
        "Bonjour,",
        "Le lampadaire du\n12 rue des Lilas\nest en panne.",
        "- depuis lundi\n- la nuit",
        "Voir la carte (https://ville-a.fr/carte) & merci.",
    ]


def test_plain_text_is_preferred_to_its_html_alternative(mailbox, deliver, org):
    found = message(body="Texte brut")
    found.add_alternative("<p>Texte <b>HTML</b></p>", subtype="html")
    deliver(wire(found))
    fetch(mailbox)
    assert Request.objects.get(organisation=org).body == "Texte brut"


def test_a_pdf_attachment_is_kept_and_an_exe_is_dropped_but_named_in_the_body(
    mailbox, deliver, org
):
    found = message(body="Voici mon avis d'imposition.")
    found.add_attachment(PDF, maintype="application", subtype="pdf", filename="avis.pdf")
    found.add_attachment(
        EXE, maintype="application", subtype="octet-stream", filename="facture.exe"
    )
    deliver(wire(found))
    report = fetch(mailbox)
    assert (report.imported, report.refused) == (1, 0)
    request = Request.objects.get(organisation=org)
    attached = list(request.attachments.all())
    assert [(a.name, a.content_type) for a in attached] == [("avis.pdf", "application/pdf")]
    assert attached[0].file.read() == PDF
    assert request.body.startswith("Voici mon avis d'imposition.")
    with override("fr"):
        assert gettext("Attachments not kept:") in request.body
    assert "- facture.exe: " in request.body


@pytest.mark.parametrize(
    ("charset", "text"),
    [
        ("iso-8859-1", "Madame, l'état civil m'a répondu : ça dépend. Où aller ?"),
        ("windows-1252", "Le reçu coûte 12 € ; c’est « normal » ? Cœur… œuvre"),
    ],
)
def test_a_body_in_a_legacy_charset_is_read(mailbox, deliver, org, charset, text):
    raw = (
        "From: =?iso-8859-1?q?Ren=E9e_Dupr=E9?= <renee@example.fr>\r\n"
        "To: mairie@ville-a.fr\r\n"
        "Subject: =?utf-8?b?w4l0YXQgY2l2aWwgwrcgYWN0ZQ==?=\r\n"
        "Message-ID: <legacy@example.fr>\r\n"
        "MIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset={charset}\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode("ascii") + text.encode(charset)
    deliver(raw)
    fetch(mailbox)
    request = Request.objects.get(organisation=org)
    assert request.body == text
    assert request.subject == "État civil · acte"
    assert request.citizen_name == "Renée Dupré"


@pytest.mark.parametrize("declared", ["utf-8", "x-inconnu", ""])
def test_a_body_with_a_wrong_or_unknown_charset_is_still_read(declared):
    charset = f"; charset={declared}" if declared else ""
    raw = (
        b"From: a@example.fr\r\nSubject: s\r\nContent-Type: text/plain"
        + charset.encode()
        + b"\r\n\r\nUne r\xe9ponse \x80 d\xe9j\xe0 vue"
    )
    assert mail.parse_message(raw).body == "Une réponse € déjà vue"


def test_latin1_declared_text_with_outlook_quotes_is_read_as_windows_1252():
    raw = (
        b"From: a@example.fr\r\nSubject: s\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\n"
        b"C\x92est r\xe9gl\xe9 \x96 merci"
    )
    assert mail.parse_message(raw).body == "C’est réglé – merci"


def test_raw_8bit_headers_are_read_as_utf8_or_windows_1252():
    raw = b"From: \xc3\x89lodie <elodie@example.fr>\r\nSubject: Caf\xe9 ferm\xe9\r\n\r\nx"
    parsed = mail.parse_message(raw)
    assert (parsed.sender_name, parsed.subject) == ("Élodie", "Café fermé")


def test_the_reply_to_address_is_the_one_answered():
    raw = wire(
        message(
            sender="Formulaire du site <noreply@ville-a.fr>",
            Reply_To="Jean Petit <jean.petit@example.fr>",
        )
    )
    parsed = mail.parse_message(raw)
    assert (parsed.sender_name, parsed.sender_email) == ("Jean Petit", "jean.petit@example.fr")


def test_a_forwarded_message_is_kept_as_an_eml_attachment_and_not_mixed_into_the_text():
    forwarded = message(subject="Message d'origine", body="Texte transféré")
    found = message(body="Je vous transfère ce message.")
    found.add_attachment(forwarded)
    parsed = mail.parse_message(wire(found))
    assert parsed.body == "Je vous transfère ce message."
    assert [upload.name for upload in parsed.attachments] == ["piece-jointe-1.eml"]
    inner = email.message_from_bytes(parsed.attachments[0].content, policy=email.policy.default)
    assert inner["Subject"] == "Message d'origine"


def test_the_date_header_gives_the_reception_time_but_never_a_future_one(mailbox, deliver, org):
    future = timezone.now() + dt.timedelta(days=3)
    deliver(wire(message(message_id="<futur@example.fr>", date=future)))
    before = timezone.now()
    fetch(mailbox)
    received = Request.objects.get(organisation=org).received_at
    assert before <= received <= timezone.now()


# Never twice, moved when done, kept when not.


def test_the_same_message_twice_makes_one_request_and_both_copies_leave_the_inbox(
    mailbox, deliver, dovecot, imap_account, org
):
    deliver(wire(message()))
    deliver(wire(message()))
    report = fetch(mailbox)
    assert (report.imported, report.known) == (1, 1)
    assert Request.objects.filter(organisation=org).count() == 1
    assert dovecot.messages(imap_account) == []
    assert len(dovecot.messages(imap_account, "Traitees")) == 2


def test_a_message_without_message_id_gets_a_stable_one_and_is_recorded_once(
    mailbox, deliver, org, tmp_path
):
    raw = wire(message(message_id=None))
    deliver(raw)
    fetch(mailbox)
    request = Request.objects.get(organisation=org)
    assert request.message_id.endswith("@qualicite.invalid>")
    deliver(raw)
    assert fetch(mailbox).known == 1
    # The same message saved as a file with LF line endings is the same message.
    path = tmp_path / "copie.eml"
    path.write_bytes(raw.replace(b"\r\n", b"\n"))
    call_command("import_mail", org.slug, str(path), stdout=io.StringIO())
    assert Request.objects.filter(organisation=org).count() == 1


@pytest.mark.parametrize(
    "server_capabilities",
    [None, {"IMAP4REV1", "UIDPLUS"}, {"IMAP4REV1"}],
    ids=["move", "copy-uid-expunge", "copy-expunge"],
)
def test_a_processed_message_is_moved_to_the_processed_folder_created_when_missing(
    mailbox, deliver, dovecot, imap_account, monkeypatch, server_capabilities
):
    if server_capabilities is not None:
        # Servers without MOVE (or UIDPLUS): Dovecot has both, so it is told to forget them.
        monkeypatch.setattr(mail, "capabilities", lambda imap: server_capabilities)
    mailbox.processed_folder = "Traitées"
    mailbox.save()
    other = wire(message(message_id="<autre@example.fr>", subject="Autre"))
    deliver(wire(message()))
    deliver(other)
    assert "Trait&AOk-es" not in dovecot.folders(imap_account)
    report = fetch(mailbox)
    assert report.imported == 2
    assert "Trait&AOk-es" in dovecot.folders(imap_account)
    assert dovecot.messages(imap_account) == []
    moved = dovecot.messages(imap_account, "Trait&AOk-es")
    assert sorted(moved) == sorted([wire(message()), other])


def test_a_message_that_cannot_be_recorded_stays_in_place_and_is_logged(
    mailbox, deliver, dovecot, imap_account, org, caplog
):
    nobody = wire(message(sender=None, message_id="<sans-expediteur@example.fr>"))
    deliver(nobody)
    deliver(wire(message()))
    with caplog.at_level(logging.ERROR, logger="qualicite.requests"):
        report = fetch(mailbox)
    assert (report.imported, report.refused, report.error) == (1, 1, "")
    assert dovecot.messages(imap_account) == [nobody]
    assert Request.objects.filter(organisation=org).count() == 1
    logged = [r for r in caplog.records if r.name == "qualicite.requests"]
    assert any("<sans-expediteur@example.fr>" in r.getMessage() for r in logged)
    # Still there on the next read, still refused, never recorded by accident.
    assert fetch(mailbox).refused == 1
    assert dovecot.messages(imap_account) == [nobody]


def test_a_message_whose_attachment_cannot_be_stored_stays_and_the_others_are_recorded(
    mailbox, deliver, dovecot, imap_account, org, monkeypatch, caplog
):
    from qualicite.requests.models import PrivateStorage

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(PrivateStorage, "_save", disk_full)
    with_pdf = message(message_id="<avec-pdf@example.fr>")
    with_pdf.add_attachment(PDF, maintype="application", subtype="pdf", filename="avis.pdf")
    deliver(wire(with_pdf))
    deliver(wire(message(message_id="<sans-pdf@example.fr>")))
    with caplog.at_level(logging.ERROR, logger="qualicite.requests"):
        report = fetch(mailbox)
    assert (report.imported, report.refused, report.error) == (1, 1, "")
    assert list(Request.objects.filter(organisation=org).values_list("message_id", flat=True)) == [
        "<sans-pdf@example.fr>"
    ]
    assert dovecot.messages(imap_account) == [wire(with_pdf)]
    assert any("<avec-pdf@example.fr>" in r.getMessage() for r in caplog.records)


def test_an_automatic_reply_is_set_aside_without_a_request(
    mailbox, deliver, dovecot, imap_account, org
):
    deliver(wire(message(subject="Absence du bureau", Auto_Submitted="auto-replied")))
    report = fetch(mailbox)
    assert (report.skipped, report.imported) == (1, 0)
    assert not Request.objects.filter(organisation=org).exists()
    assert dovecot.messages(imap_account) == []
    assert len(dovecot.messages(imap_account, "Traitees")) == 1


def test_a_message_is_recorded_in_the_organisation_of_its_mailbox_only(
    mailbox, deliver, dovecot, org, other_org
):
    other_account = dovecot.new_account()
    other_mailbox = Mailbox.objects.create(
        organisation=other_org,
        host=dovecot.host,
        port=dovecot.port,
        use_ssl=False,
        username=other_account.username,
        password=other_account.password,
    )
    deliver(wire(message()))
    dovecot.append(other_account, wire(message()))
    assert fetch(mailbox).imported == 1
    # Same Message-ID in another organisation: a request of its own, not "already known".
    assert fetch(other_mailbox).imported == 1
    first = Request.objects.get(organisation=org)
    second = Request.objects.get(organisation=other_org)
    assert first.pk != second.pk
    assert second.service is None


# Mailboxes that cannot be read.


def closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket is closed


def test_an_unreachable_server_is_recorded_on_the_mailbox_and_the_tick_goes_on(
    mailbox, org, other_org, dovecot, caplog
):
    reachable_account = dovecot.new_account()
    Mailbox.objects.create(
        organisation=other_org,
        host=dovecot.host,
        port=dovecot.port,
        use_ssl=False,
        username=reachable_account.username,
        password=reachable_account.password,
    )
    dovecot.append(reachable_account, wire(message()))
    mailbox.port = closed_port()
    mailbox.save()
    outcomes = {outcome.name: outcome for outcome in tick.run_tick()}
    assert outcomes["requests.fetch_mail"].ok
    assert "1 mailbox(es) unreachable" in outcomes["requests.fetch_mail"].summary
    mailbox.refresh_from_db()
    assert "ConnectionRefusedError" in mailbox.last_error
    assert mailbox.last_error_at is not None and mailbox.last_checked_at is None
    assert Request.objects.filter(organisation=other_org).count() == 1
    assert any(r.name == "qualicite.requests" for r in caplog.records)


def test_a_refused_login_is_the_error_shown_and_never_the_password(mailbox):
    mailbox.password = "mauvais-mot-de-passe"
    mailbox.save()
    report = fetch(mailbox)
    mailbox.refresh_from_db()
    assert report.error and mailbox.last_error == report.error
    assert "AUTHENTICATIONFAILED" in mailbox.last_error
    assert "mauvais-mot-de-passe" not in mailbox.last_error


def test_a_mailbox_that_comes_back_clears_its_error_and_each_change_is_an_event(mailbox):
    port = mailbox.port
    mailbox.port = closed_port()
    mailbox.save()
    fetch(mailbox)
    fetch(mailbox)
    mailbox.port = port
    mailbox.save()
    fetch(mailbox)
    mailbox.refresh_from_db()
    assert mailbox.last_error == "" and mailbox.last_checked_at is not None
    verbs = list(
        RequestEvent.objects.filter(subject_id=str(mailbox.pk))
        .order_by("at", "id")
        .values_list("verb", flat=True)
    )
    assert verbs == ["mailbox.unreachable", "mailbox.reachable"]


def test_a_missing_folder_is_an_error_of_the_mailbox(mailbox):
    mailbox.folder = "Inexistant"
    mailbox.save()
    report = fetch(mailbox)
    assert "Inexistant" in report.error
    mailbox.refresh_from_db()
    assert mailbox.last_error == report.error


def test_inactive_mailboxes_are_not_read_by_the_tick(mailbox, deliver, org):
    mailbox.is_active = False
    mailbox.save()
    deliver(wire(message()))
    mail.fetch_all_mailboxes(timezone.now())
    assert not Request.objects.filter(organisation=org).exists()


# The commands.


def test_fetch_mail_reads_the_mailbox_of_an_organisation_and_reports(mailbox, deliver, org):
    deliver(wire(message()))
    out = io.StringIO()
    call_command("fetch_mail", org.slug, stdout=out)
    assert Request.objects.filter(organisation=org).count() == 1
    with translation.override("fr"):
        expected = translation.gettext(
            "%(org)s, %(mailbox)s: %(imported)s imported, %(known)s already known, "
            "%(skipped)s automatic set aside, %(refused)s refused"
        ) % {
            "org": org.slug,
            "mailbox": mailbox,
            "imported": 1,
            "known": 0,
            "skipped": 0,
            "refused": 0,
        }
    assert expected in out.getvalue()


def test_fetch_mail_fails_when_a_mailbox_cannot_be_read(mailbox, org):
    mailbox.port = closed_port()
    mailbox.save()
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("fetch_mail", org.slug, stdout=io.StringIO(), stderr=err)
    assert "ConnectionRefusedError" in err.getvalue()


def test_fetch_mail_refuses_an_unknown_organisation(db):
    with pytest.raises(CommandError):
        call_command("fetch_mail", "nulle-part")


def report_line(msgid: str, **values) -> str:
    with override("fr"):
        return gettext(msgid) % values


def test_import_mail_records_an_eml_file_and_reports_it(org, tmp_path):
    path = tmp_path / "demande.eml"
    path.write_bytes(message().as_bytes())
    out = io.StringIO()
    call_command("import_mail", org.slug, str(path), stdout=out)
    request = Request.objects.get(organisation=org)
    assert request.channel == Channel.EMAIL and request.subject == "Horaires d'ouverture"
    assert (
        report_line(
            "Message %(number)s imported as %(code)s: %(subject)s",
            number=1,
            code=request.display_code,
            subject=request.subject,
        )
        in out.getvalue()
    )


def test_import_mail_of_an_mbox_reports_imported_known_and_refused(org, tmp_path):
    path = tmp_path / "boite.mbox"
    box = mbox_files.mbox(str(path))
    box.add(message(message_id="<un@example.fr>", subject="Premier").as_bytes())
    box.add(message(message_id="<deux@example.fr>", subject="Second").as_bytes())
    box.add(
        message(message_id="<trois@example.fr>", subject="Sans adresse", sender=None).as_bytes()
    )
    box.flush()
    box.close()
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_mail", org.slug, str(path), stdout=out, stderr=err)
    first = Request.objects.get(organisation=org, message_id="<un@example.fr>")
    assert Request.objects.filter(organisation=org).count() == 2
    assert (
        report_line(
            "Message %(number)s imported as %(code)s: %(subject)s",
            number=1,
            code=first.display_code,
            subject="Premier",
        )
        in out.getvalue()
    )
    assert "Sans adresse" in err.getvalue()
    # Importing the file again adds nothing and says so.
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_mail", org.slug, str(path), stdout=out, stderr=io.StringIO())
    assert Request.objects.filter(organisation=org).count() == 2
    assert (
        report_line(
            "Message %(number)s already known as %(code)s: %(subject)s",
            number=1,
            code=first.display_code,
            subject="Premier",
        )
        in out.getvalue()
    )


def test_import_mail_gives_the_service_asked_for(org, tmp_path):
    path = tmp_path / "demande.eml"
    path.write_bytes(message().as_bytes())
    call_command("import_mail", org.slug, str(path), "--service", "finances", stdout=io.StringIO())
    assert Request.objects.get(organisation=org).service.code == "finances"


def test_a_missing_dovecot_fails_under_ci_and_skips_elsewhere(monkeypatch):
    from tests import dovecot as harness

    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get install dovecot-imapd"):
        harness._unavailable(f"not installed: {harness.INSTALL_HINT}")
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match="apt-get install dovecot-imapd"):
        harness._unavailable(f"not installed: {harness.INSTALL_HINT}")


# Folder names and robustness.


def test_folder_names_are_encoded_in_imap_modified_utf7():
    # The example of RFC 3501, section 5.1.3.
    assert mail.imap_utf7("~peter/mail/台北/日本語") == "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
    assert mail.imap_utf7("R&D") == "R&-D"


_TEXT = st.characters(blacklist_categories=("Cc", "Cs"))
_CHARSETS = {
    "utf-8": _TEXT,
    "iso-8859-1": st.characters(
        min_codepoint=0x20, max_codepoint=0xFF, blacklist_categories=("Cc",)
    ),
    "windows-1252": st.sampled_from(
        [c for c in bytes(range(0x20, 0x100)).decode("cp1252", "ignore") if c.isprintable()]
    ),
}


@st.composite
def emails(draw):
    charset = draw(st.sampled_from(sorted(_CHARSETS)))
    subject = draw(st.text(_TEXT, max_size=150))
    name = draw(st.text(_TEXT, max_size=40))
    lines = draw(st.lists(st.text(_CHARSETS[charset], max_size=80), min_size=1, max_size=8))
    body = "\n".join(lines)
    return charset, subject, name, body


@settings(max_examples=150, deadline=None)
@given(emails())
def test_any_subject_sender_and_body_survive_encoding_and_parsing(sample):
    charset, subject, name, body = sample
    found = EmailMessage()
    found["Subject"] = subject
    found["From"] = Address(display_name=name, username="usager", domain="example.fr")
    found.set_content(body, charset=charset)
    parsed = mail.parse_message(found.as_bytes())
    assert parsed.subject == " ".join(subject.split())
    assert parsed.sender_name == " ".join(name.split())
    assert parsed.sender_email == "usager@example.fr"
    assert parsed.body == "\n".join(line.rstrip() for line in body.splitlines()).strip()


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_are_read_without_crashing(raw):
    parsed = mail.parse_message(b"From: a@example.fr\r\nSubject: x\r\n" + raw)
    assert "\x00" not in parsed.body and "\x00" not in parsed.subject
    assert parsed.message_id
