"""The demo's images: small generated PNGs, so that its tasks show a picture with no network."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_images(folder: Path, images: dict[str, int], seed: int = 0) -> int:
    """Draw each image as a small PNG (a few KB) in ``folder``: a loaf for solid, a glass for
    liquid, a plate with both for other, each a little different. Returns the bytes written."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 9])
    written = 0
    for url, truth in sorted(images.items()):
        img = Image.new("RGB", (96, 72), tuple(int(x) for x in rng.integers(225, 250, 3)))
        d = ImageDraw.Draw(img)
        j = rng.integers(-6, 7, 4)
        if truth in (0, 2):  # a loaf or a steak
            brown = (int(150 + j[0] * 4), int(90 + j[1] * 3), 40)
            box = (12 + j[2], 26 + j[3], 56 + j[2], 58) if truth == 0 else (8, 34, 40, 60)
            d.rounded_rectangle(box, radius=10, fill=brown, outline=(90, 50, 20))
        if truth in (1, 2):  # a glass of juice, soup or water
            x = 52 + j[0] if truth == 1 else 56
            colour = [(70, 130, 220), (230, 140, 30), (200, 60, 50)][int(rng.integers(0, 3))]
            d.polygon([(x, 12), (x + 26, 12), (x + 22, 62), (x + 4, 62)], fill=(235, 240, 245), outline=(120, 120, 130))
            d.polygon([(x + 2, 26 + j[1]), (x + 24, 26 + j[1]), (x + 22, 60), (x + 4, 60)], fill=colour)
        if truth == 2:
            d.ellipse((2, 50, 94, 70), outline=(150, 150, 150), width=2)
        path = folder / Path(url).name
        img.save(path, format="PNG", optimize=True)
        written += path.stat().st_size
    return written
