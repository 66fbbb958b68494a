# marketprism_fast on Debian 12 (Python 3.11). Build: docker build -t marketprism_fast .
FROM python:3.11-slim-bookworm
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir "setuptools>=68" wheel "Cython>=3.0" "numpy>=2.0" \
    && pip install --no-cache-dir --no-build-isolation ".[parquet]"
ENTRYPOINT ["python", "-m", "marketprism_fast"]
CMD ["--help"]
