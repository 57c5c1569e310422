#!/usr/bin/env bash
# Confirm a device-flow user code as SUB would in a browser (open the page, confirm, sign in).
# usage: confirm-device.sh USER_CODE SUB   (OIDC_ISSUER names the provider; OIDC_CLAIMS=JSON sets SUB's claims)
set -euo pipefail
B=${OIDC_ISSUER:?}; UC=$1; SUB=${2:-alice}
J=$(mktemp); trap 'rm -f $J' EXIT
X=$(curl -fsS -c $J -b $J "$B/device?user_code=$UC" | sed -n 's/.*name="xsrf" value="\([^"]*\)".*/\1/p')
LOC=$(curl -fsS -c $J -b $J -o /dev/null -w '%{redirect_url}' "$B/device" -d xsrf="$X" -d user_code="$UC" -d confirm=yes)
curl -fsS -c $J -b $J -L -o /dev/null "$LOC/login" --data-urlencode login="$SUB" ${OIDC_CLAIMS:+--data-urlencode "claims=$OIDC_CLAIMS"}
echo '{"confirmed": true}'
