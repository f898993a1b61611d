#!/usr/bin/python3
"""make bench, section 2: in-process NSS lookups through glibc, ours (warm, warm
over the socket, cold) against libnss-pgsql2 over the same Django tables."""
import os

from benchlib import OURS, main

PEER = "passwd: pgsql\ngroup: pgsql\nshadow: files\n"


def mode_nss(b):
    """Section 2: in-process lookups, ours warm and cold, libnss-pgsql2."""
    db = b.database(users=1000, groups=100, per_user=2)
    users = b.names("users", ["u%d" % i for i in range(1, 1001)])
    groups = b.names("groups", ["g%d" % i for i in range(2, 101)])
    kinds = [("getgrnam", "gr", groups), ("getpwnam", "pw", users), ("getgrouplist", "gl", users)]
    only = os.environ.get("BENCH_KINDS")
    if only:
        kinds = [k for k in kinds if k[1] in only.split(",")]
    peer_env = {"LD_LIBRARY_PATH": "/lib"}
    peer_mount = b.etc_overlay("peer", PEER, pgsql_db=db)
    ours_mount = b.etc_bind("ours", OURS)
    for what, kind, names in kinds:
        r = b.nss_bench(peer_mount, kind, names, peer_env)
        assert r["errors"] == 0, "libnss-pgsql2 failed lookups: %s" % r
        b.put("peer_%s_per_s" % kind, "%.0f" % r["per_s"])
        b.put("peer_%s_p99_us" % kind, "%.1f" % r["p99_us"])
    with b.daemon(db, "warm") as d:
        env = {"LD_LIBRARY_PATH": str(b.build), "DJANGO_AUTH_SOCKET": str(d.socket)}
        for what, kind, names in kinds:
            b.nss_bench(ours_mount, kind, names, env, seconds=0)   # fill the cache
            r = b.nss_bench(ours_mount, kind, names, env)
            assert r["errors"] == 0, r
            b.put("warm_%s_per_s" % kind, "%.0f" % r["per_s"])
            b.put("warm_%s_p50_us" % kind, "%.2f" % r["p50_us"])
            b.put("warm_%s_p99_us" % kind, "%.2f" % r["p99_us"])
            if kind == "gr":
                # The module alone, and what glibc does before it: the time
                # glibc adds to any module's lookup starts with this stat.
                for k in ("dgr", "nsstat"):
                    r = b.nss_bench(ours_mount, k, names, env)
                    b.put("warm_%s_per_s" % k, "%.0f" % r["per_s"])
                    b.put("warm_%s_p50_us" % k, "%.2f" % r["p50_us"])
                    b.put("warm_%s_p99_us" % k, "%.2f" % r["p99_us"])
            r = b.nss_bench(ours_mount, kind, names, dict(env, DJANGO_AUTH_NSS_MMAP="0"))
            b.put("sock_%s_per_s" % kind, "%.0f" % r["per_s"])
            b.put("sock_%s_p99_us" % kind, "%.1f" % r["p99_us"])
    with b.daemon(db, "cold", cache=False) as d:
        env = {"LD_LIBRARY_PATH": str(b.build), "DJANGO_AUTH_SOCKET": str(d.socket)}
        for what, kind, names in kinds:
            r = b.nss_bench(ours_mount, kind, names, env)
            assert r["errors"] == 0, r
            b.put("cold_%s_per_s" % kind, "%.0f" % r["per_s"])
            b.put("cold_%s_p99_us" % kind, "%.1f" % r["p99_us"])


if __name__ == "__main__":
    main(mode_nss)
