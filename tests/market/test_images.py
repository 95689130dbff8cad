import io

import pytest
from PIL import Image

from market.errors import PayloadTooLarge, UnsupportedMediaType
from market.images import MAX_PIXELS, process_photo


def _image(fmt: str, size=(800, 600), **save) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(buffer, format=fmt, **save)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_photos_are_re_encoded_with_a_thumbnail(fmt):
    photo = process_photo(_image(fmt), max_bytes=5_000_000)
    with Image.open(io.BytesIO(photo.full)) as full, Image.open(io.BytesIO(photo.thumbnail)) as t:
        assert full.format == t.format == "WEBP"
        assert full.size == (800, 600) and max(t.size) == 480


def test_metadata_does_not_survive():
    exif = Image.Exif()
    exif[0x010E] = "secret description"
    photo = process_photo(_image("JPEG", exif=exif.tobytes()), max_bytes=5_000_000)
    assert b"secret description" not in photo.full


def test_fake_images_are_refused():
    with pytest.raises(UnsupportedMediaType):
        process_photo(b"<script>alert(1)</script>", max_bytes=5_000_000)
    with pytest.raises(UnsupportedMediaType):
        process_photo(_image("GIF"), max_bytes=5_000_000)
    truncated = _image("PNG")[:200]
    with pytest.raises(UnsupportedMediaType):
        process_photo(truncated, max_bytes=5_000_000)


def test_oversized_and_bomb_images_are_refused():
    with pytest.raises(PayloadTooLarge):
        process_photo(_image("PNG"), max_bytes=100)
    # A small file that claims a huge canvas: refused before decoding.
    side = int(MAX_PIXELS**0.5) + 100
    bomb = _image("PNG", size=(side, side), optimize=True)
    assert len(bomb) < 5_000_000
    with pytest.raises(PayloadTooLarge):
        process_photo(bomb, max_bytes=5_000_000)
