#!/usr/bin/env bash
# With --tools-only it installs just the media tools (for `make run`).
#
# Makes sure everything the tests need is installed and running on loopback:
# PostgreSQL, Redis, MinIO, and the media tools (yt-dlp, ffmpeg, pocketsphinx,
# flite). Idempotent: when all is there it only checks, in a few seconds.
# Writes the connection settings to .cache/test.env for the Makefile.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CACHE="$ROOT/.cache"
mkdir -p "$CACHE/bin" "$CACHE/log"

PG_URL="${YTCAPTION_TEST_POSTGRES_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable}"
REDIS_URL="${YTCAPTION_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}"
MINIO_ADDR="${YTCAPTION_TEST_MINIO_ADDR:-127.0.0.1:19000}"
MINIO_USER="ytcaption"
MINIO_PASS="ytcaption-test-secret"
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"

log() { printf 'bootstrap: %s\n' "$*" >&2; }
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

APT_UPDATED=""
apt_install() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	command -v apt-get >/dev/null || { log "missing ${missing[*]} and no apt-get: install them by hand"; exit 1; }
	if [ -z "$APT_UPDATED" ]; then $SUDO apt-get update -qq; APT_UPDATED=1; fi
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$CACHE/log/apt.log" 2>&1 \
		|| { cat "$CACHE/log/apt.log" >&2; exit 1; }
}

wait_for() { # name, tries, command...
	local name=$1 tries=$2; shift 2
	for _ in $(seq "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
	log "$name did not come up"; return 1
}

# --- tools ---------------------------------------------------------------
MEDIA_TOOLS="yt-dlp ffmpeg pocketsphinx pocketsphinx-en-us flite ca-certificates"
if [ "${1:-}" = "--tools-only" ]; then
	# shellcheck disable=SC2086
	apt_install $MEDIA_TOOLS
	exit 0
fi
# shellcheck disable=SC2086
apt_install postgresql postgresql-client redis-server $MEDIA_TOOLS procps iproute2 curl chromium stress-ng rpm

# --- Prometheus (promtool and prometheus for test/monitoring) -----------------
# The package's postinst starts a Prometheus service on :9090. The tests run
# their own on a free port, so keep the packaged one from starting: a
# policy-rc.d that denies service starts (containers often ship one), and on
# systemd machines the unit disabled.
if ! dpkg-query -W -f='${Status}' prometheus 2>/dev/null | grep -q "install ok installed"; then
	POLICY=/usr/sbin/policy-rc.d
	if [ ! -e "$POLICY" ]; then
		printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
		$SUDO chmod 755 "$POLICY"
		trap '$SUDO rm -f "$POLICY"' EXIT
	fi
	apt_install prometheus
	if [ -d /run/systemd/system ]; then
		$SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
	fi
fi

# --- PostgreSQL ------------------------------------------------------------
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
	log "starting PostgreSQL"
	for v in $(ls /etc/postgresql); do
		pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
	done
	wait_for PostgreSQL 60 pg_isready -q -h 127.0.0.1 -p 5432
fi
if ! psql "$PG_URL" -qAtc 'select 1' >/dev/null 2>&1; then
	# A fresh Debian cluster only lets the postgres OS user in (peer auth);
	# give the postgres role the password the tests use.
	log "setting the postgres role's password"
	runuser -u postgres -- psql -qc "ALTER USER postgres PASSWORD 'postgres'" >/dev/null
	psql "$PG_URL" -qAtc 'select 1' >/dev/null
fi

# --- Redis -------------------------------------------------------------------
if ! redis-cli -u "$REDIS_URL" ping 2>/dev/null | grep -q PONG; then
	log "starting Redis"
	mkdir -p /var/lib/redis /var/log/redis
	redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
		--dir /var/lib/redis --logfile /var/log/redis/ytcaption-test.log
	wait_for Redis 40 redis-cli -u "$REDIS_URL" ping
fi

# --- MinIO -------------------------------------------------------------------
MINIO="$CACHE/bin/minio"
if [ ! -x "$MINIO" ]; then
	log "building MinIO $MINIO_VERSION (a few minutes, once)"
	GOBIN="$CACHE/bin" go install "github.com/minio/minio@$MINIO_VERSION"
fi
if ! curl -fsS "http://$MINIO_ADDR/minio/health/live" >/dev/null 2>&1; then
	log "starting MinIO on $MINIO_ADDR"
	mkdir -p "$CACHE/minio-data"
	MINIO_ROOT_USER="$MINIO_USER" MINIO_ROOT_PASSWORD="$MINIO_PASS" MINIO_BROWSER=off \
		setsid nohup "$MINIO" server --quiet --address "$MINIO_ADDR" "$CACHE/minio-data" \
		>"$CACHE/log/minio.log" 2>&1 </dev/null &
	wait_for MinIO 120 curl -fsS "http://$MINIO_ADDR/minio/health/live"
fi

# --- Jaeger (the tracing test reads traces back from it) ---------------------
JAEGER_VERSION="v1.75.0"
JAEGER="$CACHE/bin/jaeger"
if [ ! -x "$JAEGER" ]; then
	log "building Jaeger $JAEGER_VERSION (a few minutes, once)"
	# Its go.mod has a replace directive, which `go install pkg@version`
	# refuses: build inside the downloaded module instead.
	JAEGER_SRC="$(cd / && go mod download -json "github.com/jaegertracing/jaeger@$JAEGER_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
	[ -n "$JAEGER_SRC" ] || { log "cannot download Jaeger $JAEGER_VERSION"; exit 1; }
	(cd "$JAEGER_SRC" && go build -trimpath -o "$JAEGER" ./cmd/jaeger)
fi

# --- Node.js and the official openai client (OpenAI-compatibility tests) -----
OPENAI_NPM_VERSION="6.49.0"
command -v node >/dev/null || apt_install nodejs
command -v npm >/dev/null || apt_install npm
if ! grep -qs "\"version\": \"$OPENAI_NPM_VERSION\"" "$CACHE/node/node_modules/openai/package.json"; then
	log "installing openai@$OPENAI_NPM_VERSION (npm) into .cache/node"
	npm install --silent --no-audit --no-fund --prefix "$CACHE/node" "openai@$OPENAI_NPM_VERSION" >"$CACHE/log/npm.log" 2>&1 \
		|| { cat "$CACHE/log/npm.log" >&2; exit 1; }
fi

cat >"$CACHE/test.env" <<ENV
export YTCAPTION_TEST_POSTGRES_URL='$PG_URL'
export YTCAPTION_TEST_REDIS_URL='$REDIS_URL'
export YTCAPTION_TEST_S3_ENDPOINT='http://$MINIO_ADDR'
export YTCAPTION_TEST_S3_ACCESS_KEY='$MINIO_USER'
export YTCAPTION_TEST_S3_SECRET_KEY='$MINIO_PASS'
ENV
log "ready (settings in .cache/test.env)"
