"""Motion detection shared by the camera and the recorder (needs numpy: the ``motion`` extra)."""
