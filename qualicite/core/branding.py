"""Per-organisation branding: the primary colour must keep text readable (WCAG AA)."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
WHITE = "#ffffff"
# WCAG 2.1 AA for normal text: the branding colour is used as a background behind
# white text (header, buttons) and as text on white (links).
AA_NORMAL_TEXT = 4.5


def relative_luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(first: str, second: str) -> float:
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def validate_primary_colour(value: str) -> None:
    if not HEX_COLOUR.match(value or ""):
        raise ValidationError(_("Enter a colour as #RRGGBB, for example #1f4e8c."))
    ratio = contrast_ratio(value, WHITE)
    if ratio < AA_NORMAL_TEXT:
        raise ValidationError(
            _(
                "White text on %(colour)s has a contrast of %(ratio).1f:1; "
                "choose a darker colour (at least 4.5:1)."
            ),
            params={"colour": value, "ratio": ratio},
        )


# Magic numbers of the image formats a logo may use; SVG is refused because it
# can carry scripts and it is served to the public.
LOGO_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpeg"}
LOGO_MAX_BYTES = 512 * 1024


def validate_logo(file) -> None:
    if file.size > LOGO_MAX_BYTES:
        raise ValidationError(_("The logo must weigh at most 512 KB."))
    position = file.tell() if hasattr(file, "tell") else 0
    file.seek(0)
    head = file.read(8)
    file.seek(position)
    if not any(head.startswith(signature) for signature in LOGO_SIGNATURES):
        raise ValidationError(_("The logo must be a PNG or JPEG image."))
