"""Remux: joining and cutting recorded segments into one MP4 without re-encoding (day videos
and exports).

- ``plan``: which packets, placed where on the output clock (pure);
- ``avc``: avcC / Annex B conversions for the output track (pure);
- ``concat``: the PyAV loop that copies the packets.
"""
