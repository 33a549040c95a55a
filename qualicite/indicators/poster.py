"""The poster "Our commitments, our results" for a hall, A4 or A3 portrait (WeasyPrint).

The same `public_results.build()` as the public page, so the poster cannot say other
figures. A3 is the A4 layout scaled by √2: the same page, readable from further away.
"""

from __future__ import annotations

import base64

from django.template.loader import render_to_string
from django.utils import timezone

from qualicite.core.branding import LOGO_MAX_BYTES, LOGO_SIGNATURES
from qualicite.core.models import Organisation
from qualicite.indicators import public_results

# Paper sizes in points (1/72 inch), as the PDF states them; type sizes scale with the page.
SIZES = {
    "a4": {"page": "A4", "points": (595.28, 841.89), "scale": 1.0},
    "a3": {"page": "A3", "points": (841.89, 1190.55), "scale": 1.414},
}
# Type sizes in points on A4, for a poster read from a few metres away.
TYPE = {"title": 30, "subtitle": 15, "commitment": 17, "body": 13, "figure": 22, "small": 10}


def logo_data_uri(organisation: Organisation) -> str:
    """The organisation's logo inlined (WeasyPrint fetches no URL here), or "" without one."""
    if not organisation.logo:
        return ""
    try:
        with organisation.logo.open("rb") as file:
            data = file.read(LOGO_MAX_BYTES + 1)
    except (OSError, ValueError):
        return ""  # a logo missing from the disk: the poster still prints, without it
    for signature, kind in LOGO_SIGNATURES.items():
        if data.startswith(signature):
            return f"data:image/{kind};base64,{base64.b64encode(data).decode('ascii')}"
    return ""


def context(organisation: Organisation, size: str, *, page_url: str = "") -> dict:
    paper = SIZES[size]
    return {
        "organisation": organisation,
        "results": public_results.build(organisation),
        "paper": paper,
        "type": {name: round(points * paper["scale"], 1) for name, points in TYPE.items()},
        "logo": logo_data_uri(organisation),
        "printed_at": timezone.localtime(timezone.now(), organisation.zone),
        "page_url": page_url,
    }


def render(organisation: Organisation, size: str, *, page_url: str = "") -> bytes:
    html = render_to_string(
        "indicators/poster.html", context(organisation, size, page_url=page_url)
    )
    # Imported here: loading WeasyPrint parses its stylesheets, which every command would pay.
    from weasyprint import HTML

    return HTML(string=html).write_pdf()


def filename(organisation: Organisation, size: str) -> str:
    return f"nos-resultats-{organisation.slug}-{size}.pdf"
