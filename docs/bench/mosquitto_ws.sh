#!/usr/bin/env bash
# Starts a mosquitto with a TLS websockets listener (anonymous clients, loopback) for
# docs/bench/wss.sh's WS_BROKER side. Debian's mosquitto 2.0.11 has no websockets, and
# Debian's libwebsockets lacks external polling (mosquitto 2.0 warns that its websockets
# "will be unusable" with it), so the comparison uses mosquitto 2.1's built-in websockets,
# built from the develop branch:
#   apt-get install -y libssl-dev libcjson-dev
#   git clone https://github.com/eclipse/mosquitto && cd mosquitto && git checkout develop
#   make -C lib && make -C libcommon \
#     && make -C src WITH_WEBSOCKETS=yes WITH_DOCS=no WITH_ARGON2=no WITH_SQLITE=no
# Usage: docs/bench/mosquitto_ws.sh path/to/mosquitto CERTDIR [PORT=19443] [WORKDIR]
#   CERTDIR holds ca.pem server.pem server.key (../shared/bench/gen_certs.sh CERTS; use CERTS/ec)
# Prints the broker's PID (WS_PID) on stdout; WS_BROKER=127.0.0.1:PORT, WS_CAFILE=CERTDIR/ca.pem.
set -euo pipefail
MOSQ="$(readlink -f "${1:?path to mosquitto}")"
CERTS="$(readlink -f "${2:?CERTDIR}")"
PORT="${3:-19443}"
W="$(mkdir -p "${4:-./mosquitto-ws}" && cd "${4:-./mosquitto-ws}" && pwd)"
cat > "$W/mosquitto.conf" <<CONF
# benchmark-only config (loopback): a TLS websockets listener, anonymous clients
allow_anonymous true
persistence false
log_dest file $W/mosquitto.log
log_type error
log_type warning
connection_messages false
max_queued_messages 1000000
max_inflight_messages 20
set_tcp_nodelay true
listener $PORT 127.0.0.1
protocol websockets
certfile $CERTS/server.pem
keyfile $CERTS/server.key
cafile $CERTS/ca.pem
require_certificate false
CONF
"$MOSQ" -c "$W/mosquitto.conf" > "$W/stdout.log" 2>&1 &
echo $! | tee "$W/mosquitto.pid"
