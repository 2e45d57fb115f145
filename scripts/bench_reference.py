#!/usr/bin/env python3
"""Times the reference implementation's way of scoring a particle, with transformers + PEFT, on
exactly the model, particles and multiple-choice set that `modelswarm bench --export DIR` wrote.

Per particle, as the Model Swarms reference code does it:
  1. AutoModelForCausalLM.from_pretrained(DIR/model)       the base model, from disk
  2. PeftModel.from_pretrained(model, DIR/particles/N)     the particle's adapter, from disk
  3. the dev set one question at a time: greedy generation of up to --max-new-tokens tokens,
     then the first option letter parsed from the decoded text.
With --loglikelihood it also times the other common way (lm-eval-harness style, what the
engine's multiple_choice utility computes): one unbatched forward pass per (question, choice),
summing the log-probabilities of the choice's tokens.

Prints seconds per particle for each way; with --bench-json (the bench's --json report of the
same export) also the engine's batched seconds per particle and the speed-up, scaled per
question when --questions scores fewer questions than the bench did. --json prints a JSON
object instead (with the log-likelihoods of the first particle, for tests).
"""
import argparse
import json
import os
import re
import sys
import time

import torch
from peft import PeftModel
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM

LETTER = re.compile(r"(?<![A-Za-z])([A-Z])(?![A-Za-z])")  # the utility's default answer_regex


def parsed_choice(text, choices):
    for match in LETTER.finditer(text):
        index = ord(match.group(1)) - ord("A")
        if index < choices:
            return index
    return -1


def load_particle(model_dir, adapter_dir):
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model = PeftModel.from_pretrained(model, adapter_dir)
    model.eval()
    return model


def generate_accuracy(model, tokenizer, questions, max_new_tokens):
    correct = 0
    for q in questions:
        ids = torch.tensor([q["prompt_ids"]])
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                             do_sample=False, pad_token_id=0, eos_token_id=2)
        text = tokenizer.decode(out[0, ids.shape[1]:].tolist())
        correct += parsed_choice(text, len(q["choice_ids"])) == q["gold"]
    return correct / len(questions)


def choice_loglikelihoods(model, questions):
    scores = []
    for q in questions:
        row = []
        for choice in q["choice_ids"]:
            ids = torch.tensor([q["prompt_ids"] + choice])
            log_probs = torch.log_softmax(model(input_ids=ids).logits[0].double(), -1)  # (T,V)
            n = len(q["prompt_ids"])
            row.append(sum(log_probs[n + t - 1, token].item() for t, token in enumerate(choice)))
        scores.append(row)
    return scores


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("export_dir", help="directory written by modelswarm bench --export")
    parser.add_argument("--particles", type=int, default=1, help="particles to time (default 1)")
    parser.add_argument("--questions", type=int, default=0, help="questions to score (default: all)")
    parser.add_argument("--max-new-tokens", type=int, default=10)
    parser.add_argument("--loglikelihood", action="store_true", help="also time per-choice log-likelihood scoring")
    parser.add_argument("--bench-json", help="the bench's --json report, for the speed-up")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch intra-op threads (default: all)")
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    model_dir = os.path.join(args.export_dir, "model")
    with open(os.path.join(args.export_dir, "mc.jsonl")) as f:
        questions = [json.loads(line) for line in f if line.strip()]
    if args.questions:
        questions = questions[:args.questions]
    tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    available = len(os.listdir(os.path.join(args.export_dir, "particles")))
    if args.particles > available:
        sys.exit(f"bench_reference: --particles {args.particles}, but {args.export_dir} holds {available}")

    result = {"questions": len(questions), "particles": args.particles, "threads": args.threads,
              "generate": {"seconds_per_particle": 0.0, "load_seconds_per_particle": 0.0, "accuracy": []}}
    if args.loglikelihood:
        result["loglikelihood"] = {"seconds_per_particle": 0.0, "load_seconds_per_particle": 0.0, "first_particle": []}
    with torch.inference_mode():
        for p in range(args.particles):
            adapter_dir = os.path.join(args.export_dir, "particles", str(p))
            ways = [("generate", lambda m: generate_accuracy(m, tokenizer, questions, args.max_new_tokens))]
            if args.loglikelihood:
                ways.append(("loglikelihood", lambda m: choice_loglikelihoods(m, questions)))
            for way, score in ways:  # each way loads the particle itself, as the reference does
                start = time.perf_counter()
                model = load_particle(model_dir, adapter_dir)
                loaded = time.perf_counter()
                value = score(model)
                end = time.perf_counter()
                entry = result[way]
                entry["seconds_per_particle"] += (end - start) / args.particles
                entry["load_seconds_per_particle"] += (loaded - start) / args.particles
                if way == "generate":
                    entry["accuracy"].append(value)
                elif p == 0:
                    entry["first_particle"] = value
                del model

    if args.bench_json:
        with open(args.bench_json) as f:
            bench = json.load(f)
        ours = bench["mc"][0]  # batched, shared prompts: one evaluation of every particle
        per_question = ours["seconds_per_particle"] / bench["workloads"]["mc"]["questions"]
        result["engine"] = {"name": ours["name"], "seconds_per_particle": per_question * len(questions)}
        for way in ("generate", "loglikelihood"):
            if way in result:
                result[way]["speedup_of_engine"] = (result[way]["seconds_per_particle"]
                                                    / result["engine"]["seconds_per_particle"])

    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"transformers + peft, {len(questions)} questions, {args.particles} particle(s), {args.threads} threads")
    for way in ("generate", "loglikelihood"):
        if way in result:
            r = result[way]
            line = (f"  {way:14s} {r['seconds_per_particle']:9.3f} s per particle "
                    f"(loading {r['load_seconds_per_particle']:.3f} s)")
            if "speedup_of_engine" in r:
                line += f"   engine {r['speedup_of_engine']:.2f}x faster"
            print(line)
    if "engine" in result:
        print(f"  engine         {result['engine']['seconds_per_particle']:9.3f} s per particle "
              f"({result['engine']['name']})")


if __name__ == "__main__":
    main()
