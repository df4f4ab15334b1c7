# Multi-stage build of both kiln planes, our providers packed into signed archives, and
# the signed sample actors.
FROM rust:1.95-bookworm AS build
RUN apt-get update -qq && apt-get install -y -qq clang mold python3 >/dev/null \
 && rustup target add wasm32-unknown-unknown
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bins -p kiln-control-plane -p kiln-data-plane -p kiln-cli \
      -p kiln-httpserver -p kiln-keyvalue \
 && KILN_CLI=target/release/kiln actors/build.sh \
 && KILN_PROFILE=release providers/build.sh

FROM debian:bookworm-slim AS runtime
RUN useradd --uid 10001 --create-home kiln && mkdir -p /run/kiln /var/cache/kiln \
 && chown kiln /run/kiln /var/cache/kiln
USER 10001

FROM runtime AS data-plane
COPY --from=build /src/target/release/kiln-data-plane /usr/local/bin/
ENTRYPOINT ["kiln-data-plane"]

FROM runtime AS control-plane
COPY --from=build /src/target/release/kiln-control-plane /src/target/release/kiln /usr/local/bin/
COPY --from=build /src/actors/build/*_s.wasm /opt/kiln/actors/
COPY --from=build /src/providers/build/*.par.gz /opt/kiln/providers/
COPY deploy/demo.sh /usr/local/bin/kiln-demo
ENTRYPOINT ["kiln-control-plane"]
