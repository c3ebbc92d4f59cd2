# qredge: one binary; the subcommand picks the role (`serve` runs every role in one process).
#   docker build -t qredge .
#   docker run -p 8080:8080 -p 127.0.0.1:8081:8081 --ulimit nofile=65536:65536 \
#     -v qredge-data:/var/lib/qredge qredge
# The first start prints the owner credential and writes it to /var/lib/qredge/bootstrap.json.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
COPY config ./config
RUN cargo build --release --locked --bin qredge

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/qredge --create-home qredge
COPY --from=build /src/target/release/qredge /usr/local/bin/qredge
COPY config /etc/qredge
USER qredge
WORKDIR /var/lib/qredge
# Inside a container the API must listen beyond loopback to be published at all, so the image
# binds it to 0.0.0.0: publish it on the host's loopback or a private network only
# (-p 127.0.0.1:8081:8081), never to the internet (docs/deploy.md, "The API in the image").
# Its listener has limits of its own ([api]), apart from the edge's. Give the container a high
# open files limit (--ulimit nofile=65536:65536): qredge fits its connection caps under it.
ENV QREDGE_DATA_DIR=/var/lib/qredge \
    QREDGE_EDGE_LISTEN=0.0.0.0:8080 \
    QREDGE_API_LISTEN=0.0.0.0:8081
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/qredge"]
CMD ["serve"]
