"""Make docs/img/synth_montage.jpg from hts.synth's public API (python docs/scripts/synth_montage.py)."""

import math
import time

import cv2
import numpy as np

from hts.synth import (
    ImagingConditions,
    Scenario,
    imaging_times_h,
    layout_wells,
    simulate_plate,
    synthesize_image,
)

SEED = 2026
times = imaging_times_h(30)
hs = simulate_plate(layout_wells(60), times_h=times, seed=SEED)
twin = simulate_plate(
    layout_wells(1), times_h=times, scenario=Scenario(twin_probability=1.0), seed=SEED
)[0]
none = ImagingConditions(defocus_probability=0, bubble_probability=0, well_edge_probability=0)


def pick(arm, fate, cond=lambda h: True):
    return next(h for h in hs if h.arm == arm and h.fate == fate and cond(h))


detached = lambda h: not math.isnan(h.detach_time_h)
rel25 = pick("RT 2.5 Gy", "relapse")
rel5 = pick("RT 5 Gy", "relapse")
c75 = pick("RT 7.5 Gy", "control")
c10d = pick("RT 10 Gy", "control", detached)
c10 = pick("RT 10 Gy", "control", lambda h: not detached(h))
untr = pick("untreated", "untreated")
kdet = int(np.searchsorted(c10d.times_h, c10d.detach_time_h)) + 2
tiles = [
    (untr, 0, none, "untreated"),
    (untr, 20, none, "untreated"),
    (rel25, 4, none, "RT 2.5 Gy relapse"),
    (rel25, 29, none, "RT 2.5 Gy relapse"),
    (rel5, int(np.argmin(rel5.diameter_um)), none, "RT 5 Gy relapse"),
    (c75, 5, none, "RT 7.5 Gy control"),
    (c10d, kdet, none, "RT 10 Gy detached, fragment"),
    (c10, 25, none, "RT 10 Gy control"),
    (
        pick("RT 5 Gy", "control"),
        8,
        ImagingConditions(defocus_probability=1.0, bubble_probability=0, well_edge_probability=0),
        "defocus",
    ),
    (
        pick("untreated", "untreated", lambda h: h is not untr),
        3,
        ImagingConditions(bubble_probability=1.0, defocus_probability=0, well_edge_probability=0),
        "bubble",
    ),
    (
        pick("RT 7.5 Gy", "control", lambda h: h is not c75),
        10,
        ImagingConditions(well_edge_probability=1.0, defocus_probability=0, bubble_probability=0),
        "well edge",
    ),
    (twin, 2, none, "two spheroids"),
]
out, ts = [], []
for h, k, imaging, label in tiles:
    t = time.perf_counter()
    image, mask, scene = synthesize_image(h, k, seed=SEED, imaging=imaging)
    ts.append(time.perf_counter() - t)
    if label in ("bubble", "well edge"):
        assert (scene.bubble if label == "bubble" else scene.well_edge) is not None, label
    a = image.astype(np.float32)
    a = ((a - a.min()) / (a.max() - a.min()) * 255).astype(np.uint8)  # the paper's min-max to 8 bit
    a = cv2.cvtColor(a, cv2.COLOR_GRAY2BGR)
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(a, contours, -1, (0, 220, 0), 3)
    a = cv2.resize(a, (390, 309), interpolation=cv2.INTER_AREA)
    text = f"{label}, day {k}, d={h.diameter_um[k]:.0f} um"
    a[:24] = (a[:24] * 0.35).astype(np.uint8)
    cv2.putText(a, text, (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    out.append(cv2.copyMakeBorder(a, 2, 2, 2, 2, cv2.BORDER_CONSTANT, value=(255, 255, 255)))
rows = [np.concatenate(out[i : i + 4], axis=1) for i in range(0, 12, 4)]
cv2.imwrite(
    "docs/img/synth_montage.jpg", np.concatenate(rows, axis=0), [cv2.IMWRITE_JPEG_QUALITY, 85]
)
print("ms per image:", np.round(1000 * np.array(ts)), "median", 1000 * np.median(ts))
