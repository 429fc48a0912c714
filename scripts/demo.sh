#!/usr/bin/env bash
# `make demo`: start the Exchange Online emulator with the demo tenant and run
# `rooms-sync check` against it in each of the three sign-in modes of the
# original product. Ends with one deliberately wrong person, to show what an
# operator sees for the most common mistake (an alias instead of the primary
# SMTP address). Everything runs on 127.0.0.1; nothing leaves the machine.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=target/release
demo=target/demo
rm -rf "$demo"
mkdir -p "$demo"

"$bin/exo-emulator" --listen 127.0.0.1:0 --seed tests/emulator/seeds/demo.toml \
    >"$demo/emulator.out" 2>"$demo/emulator.log" &
emulator=$!
trap 'kill "$emulator" 2>/dev/null || true; wait "$emulator" 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
    [ -s "$demo/emulator.out" ] && break
    sleep 0.1
done
base=$(head -n 1 "$demo/emulator.out")
[ -n "$base" ] || { echo "the emulator did not start; see $demo/emulator.log" >&2; exit 1; }
ews="$base/EWS/Exchange.asmx"
tenant_id=3f9c2a71-8d4e-4b1a-9c6f-2e7d5a1b0c44
echo "Exchange Online emulator at $base"

# settings DIR KEY=VALUE...: writes DIR/RoomsAppSettings.config in the original format.
settings() {
    local dir=$1
    shift
    mkdir -p "$dir/certs"
    {
        echo '<?xml version="1.0" encoding="utf-8"?>'
        echo '<RoomsAppSettings>'
        for kv in "$@"; do
            echo "  <add key=\"${kv%%=*}\" value=\"${kv#*=}\" />"
        done
        echo '</RoomsAppSettings>'
    } >"$dir/RoomsAppSettings.config"
}

rooms_sync() { "$bin/rooms-sync" --cache-dir "$demo/cache" "$@"; }

section() { printf '\n== %s\n' "$1"; }

section "Impersonation with a client secret (app-only, full_access_as_app)"
settings "$demo/secret" \
    ExchangeTenantId=$tenant_id \
    ExchangeAppId=5a7e3c12-4b6d-4e8f-9a1b-2c3d4e5f6a70 \
    "ExchangeClientSecret=demo-only-client-secret~not-for-production" \
    ExchangeAuthorityUrl="$base" \
    ExchangeAllowInsecureLoopback=true
for who in alice@contoso.com bob@contoso.com room-berlin@contoso.com room-hamburg@contoso.com; do
    rooms_sync --tenant "$demo/secret" person add "$who" --mode O365Pull --sync-url "$ews" >/dev/null
done
rooms_sync --tenant "$demo/secret" person list
rooms_sync --tenant "$demo/secret" check

section "Impersonation with a certificate (JWT client assertion signed by the host)"
settings "$demo/certificate" \
    ExchangeTenantId=$tenant_id \
    ExchangeAppId=b2c4d6e8-1a3b-4c5d-8e9f-0a1b2c3d4e5f \
    "ExchangeCertThumbprint=33 24 59 43 3b 54 fc 0c 21 85 f7 5a 61 8f d3 c8 3c 7b 95 84" \
    ExchangeAuthorityUrl="$base" \
    ExchangeAllowInsecureLoopback=true
cp tests/certs/demo-app.crt tests/certs/demo-app.key "$demo/certificate/certs/"
rooms_sync --tenant "$demo/certificate" person add room-berlin@contoso.com --mode O365 --sync-url "$ews" >/dev/null
rooms_sync --tenant "$demo/certificate" check

section "Delegated access (service user, EWS.AccessAsUser.All, folder permissions)"
settings "$demo/delegated" \
    ExchangeTenantId=$tenant_id \
    ExchangeAppId=c3d5e7f9-2b4c-4d6e-9f0a-1b2c3d4e5f60 \
    ExchangeUseImpersonation=false \
    ExchangeServiceUser=svc-rooms@contoso.com \
    "ExchangeServicePassword=file:service-password.txt" \
    ExchangeAuthorityUrl="$base" \
    ExchangeAllowInsecureLoopback=true
printf 'demo-only-Passw0rd!\n' >"$demo/delegated/service-password.txt"
for who in alice@contoso.com room-berlin@contoso.com; do
    rooms_sync --tenant "$demo/delegated" person add "$who" --mode O365 --sync-url "$ews" >/dev/null
done
rooms_sync --tenant "$demo/delegated" check --json
echo

section "What an operator sees for the most common mistake (an alias, not the primary SMTP address)"
rooms_sync --tenant "$demo/secret" person add berlin@contoso.com --mode O365 --sync-url "$ews" >/dev/null
set +e
rooms_sync --tenant "$demo/secret" check --person berlin@contoso.com
code=$?
set -e
echo "(exit code $code: a red check makes 'rooms-sync check' fail)"
[ "$code" -eq 1 ]

printf '\nDemo finished: every sign-in mode is green against the emulator.\n'
