# The kit in one image: jobs-mock (what it runs by default), jobs-conformance and jobs-proxy.
#
#   docker build -t nick-jobs-kit .
#   docker run --rm -p 8080:8080 nick-jobs-kit
#   docker run --rm --network host nick-jobs-kit jobs-conformance --base-url http://localhost:8080 --fixtures mock
#
# BASE: a Debian-like image with python3 (3.11 or later) and its venv module; the usual public one by default.
# WHEELS: a directory of the build context holding the kit's wheel and every dependency's
# (`pip wheel . -w build/docker-wheels`): the image is then built with no network at all.
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
ARG WHEELS=""
# The classic builder keeps this stage as an untagged image: `docker image prune --filter label=…` removes it.
LABEL org.nick-jobs-kit.stage=build
COPY . /src
RUN python3 -m venv /opt/jobs-kit \
    && if [ -n "$WHEELS" ]; then \
        /opt/jobs-kit/bin/pip install --no-cache-dir --no-index --find-links "/src/$WHEELS" nick-jobs-kit; \
    else \
        /opt/jobs-kit/bin/pip install --no-cache-dir /src; \
    fi \
    # The image runs the kit and installs nothing more: no pip (nor setuptools) in it.
    && /opt/jobs-kit/bin/python -m pip uninstall --yes --quiet setuptools pip \
    && cp /src/docker/healthcheck.py /opt/jobs-kit/healthcheck.py

FROM ${BASE}
COPY --from=build /opt/jobs-kit /opt/jobs-kit
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/jobs --shell /usr/sbin/nologin jobs
USER 10001:10001
WORKDIR /home/jobs
# PORT: where jobs-mock listens by default, and what the healthcheck asks (set it when you run another command).
ENV PATH=/opt/jobs-kit/bin:${PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin} PYTHONUNBUFFERED=1 PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["python3", "/opt/jobs-kit/healthcheck.py"]
CMD ["sh", "-c", "exec jobs-mock --host 0.0.0.0 --port \"$PORT\""]
