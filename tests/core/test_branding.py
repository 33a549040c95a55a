import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from qualicite.core import branding


def test_white_on_black_has_the_maximum_contrast():
    assert branding.contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)


@pytest.mark.parametrize("colour", ["#1f4e8c", "#2d5a27", "#000000", "#a4161a"])
def test_it_accepts_dark_enough_colours(colour):
    branding.validate_primary_colour(colour)


@pytest.mark.parametrize("colour", ["#ffff00", "#88aaff", "#ffffff", "#777777"])
def test_it_refuses_colours_that_make_white_text_unreadable(colour):
    with pytest.raises(ValidationError, match="contrast"):
        branding.validate_primary_colour(colour)


@pytest.mark.parametrize("colour", ["blue", "#12345", "1f4e8c", "#gggggg"])
def test_it_refuses_what_is_not_a_hex_colour(colour):
    with pytest.raises(ValidationError, match="#RRGGBB"):
        branding.validate_primary_colour(colour)


def test_it_accepts_a_png_logo():
    branding.validate_logo(SimpleUploadedFile("logo.png", b"\x89PNG\r\n\x1a\n" + b"0" * 100))


def test_it_refuses_an_svg_logo_even_named_png():
    with pytest.raises(ValidationError, match="PNG ou JPEG"):
        branding.validate_logo(SimpleUploadedFile("logo.png", b"<svg onload='x'></svg>"))


def test_it_refuses_a_logo_over_512_kb():
    with pytest.raises(ValidationError, match="512"):
        branding.validate_logo(SimpleUploadedFile("l.png", b"\x89PNG\r\n\x1a\n" + b"0" * 600_000))


def test_the_organisation_colour_is_checked_on_save(db):
    from qualicite.core import services

    with pytest.raises(ValidationError) as caught:
        services.create_organisation(actor=None, name="X", slug="x", primary_colour="#ffff00")
    assert "primary_colour" in caught.value.message_dict
