#!/usr/bin/env bash
# Decline a device-flow user code as SUB would in a browser (open the page, confirm, decline).
# usage: deny-device.sh USER_CODE   (OIDC_ISSUER names the provider)
set -euo pipefail
B=${OIDC_ISSUER:?}; UC=$1
J=$(mktemp); trap 'rm -f $J' EXIT
X=$(curl -fsS -c $J -b $J "$B/device?user_code=$UC" | sed -n 's/.*name="xsrf" value="\([^"]*\)".*/\1/p')
LOC=$(curl -fsS -c $J -b $J -o /dev/null -w '%{redirect_url}' "$B/device" -d xsrf="$X" -d user_code="$UC" -d confirm=yes)
curl -fsS -c $J -b $J -L -o /dev/null "$LOC/abort"
echo '{"denied": true}'
