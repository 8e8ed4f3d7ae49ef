"""Single frames of the cameras' streams, for the recorder's stills and motion and the detector:
``frame_buffer`` finds the newest usable one in Redis, ``stills`` decodes it (PyAV; the
``[media]`` extra, with redis). Server-side only: the Pi's capture never imports it."""
