"""Printable letters for postal requests: the acknowledgement and the replies (WeasyPrint)."""

from django.template.loader import render_to_string
from django.utils import timezone, translation

from qualicite.requests.models import Reply, Request


def _pdf(context: dict) -> bytes:
    with translation.override("fr"):
        html = render_to_string("requests/letters/letter.html", context)
    # Imported here: loading WeasyPrint parses its stylesheets, which every command would pay.
    from weasyprint import HTML

    return HTML(string=html).write_pdf(pdf_variant="pdf/a-3u")


def acknowledgement_letter(request: Request) -> bytes:
    return _pdf({"request": request, "kind": "acknowledgement", "date": timezone.now()})


def reply_letter(reply: Reply) -> bytes:
    return _pdf(
        {
            "request": reply.request,
            "reply": reply,
            "kind": "reply",
            "date": reply.sent_at or timezone.now(),
        }
    )
