"""From detector clicks to coincidences (pure numpy): click streams, files, clock sync, coincidences."""
