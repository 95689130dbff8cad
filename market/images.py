"""Photos people upload: only JPEG, PNG or WebP, decoded and re-encoded so
nothing but pixels survives (no scripts, no metadata, no GPS), within size and
pixel limits so no decompression bomb gets through, plus a thumbnail."""

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from market.errors import N_, InvalidInput, PayloadTooLarge, UnsupportedMediaType

ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP"}
MAX_PIXELS = 24_000_000  # a 6000 × 4000 camera photo
FULL_SIZE = (1600, 1600)
THUMBNAIL_SIZE = (480, 480)


@dataclass(frozen=True)
class Photo:
    full: bytes
    thumbnail: bytes
    width: int
    height: int
    content_type: str = "image/webp"


def _decoded(data: bytes) -> Image.Image:
    """The image decoded in full (a truncated file fails here), after its
    format and its pixel count were read from the header: the count is checked
    before a single pixel is decoded, so no decompression bomb is expanded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format not in ALLOWED_FORMATS:
                    raise UnsupportedMediaType(N_("Photos must be JPEG, PNG or WebP images."))
                if probe.width * probe.height > MAX_PIXELS:
                    raise PayloadTooLarge(
                        N_("The photo has too many pixels. Please use a smaller picture.")
                    )
                probe.verify()  # checks the file's structure before decoding it
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                return ImageOps.exif_transpose(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PayloadTooLarge(
            N_("The photo has too many pixels. Please use a smaller picture.")
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UnsupportedMediaType(N_("Photos must be JPEG, PNG or WebP images.")) from exc


def check_image(data: bytes) -> None:
    """Refuses an image that does not decode in full, or has too many pixels.
    CPU-bound: call it in a worker thread."""
    _decoded(data)


def process_photo(data: bytes, *, max_bytes: int) -> Photo:
    """CPU-bound and memory-hungry: call it in a worker thread."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            N_("The photo is too large. Photos may be at most {limit} MB."),
            limit=max_bytes // (1024 * 1024),
        )
    picture = _decoded(data).convert("RGB")
    if picture.width < 1 or picture.height < 1:
        raise InvalidInput(N_("The photo is empty."))
    full = picture.copy()
    full.thumbnail(FULL_SIZE)
    thumbnail = picture.copy()
    thumbnail.thumbnail(THUMBNAIL_SIZE)
    return Photo(full=_webp(full), thumbnail=_webp(thumbnail), width=full.width, height=full.height)


def _webp(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="WEBP", quality=82, method=4)
    return buffer.getvalue()
