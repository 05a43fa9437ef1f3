#!/bin/bash
# The image's HEALTHCHECK: GET /healthz on the service's own port, healthy on a 200.
# The runtime image has no curl or wget; bash's /dev/tcp is enough for one request, so nothing
# is installed for it. Kubernetes does not use this (it probes over HTTP itself).
set -eu
port=${APP__SERVER__PORT:-8080}
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: healthcheck\r\n\r\n' >&3
IFS= read -r -t 3 status <&3
case $status in
    "HTTP/1."?" 200 "*) exit 0 ;;
    *) echo "healthcheck: GET /healthz: ${status:-no reply}" >&2; exit 1 ;;
esac
