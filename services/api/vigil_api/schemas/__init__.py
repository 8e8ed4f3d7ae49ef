"""The API's request and response models (they make ``/openapi.json``), one module per
resource: ``common`` (errors, pages), ``auth``, ``users``, ``cameras``, ``recordings``
(recordings, snapshots, events), ``days``, ``exports``, ``storage``, ``system``,
``notifications``. Routes import them; they import no route."""
