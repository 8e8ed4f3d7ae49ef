"""IP cameras recorded by the server itself (docs/integrations.md#onvif-cameras).

- :mod:`~vigil_ipcams.probe`: the WS-Discovery search ("Find cameras", ``vigil camera discover``);
- :mod:`~vigil_ipcams.onvif_device`: ONVIF ``GetProfiles`` / ``GetStreamUri`` with the user's credentials;
- :mod:`~vigil_ipcams.records`: the ``ip_cameras`` table, credentials sealed by :mod:`~vigil_ipcams.secretbox`;
- :mod:`~vigil_ipcams.fleet` and :mod:`~vigil_ipcams.service`: ``vigil ipcams``, one ``vigil capture``
  process per enabled IP camera (RTSP passthrough), started, restarted and stopped as the table says.
"""
