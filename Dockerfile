# Multi-stage build: a Rust builder, then a small Debian runtime as a non-root user.
# Untested here (no Docker engine on our machines); kept correct by reading.
FROM rust:1.95-slim-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends pkg-config libpq-dev gcc \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src src
COPY migrations migrations
COPY templates templates
COPY static static
RUN cargo build --release --locked && strip target/release/mastodon-oidc

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libpq5 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /var/lib/mastodon-oidc --create-home mastodon-oidc
COPY --from=build /src/target/release/mastodon-oidc /usr/local/bin/mastodon-oidc
COPY config/example.toml /etc/mastodon-oidc/example.toml
USER mastodon-oidc
WORKDIR /var/lib/mastodon-oidc
ENV MASTODON_OIDC_LISTEN=0.0.0.0:8080 \
    MASTODON_OIDC_DATA_DIR=/var/lib/mastodon-oidc
EXPOSE 8080
# GET /healthz on the listen address (the image has no curl; dash has no /dev/tcp).
HEALTHCHECK --interval=10s --timeout=5s CMD ["mastodon-oidc", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/mastodon-oidc"]
CMD ["serve"]
