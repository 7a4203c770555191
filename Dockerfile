# syntax=docker/dockerfile:1.7
# One image for every process: `restaurants serve api|bank|transactions|mailer|web`,
# `restaurants migrate`, `restaurants topics`. The prototype's role names are build targets
# (frontend, searchorder, transactions, pymail, bank) that only differ in their default command:
#   docker build -t kafka-restaurants:0.1.0 .
#   docker build --target frontend -t kafka-restaurants/frontend:0.1.0 .
ARG PYTHON_VERSION=3.11

# --- builder: wheels for the package and every dependency (build tools stay here) ---
FROM python:${PYTHON_VERSION}-slim-bookworm AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /build
# Dependencies first, from the locks alone (`make lock`), so editing src/ fetches nothing again.
# Every file is PyPI's own wheel, checked against the lock's hashes; the runtime checks them again.
COPY requirements/runtime.txt requirements/build.txt ./requirements/
RUN pip download --no-cache-dir --require-hashes --only-binary=:all: --no-deps \
        --dest /wheels -r requirements/runtime.txt \
    && cp requirements/runtime.txt /wheels/ \
    && python -m venv /opt/build \
    && /opt/build/bin/pip install --no-cache-dir --require-hashes -r requirements/build.txt
COPY pyproject.toml README.md ./
COPY src ./src
# The project itself, built with the locked setuptools.
RUN /opt/build/bin/pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels .
# deploy/images.sh passes a REVISION that changes with the sources. A step that uses it keeps
# this stage from being all cache hits, which podman's buildah 1.28 would answer by mounting an
# older state of the stage at the runtime's RUN --mount=from=builder (containers/buildah#4375).
ARG REVISION=unknown
RUN echo "${REVISION}" > /build/REVISION

# --- runtime: the installed package, a non-root user, nothing else ---
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ARG VERSION=0.1.0
# docker build --build-arg REVISION="$(git rev-parse HEAD)" records the commit.
ARG REVISION=unknown
LABEL org.opencontainers.image.title="kafka-restaurants" \
      org.opencontainers.image.description="Restaurant search, ordering, payment and confirmation email as Python microservices over Apache Kafka" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim-bookworm" \
      io.kafka-restaurants.roles="frontend=web searchorder=api transactions=transactions pymail=mailer bank=bank"
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOST=0.0.0.0 \
    DATA_DIR=/tmp/kafka-restaurants \
    HEALTHCHECK_PORT=5000
RUN groupadd --system --gid 10001 restaurants \
    && useradd --system --uid 10001 --gid restaurants --home-dir /nonexistent \
       --no-create-home --shell /usr/sbin/nologin restaurants
# The wheels come in through a bind mount, so they never become a layer of this image: first the
# locked dependencies (hashes checked), then the package without dependencies, then `pip check`
# that the lock satisfies the package's requirements.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels --require-hashes \
       -r /wheels/runtime.txt \
    && pip install --no-cache-dir --no-index --no-deps \
       "/wheels/kafka_restaurants-${VERSION}-py3-none-any.whl" \
    && pip check
COPY --chmod=0755 deploy/docker/healthcheck.py /usr/local/bin/healthcheck
WORKDIR /tmp
USER 10001:10001
# api 5000, bank 5100, web 8088, transactions health 5201, mailer health 5301.
EXPOSE 5000 5100 8088 5201 5301
# Each process serves /healthz; HEALTHCHECK_PORT says on which port (compose sets it per service).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 CMD ["healthcheck"]
ENTRYPOINT ["restaurants"]
CMD ["--help"]

# --- the prototype's roles: same image, a default command each ---
FROM runtime AS frontend
ENV HEALTHCHECK_PORT=8088
CMD ["serve", "web"]

FROM runtime AS searchorder
ENV HEALTHCHECK_PORT=5000
CMD ["serve", "api"]

FROM runtime AS transactions
ENV HEALTHCHECK_PORT=5201
CMD ["serve", "transactions"]

FROM runtime AS pymail
ENV HEALTHCHECK_PORT=5301
CMD ["serve", "mailer"]

FROM runtime AS bank
ENV HEALTHCHECK_PORT=5100
CMD ["serve", "bank"]

# The default target: the command selects the process.
FROM runtime AS kafka-restaurants
