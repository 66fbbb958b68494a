# marketprism_fast on Debian 12 (Python 3.11): the installed wheel, compiled core included.
#   docker build -t marketprism_fast .
#   docker run --rm -v "$PWD/captures:/data" marketprism_fast normalize --venue okx /data/x.frames.jsonl.zst
#
# Stage 1 builds the wheel (compiler and Cython stay here); stage 2 installs only the wheel,
# so what runs is the installed package: no source tree on the path to fall back to the
# reference parser (MPF_REQUIRE_COMPILED makes a missing compiled core an error, not a
# silent slow path). tests/test_docker.py runs the same steps without an engine.

FROM python:3.11-slim-bookworm AS build
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . /src
RUN bash scripts/build_wheel.sh /wheels

FROM python:3.11-slim-bookworm
RUN useradd --create-home --uid 10001 --user-group marketprism \
    && mkdir -p /var/lib/marketprism && chown marketprism: /var/lib/marketprism
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
ENV MPF_REQUIRE_COMPILED=1 PYTHONDONTWRITEBYTECODE=1
USER marketprism
WORKDIR /home/marketprism
# The spool (sinks.*.spool.directory) lives on a volume so batches survive a restart of the container.
VOLUME /var/lib/marketprism
EXPOSE 8080
# /health: 200 healthy or degraded, 503 unhealthy (the config's http section must listen on 0.0.0.0 in a container).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('HTTP_PORT', '8080'), timeout=4)"
ENTRYPOINT ["python", "-m", "marketprism_fast"]
# SIGTERM (docker stop) drains the buffers to the sinks and exits 0 within node.shutdown_timeout_seconds.
STOPSIGNAL SIGTERM
CMD ["--help"]
