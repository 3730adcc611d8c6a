"""Prints the fine-tuning benchmark table (docs/fine-tuning.md) from results.jsonl."""
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
warm = next((r for r in rows if r["config"] == "warmup"), None)
names = {"mlnet": "(a) frozen + ML.NET LbfgsMaximumEntropy", "gap": "(b) frozen + GlobalAveragePoolDense (study)",
         "dense256": "(b) frozen + FlattenDense256 (study)", "finetune": "(c) fine-tuned: last 2 blocks, 128 px"}
print("| Configuration | GIF splits macro-F1 | GIF splits accuracy | back view macro-F1 | back view accuracy | wall time per split (s) | peak memory (MB) |")
print("|---|---|---|---|---|---|---|")
for key, name in names.items():
    rs = [r for r in rows if r["config"] == key]
    if not rs:
        continue
    gif = [r for r in rs if "gif" in r["split"]]
    back = [r for r in rs if "view-back" in r["split"]]
    mean = lambda xs, k: sum(x[k] for x in xs) / len(xs) if xs else float("nan")
    wall = mean(rs, "wallSeconds")
    peak = max(r["processPeakMB"] for r in rs)
    print(f"| {name} | {mean(gif, 'macroF1'):.3f} | {mean(gif, 'accuracy'):.3f} | {mean(back, 'macroF1'):.3f} | {mean(back, 'accuracy'):.3f} | {wall:.0f} | {peak:.0f} |")
if warm:
    print(f"\nOne-time caches: {warm['images']} images featurized at 224 in {warm['featurizationSeconds']:.0f} s; "
          f"frozen activations at 128 (plus one fine-tuning epoch) in {warm['activationRunSeconds']:.0f} s.")
for r in rows:
    if r["config"] != "warmup":
        print(f"{r['config']:9} {r['split']:38} F1 {r['macroF1']:.3f} acc {r['accuracy']:.3f} wall {r['wallSeconds']:6.0f} s "
              f"(prep {r['featurizationSeconds']:.0f}, train {r['trainingSeconds']:.0f}) epochs {r['epochs']} peak {r['processPeakMB']:.0f} MB")
