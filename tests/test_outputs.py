"""Run outputs: image grids, plots, metrics.jsonl, progress display (jaxgan.visualize, .logs)."""
from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

from jaxgan import visualize
from jaxgan.training import logs


def test_to_uint8_maps_the_unit_range_onto_bytes():
    x = np.array([-1.0, -0.5, 0.0, 1.0, 2.0, -3.0])
    np.testing.assert_array_equal(visualize.to_uint8(x), [0, 64, 128, 255, 255, 0])


def test_image_grid_places_each_image_in_row_major_order():
    images = np.stack([np.full((2, 3, 1), v) for v in (-1.0, -0.5, 0.5, 1.0, 0.0)])
    grid = visualize.image_grid(images, columns=2, padding=1, scale=2)
    assert grid.shape == (3 * (4 + 1) + 1, 2 * (6 + 1) + 1, 1)
    for i, value in enumerate(visualize.to_uint8(images[:, 0, 0, 0])):
        r, c = divmod(i, 2)
        tile = grid[1 + r * 5:1 + r * 5 + 4, 1 + c * 7:1 + c * 7 + 6]
        assert (tile == value).all()
    assert (grid[0] == 0).all() and (grid[:, 0] == 0).all()  # padding
    assert (grid[11:15, 8:14] == 0).all()  # the empty sixth cell


def test_image_grid_rejects_non_images():
    with pytest.raises(ValueError, match=r"image_grid needs images of shape \[N, H, W, 1 or 3\]"):
        visualize.image_grid(np.zeros((4, 2)))


def test_scatter_and_curves_render_rgb(tmp_path):
    rng = np.random.default_rng(0)
    picture = visualize.scatter_picture(rng.normal(size=(50, 2)), rng.normal(size=(50, 2)),
                                        np.zeros((1, 2)), title="t")
    assert picture.dtype == np.uint8 and picture.ndim == 3 and picture.shape[-1] == 3
    assert len(np.unique(picture.reshape(-1, 3), axis=0)) > 3  # something was drawn
    records = [{"step": s, "d_loss": 1.0 / s, "g_loss": 0.5, "penalty": 0.0,
                "d_accuracy_real": 0.9, "d_accuracy_fake": 0.1} for s in range(1, 20)]
    curves = visualize.training_curves_picture(records)
    visualize.save_png(curves, tmp_path / "c.png")
    from PIL import Image
    with Image.open(tmp_path / "c.png") as image:
        assert image.size == (curves.shape[1], curves.shape[0])


def test_cyclegan_curves_show_the_cycle_losses_without_an_empty_legend():
    """A CycleGAN run logs no D accuracies: the right panel shows cycle_a / cycle_b instead of an
    empty panel (matplotlib warned 'No artists with labels' on every run)."""
    import warnings

    records = [{"step": s, "d_loss": 0.4, "g_loss": 6.0, "cycle_a": 1.0 / s, "cycle_b": 2.0}
               for s in range(1, 20)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        curves = visualize.training_curves_picture(records)
    without_cycles = visualize.training_curves_picture(
        [{k: v for k, v in r.items() if not k.startswith("cycle")} for r in records])
    right = slice(curves.shape[1] // 2, None)  # the second panel differs: curves drawn
    assert not np.array_equal(curves[:, right], without_cycles[:, right])


def test_metrics_file_keeps_records_up_to_the_resume_step(tmp_path):
    first = logs.MetricsFile(tmp_path, resume_step=0)
    for step in (10, 20, 30):
        first.write(step, {"d_loss": np.float32(step), "finite": np.bool_(True)})
    first.write(40, {"d_loss": float("nan")})
    first.close()
    records = logs.read_metrics(tmp_path / "metrics.jsonl")
    assert records[-1] == {"step": 40, "d_loss": "nan"}  # still valid JSON
    assert records[0] == {"step": 10, "d_loss": 10.0, "finite": True}
    resumed = logs.MetricsFile(tmp_path, resume_step=20)
    resumed.write(30, {"d_loss": 3.0})
    resumed.close()
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [10, 20, 30]
    assert json.loads(lines[-1])["d_loss"] == 3.0


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_progress_lines_report_rate_and_eta_after_the_first_step():
    clock, stream = FakeClock(), io.StringIO()
    progress = logs.Progress(total=100, start=0, log_every=10, stream=stream, interactive=False,
                             clock=clock)
    for step in range(1, 21):
        clock.now = 30.0 + 0.5 * (step - 1)  # first step at t=30 (compilation), then 2 steps/s
        progress.update(step, {"d_loss": 0.25, "g_loss": 1.5, "other": 3.0})
    lines = stream.getvalue().splitlines()
    assert lines == [
        "step 10/100  2.00 steps/s  ETA 0:45  d_loss 0.2500 g_loss 1.5000",
        "step 20/100  2.00 steps/s  ETA 0:40  d_loss 0.2500 g_loss 1.5000",
    ]
    assert math.isnan(logs.Progress(10, 0, 1, stream=io.StringIO()).rate(5))


def test_progress_bar_redraws_one_line_on_a_terminal():
    clock, stream = FakeClock(), io.StringIO()
    progress = logs.Progress(total=4, start=0, log_every=1, stream=stream, interactive=True,
                             clock=clock)
    for step in range(1, 5):
        clock.now = float(step)
        progress.update(step, {"d_loss": 1.0})
    progress.message("done")
    text = stream.getvalue()
    assert text.count("\r[") == 4 and text.endswith("\ndone\n")
    assert "[######################..] " not in text and "[########################] step 4/4" \
        in text


def test_format_duration():
    assert [logs.format_duration(s) for s in (0, 59.6, 61, 3600 + 62, math.inf)] == \
        ["0:00", "1:00", "1:01", "1:01:02", "?"]
