#!/usr/bin/env bash
# A browser for `bastion login --browser` (set as $BROWSER): opens the authorization URL, signs
# in as $OIDC_SUB at op.mjs, follows the redirects to the loopback callback and loads it.
# usage: browser.sh AUTHORIZATION_URL   (OIDC_SUB=alice; OIDC_DENY=1 aborts the sign-in)
set -euo pipefail
URL=$1; SUB=${OIDC_SUB:-alice}
J=$(mktemp); trap 'rm -f $J' EXIT
LOC=$(curl -fsS -c $J -b $J -o /dev/null -w '%{redirect_url}' "$URL")
if [ -n "${OIDC_DENY:-}" ]; then
  NEXT=$(curl -fsS -c $J -b $J -o /dev/null -w '%{redirect_url}' "$LOC/abort")
else
  NEXT=$(curl -fsS -c $J -b $J -o /dev/null -w '%{redirect_url}' "$LOC/login" --data-urlencode login="$SUB")
fi
for _ in 1 2 3 4 5 6 7 8; do
  case "$NEXT" in http://127.0.0.1:*/callback*) break;; esac
  NEXT=$(curl -fsS -c $J -b $J -o /dev/null -w '%{redirect_url}' "$NEXT")
done
curl -fsS "$NEXT"
