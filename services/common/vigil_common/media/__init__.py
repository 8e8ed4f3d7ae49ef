"""Decoding single frames of the streams (PyAV; the ``[media]`` extra): what the recorder's
stills and the detector both need. Server-side only: the Pi's capture never imports it."""
