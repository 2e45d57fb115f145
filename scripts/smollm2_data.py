"""Splits four ../shared/datasets sets into a training half (prompt/completion records for
`modelswarm finetune`) and a held-out half (the original records, for eval and search).

usage: smollm2_data.py DATASETS_DIR OUT_DIR

Each set is shuffled with its own fixed seed, so the split is the same on every machine; the
experts of docs/REAL.md never see a held-out record.
"""
import json
import os
import random
import sys

# name: (file, training records, prompt of a record, completion of a record)
SETS = {
    "commonsense_qa": ("commonsense_qa.jsonl", 600, lambda r: r["query"], lambda r: r["choices"][r["gold"]]),
    "openbook_qa": ("openbook_qa.jsonl", 250, lambda r: r["query"], lambda r: r["choices"][r["gold"]]),
    "arithmetic": ("simple_arithmetic_withspaces.jsonl", 500, lambda r: r["context"], lambda r: r["continuation"].strip()),
    "svamp": ("svamp.jsonl", 150, lambda r: r["context"], lambda r: str(r["answer"]).strip()),
}


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_jsonl(path, records):
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def main(datasets, out):
    os.makedirs(out, exist_ok=True)
    for seed, (name, (file, n_train, prompt, completion)) in enumerate(sorted(SETS.items())):
        records = read_jsonl(os.path.join(datasets, file))
        random.Random(seed).shuffle(records)
        train, heldout = records[:n_train], records[n_train:]
        write_jsonl(os.path.join(out, f"{name}.train.jsonl"),
                    [{"prompt": prompt(r), "completion": completion(r)} for r in train])
        write_jsonl(os.path.join(out, f"{name}.heldout.jsonl"), heldout)
        print(f"{name}: {len(train)} training records, {len(heldout)} held out")


if __name__ == "__main__":
    main(*sys.argv[1:3])
