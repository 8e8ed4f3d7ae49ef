"""Vigil's object detector: models behind one interface (:mod:`vigil_detector.model`), the pure
box geometry and decoding they share (:mod:`vigil_detector.boxes`), the default model's offline
install (:mod:`vigil_detector.fetch`), and the pure decisions the service will make on the
detections: tracks and their events (:mod:`vigil_detector.tracking`), zones and filters
(:mod:`vigil_detector.zones`), close-up crops (:mod:`vigil_detector.closeups`)."""
