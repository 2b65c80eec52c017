#!/usr/bin/env bash
# Installs every Debian 12 package dualwrite needs. Idempotent: packages
# already present are skipped, so a second run does no network work.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git
  ninja-build                      # generator of every preset: compiles every library at once
  libpqxx-dev libpq-dev            # Postgres client (libpqxx 6.4) + libpq for replication
  libboost-dev libboost-system-dev # Beast / Asio (header-only, 1.74)
  libssl-dev openssl               # TLS for the broker (Beast over OpenSSL); scripts/gen-certs.sh
  libcli11-dev                     # command line
  nlohmann-json3-dev               # JSON bodies and results
  libsimdjson-dev                  # the broker's parser of message bodies (hot: 1000 per batch)
  libabsl-dev                      # absl::flat_hash_map: the broker's idempotency index
  libgtest-dev libgmock-dev        # tests
  libbenchmark-dev                 # benchmarks
  postgresql-15 postgresql-contrib # the embedded cluster
  postgresql-15-partman            # optional pg_partman partitioner (`outbox maintain --partitioner partman`)
  postgresql-15-pgq3 pgqd          # PgQ queue (`outbox write --queue pgq`, `outbox relay --strategy pgq`) and its ticker daemon
  nats-server libnats-dev          # NATS JetStream as a real outbox sink (`up --sinks nats`, `outbox relay --sink nats`)
  rabbitmq-server librabbitmq-dev  # RabbitMQ 3.10 and its C client 0.11: a second real broker (`up --sinks rabbitmq`)
  gnuplot-nox                      # plots in reports
  curl procps psmisc               # scripts, tests (curl, ps, fuser)
  clang-format
  clang-14 libclang-rt-14-dev      # libFuzzer (runtime in -rt-): fuzz/, scripts/fuzz.sh, run by scripts/test.sh
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
