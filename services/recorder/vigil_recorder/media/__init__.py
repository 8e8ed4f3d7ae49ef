"""Media: what the recorder knows about frames and files, without I/O beyond the file at hand.

- ``frames``: ordering, dedup, codec choice, timestamps, segment timing (pure);
- ``h264``: Annex B NAL inspection, where a remuxed segment may start (pure);
- ``encode``: PyAV: JPEG -> libx264 encode, or H.264 remux, into a faststart MP4;
- ``mp4meta``: index metadata embedded in each file (a trailing ``uuid`` box);
- ``images``: stills, thumbnails and small luma images from a JPEG or an H.264 keyframe.
"""
