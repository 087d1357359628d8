# kube-state-agent image: docker build -t REGISTRY/kube-state-agent:TAG . (docs/install.md)
#
# The binary links glibc dynamically (Rust's default Linux target; TLS is rustls, so no OpenSSL),
# hence distroless "cc" (glibc, libgcc, CA certificates, no shell) rather than "static".
# Both stages are Debian 12 (bookworm), so the glibc it is built against is the one it runs on.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# ksa_build_info's revision and branch when the context has no .git:
# --build-arg KSA_REVISION=$(git rev-parse --short=12 HEAD) --build-arg KSA_BRANCH=…
ARG KSA_REVISION=""
ARG KSA_BRANCH=""
# --locked: exactly the dependency versions of Cargo.lock, or fail.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --profile dist --locked -p kube-state-agent \
 && cp target/dist/kube-state-agent /kube-state-agent

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /kube-state-agent /usr/local/bin/kube-state-agent
# 65532 is distroless' "nonroot"; the DaemonSet also sets runAsUser/runAsNonRoot.
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/kube-state-agent"]
