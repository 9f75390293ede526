#!/usr/bin/env python3
"""Post the calls of an Asterisk `Master.csv` (cdr_csv) or a FreeSWITCH CSV CDR (mod_cdr_csv,
its `default` template) to zhudai.

    ZHUDAI_TOKEN=zd_… python3 cdr_post.py --url http://127.0.0.1:8080 Master.csv \
        [--recordings /var/spool/asterisk/monitor] [--extensions 8001,8002]
    ZHUDAI_TOKEN=zd_… python3 cdr_post.py --format freeswitch Master.csv
    python3 cdr_post.py --format freeswitch --dry-run freeswitch.csv   # print, send nothing

Each row becomes `POST /api/v1/calls`; the CDR's `uniqueid` (Asterisk) or `uuid` (FreeSWITCH)
is the `external_id`, so running the script twice over the same file records nothing twice
(the server answers 200 for a call it has). `--dry-run` prints the calls as JSON, one a line,
and sends nothing (no token needed). A call between an internal extension and an outside number is outbound when the
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

# FreeSWITCH mod_cdr_csv, the `default` template of cdr_csv.conf.xml:
# "${caller_id_name}","${caller_id_number}","${destination_number}","${context}",
# "${start_stamp}","${answer_stamp}","${end_stamp}","${duration}","${billsec}",
# "${hangup_cause}","${uuid}","${bleg_uuid}","${accountcode}","${read_codec}","${write_codec}"
FS_COLUMNS = ["caller_id_name", "caller_id_number", "destination_number", "context",
              "start_stamp", "answer_stamp", "end_stamp", "duration", "billsec",
              "hangup_cause", "uuid", "bleg_uuid", "accountcode", "read_codec", "write_codec"]
# Unanswered calls by hangup cause (Q.850 names); an answered call is one with an answer time.
FS_UNANSWERED = {"USER_BUSY": "busy", "NO_ANSWER": "no_answer", "NO_USER_RESPONSE": "no_answer",
                 "ORIGINATOR_CANCEL": "no_answer", "ALLOTTED_TIMEOUT": "no_answer",
                 "CALL_REJECTED": "rejected"}


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


def from_freeswitch(row):
    """A FreeSWITCH row in the Asterisk row's terms, so `to_call` reads both."""
    answered = bool(row["answer_stamp"].strip())
    if answered:
        disposition = "ANSWERED"
    else:
        disposition = {"busy": "BUSY", "no_answer": "NO ANSWER"}.get(
            FS_UNANSWERED.get(row["hangup_cause"].strip().upper(), "rejected"), "FAILED")
    return {
        "src": row["caller_id_number"], "dst": row["destination_number"],
        "start": row["start_stamp"], "answer": row["answer_stamp"],
        "duration": row["duration"], "billsec": row["billsec"] if answered else "0",
        "disposition": disposition, "uniqueid": row["uuid"],
    }


def rows(path, fmt):
    """The file's rows as Asterisk-named dicts (blank lines and rows without an id skipped)."""
    with open(path, newline="", encoding="utf-8") as f:
        for n, values in enumerate(csv.reader(f), start=1):
            if fmt == "freeswitch":
                if len(values) < len(FS_COLUMNS) - 2:
                    continue
                row = from_freeswitch(dict(zip(FS_COLUMNS, values)))
            else:
                row = dict(zip(COLUMNS, values))
            if row.get("uniqueid"):
                yield n, row


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("csv")
    p.add_argument("--url", default="http://127.0.0.1:8080")
    p.add_argument("--recordings")
    p.add_argument("--extensions", default="")
    p.add_argument("--tz", type=int, default=8, help="UTC offset of the CSV's times, hours")
    p.add_argument("--format", choices=["asterisk", "freeswitch"], default="asterisk",
                   help="asterisk: cdr_csv Master.csv; freeswitch: mod_cdr_csv default template")
    p.add_argument("--dry-run", action="store_true", help="print the calls as JSON, send nothing")
    a = p.parse_args()
    tz = dt.timezone(dt.timedelta(hours=a.tz))
    extensions = {e for e in a.extensions.split(",") if e}
    if a.dry_run:
        for _, row in rows(a.csv, a.format):
            print(json.dumps(to_call(row, tz, extensions), ensure_ascii=False))
        return
    token = os.environ.get("ZHUDAI_TOKEN")
    if not token:
        sys.exit("set ZHUDAI_TOKEN to an API token whose user holds call.ingest")
    base = a.url.rstrip("/")
    counts = {"created": 0, "known": 0, "failed": 0}
    for n, row in rows(a.csv, a.format):
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
