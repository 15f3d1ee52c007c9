"""Make docs/img/heldout_montage.jpg: one held-out image per category, reference mask in green, plus a full-resolution crop of each spheroid's border (python docs/scripts/heldout_montage.py [SEED])."""

import sys
import time

import cv2
import numpy as np

from hts.heldout import CATEGORIES, image_rng, render_heldout

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
tiles = []
t0 = time.perf_counter()
for category in CATEGORIES:
    s = render_heldout(category, image_rng(seed, category, 0))
    grey = s.image if s.image.ndim == 2 else cv2.cvtColor(s.image, cv2.COLOR_RGB2GRAY)
    x = grey.astype(np.float32)
    x = (x - x.min()) / max(float(x.max() - x.min()), 1.0) * 255
    x8 = x.astype(np.uint8)
    h, w = x8.shape
    tw, th = 400, round(400 * h / w)
    small = cv2.cvtColor(cv2.resize(x8, (tw, th), interpolation=cv2.INTER_AREA), cv2.COLOR_GRAY2BGR)
    m = cv2.resize(s.mask.astype(np.uint8), (tw, th), interpolation=cv2.INTER_NEAREST)
    cs, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    outlined = small.copy()
    cv2.drawContours(outlined, cs, -1, (0, 255, 0), 1)
    # a 300 x 300 crop at full resolution centred on the mask's left edge
    ys, xs = np.nonzero(s.mask)
    cy, cx = int(ys.mean()), int(xs.min())
    y0, x0 = min(max(cy - 150, 0), h - 300), min(max(cx - 150, 0), w - 300)
    crop = cv2.cvtColor(x8[y0 : y0 + 300, x0 : x0 + 300], cv2.COLOR_GRAY2BGR)
    crop = cv2.resize(
        crop, (th, th), interpolation=cv2.INTER_NEAREST if th > 300 else cv2.INTER_AREA
    )
    tile = np.hstack([small, outlined, crop])
    label = f"{category} {s.pixel_size_um:.2f}um d={s.diameter_um:.0f} {s.image_format} {s.contrast} {w}x{h}"
    cv2.putText(tile, label, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 255), 1)
    tiles.append(tile)
print(f"{(time.perf_counter() - t0) / len(CATEGORIES):.2f} s per image")
width = max(t.shape[1] for t in tiles)
rows = [np.pad(t, ((0, 4), (0, width - t.shape[1]), (0, 0))) for t in tiles]
cv2.imwrite("docs/img/heldout_montage.jpg", np.vstack(rows), [cv2.IMWRITE_JPEG_QUALITY, 85])
