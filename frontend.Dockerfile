# The dalecpy BuildKit gateway frontend image.
#
#   docker buildx build -f frontend.Dockerfile -t dalecpy/frontend:latest --load .
#
# Then build a spec with `# syntax=dalecpy/frontend:latest` as its first line (or
# `--build-arg BUILDKIT_SYNTAX=dalecpy/frontend:latest`):
#
#   docker buildx build -f specs/hello.yml --target bookworm/deb -o type=local,dest=out .
#
# pip needs to reach PyPI. Behind a TLS-intercepting proxy, pass its CA bundle as the optional
# `pipca` secret: --secret id=pipca,src=/etc/ssl/certs/ca-certificates.crt

FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/dalecpy
WORKDIR /src
COPY pyproject.toml README.md* ./
COPY dalecpy ./dalecpy
RUN --mount=type=secret,id=pipca,required=false \
    if [ -f /run/secrets/pipca ]; then export PIP_CERT=/run/secrets/pipca; fi; \
    /opt/dalecpy/bin/pip install --no-cache-dir --disable-pip-version-check . \
 && /opt/dalecpy/bin/pip uninstall -y --disable-pip-version-check pip setuptools \
 && /opt/dalecpy/bin/python -m compileall -q /opt/dalecpy/lib

FROM debian:bookworm
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log
COPY --from=build /opt/dalecpy /opt/dalecpy
# The spec models' schema cache (dalecpy/spec/_prebuilt.py), written by this interpreter importing them once.
RUN /opt/dalecpy/bin/python -c "import dalecpy.spec" \
 && /opt/dalecpy/bin/python -c "import dalecpy.spec._prebuilt as p; assert p.from_cache, 'no schema cache'"
ENV PATH=/opt/dalecpy/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# The frontend needs no network: BuildKit then skips setting one up for its container (much faster start).
LABEL moby.buildkit.frontend.network.none="true"
LABEL moby.buildkit.frontend.caps="moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts"
LABEL org.opencontainers.image.title="dalecpy frontend" \
      org.opencontainers.image.description="BuildKit gateway frontend for Dalec-style YAML build specs"
ENTRYPOINT ["/opt/dalecpy/bin/dalecpy", "frontend"]
