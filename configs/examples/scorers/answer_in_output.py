#!/usr/bin/env python3
"""A `command` utility scorer: reads one particle's generations as JSONL on stdin and prints
{"utility": fraction of outputs that contain the example's answer}.

  answer_in_output.py [--ignore-case]
"""
import json
import sys


def main() -> None:
    ignore_case = "--ignore-case" in sys.argv[1:]
    hits = total = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        row = json.loads(line)
        answer, output = str(row.get("answer", "")).strip(), row["output"]
        if ignore_case:
            answer, output = answer.lower(), output.lower()
        total += 1
        hits += bool(answer) and answer in output
    if total == 0:
        sys.exit("answer_in_output.py: no generations on stdin")
    print(json.dumps({"utility": hits / total}))


if __name__ == "__main__":
    main()
