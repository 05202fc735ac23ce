# news-monitor: a slim image running as a non-root user, no build tools in the final stage.
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml README.md constraints.txt ./
COPY monitor ./monitor
# Optional extras baked into the image; `--build-arg EXTRAS=` builds without Apprise.
# The dependencies at the versions the test suite last passed with (constraints.txt).
ARG EXTRAS=apprise
RUN pip install --no-cache-dir -c constraints.txt ".${EXTRAS:+[$EXTRAS]}"

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MONITOR_RULES_DIR=/app/rules \
    MONITOR_DATA_DIR=/app/data \
    MONITOR_HTTP_ADDR=0.0.0.0:8080
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin monitor
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY rules ./rules
RUN mkdir -p /app/data && chown monitor /app/data
USER monitor
VOLUME ["/app/data"]
# /healthz, /readyz and /metrics (Prometheus); MONITOR_HTTP_ADDR="" turns the server off.
EXPOSE 8080
# No curl in slim images: the check is Python's urllib against the port MONITOR_HTTP_ADDR names
# (a 503 or no answer raises, so the exit status is 1).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('MONITOR_HTTP_ADDR', '127.0.0.1:8080').rpartition(':')[2]; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]
# SIGTERM stops it gracefully: deliveries in flight finish or stay queued.
STOPSIGNAL SIGTERM
ENTRYPOINT ["news-monitor"]
CMD ["run"]
