#!/usr/bin/python3
"""make bench, section 5: 64 socket clients against django-authd pinned to one
and two cores, lookups, logins and both; lookup latency beside logins."""
import os
import subprocess

from benchlib import PASSWORD, Daemon, django_iterations, log, main

# Section 5. The daemon on one core (one event loop, one lookup and one
# authentication thread), then on two (two workers of each) with one event
# loop and with two (the default on two CPUs): (tag, its cores, the load
# generator's cores for throughput, for latency, event loops, workers). For
# throughput the generator runs on the other core while the daemon has one,
# and has to share both when it has two (its CPU is measured and reported). For latency it shares
# the daemon's cores: its load is light there, and across cores every
# request would wake an idle core, which on a virtual machine can take
# milliseconds, measured instead of the daemon.
MIX_CONFIGS = (("c1", "0", "1", "0", 1, 1), ("c2", "0,1", "0,1", "0,1", 1, 2), ("c2l", "0,1", "0,1", "0,1", 2, 2))
# What each round runs, for each configuration: (label, lookup clients, login
# clients, seconds, nss_bench options). Each client makes one connection a
# request, as the modules do; "keep" sends every request of a client on one
# connection instead. "alone" and "beside" hold the lookups to a steady 2,000
# a second, which the daemon serves with room to spare, so their latency is
# the service's and not a queue's: without logins, then beside 8 clients
# logging in. Runs with logins last long enough for logins slowed down by
# lookups to complete.
MIX_RUNS = (("lookups", 64, 0, 2, []), ("keep", 64, 0, 2, ["keep"]), ("logins", 0, 64, 2, []),
            ("mixed", 56, 8, 4, []), ("alone", 56, 0, 4, ["rate=2000"]), ("beside", 56, 8, 4, ["rate=2000"]))


def cpu_seconds(stat_path):
    f = open(stat_path).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")   # utime + stime


def loop_cpu_seconds(pid):
    """CPU time of the daemon's event loops: its main thread and the
    threads named authd-loop."""
    total = 0.0
    for tid in os.listdir("/proc/%d/task" % pid):
        t = "/proc/%d/task/%s/" % (pid, tid)
        try:
            if int(tid) == pid or open(t + "comm").read().strip() == "authd-loop":
                total += cpu_seconds(t + "stat")
        except OSError:
            pass
    return total


def mix_run(b, d, client_cpus, names, seconds, look, login, options=()):
    """One nss_bench mix run; adds the cores the daemon used (all its threads,
    and its event-loop threads alone) to its "key value" answer."""
    argv = ["taskset", "-c", client_cpus, b.build / "bench" / "nss_bench", "mix", seconds, look, login, names,
            PASSWORD] + list(options)
    pid = d.proc.pid
    proc0, loop0 = cpu_seconds("/proc/%d/stat" % pid), loop_cpu_seconds(pid)
    out = subprocess.run([str(a) for a in argv], env=dict(os.environ, DJANGO_AUTH_SOCKET=str(d.socket)),
                         capture_output=True, text=True, check=True).stdout.split()
    proc1, loop1 = cpu_seconds("/proc/%d/stat" % pid), loop_cpu_seconds(pid)
    r = dict(zip(out[0::2], [float(x) for x in out[1::2]]))
    assert r["errors"] == 0, r
    r["daemon_cpu"] = (proc1 - proc0) / seconds
    r["loop_cpu"] = (loop1 - loop0) / seconds
    if r["lookups_per_s"] > 0:   # what a lookup costs the daemon, in CPU µs
        r["lookup_cpu_us"] = r["daemon_cpu"] / r["lookups_per_s"] * 1e6
    return r


def mode_mix(b):
    """Section 5: 64 clients mixing lookups and logins, with the daemon on
    one core then two; lookup latency alone and beside logins. Rounds
    alternate between the configurations; each figure is the median of its
    rounds."""
    hash_ = subprocess.run([str(b.build / "django-authctl"), "make-hash", "--iterations", str(django_iterations())],
                           input=PASSWORD, text=True, capture_output=True, check=True).stdout.strip()
    db = b.database(users=2000, groups=100, per_user=2, hash_=hash_)
    names = b.names("mix", ["u%d" % i for i in range(1, 2001)])
    rounds = int(os.environ.get("BENCH_MIX_ROUNDS", "3"))
    daemons, results = {}, {}
    try:
        for tag, cpus, client_cpus, _, loops, threads in MIX_CONFIGS:
            # Logins keep the stored hash; the cache outlives the runs.
            d = Daemon(b.build, b.work / ("mix" + tag), b.cluster.db_section(db),
                       passwords={"rehash_on_login": False, "update_last_login": False},
                       cache={"positive_ttl": 3600, "negative_ttl": 3600},
                       daemon={"event_threads": loops, "lookup_threads": threads, "auth_threads": threads})
            daemons[tag] = d.start()
            subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(d.proc.pid)], check=True, capture_output=True)
            mix_run(b, d, client_cpus, names, 1, 64, 0)   # every user looked up once: the cache is warm
        for _ in range(rounds):
            for label, look, login, seconds, options in MIX_RUNS:
                for tag, cpus, client_cpus, paced_cpus, _, _ in MIX_CONFIGS:
                    paced = any(o.startswith("rate=") for o in options)
                    r = mix_run(b, daemons[tag], paced_cpus if paced else client_cpus, names, seconds, look, login,
                                options)
                    log("  %s %s: %s" % (tag, label, " ".join("%s %.4g" % kv for kv in sorted(r.items()))))
                    for k, v in r.items():
                        results.setdefault("%s_%s_%s" % (tag, label, k), []).append(v)
    finally:
        for d in daemons.values():
            rc = d.stop()
            d.cleanup()
            assert rc == 0, "django-authd exited %s:\n%s" % (rc, d.log_text())
    b.put("mix_rounds", rounds)
    for k, vs in sorted(results.items()):
        vs.sort()
        m = vs[len(vs) // 2] if len(vs) % 2 else (vs[len(vs) // 2 - 1] + vs[len(vs) // 2]) / 2
        b.put(k, "%.2f" % m if k.endswith("_cpu") else "%.1f" % m if m < 100 else "%.0f" % m)


if __name__ == "__main__":
    main(mode_mix)
