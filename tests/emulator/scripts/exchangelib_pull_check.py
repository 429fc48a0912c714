"""A pull subscription on a calendar, with exchangelib against a running emulator.

An independent client's view of Subscribe / GetEvents / Unsubscribe (see the README section
"Checking a behaviour with exchangelib"). Usage, with the demo seed:

    pip install exchangelib
    python3 exchangelib_pull_check.py http://127.0.0.1:PORT [mailbox]
"""
import json, os, sys, urllib.parse, urllib.request

os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
from exchangelib import (Account, Configuration, IMPERSONATION, OAUTH2, Version, Build,
                         OAuth2AuthorizationCodeCredentials)
from exchangelib.version import EXCHANGE_O365

base = sys.argv[1].rstrip("/")
mailbox = sys.argv[2] if len(sys.argv) > 2 else "room-berlin@contoso.com"
port = urllib.parse.urlparse(base).port
form = urllib.parse.urlencode({
    "grant_type": "client_credentials",
    "client_id": "5a7e3c12-4b6d-4e8f-9a1b-2c3d4e5f6a70",
    "client_secret": "demo-only-client-secret~not-for-production",
    "scope": f"https://127.0.0.1:{port}/.default",
}).encode()
token = json.load(urllib.request.urlopen(f"{base}/contoso.com/oauth2/v2.0/token", form))
credentials = OAuth2AuthorizationCodeCredentials(access_token=token)
config = Configuration(service_endpoint=f"{base}/EWS/Exchange.asmx", credentials=credentials,
                       auth_type=OAUTH2, version=Version(build=EXCHANGE_O365))
account = Account(primary_smtp_address=mailbox, config=config,
                  access_type=IMPERSONATION, autodiscover=False)

subscription_id, watermark = account.calendar.subscribe_to_pull(timeout=10)
print("subscribed:", subscription_id, "watermark:", watermark)

def poll(watermark):
    for notification in account.calendar.get_events(subscription_id, watermark):
        kinds = [(type(e).__name__, e.watermark[-6:], "folder" if getattr(e, "folder_id", None) else ("item" if getattr(e, "item_id", None) else "-")) for e in notification.events]
        print("  notification: previous", notification.previous_watermark,
              "more", notification.more_events, "events", kinds)
        watermark = notification.events[-1].watermark if notification.events else watermark
    return watermark

print("poll with nothing changed:")
watermark = poll(watermark)

item = json.dumps({"subject": "exchangelib pull check", "start": "2026-03-02T09:00:00Z",
                   "end": "2026-03-02T10:00:00Z"}).encode()
request = urllib.request.Request(f"{base}/admin/mailboxes/{mailbox}/items", item,
                                 {"Content-Type": "application/json"}, method="POST")
created = json.load(urllib.request.urlopen(request))
print("created item via the admin API:", created.get("subject"))

print("poll after the create:")
watermark = poll(watermark)
print("poll again:")
watermark = poll(watermark)

account.calendar.unsubscribe(subscription_id)
print("unsubscribed")
try:
    poll(watermark)
except Exception as e:
    print("poll after unsubscribe:", type(e).__name__, e)

# Resuming at a watermark: exchangelib (5.6.0) sends the Watermark of a Subscribe in the
# messages namespace; the schema (and the Watermark reference page) put it in the types
# namespace, so the emulator refuses the request with ErrorSchemaValidation.
try:
    account.calendar.subscribe_to_pull(watermark=watermark, timeout=10)
    print("resubscribed at the last watermark")
except Exception as e:
    print("resubscribe at the last watermark:", type(e).__name__, str(e)[:160])
