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
RUN useradd --create-home --uid 10001 --user-group marketprism
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
ENV MPF_REQUIRE_COMPILED=1 PYTHONDONTWRITEBYTECODE=1
USER marketprism
WORKDIR /home/marketprism
ENTRYPOINT ["python", "-m", "marketprism_fast"]
CMD ["--help"]
