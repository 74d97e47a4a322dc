"""A bar chart as a PNG, in pure Python: the admin's "spend per day" image on the Home tab.

No plotting library: the bot would carry matplotlib (tens of MB, slow import) for one small chart.
Bars, axes and labels are drawn on an RGB canvas with a 5x7 bitmap font at twice its size, and the
canvas is written as a PNG (zlib-compressed scanlines, filter 0; PNG spec §11-12). CPU-bound: call it
through `asyncio.to_thread`.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

Color = tuple[int, int, int]
BACKGROUND: Color = (255, 255, 255)
INK: Color = (29, 28, 29)
GRID: Color = (221, 221, 221)
BAR: Color = (18, 100, 163)
EMPTY_BAR: Color = (232, 232, 232)

# 5x7 glyphs, one string of 7 rows per character, "#" is ink. Upper case only (labels are upper-cased).
_FONT: dict[str, tuple[str, ...]] = {
    " ": ("     ",) * 7,
    "0": (" ### ", "#   #", "#  ##", "# # #", "##  #", "#   #", " ### "),
    "1": ("  #  ", " ##  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### "),
    "2": (" ### ", "#   #", "    #", "   # ", "  #  ", " #   ", "#####"),
    "3": ("#####", "   # ", "  #  ", "   # ", "    #", "#   #", " ### "),
    "4": ("   # ", "  ## ", " # # ", "#  # ", "#####", "   # ", "   # "),
    "5": ("#####", "#    ", "#### ", "    #", "    #", "#   #", " ### "),
    "6": ("  ## ", " #   ", "#    ", "#### ", "#   #", "#   #", " ### "),
    "7": ("#####", "    #", "   # ", "  #  ", " #   ", " #   ", " #   "),
    "8": (" ### ", "#   #", "#   #", " ### ", "#   #", "#   #", " ### "),
    "9": (" ### ", "#   #", "#   #", " ####", "    #", "   # ", " ##  "),
    "$": ("  #  ", " ####", "# #  ", " ### ", "  # #", "#### ", "  #  "),
    ".": ("     ",) * 5 + (" ##  ", " ##  "),
    ",": ("     ",) * 4 + (" ##  ", "  #  ", " #   "),
    "-": ("     ", "     ", "     ", "#####", "     ", "     ", "     "),
    "/": ("    #", "    #", "   # ", "  #  ", " #   ", "#    ", "#    "),
    ":": ("     ", " ##  ", " ##  ", "     ", " ##  ", " ##  ", "     "),
    "(": ("   # ", "  #  ", " #   ", " #   ", " #   ", "  #  ", "   # "),
    ")": (" #   ", "  #  ", "   # ", "   # ", "   # ", "  #  ", " #   "),
    "%": ("##   ", "##  #", "   # ", "  #  ", " #   ", "#  ##", "   ##"),
    "A": (" ### ", "#   #", "#   #", "#####", "#   #", "#   #", "#   #"),
    "B": ("#### ", "#   #", "#   #", "#### ", "#   #", "#   #", "#### "),
    "C": (" ### ", "#   #", "#    ", "#    ", "#    ", "#   #", " ### "),
    "D": ("#### ", "#   #", "#   #", "#   #", "#   #", "#   #", "#### "),
    "E": ("#####", "#    ", "#    ", "#### ", "#    ", "#    ", "#####"),
    "F": ("#####", "#    ", "#    ", "#### ", "#    ", "#    ", "#    "),
    "G": (" ### ", "#   #", "#    ", "# ###", "#   #", "#   #", " ####"),
    "H": ("#   #", "#   #", "#   #", "#####", "#   #", "#   #", "#   #"),
    "I": (" ### ", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### "),
    "J": ("  ###", "   # ", "   # ", "   # ", "   # ", "#  # ", " ##  "),
    "K": ("#   #", "#  # ", "# #  ", "##   ", "# #  ", "#  # ", "#   #"),
    "L": ("#    ", "#    ", "#    ", "#    ", "#    ", "#    ", "#####"),
    "M": ("#   #", "## ##", "# # #", "# # #", "#   #", "#   #", "#   #"),
    "N": ("#   #", "#   #", "##  #", "# # #", "#  ##", "#   #", "#   #"),
    "O": (" ### ", "#   #", "#   #", "#   #", "#   #", "#   #", " ### "),
    "P": ("#### ", "#   #", "#   #", "#### ", "#    ", "#    ", "#    "),
    "Q": (" ### ", "#   #", "#   #", "#   #", "# # #", "#  # ", " ## #"),
    "R": ("#### ", "#   #", "#   #", "#### ", "# #  ", "#  # ", "#   #"),
    "S": (" ####", "#    ", "#    ", " ### ", "    #", "    #", "#### "),
    "T": ("#####", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", "  #  "),
    "U": ("#   #", "#   #", "#   #", "#   #", "#   #", "#   #", " ### "),
    "V": ("#   #", "#   #", "#   #", "#   #", "#   #", " # # ", "  #  "),
    "W": ("#   #", "#   #", "#   #", "# # #", "# # #", "# # #", " # # "),
    "X": ("#   #", "#   #", " # # ", "  #  ", " # # ", "#   #", "#   #"),
    "Y": ("#   #", "#   #", " # # ", "  #  ", "  #  ", "  #  ", "  #  "),
    "Z": ("#####", "    #", "   # ", "  #  ", " #   ", "#    ", "#####"),
}
SCALE = 2
GLYPH_W = 6 * SCALE  # 5 columns and a space
GLYPH_H = 7 * SCALE


@dataclass(frozen=True)
class Bar:
    label: str  # shown under the bar when there is room (e.g. "11-05")
    value: float


class Canvas:
    def __init__(self, width: int, height: int, background: Color = BACKGROUND) -> None:
        self.width = width
        self.height = height
        self.rows = [bytearray(bytes(background) * width) for _ in range(height)]

    def rect(self, x0: int, y0: int, x1: int, y1: int, color: Color) -> None:
        """Fill [x0, x1) x [y0, y1), clipped to the canvas."""
        x0, x1 = max(0, x0), min(self.width, x1)
        if x1 <= x0:
            return
        run = bytes(color) * (x1 - x0)
        for y in range(max(0, y0), min(self.height, y1)):
            self.rows[y][3 * x0 : 3 * x1] = run

    def text(self, x: int, y: int, text: str, color: Color = INK) -> None:
        for i, char in enumerate(text.upper()):
            glyph = _FONT.get(char, _FONT[" "])
            for gy, row in enumerate(glyph):
                for gx, cell in enumerate(row):
                    if cell == "#":
                        px, py = x + i * GLYPH_W + gx * SCALE, y + gy * SCALE
                        self.rect(px, py, px + SCALE, py + SCALE, color)

    def png(self) -> bytes:
        raw = b"".join(b"\x00" + bytes(row) for row in self.rows)

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b"")
        )


def text_width(text: str) -> int:
    return len(text) * GLYPH_W


def bar_chart(
    bars: Sequence[Bar], *, title: str, value_label: str = "${:,.2f}", width: int = 960, height: int = 360
) -> bytes:
    """A PNG: one bar per item, left to right, with the top value on a grid line and a few labels."""
    canvas = Canvas(width, height)
    top_value = max((b.value for b in bars), default=0.0)
    scale_max = _nice_ceiling(top_value)
    left = max(text_width(value_label.format(scale_max)), text_width(value_label.format(0))) + 16
    right, top, bottom = width - 16, 16 + GLYPH_H + 16, height - GLYPH_H - 20
    canvas.text(left, 12, title)
    for i in range(5):
        value = scale_max * i / 4
        y = bottom - round((bottom - top) * i / 4)
        canvas.rect(left, y, right, y + 1, GRID)
        label = value_label.format(value)
        canvas.text(left - 8 - text_width(label), y - GLYPH_H // 2, label)
    if bars:
        slot = (right - left) / len(bars)
        gap = max(1, int(slot * 0.2))
        every = max(1, -(-text_width("00-00 ") // max(1, int(slot))))
        for i, bar in enumerate(bars):
            x0 = left + round(i * slot) + gap // 2
            x1 = left + round((i + 1) * slot) - (gap - gap // 2)
            h = 0 if scale_max <= 0 else round((bottom - top) * max(0.0, bar.value) / scale_max)
            if h:
                canvas.rect(x0, bottom - h, x1, bottom, BAR)
            else:
                canvas.rect(x0, bottom - 2, x1, bottom, EMPTY_BAR)
            if i % every == 0:
                center = (x0 + x1) // 2
                canvas.text(center - text_width(bar.label) // 2, bottom + 8, bar.label)
    canvas.rect(left, bottom, right, bottom + 1, INK)
    return canvas.png()


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above `value` (a readable axis top)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** int(f"{value:e}".split("e")[1])
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power + 1e-12:
            return step * power
    return 10 * power
