"""Vigil's object detector: models behind one interface (:mod:`vigil_detector.model`), the pure
box geometry and decoding they share (:mod:`vigil_detector.boxes`), and the default model's
offline install (:mod:`vigil_detector.fetch`)."""
