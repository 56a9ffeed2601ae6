# Multi-stage build: compile in the Rust image, run on a slim Debian with only the runtime libraries.
# SQLite, libpq and OpenSSL are compiled into the binary (the Rust image has gcc, make and perl).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY data ./data
# The integration tests are declared in Cargo.toml; an empty stub lets the manifest resolve.
RUN mkdir -p tests/api && echo '' > tests/api/main.rs
RUN cargo build --release --locked --bin niemyet

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/niemyet --create-home niemyet
COPY --from=build /src/target/release/niemyet /usr/local/bin/niemyet
USER niemyet
WORKDIR /var/lib/niemyet
ENV NIEMYET_BIND=0.0.0.0:8080 \
    NIEMYET_LOG_FORMAT=json \
    SSL_CERT_DIR=/etc/ssl/certs
EXPOSE 8080
ENTRYPOINT ["niemyet"]
CMD ["serve"]
