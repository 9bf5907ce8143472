"""Image token accounting following OpenAI's vision guide ("Calculating costs") and Claude's.

Three formulas exist:

* tiles (gpt-4o, gpt-4.1, gpt-5, o1/o3 ...): ``detail="low"`` costs ``base`` tokens; otherwise the
  image is scaled to fit 2048x2048, then down so its shortest side is at most 768, and costs
  ``base + tile * (512px tiles)``.
* patches (gpt-4.1-mini/nano, gpt-5-mini/nano, o4-mini): 32px patches, capped at 1536, times a
  per-model multiplier. ``detail="original"`` (gpt-5.4 and later) sends the image unresized:
  one token per 32px patch, capped at the 10,000-patch budget.
* area (Claude, Anthropic's vision docs): ``width * height / 750`` after the image is scaled
  down (aspect kept) to a long edge of at most 1568 px and at most ~1.2 megapixels, i.e. at
  most ~1600 tokens per image.

Remote URLs are never fetched (no network in a pre-flight check): their size is unknown and we
charge the worst case. Data URLs are sized from their PNG/GIF/JPEG header when cheap.
"""

from __future__ import annotations

import base64
import binascii
import math
import struct

__all__ = ["claude_image_tokens", "image_dimensions_from_data_url", "image_tokens"]

# Largest tile count any image can reach after the resize rules: e.g. 2048x768 -> 4x2 tiles.
_WORST_CASE_TILES = 8
_MAX_PATCHES = 1536
_PATCH_PX = 32
_TILE_PX = 512
_FIT_PX = 2048  # first resize: fit inside this square
_SHORT_SIDE_PX = 768  # second resize: shortest side at most this
_ORIGINAL_MAX_PATCHES = 10_000
# Claude: scaled to fit a 1568 px long edge and ~1.2 MP; tokens = pixels / 750.
_CLAUDE_LONG_EDGE = 1568
_CLAUDE_MAX_PIXELS = 1_200_000  # 1600 tokens; 1092x1092 fits unscaled
_PNG_HEADER_LEN = 24
_GIF_HEADER_LEN = 10
_JPEG_MARKER = 0xFF
# JPEG start-of-frame markers carry the image size; C4 (DHT), C8 (JPG), CC (DAC) do not.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# JPEG dimensions sit after the EXIF/ICC segments; give up (worst case) beyond this many bytes.
_MAX_HEADER_BYTES = 256 * 1024


def _scaled_tiles(width: int, height: int) -> int:
    if max(width, height) > _FIT_PX:  # keeps the aspect ratio
        scale = _FIT_PX / max(width, height)
        width, height = math.floor(width * scale), math.floor(height * scale)
    if min(width, height) > _SHORT_SIDE_PX:
        scale = _SHORT_SIDE_PX / min(width, height)
        width, height = math.floor(width * scale), math.floor(height * scale)
    return math.ceil(width / _TILE_PX) * math.ceil(height / _TILE_PX)


def claude_image_tokens(size: tuple[int, int] | None, pixels_per_token: int = 750) -> int:
    """Tokens one image costs on Claude: pixels / 750 after Anthropic's downscaling.

    Args:
        size: ``(width, height)`` in pixels, or ``None`` when unknown (the largest image).
        pixels_per_token: Pixels per token (750 for every Claude model documented so far).

    Returns:
        The token count, rounded up.
    """
    if size is None:
        return math.ceil(_CLAUDE_MAX_PIXELS / pixels_per_token)
    width, height = size
    scale = min(
        1.0,
        _CLAUDE_LONG_EDGE / max(width, height, 1),
        math.sqrt(_CLAUDE_MAX_PIXELS / max(width * height, 1)),
    )
    width, height = math.floor(width * scale), math.floor(height * scale)
    return math.ceil(width * height / pixels_per_token)


def image_tokens(
    size: tuple[int, int] | None,
    detail: str | None,
    *,
    base: int = 85,
    tile: int = 170,
    patch_multiplier: float = 0.0,
    pixels_per_token: int = 0,
) -> int:
    """Tokens one image costs.

    Args:
        size: ``(width, height)`` in pixels, or ``None`` when unknown.
        detail: ``"low"``, ``"high"`` or ``"auto"``/``None`` (counted as high: worst case).
        base: Tile formula base tokens.
        tile: Tile formula tokens per 512px tile.
        patch_multiplier: Non-zero selects the patch formula with this multiplier.
        pixels_per_token: Non-zero selects Claude's area formula (750).

    Returns:
        The token count; for an unknown size the largest the formula can produce (tiles:
        ``base + 8 * tile``, 1445 for gpt-4o; patches: ``1536 * multiplier``).
    """
    if pixels_per_token:
        return claude_image_tokens(size, pixels_per_token)
    if detail == "original":
        if size is None:
            return _ORIGINAL_MAX_PATCHES
        raw = math.ceil(size[0] / _PATCH_PX) * math.ceil(size[1] / _PATCH_PX)
        return min(raw, _ORIGINAL_MAX_PATCHES)
    if patch_multiplier:
        if size is None:
            patches = _MAX_PATCHES
        else:
            # min(raw patches, cap) bounds OpenAI's rescale-then-cap from above; exact below cap.
            raw = math.ceil(size[0] / _PATCH_PX) * math.ceil(size[1] / _PATCH_PX)
            patches = min(raw, _MAX_PATCHES)
        return math.ceil(patches * patch_multiplier)
    if detail == "low":
        return base
    tiles = _WORST_CASE_TILES if size is None else _scaled_tiles(*size)
    return base + tile * tiles


def _png_size(data: bytes) -> tuple[int, int] | None:
    if (
        data.startswith(b"\x89PNG\r\n\x1a\n")
        and len(data) >= _PNG_HEADER_LEN
        and data[12:16] == b"IHDR"
    ):
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    return None


def _gif_size(data: bytes) -> tuple[int, int] | None:
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= _GIF_HEADER_LEN:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    if not data.startswith(b"\xff\xd8"):
        return None
    pos = 2
    while pos + 9 < len(data):
        if data[pos] != _JPEG_MARKER:
            return None
        marker = data[pos + 1]
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return int(width), int(height)
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        pos += 2 + length
    return None


def image_dimensions_from_data_url(url: str) -> tuple[int, int] | None:
    """Read ``(width, height)`` from a base64 ``data:`` URL's PNG, GIF or JPEG header.

    Only a bounded prefix is decoded, so a multi-megabyte image costs microseconds.

    Args:
        url: The image URL.

    Returns:
        The size, or ``None`` for remote URLs, other formats or malformed data.
    """
    if not url.startswith("data:"):
        return None
    header, sep, payload = url.partition(",")
    if not sep or not header.endswith(";base64"):
        return None
    prefix = payload[: _MAX_HEADER_BYTES * 4 // 3 // 4 * 4]
    try:
        data = base64.b64decode(prefix, validate=False)
    except (binascii.Error, ValueError):
        return None
    try:
        return _png_size(data) or _gif_size(data) or _jpeg_size(data)
    except struct.error:
        return None
