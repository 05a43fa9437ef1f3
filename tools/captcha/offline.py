#!/usr/bin/env python3
"""Solve rates of off-the-shelf OCR on a folder of captchas written by
`cargo run --release -p captcha-image --example dump -- DIR N` (files + labels.txt).
A quick loop for tuning the renderer; the figure that counts is `solve_rate.py`'s, which goes
through the running service exactly as a bot would."""
import sys, os
from solvers import load_solvers

def main():
    folder = sys.argv[1]
    labels = [l.split() for l in open(os.path.join(folder, "labels.txt"))]
    solvers = load_solvers(sys.argv[2].split(",") if len(sys.argv) > 2 else None)
    for name, solve in solvers:
        hits = 0
        for fname, text in labels:
            data = open(os.path.join(folder, fname), "rb").read()
            guess = solve(data)
            hits += guess.upper() == text.upper()
        print(f"{name:>22}: {hits}/{len(labels)} = {100*hits/len(labels):.1f} %", flush=True)

if __name__ == "__main__":
    main()
