# syntax=docker/dockerfile:1
# auth0-api gateway: build in the Rust image, run from a small distroless image (glibc, CA
# certificates, a non-root user; no shell). Build from the repository root:
#   docker build -t auth0-api-gateway .
#   docker run -p 8080:8080 -p 9464:9464 -v $PWD/gateway.toml:/etc/auth0-api/gateway.toml:ro \
#     auth0-api-gateway
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p auth0-api-cli --bin auth0-api \
    && cp target/release/auth0-api /auth0-api

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /auth0-api /usr/local/bin/auth0-api
# In a container the listeners face the container's network, not its loopback.
ENV AUTH0_GATEWAY_CONFIG=/etc/auth0-api/gateway.toml \
    AUTH0_GATEWAY_LISTEN=0.0.0.0:8080 \
    AUTH0_GATEWAY_METRICS_LISTEN=0.0.0.0:9464
USER 65532:65532
EXPOSE 8080 9464
ENTRYPOINT ["/usr/local/bin/auth0-api", "gateway"]
