import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
mem = {}
if len(sys.argv) > 2:
    for l in open(sys.argv[2]):
        l = l.strip()
        if l.startswith('{'):
            m = json.loads(l); mem[(m['dataset'], m['recipe'])] = m['peakRssKb']
print(f"{'dataset':13} {'recipe':15} {'macro-F1':>8} {'accuracy':>8} {'top-5':>6} {'wall':>8} {'peak MB':>8}  plan")
for r in rows:
    peak = mem.get((r['dataset'], r['recipe']))
    print(f"{r['dataset']:13} {r['recipe']:15} {r['macroF1']:8.4f} {r['accuracy']:8.4f} {r['top5']:6.3f} {r['wallSeconds']/60:7.1f}m {('%8.0f' % (peak/1024)) if peak else '       -'}  {r.get('plan') or ''}")
