"""Synthetic brightfield plates of tumour spheroids with exact ground truth.

``growth`` simulates each spheroid's fate and size after treatment, ``scene`` turns one
spheroid at one time into a scene record, ``render`` turns a scene into pixels and a mask,
``plate`` writes a whole plate with its plate map and truth tables, and ``results`` makes
a results-like Dataset straight from the simulated histories (endpoints against truth).
"""

from hts.synth.growth import (
    FATES,
    Scenario,
    SpheroidHistory,
    arm_label,
    assign_arms,
    control_probability,
    imaging_times_h,
    simulate_plate,
    simulate_spheroid,
)
from hts.synth.plate import (
    DEBRIS_CATEGORY_MIN,
    SyntheticPlate,
    image_name,
    layout_wells,
    well_label,
    write_synthetic_plate,
)
from hts.synth.render import Body, Bubble, Debris, Scene, WellEdge, outline_radius, render_scene
from hts.synth.results import endpoint_recovery, results_from_histories
from hts.synth.scene import ImagingConditions, image_rng, sample_scene, synthesize_image

__all__ = [
    "DEBRIS_CATEGORY_MIN",
    "FATES",
    "Body",
    "Bubble",
    "Debris",
    "ImagingConditions",
    "Scenario",
    "Scene",
    "SpheroidHistory",
    "SyntheticPlate",
    "WellEdge",
    "arm_label",
    "assign_arms",
    "control_probability",
    "endpoint_recovery",
    "image_name",
    "image_rng",
    "imaging_times_h",
    "layout_wells",
    "outline_radius",
    "render_scene",
    "results_from_histories",
    "sample_scene",
    "simulate_plate",
    "simulate_spheroid",
    "synthesize_image",
    "well_label",
    "write_synthetic_plate",
]
