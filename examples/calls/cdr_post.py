#!/usr/bin/env python3
"""Post the calls of an Asterisk `Master.csv` (cdr_csv) to zhudai.

    ZHUDAI_TOKEN=zd_… python3 cdr_post.py --url http://127.0.0.1:8080 Master.csv \
        [--recordings /var/spool/asterisk/monitor] [--extensions 8001,8002]

Each row becomes `POST /api/v1/calls`; the CDR's `uniqueid` is the `external_id`, so running
the script twice over the same file records nothing twice (the server answers 200 for a call
it has). A call between an internal extension and an outside number is outbound when the
source is an extension (`--extensions`, default: numbers of at most 6 digits), inbound
otherwise. With `--recordings`, a file named `<uniqueid>.wav|.mp3|.ogg|.m4a` in that folder is
uploaded as the call's recording. Times in the CSV are local (Asia/Shanghai unless `--tz`).

Standard library only (Python 3.8+). See docs/calls.md.
"""
import argparse
import csv
import datetime as dt
import json
import os
import sys
import urllib.error
import urllib.request

# Asterisk cdr_csv columns (the default Master.csv layout).
COLUMNS = ["accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel",
           "lastapp", "lastdata", "start", "answer", "end", "duration", "billsec",
           "disposition", "amaflags", "uniqueid", "userfield"]
RESULTS = {"ANSWERED": "answered", "NO ANSWER": "no_answer", "BUSY": "busy",
           "FAILED": "rejected", "CONGESTION": "rejected"}


def request(url, token, method="POST", body=None, content_type="application/json"):
    req = urllib.request.Request(url, data=body, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def is_extension(number, extensions):
    if extensions:
        return number in extensions
    return number.isdigit() and len(number) <= 6


def to_call(row, tz, extensions):
    start = dt.datetime.strptime(row["start"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz)
    answered = bool(row["answer"].strip())
    outbound = is_extension(row["src"], extensions)
    agent = row["src"] if outbound else row["dst"]
    duration, billsec = int(row["duration"] or 0), int(row["billsec"] or 0)
    result = RESULTS.get(row["disposition"].strip().upper(), "rejected")
    return {
        "external_id": row["uniqueid"],
        "direction": "out" if outbound else "in",
        "from": row["src"],
        "to": row["dst"],
        "started_at": start.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z"),
        "ring_seconds": max(duration - billsec, 0),
        "talk_seconds": billsec if result == "answered" else 0,
        "result": result if (answered or result != "answered") else "no_answer",
        "agent": agent,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("csv")
    p.add_argument("--url", default="http://127.0.0.1:8080")
    p.add_argument("--recordings")
    p.add_argument("--extensions", default="")
    p.add_argument("--tz", type=int, default=8, help="UTC offset of the CSV's times, hours")
    a = p.parse_args()
    token = os.environ.get("ZHUDAI_TOKEN")
    if not token:
        sys.exit("set ZHUDAI_TOKEN to an API token whose user holds call.ingest")
    tz = dt.timezone(dt.timedelta(hours=a.tz))
    extensions = {e for e in a.extensions.split(",") if e}
    base = a.url.rstrip("/")
    counts = {"created": 0, "known": 0, "failed": 0}
    with open(a.csv, newline="", encoding="utf-8") as f:
        for n, values in enumerate(csv.reader(f), start=1):
            row = dict(zip(COLUMNS, values))
            if not row.get("uniqueid"):
                continue
            status, body = request(f"{base}/api/v1/calls", token,
                                   body=json.dumps(to_call(row, tz, extensions)).encode())
            if status == 201:
                counts["created"] += 1
            elif status == 200:
                counts["known"] += 1
            else:
                counts["failed"] += 1
                print(f"line {n}: {status} {body}", file=sys.stderr)
                continue
            if a.recordings:
                for ext in ("wav", "mp3", "ogg", "m4a"):
                    path = os.path.join(a.recordings, f"{row['uniqueid']}.{ext}")
                    if os.path.exists(path):
                        with open(path, "rb") as audio:
                            st, b = request(f"{base}/api/v1/calls/{body['id']}/recording", token,
                                            body=audio.read(),
                                            content_type="application/octet-stream")
                        if st != 201:
                            print(f"line {n}: recording {st} {b}", file=sys.stderr)
                        break
    print(json.dumps(counts))
    sys.exit(1 if counts["failed"] else 0)


if __name__ == "__main__":
    main()
