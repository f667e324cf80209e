"""Numpy renderers for the classic-control families (pygame is not needed for ``rgb_array``).

``cartpole_frame`` draws Gymnasium's CartPole picture (white background, black track and cart,
brown pole, blue axle) at any size. Shapes are laid out on Gymnasium's 600 x 400 reference canvas
and sampled at the centre of every output pixel, so a ``(64, 64)`` frame is what resizing the
``(400, 600)`` one would give, without drawing it first.
"""

from __future__ import annotations

import math

import numpy as np

REF_W, REF_H = 600.0, 400.0  # Gymnasium's canvas, in reference pixels
POLE_RGB, AXLE_RGB = (202, 152, 101), (129, 132, 203)
CART_W, CART_H, POLE_W, CART_Y = 50.0, 30.0, 10.0, 100.0  # reference pixels; CART_Y from bottom


def _span(lo: float, hi: float, scale: float, n: int) -> slice:
    """Output pixels whose centres ``(i + 0.5) / scale`` lie in ``[lo, hi]``."""
    first = max(math.ceil(lo * scale - 0.5), 0)
    last = min(math.floor(hi * scale - 0.5), n - 1)
    return slice(first, max(last + 1, first))


def cartpole_frame(
    x: float, theta: float, length: float, x_threshold: float, height: int, width: int
) -> np.ndarray:
    """CartPole at cart position ``x`` [m] and pole angle ``theta`` [rad, clockwise from up].

    ``length`` is the pole's half-length [m]; the track spans ``[-x_threshold, x_threshold]``
    across the width. Returns ``(height, width, 3)`` uint8 RGB.
    """
    frame = np.full((height, width, 3), 255, dtype=np.uint8)
    sx, sy = width / REF_W, height / REF_H
    scale = REF_W / (2 * x_threshold)  # reference pixels per metre
    cart_x = x * scale + REF_W / 2
    # Rows are counted from the top; reference y is measured from the bottom.
    track_row = math.floor((REF_H - CART_Y) * sy)
    if 0 <= track_row < height:
        frame[track_row, :] = 0
    rows = _span(REF_H - CART_Y - CART_H / 2, REF_H - CART_Y + CART_H / 2, sy, height)
    cols = _span(cart_x - CART_W / 2, cart_x + CART_W / 2, sx, width)
    frame[rows, cols] = 0

    pivot_x, pivot_y = cart_x, REF_H - (CART_Y + CART_H / 4)  # reference, y down
    pole_len = scale * 2 * length
    ux, uy = math.sin(theta), -math.cos(theta)  # along the pole, y down
    reach = pole_len + POLE_W
    rows = _span(pivot_y - reach, pivot_y + reach, sy, height)
    cols = _span(pivot_x - reach, pivot_x + reach, sx, width)
    if rows.stop > rows.start and cols.stop > cols.start:
        ys = (np.arange(rows.start, rows.stop, dtype=np.float32)[:, None] + 0.5) / sy - pivot_y
        xs = (np.arange(cols.start, cols.stop, dtype=np.float32)[None, :] + 0.5) / sx - pivot_x
        along = xs * ux + ys * uy
        across = xs * uy - ys * ux
        half = POLE_W / 2
        pole = (along >= -half) & (along <= pole_len - half) & (np.abs(across) <= half)
        box = frame[rows, cols]
        box[pole] = POLE_RGB
        box[xs * xs + ys * ys <= half * half] = AXLE_RGB
    return frame
