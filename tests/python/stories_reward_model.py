"""Makes a small fluency reward model from a (converted) stories260K model, for the reward_model
example (configs/examples/reward_model.json).

  stories_reward_model.py MODEL_DIR STORIES_JSONL OUT_DIR

The reward is a linear probe on the backbone's final hidden state at the last token, fitted by
ridge least squares to separate story text (+1) from the same words shuffled (-1). Story text is
each record's query followed by its gold choice (STORIES_JSONL, {"query", "choices", "gold"}) and
two sampled continuations of each query, cut at random lengths so that texts do not all end at a
full stop. A quarter of the prompts is held out to report how well the probe separates unseen
text; the saved probe is then fitted on all of them. OUT_DIR is a standard Hugging Face
LlamaForSequenceClassification directory (config.json with num_labels 1, model.safetensors with
the backbone's model.* tensors and score.weight (1, D), the tokenizer files of MODEL_DIR).
"""
import json
import os
import random
import shutil
import sys

import torch
from tokenizers import Tokenizer
from transformers import LlamaConfig, LlamaForCausalLM, LlamaForSequenceClassification

RIDGE = 1e-2
SAMPLES_PER_PROMPT = 8
MIN_NEW, MAX_NEW = 6, 32  # tokens of a sampled continuation


def story_texts(model, tok, records, rng):
    """Story texts per record: query + gold choice, then sampled continuations of the query."""
    queries = [tok.encode(r["query"]).ids for r in records] * SAMPLES_PER_PROMPT
    width = max(len(q) for q in queries)
    ids = torch.tensor([[0] * (width - len(q)) + q for q in queries])  # left padding
    mask = torch.tensor([[0] * (width - len(q)) + [1] * len(q) for q in queries])
    new = model.generate(ids, attention_mask=mask, do_sample=True, temperature=0.8, top_k=0, max_new_tokens=MAX_NEW,
                         min_new_tokens=MAX_NEW, pad_token_id=0)[:, width:]
    out = [[r["query"] + r["choices"][r["gold"]]] for r in records]
    for i, q in enumerate(queries):
        cut = rng.randint(MIN_NEW, MAX_NEW)
        out[i % len(records)].append(tok.decode(q + new[i, :cut].tolist(), skip_special_tokens=True))
    return out


def shuffled(text, rng):
    words = text.split()
    while len(words) > 1:
        order = words[:]
        rng.shuffle(order)
        if order != words:
            return " ".join(order)
    return text


def features(model, tok, texts):
    """Final hidden state at the last token of BOS + text: (N, D), what the score head reads."""
    encoded = [tok.encode(t).ids for t in texts]
    width = max(len(e) for e in encoded)
    ids = torch.tensor([e + [0] * (width - len(e)) for e in encoded])  # right padding
    mask = torch.tensor([[1] * len(e) + [0] * (width - len(e)) for e in encoded])
    with torch.no_grad():
        hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state  # (N, T, D)
    return hidden[torch.arange(len(texts)), mask.sum(1) - 1].double()


def fit(model, tok, groups, rng):
    """Ridge least squares w (D) on story (+1) and shuffled (-1) texts."""
    texts = [t for g in groups for t in g]
    negatives = [shuffled(t, rng) for t in texts]
    x = torch.cat([features(model, tok, texts), features(model, tok, negatives)])
    y = torch.cat([torch.ones(len(texts)), -torch.ones(len(negatives))]).double()
    d = x.shape[1]
    w = torch.linalg.solve(x.T @ x + RIDGE * len(y) * torch.eye(d, dtype=torch.float64), x.T @ y)
    return w, texts, negatives


def main() -> None:
    model_dir, stories_jsonl, out = sys.argv[1:4]
    torch.manual_seed(0)
    torch.set_num_threads(1)  # a tiny model: more threads only contend
    rng = random.Random(0)
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    model = LlamaForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    records = [json.loads(line) for line in open(stories_jsonl) if line.strip()]
    groups = story_texts(model, tok, records, rng)

    held = len(groups) // 4
    w, _, _ = fit(model, tok, groups[held:], rng)
    unseen = [t for g in groups[:held] for t in g]
    pos = features(model, tok, unseen) @ w
    neg = features(model, tok, [shuffled(t, rng) for t in unseen]) @ w
    accuracy = ((pos > 0).sum() + (neg < 0).sum()).item() / (2 * len(unseen))
    print(f"held-out texts: {len(unseen)} stories, mean reward {pos.mean():.3f}; shuffled, mean reward "
          f"{neg.mean():.3f}; sign accuracy {accuracy:.3f}")

    w, _, _ = fit(model, tok, groups, rng)
    config = LlamaConfig.from_pretrained(model_dir)
    config.architectures = ["LlamaForSequenceClassification"]
    config.num_labels = 1
    config.pad_token_id = 0
    config.tie_word_embeddings = False
    reward = LlamaForSequenceClassification(config).float().eval()
    reward.model.load_state_dict(model.model.state_dict())
    with torch.no_grad():
        reward.score.weight.copy_(w.float().unsqueeze(0))
    reward.save_pretrained(out)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        if os.path.exists(os.path.join(model_dir, name)):
            shutil.copy(os.path.join(model_dir, name), os.path.join(out, name))


if __name__ == "__main__":
    main()
