# Prints the Redis benchmark's tables (run.sh) from its JSON lines.
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
pub = [r for r in rows if r.get("tool") == "redis-publish"]
load = {r["server"]: r for r in rows if r.get("tool") == "load"}
print("\n1. Publish throughput through one local Redis (100 B events, one channel)")
print("| events per script | in flight | events/s | scripts/s | Redis CPU µs/event | node CPU µs/event |")
print("|---|---|---|---|---|---|")
for r in pub:
    print(f"| {r['batch']} | {r['in_flight']} | {r['events_per_s']:,.0f} | {r['scripts_per_s']:,.0f} | "
          f"{r['redis_cpu_us_per_event']:.2f} | {r['node_cpu_us_per_event']:.2f} |")
print("\n2. Streams on one node (1 thread, core 0): published on the node itself without the "
      "backplane, on another node through Redis with it")
print("| streams x rate | CPU µs/delivery without | with | with / without | p50 ms without / with | "
      "p99 ms without / with | added p50 ms | loss without / with |")
print("|---|---|---|---|---|---|---|---|")
trips = []
for spec in ("1000 x 100", "1000 x 1000", "1 x 100"):
    s, b = load.get(f"single node, {spec}/s"), load.get(f"backplane, {spec}/s")
    if not s or not b:
        continue
    cs, cb = s["server_cpu_us_per_delivery_with_ksoftirqd"], b["server_cpu_us_per_delivery_with_ksoftirqd"]
    ls, lb = s["latency_ms"], b["latency_ms"]
    print(f"| {spec}/s | {cs:.3f} | {cb:.3f} | {cb / cs:.2f} | {ls['p50']:.2f} / {lb['p50']:.2f} | "
          f"{ls['p99']:.2f} / {lb['p99']:.2f} | {lb['p50'] - ls['p50']:+.2f} | {s['loss']} / {b['loss']} |")
    calls = b.get("redis_calls", {})
    published = max(b["published"], 1)
    # Every publish script runs one XRANGE (its age check) and one XREVRANGE
    # (the channel's last entry) itself: the rest is what subscribing cost.
    scripts = calls.get("evalsha", 0) + calls.get("eval", 0)
    reads = max(calls.get("xrange", 0) - scripts, 0) + max(calls.get("xrevrange", 0) - scripts, 0)
    per_sub = (calls.get("subscribe", 0) + reads) / max(b["connected"], 1)
    trips.append((spec, scripts / published, per_sub, calls))
print("\n3. Redis round trips (INFO commandstats over run 2, with the backplane)")
print("| streams x rate | scripts per publish | commands per subscriber (SUBSCRIBE and stream reads) | all calls (scripts' own included) |")
print("|---|---|---|---|")
for spec, per_pub, per_sub, calls in trips:
    print(f"| {spec}/s | {per_pub:.3f} | {per_sub:.4f} | {', '.join(f'{k} {v}' for k, v in sorted(calls.items()))} |")
