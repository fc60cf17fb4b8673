# The twin image: one file for both Kubernetes jobs (deploy/k8s/load-job.yaml and
# deploy/k8s/run-job.yaml; see deploy/README.md).
#
#   docker build -t REGISTRY/twin:latest . && docker push REGISTRY/twin:latest
#
# Stage 1 builds `twin` with the workspace's pinned toolchain (rust-version in
# Cargo.toml) and lock file; stage 2 is a slim Debian of the same release (same glibc)
# with the binary, CA certificates (for mqtts:// with the system roots) and the shipped
# scenarios under /scenarios. No system library is needed: TLS is rustls, and the
# serial ports are built without libudev.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
# Cache mounts keep the registry and the build between builds (BuildKit); the binary is
# copied out of the cached target directory.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p twin-tui \
    && cp target/release/twin /usr/local/bin/twin

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/twin /usr/local/bin/twin
COPY scenarios/examples/ /scenarios/
RUN useradd --system --uid 10001 --no-create-home twin
USER 10001
WORKDIR /scenarios
ENTRYPOINT ["twin"]
CMD ["--help"]
