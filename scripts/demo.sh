#!/usr/bin/env bash
# `make demo`: start the Exchange Online emulator with the demo tenant and run
# `rooms-sync check` against it in each of the three sign-in modes of the
# original product, then one deliberately wrong person, to show what an
# operator sees for the most common mistake (an alias instead of the primary
# SMTP address). Then two-way sync: meetings made in Outlook (through the
# emulator's admin API, acting as the Outlook user) are imported into ROOMS, an
# Outlook change arrives in ROOMS, a ROOMS booking arrives in the organiser's
# and the room's calendars, and a booking changed on both sides is a conflict
# that ROOMS wins (Rollback). Everything runs on 127.0.0.1; nothing leaves the
# machine. Needs curl and python3 (for the admin API and its JSON).
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

# ---------------------------------------------------------------------------
# Two-way sync. The Outlook side is the emulator's admin API, which acts as
# the Outlook user of a mailbox (an organiser's meeting invites its rooms, and
# a room accepts or declines as Exchange would); the ROOMS side is the
# `booking` commands. `run` does one cycle per person: Exchange changes into
# ROOMS first, then ROOMS changes to Exchange.

zone="W. Europe Standard Time"
sync="$demo/sync"

# admin METHOD PATH [JSON]: one admin API call; prints the answer's body, and
# stops the demo with the emulator's error when the call fails.
admin() {
    local answer status
    answer=$(curl -sS -X "$1" "$base/admin/$2" -H 'content-type: application/json' \
        ${3:+--data "$3"} -w '\n%{http_code}')
    status=${answer##*$'\n'}
    answer=${answer%$'\n'*}
    if [ "$status" -ge 400 ]; then
        echo "admin API $1 $2 answered $status: $answer" >&2
        return 1
    fi
    printf '%s' "$answer"
}

# py CODE [ARG...]: a small Python program over the JSON on stdin (`data`).
py() {
    local code=$1
    shift
    python3 -c "import json, sys, urllib.parse
data = json.load(sys.stdin) if not sys.stdin.isatty() else None
args = sys.argv[1:]
$code" "$@"
}

# url ID: an item id as a path segment (ids are base64 and may hold '/' and '+').
url() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }

# calendar MAILBOX: the calendar items of MAILBOX as Outlook holds them.
calendar() {
    echo "  calendar of $1 (as Outlook holds it; times in UTC):"
    admin GET "mailboxes/$1/items?folder=calendar" | py '
for item in sorted(data["items"], key=lambda i: i["calendar"]["start"]):
    cal = item["calendar"]
    # Only the copy of the organiser tracks the answers of the rooms.
    organiser = cal["organizer"] == args[0]
    rooms = ", ".join(r["email"] + (" (%s)" % r["response"] if organiser else "")
                      for r in cal["resources"])
    tag = [p["value"] for p in item["extended_properties"] if p["property"].endswith(":RoomsBookingId")]
    print("    %s-%s  %s%s" % (cal["start"][:16], cal["end"][11:16], item["subject"],
                             "  (weekly series)" if cal["recurrence"] else ""))
    print("        organiser %s; rooms: %s%s" % (cal["organizer"], rooms or "none",
                                               "; RoomsBookingId " + tag[0] if tag else ""))' "$1"
}

# booking FIELD SUBJECT: a field of the ROOMS booking with this subject
# (`exchange.item_id` is its item in the home mailbox).
booking() {
    rooms_sync --tenant "$sync" booking list --json | py '
value = next(b for b in data["bookings"] if b["subject"] == args[1])
for key in args[0].split("."):
    value = value[key]
print(value)' "$1" "$2"
}

section "Two-way sync: the initial import of Outlook meetings into ROOMS"
settings "$sync" \
    ExchangeTenantId=$tenant_id \
    ExchangeAppId=5a7e3c12-4b6d-4e8f-9a1b-2c3d4e5f6a70 \
    "ExchangeClientSecret=demo-only-client-secret~not-for-production" \
    ExchangeAuthorityUrl="$base" \
    ExchangeAllowInsecureLoopback=true
rooms_sync --tenant "$sync" person add alice@contoso.com --mode O365Pull --sync-url "$ews"
rooms_sync --tenant "$sync" person add room-berlin@contoso.com --mode O365Pull --sync-url "$ews" --room --sync-master
echo
echo "In Outlook, Alice makes two meetings with Room Berlin as the resource: 'Planning',"
echo "and 'Weekly sync', a series without an end whose 18 January occurrence she moves"
echo "and whose 25 January occurrence she deletes. Room Berlin accepts both."
admin POST mailboxes/alice@contoso.com/items '{"subject": "Planning",
    "start": "2027-01-12T09:00:00", "end": "2027-01-12T10:00:00",
    "time_zone": "W. Europe Standard Time", "end_time_zone": "W. Europe Standard Time",
    "location": "Berlin, 3rd floor",
    "required_attendees": ["bob@contoso.com"], "resources": ["room-berlin@contoso.com"]}' >/dev/null
series=$(admin POST mailboxes/alice@contoso.com/items '{"subject": "Weekly sync",
    "start": "2027-01-11T09:00:00", "end": "2027-01-11T09:30:00",
    "time_zone": "W. Europe Standard Time", "end_time_zone": "W. Europe Standard Time",
    "resources": ["room-berlin@contoso.com"],
    "recurrence": {"pattern": {"type": "weekly", "interval": 1, "days": ["Monday"],
                               "first_day_of_week": "Monday"},
                   "range": {"type": "no_end", "start": "2027-01-11"}}}' | py 'print(data["id"])')
occurrences=$(admin GET "mailboxes/alice@contoso.com/items/$(url "$series")/occurrences?from=2027-01-18T00:00:00Z&to=2027-01-26T00:00:00Z")
moved=$(py 'print(data["occurrences"][0]["id"])' <<<"$occurrences")
deleted=$(py 'print(data["occurrences"][1]["id"])' <<<"$occurrences")
admin PATCH "mailboxes/alice@contoso.com/items/$(url "$moved")" '{"subject": "Weekly sync, Tuesday",
    "start": "2027-01-19T14:00:00", "end": "2027-01-19T14:30:00",
    "time_zone": "W. Europe Standard Time"}' >/dev/null
admin DELETE "mailboxes/alice@contoso.com/items/$(url "$deleted")" >/dev/null
calendar alice@contoso.com
echo
echo "\$ rooms-sync run"
rooms_sync --tenant "$sync" run
echo
echo "\$ rooms-sync booking list    (one booking per meeting, though each is in two calendars)"
rooms_sync --tenant "$sync" booking list
echo
echo "\$ rooms-sync booking occurrences --from 2027-01-11 --to 2027-02-02 --time-zone \"$zone\""
rooms_sync --tenant "$sync" booking occurrences --from 2027-01-11 --to 2027-02-02 --time-zone "$zone"
echo
echo "A run right after a run writes nothing to either side (echo suppression):"
rooms_sync --tenant "$sync" run --json | py '
t = data["totals"]
print("  run --json totals:", json.dumps({k: t[k] for k in ("to_rooms", "to_exchange", "conflicts", "ews_requests")}))'

section "Two-way sync: a change made in Outlook arrives in ROOMS"
planning=$(booking id Planning)
planning_item=$(booking exchange.item_id Planning)
echo "Alice moves 'Planning' to 11:00 in Outlook, renames it, and types 'Room Hamburg' as its"
echo "Location (only a resource attendee decides the room: it stays Room Berlin)."
admin PATCH "mailboxes/alice@contoso.com/items/$(url "$planning_item")" '{"subject": "Planning (moved)",
    "start": "2027-01-12T11:00:00", "end": "2027-01-12T12:00:00",
    "time_zone": "W. Europe Standard Time", "location": "Room Hamburg"}' >/dev/null
rooms_sync --tenant "$sync" run
echo
echo "\$ rooms-sync booking list"
rooms_sync --tenant "$sync" booking list | grep -e '^ID' -e "$planning"

section "Two-way sync: a ROOMS booking arrives in the organiser's and the room's calendars"
echo "\$ rooms-sync booking add --organiser alice@contoso.com --subject \"Board review\" \\"
echo "      --start 2027-01-14T14:00 --end 2027-01-14T15:30 --time-zone \"$zone\" \\"
echo "      --room room-berlin@contoso.com --attendee bob@contoso.com"
board=$(rooms_sync --tenant "$sync" booking add --organiser alice@contoso.com --subject "Board review" \
    --start 2027-01-14T14:00 --end 2027-01-14T15:30 --time-zone "$zone" \
    --room room-berlin@contoso.com --attendee bob@contoso.com)
echo "$board"
rooms_sync --tenant "$sync" booking list | grep -e '^ID' -e "$board"
echo
rooms_sync --tenant "$sync" run
echo
echo "The meeting is in Alice's calendar, tagged with the booking's id, and Room Berlin,"
echo "invited as its resource, has accepted it into its own calendar:"
calendar alice@contoso.com
calendar room-berlin@contoso.com
echo
echo "The next run links the room's copy to the same booking and writes nothing:"
rooms_sync --tenant "$sync" run >/dev/null
rooms_sync --tenant "$sync" booking list --json | py '
b = next(b for b in data["bookings"] if b["id"] == args[0])
print("  " + json.dumps({k: b[k] for k in ("id", "subject", "state", "pending", "revision", "synced_revision")}))
print("  exchange: " + json.dumps(b["exchange"]))
for link in b["links"]:
    print("  linked in %s, uid %s" % (link["mailbox"], link["uid"]))' "$board"

section "Two-way sync: a conflict (the same booking changed in ROOMS and in Outlook)"
echo "\$ rooms-sync booking update $planning --subject \"Planning Q1\""
rooms_sync --tenant "$sync" booking update "$planning" --subject "Planning Q1"
echo "Before the next run, Alice moves the same meeting to 15:00 in Outlook."
admin PATCH "mailboxes/alice@contoso.com/items/$(url "$planning_item")" '{
    "start": "2027-01-12T15:00:00", "end": "2027-01-12T16:00:00",
    "time_zone": "W. Europe Standard Time"}' >/dev/null
echo
echo "Alice's conflict behaviour is Rollback (the default): ROOMS wins and the Outlook item is reset."
rooms_sync --tenant "$sync" run
echo
echo "\$ rooms-sync booking conflicts"
rooms_sync --tenant "$sync" booking conflicts
echo
echo "\$ rooms-sync booking outbox    (notices for organisers)"
rooms_sync --tenant "$sync" booking outbox
echo
echo "The Outlook item holds the ROOMS state again:"
admin GET "mailboxes/alice@contoso.com/items/$(url "$planning_item")" | py '
print("  %r, %s to %s" % (data["subject"], data["calendar"]["start"], data["calendar"]["end"]))'
rooms_sync --tenant "$sync" booking list | grep -e '^ID' -e "$planning"

printf '\nDemo finished: every sign-in mode is green against the emulator, and ROOMS and Exchange\nsync both ways.\n'
