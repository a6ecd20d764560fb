# The loader image: `loader` CLI (load, sqs-poll, detect, hunt, schema) on a slim Python, as a non-root user.
# Build stage makes a wheel (schema/ and queries/ go inside it); the runtime stage installs only that.
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir build==1.2.2
COPY pyproject.toml README.md ./
COPY loader ./loader
COPY schema ./schema
COPY queries ./queries
RUN python -m build --wheel --outdir /wheels

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels \
    && useradd --system --uid 10001 --home-dir /home/loader --create-home loader
USER 10001
WORKDIR /home/loader
# The embedded warehouse (chdb://) would live here; in the team stack LOADER_DSN points at the server.
ENV LOADER_HOME=/home/loader/warehouse
ENTRYPOINT ["loader"]
CMD ["--help"]
