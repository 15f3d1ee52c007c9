"""Make docs/img/training_montage.jpg: 16 domain-randomised training samples (python docs/scripts/training_montage.py)."""

import time

import cv2
import numpy as np

from hts.synth.training import training_sample

tiles = []
cats = []
t0 = time.perf_counter()
for i in range(16):
    s = training_sample(1, i)
    x = s.image.astype(np.float32)
    x = (x - x.min()) / (x.max() - x.min()) * 255
    x = cv2.resize(x.astype(np.uint8), (325, 258), interpolation=cv2.INTER_AREA)
    x = cv2.cvtColor(x, cv2.COLOR_GRAY2BGR)
    m = cv2.resize(s.mask.astype(np.uint8), (325, 258), interpolation=cv2.INTER_NEAREST)
    cs, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(x, cs, -1, (0, 255, 0), 1)
    cv2.putText(
        x,
        f"{s.category} {s.pixel_size_um:.2f}um d={s.diameter_um:.0f} {s.image.dtype}",
        (3, 14),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.4,
        (0, 0, 255),
        1,
    )
    tiles.append(x)
    cats.append(s.category)
print((time.perf_counter() - t0) / 16, "s/sample", cats.count("debris"))
rows = [np.hstack(tiles[i : i + 4]) for i in range(0, 16, 4)]
cv2.imwrite("docs/img/training_montage.jpg", np.vstack(rows), [cv2.IMWRITE_JPEG_QUALITY, 85])
