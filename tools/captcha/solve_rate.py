#!/usr/bin/env python3
"""Solve rates of off-the-shelf captcha solvers against a running yanzheng, exactly as a bot
would use them: fetch a captcha, read it, send a code with the guess. errno "0" = solved.

    python3 tools/captcha/solve_rate.py --base http://127.0.0.1:8080 -n 300 [--solvers a,b]

Run it against a service whose limits let one client through (`just captcha-solvers` starts
one). Needs `pip install ddddocr` and Debian's tesseract-ocr; see solvers.py for the list.
"""
import argparse, json, random, sys, urllib.request, uuid
from solvers import load_solvers, SOLVERS

def fetch(base, path, body=None):
    req = urllib.request.Request(base + path)
    if body is not None:
        req.data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read()

def attempt(base, solve):
    captcha_id = uuid.uuid4().hex
    png = fetch(base, f"/api/v1.0/image_codes/{captcha_id}")
    guess = solve(png) or "?"
    mobile = "1" + random.choice("3456789") + "".join(random.choice("0123456789") for _ in range(9))
    reply = json.loads(fetch(base, "/api/v1.0/sms_codes",
                             {"mobile": mobile, "image_code": guess, "image_code_id": captcha_id}))
    return str(reply.get("errno")) == "0", reply

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="http://127.0.0.1:8080")
    ap.add_argument("-n", type=int, default=300)
    ap.add_argument("--solvers", default=",".join(SOLVERS))
    args = ap.parse_args()
    worst = 0.0
    for name, solve in load_solvers(args.solvers.split(",")):
        solved, other = 0, {}
        for _ in range(args.n):
            ok, reply = attempt(args.base, solve)
            solved += ok
            if not ok and str(reply.get("errno")) not in ("4004", "4103"):  # wrong or empty guess
                other[reply.get("errno")] = other.get(reply.get("errno"), 0) + 1
        rate = 100 * solved / args.n
        worst = max(worst, rate)
        note = f"  (unexpected replies: {other})" if other else ""
        print(f"{name:>18}: {solved:4}/{args.n} solved = {rate:5.1f} %{note}", flush=True)
    print(f"{'worst':>18}: {worst:.1f} %")

if __name__ == "__main__":
    sys.exit(main())
