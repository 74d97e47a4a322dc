"""The Home tab's chart: a valid PNG whose bars are where the values say."""

from __future__ import annotations

import struct
import zlib

import pytest

from bot.governance.chart import BAR, Bar, _nice_ceiling, bar_chart


def decode(png: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB rows of a PNG written by bar_chart (8-bit RGB, filter 0)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + data)
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", data[:10])
            assert (depth, color) == (8, 2)
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = 1 + 3 * width
    rows = [raw[i * stride + 1 : (i + 1) * stride] for i in range(height)]
    return width, height, rows


def bar_heights(rows: list[bytes], width: int) -> list[int]:
    """Height in pixels of each run of bar-coloured columns, left to right."""
    color = bytes(BAR)
    heights: list[int] = []
    inside = False
    for x in range(width):
        column = sum(1 for row in rows if row[3 * x : 3 * x + 3] == color)
        if column and not inside:
            heights.append(column)
        inside = bool(column)
    return heights


def test_bars_are_proportional_to_their_values() -> None:
    png = bar_chart([Bar("a", 1.0), Bar("b", 2.0), Bar("c", 0.0), Bar("d", 4.0)], title="Spend")
    width, height, rows = decode(png)
    assert (width, height) == (960, 360)
    a, b, d = bar_heights(rows, width)  # the zero bar is drawn in another colour
    assert abs(b - 2 * a) <= 1 and abs(d - 4 * a) <= 2


def test_an_empty_chart_is_still_an_image() -> None:
    width, height, _ = decode(bar_chart([], title="Nothing yet"))
    assert (width, height) == (960, 360)


@pytest.mark.parametrize(
    ("value", "top"), [(0, 1.0), (0.3, 0.5), (1, 1), (1.2, 2), (2.3, 2.5), (12, 20), (4800, 5000)]
)
def test_axis_tops_are_round(value: float, top: float) -> None:
    assert _nice_ceiling(value) == pytest.approx(top)
