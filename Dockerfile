# twostep, built from this repository.
#
#   docker build -t twostep .
#   docker run --rm -p 8080:8080 twostep serve
#
# Stage 1 compiles the release binary; stage 2 is a slim Debian with only the
# binary and CA certificates, running as an unprivileged user.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p twostep \
 && cp target/release/twostep /usr/local/bin/twostep

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/twostep twostep \
 && mkdir -p /var/lib/twostep \
 && chown twostep:twostep /var/lib/twostep \
 && chmod 0700 /var/lib/twostep
COPY --from=build /usr/local/bin/twostep /usr/local/bin/twostep
USER twostep
ENV TWOSTEP_DATA_DIR=/var/lib/twostep \
    TWOSTEP_LISTEN=0.0.0.0:8080
VOLUME /var/lib/twostep
EXPOSE 8080
ENTRYPOINT ["twostep"]
CMD ["serve"]
