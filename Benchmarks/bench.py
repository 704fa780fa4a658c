#!/usr/bin/python3
"""What nettop costs the traffic it watches, side by side with nethogs and iftop (issue 6).

Run by `make bench` (Benchmarks/run.sh), as root, after the release build. Every workload runs with no
monitor, with nettop's tracer attached (`nettop --json --interval 1` to /dev/null), with nethogs and with
iftop, the four alternated within each repetition (the order rotates from one repetition to the next), so
that the noise of a shared machine falls on all of them alike; 5 repetitions of each traffic workload, 3 of
each idle one. Throughputs are compared as ratios to the
baseline of the same repetition. A monitor's CPU is utime + stime from /proc/PID/stat over the workload,
per second of wall time; its peak RSS is VmHWM.

Workloads (all traffic stays inside network namespaces this script creates and always removes):
  bulk-lo-1, bulk-lo-8     iperf3 -P 1 / -P 8 -t 3 to 127.0.0.1 (loopback of the bench namespace)
  bulk-veth-1, bulk-veth-8 the same between two namespaces joined by a veth pair
  churn                    short TCP connections per second (benchgen churn: connect, 100 B each way, close)
  udp                      64-byte datagrams per second received (benchgen udp: sendto / recvfrom)
  idle-10k, idle-100k      N idle loopback connections (2N socket ends): each monitor's CPU per second and
                           RSS; nettop's poll_ms per tick, rows tracked, time to its first tick, and the
                           memlock of its BPF maps

nethogs and iftop capture on the interface the traffic crosses (the namespace's lo, or the client's veth);
nettop traces the whole host, as it always does. Results: a table on stdout, bench-results/latest.json
(every run) and bench-results/summary.json (the figures the README quotes).
"""

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HZ = os.sysconf("SC_CLK_TCK")
CONFIGS = ["none", "nettop", "nethogs", "iftop"]
TAG = f"ntbench-{os.getpid()}"
NS_LO, NS_A, NS_B = f"{TAG}-lo", f"{TAG}-a", f"{TAG}-b"
VETH_A, VETH_B = f"ntb{os.getpid() % 100000}a", f"ntb{os.getpid() % 100000}b"
ADDR_A, ADDR_B = "10.254.77.1", "10.254.77.2"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---- processes and namespaces this script owns, all removed on exit ----------------------------------

class Owned:
    """Everything this run started or created. `cleanup` is idempotent and runs on any exit."""

    def __init__(self):
        self.procs = []
        self.namespaces = []
        self.sysctls = {}  # path -> value to put back

    def set_sysctl(self, path, value):
        with open(path) as f:
            self.sysctls.setdefault(path, f.read().strip())
        with open(path, "w") as f:
            f.write(value)

    def restore_sysctl(self, path):
        if path in self.sysctls:
            with open(path, "w") as f:
                f.write(self.sysctls.pop(path))

    def spawn(self, argv, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", subprocess.DEVNULL)
        kw.setdefault("stderr", subprocess.DEVNULL)
        p = subprocess.Popen(argv, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGINT, grace=3.0):
        """Asks `p` (and its process group) to stop, then kills it after `grace` seconds."""
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(5)
        for stream in (p.stdin, p.stdout, p.stderr):
            if stream:
                try:
                    stream.close()
                except OSError:
                    pass
        if p in self.procs:
            self.procs.remove(p)

    def add_netns(self, name):
        run(["ip", "netns", "add", name])
        self.namespaces.append(name)
        run(["ip", "-n", name, "link", "set", "lo", "up"])

    def cleanup(self):
        for p in list(self.procs):
            self.stop(p, signal.SIGKILL, 1.0)
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        self.namespaces = []
        for path in list(self.sysctls):
            try:
                self.restore_sysctl(path)
            except OSError as e:
                log(f"bench: could not restore {path}: {e}")


OWNED = Owned()


def run(argv, timeout=30, **kw):
    return subprocess.run(argv, check=True, timeout=timeout, **kw)


def in_ns(ns, argv):
    return ["ip", "netns", "exec", ns] + argv if ns else argv


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- reading a process from /proc ------------------------------------------------------------------

def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat", errors="replace") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ  # utime, stime


def status_kb(pid, key):
    with open(f"/proc/{pid}/status", errors="replace") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def wchar(pid):
    """Bytes the process passed to write(): a tick of `nettop --json` to /dev/null shows up here."""
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            if line.startswith("wchar:"):
                return int(line.split()[1])
    return 0


def fd_links(pid):
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out.append((fd, os.readlink(f"/proc/{pid}/fd/{fd}")))
        except OSError:
            pass
    return out


def has_packet_socket(pid):
    """True once the process holds an AF_PACKET socket (pcap is capturing) in its namespace."""
    try:
        with open(f"/proc/{pid}/net/packet") as f:
            packet = {line.split()[-1] for line in list(f)[1:]}
    except OSError:
        return False
    return any(link[8:-1] in packet for _, link in fd_links(pid) if link.startswith("socket:["))


def bpf_maps(pid):
    """nettop's own BPF maps (from its fds, so other nettops on the host do not count): name -> facts."""
    maps = {}
    for fd, link in fd_links(pid):
        if "bpf-map" not in link:
            continue
        info = {}
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                for line in f:
                    k, _, v = line.partition(":")
                    info[k.strip()] = v.strip()
        except OSError:
            continue
        map_id = info.get("map_id")
        name = f"id{map_id}"
        try:
            shown = json.loads(subprocess.run(["bpftool", "map", "show", "id", map_id, "-j"], capture_output=True,
                                              timeout=10, text=True).stdout)
            name = shown.get("name") or name
        except (OSError, ValueError, subprocess.SubprocessError):
            pass
        maps[name] = {"type": int(info.get("map_type", 0)), "max_entries": int(info.get("max_entries", 0)),
                      "memlock": int(info.get("memlock", 0))}
    return maps


BPF_STATS = "/proc/sys/kernel/bpf_stats_enabled"


def bpf_prog_stats(pid):
    """Run time and run count of each of nettop's own BPF programs (counted while bpf_stats is on)."""
    progs = {}
    for fd, link in fd_links(pid):
        if "bpf-prog" not in link:
            continue
        info = {}
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                for line in f:
                    k, _, v = line.partition(":")
                    info[k.strip()] = v.strip()
        except OSError:
            continue
        if "prog_id" in info:
            progs[info["prog_id"]] = (int(info.get("run_time_ns", 0)), int(info.get("run_cnt", 0)))
    return progs


def prog_names(ids):
    names = {}
    for prog_id in ids:
        try:
            shown = json.loads(subprocess.run(["bpftool", "prog", "show", "id", prog_id, "-j"], capture_output=True,
                                              timeout=10, text=True).stdout)
            names[prog_id] = shown.get("name") or f"id{prog_id}"
        except (OSError, ValueError, subprocess.SubprocessError):
            names[prog_id] = f"id{prog_id}"
    return names


def foreign_monitors(own):
    """Other nettop, nethogs and iftop processes on the host (other users' tests): noise to report."""
    n = 0
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) not in own:
            try:
                with open(f"/proc/{d}/comm", errors="replace") as f:  # a name may be any bytes
                    if f.read().strip() in ("nettop", "nethogs", "iftop"):
                        n += 1
            except OSError:
                pass
    return n


def wait_for(cond, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


# ---- monitors --------------------------------------------------------------------------------------

class Monitor:
    """One monitor process for one run: started, waited for until it really watches, measured, stopped."""

    def __init__(self, kind, args):
        self.kind, self.args, self.proc = kind, args, None

    def start(self, ns, device, nettop_extra=(), out_path=None, extra_wait=0.0):
        if self.kind == "none":
            return
        if self.kind == "nettop":
            argv = [self.args.nettop, "--json", "--interval", "1", *nettop_extra]
            out = open(out_path, "wb") if out_path else subprocess.DEVNULL
            with open(os.path.join(self.args.out_dir, "nettop.stderr"), "ab") as err:
                self.proc = OWNED.spawn(argv, stdout=out, stderr=err)
            if out_path:
                out.close()
            # Attached when its BPF links exist; running once the first tick was written (after the /proc
            # scan, whose cost is a start-up cost, not a steady one).
            w0 = [None]

            def ticked():
                self.check_alive()
                if w0[0] is None:
                    if any(l == "anon_inode:bpf_link" for _, l in fd_links(self.proc.pid)):
                        w0[0] = wchar(self.proc.pid)
                    return False
                return wchar(self.proc.pid) > w0[0] + 64
            t0 = time.monotonic()
            try:
                wait_for(ticked, self.args.first_tick_timeout + extra_wait, "nettop's first tick")
            except RuntimeError as e:
                raise RuntimeError(f"{e} ({self.describe(w0[0] is not None)})") from None
            self.first_tick_s = time.monotonic() - t0
            return
        if self.kind == "nethogs":
            argv = in_ns(ns, ["nethogs", "-a", "-t", "-d", "1", device])
        else:
            argv = in_ns(ns, ["iftop", "-t", "-n", "-N", "-P", "-B", "-i", device])
        # A pipe nobody writes to as stdin: at end of file (/dev/null) iftop -t spins on it, a core's worth.
        self.proc = OWNED.spawn(argv, stdin=subprocess.PIPE)
        wait_for(lambda: self.check_alive() or has_packet_socket(self.proc.pid), 20, f"{self.kind} to capture")
        time.sleep(0.5)  # its capture loop starts right after the socket

    def describe(self, attached):
        """What a nettop that does not tick is doing: for the error message."""
        pid = self.proc.pid
        try:
            with open(f"/proc/{pid}/wchan") as f:
                wchan = f.read().strip()
            return (f"attached: {attached}, CPU {cpu_seconds(pid):.1f} s, wchar {wchar(pid)}, "
                    f"waiting in {wchan or 'nothing (running)'}")
        except OSError:
            return "gone"

    def check_alive(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.kind} exited early with status {self.proc.returncode}")
        return False

    def sample(self):
        if not self.proc:
            return None
        self.check_alive()
        return cpu_seconds(self.proc.pid), time.monotonic()

    def stop(self):
        if not self.proc:
            return {}
        hwm = status_kb(self.proc.pid, "VmHWM") if self.proc.poll() is None else 0
        OWNED.stop(self.proc, signal.SIGINT if self.kind == "nettop" else signal.SIGTERM)
        self.proc = None
        return {"rss_peak_kb": hwm}


# ---- workloads -------------------------------------------------------------------------------------

def run_child(argv, timeout, out_dir):
    """Runs a workload process to its end; returns its stdout and the CPU seconds it used (its rusage, so
    also the softirq work and the BPF programs that ran in its context)."""
    path = os.path.join(out_dir, "child.out")
    with open(path, "wb") as out:
        p = OWNED.spawn(argv, stdout=out)
    end = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid:
            p.returncode = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() > end:
            OWNED.stop(p, signal.SIGKILL)
            raise RuntimeError(f"{os.path.basename(argv[-1])} ran past {timeout} s")
        time.sleep(0.02)
    OWNED.procs.remove(p)
    with open(path) as f:
        text = f.read()
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with status {p.returncode}")
    return text, usage.ru_utime + usage.ru_stime


def iperf(args, ns, addr, port, streams, server):
    cpu0 = cpu_seconds(server.pid)
    out, cpu = run_child(in_ns(ns, ["iperf3", "-c", addr, "-p", str(port), "-P", str(streams), "-t", str(args.seconds),
                                    "-J"]), args.seconds + 30, args.out_dir)
    cpu += cpu_seconds(server.pid) - cpu0
    return json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e9, cpu


def churn(args, ns):
    out, cpu = run_child(in_ns(ns, [args.benchgen, "churn", str(args.seconds), "2", "0", "8", "100"]),
                         args.seconds + 40, args.out_dir)
    d = json.loads(out)
    if d["errors"] > d["connections"] * 0.01:
        raise RuntimeError(f"churn: {d['errors']} failed connections")
    return d["per_second"], cpu


def udp(args, ns):
    out, cpu = run_child(in_ns(ns, [args.benchgen, "udp", str(args.seconds), "64", "0"]), args.seconds + 40,
                         args.out_dir)
    return json.loads(out)["received_per_second"], cpu


def traffic_workloads(args, servers):
    """name -> (unit, namespace and device the pcap monitors watch, function measuring one run, which
    returns the throughput and the CPU seconds the workload's processes used)."""
    w = {}
    (port_lo, srv_lo), (port_veth, srv_veth) = servers
    w["bulk-lo-1"] = ("Gbit/s", NS_LO, "lo", lambda: iperf(args, NS_LO, "127.0.0.1", port_lo, 1, srv_lo))
    w["bulk-lo-8"] = ("Gbit/s", NS_LO, "lo", lambda: iperf(args, NS_LO, "127.0.0.1", port_lo, 8, srv_lo))
    w["bulk-veth-1"] = ("Gbit/s", NS_B, VETH_B, lambda: iperf(args, NS_B, ADDR_A, port_veth, 1, srv_veth))
    w["bulk-veth-8"] = ("Gbit/s", NS_B, VETH_B, lambda: iperf(args, NS_B, ADDR_A, port_veth, 8, srv_veth))
    w["churn"] = ("conn/s", NS_LO, "lo", lambda: churn(args, NS_LO))
    w["udp"] = ("pkt/s", NS_LO, "lo", lambda: udp(args, NS_LO))
    return w


def rotated(items, k):
    k %= len(items)
    return items[k:] + items[:k]


def run_traffic(args, name, unit, ns, device, measure, runs):
    for rep in range(args.traffic_reps):
        for cfg in rotated(CONFIGS, rep):
            if over_budget(args):
                return
            mon = Monitor(cfg, args)
            rec = {"workload": name, "config": cfg, "rep": rep, "unit": unit, "seconds": args.seconds}
            try:
                mon.start(ns, device)
                before = mon.sample()
                rec["foreign_monitors"] = foreign_monitors({mon.proc.pid} if mon.proc else set())
                rec["loadavg"] = os.getloadavg()[0]
                w0 = wchar(mon.proc.pid) if cfg == "nettop" else 0
                rec["value"], rec["workload_cpu_s"] = measure()
                after = mon.sample()
                if before:
                    rec["cpu_per_s"] = (after[0] - before[0]) / (after[1] - before[1])
                    if cfg == "nettop":
                        rec["output_bytes_per_s"] = (wchar(mon.proc.pid) - w0) / (after[1] - before[1])
                rec.update(mon.stop())
            except (RuntimeError, subprocess.SubprocessError, OSError, ValueError, KeyError) as e:
                rec["error"] = str(e)
                mon.stop()
            runs.append(rec)
            log(f"  {name:12} rep {rep} {cfg:8} " +
                (f"{rec['value']:.3f} {unit}" if "value" in rec else f"ERROR {rec.get('error')}") +
                (f"  cpu {rec['cpu_per_s']:.3f} s/s" if "cpu_per_s" in rec else ""))


def run_bpf_cost(args, name, unit, measure, runs):
    """One more run with nettop and the kernel's BPF run-time statistics on (kernel.bpf_stats_enabled, put
    back afterwards): how much CPU nettop's programs take inside the workload's own system calls and
    softirqs, per program. Less noisy than a throughput ratio on a busy machine; not used for the ratios,
    since counting adds two clock reads to every program run."""
    if over_budget(args):
        return
    mon = Monitor("nettop", args)
    rec = {"workload": name, "config": "nettop-bpf-stats", "rep": 0, "unit": unit}
    try:
        mon.start(None, None)
        OWNED.set_sysctl(BPF_STATS, "1")
        before, t0 = bpf_prog_stats(mon.proc.pid), time.monotonic()
        rec["value"], rec["workload_cpu_s"] = measure()
        after, t1 = bpf_prog_stats(mon.proc.pid), time.monotonic()
        OWNED.restore_sysctl(BPF_STATS)
        names = prog_names(after)
        progs = {}
        for prog_id, (ns1, cnt1) in after.items():
            ns0, cnt0 = before.get(prog_id, (0, 0))
            if cnt1 > cnt0:
                progs[names[prog_id]] = {"runs_per_s": (cnt1 - cnt0) / (t1 - t0),
                                         "ns_per_run": (ns1 - ns0) / (cnt1 - cnt0),
                                         "cpu_per_s": (ns1 - ns0) / 1e9 / (t1 - t0)}
        rec["bpf_progs"] = progs
        rec["bpf_cpu_per_s"] = sum(p["cpu_per_s"] for p in progs.values())
        # Per connection, per datagram, or per MB moved.
        per_s = rec["value"] * 1e3 / 8 if unit == "Gbit/s" else rec["value"]
        rec["bpf_ns_per_unit"] = rec["bpf_cpu_per_s"] * 1e9 / per_s if per_s else None
        # The programs run inside the workload's own system calls and softirqs, so their share of the
        # workload's CPU is what they cost a CPU-bound workload.
        rec["bpf_share_of_workload_cpu"] = rec["bpf_cpu_per_s"] * (t1 - t0) / rec["workload_cpu_s"]
        rec.update(mon.stop())
    except (RuntimeError, subprocess.SubprocessError, OSError, ValueError, KeyError) as e:
        rec["error"] = str(e)
        OWNED.restore_sysctl(BPF_STATS)
        mon.stop()
    runs.append(rec)
    if "bpf_cpu_per_s" in rec:
        top = sorted(rec["bpf_progs"].items(), key=lambda kv: -kv[1]["cpu_per_s"])[:3]
        log(f"  {name:12} bpf stats    {rec['bpf_cpu_per_s'] * 1000:.1f} ms/s in nettop's programs; top: " +
            ", ".join(f"{k} {v['ns_per_run']:.0f} ns x {v['runs_per_s']:.0f}/s" for k, v in top))
    else:
        log(f"  {name:12} bpf stats    ERROR {rec.get('error')}")


# ---- idle connections ------------------------------------------------------------------------------

def nettop_ticks(path, skip):
    """poll_ms (kernel read and state update), tick_ms (the whole tick) and tracked of each tick written to `path` after the first `skip` lines."""
    ticks = []
    with open(path, "rb") as f:
        for i, line in enumerate(f):
            if i < skip or not line.endswith(b"\n"):
                continue
            stats = json.loads(line)["stats"]  # small lines: every row is filtered out (--port 1)
            ticks.append({"poll_ms": stats["poll_ms"], "tick_ms": stats.get("tick_ms"), "tracked": stats["tracked"],
                          "map_full_drops": stats.get("map_full_drops", 0)})
    return ticks


def line_count(path):
    with open(path, "rb") as f:
        return sum(1 for line in f if line.endswith(b"\n"))


def poke(gen, timeout):
    gen.stdin.write(b"poke\n")
    gen.stdin.flush()
    return read_event(gen, "poked", timeout)


def read_event(gen, event, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        line = gen.stdout.readline()
        if not line:
            raise RuntimeError(f"benchgen idle ended before '{event}'")
        d = json.loads(line)
        if d.get("event") == event:
            return d
    raise RuntimeError(f"no '{event}' from benchgen idle within {timeout} s")


def run_idle(args, n, runs):
    """N connections held open in the bench namespace; each monitor in turn watches them.

    nettop runs twice: to /dev/null as everywhere else (CPU, RSS), and with every row filtered out of its
    output (--port 1) to a file, for its stats per tick: the tick's work is the same, the JSON of 2N rows
    is not written, so the two tell the tick's cost from the output's. At 50k connections and more, where
    starting nettop (its /proc scan) and the poke take tens of seconds, each nettop configuration is
    started once and measured over `reps` consecutive windows; the other monitors start anew each time."""
    name = f"idle-{n // 1000}k"
    max_conns = 65536 if 2 * n + 8192 <= 65536 else 1 << (2 * n + 8192 - 1).bit_length()
    gen = OWNED.spawn(in_ns(NS_LO, [args.benchgen, "idle", str(n)]), stdin=subprocess.PIPE,
                      stdout=subprocess.PIPE)
    once = n >= 50000
    try:
        ready = read_event(gen, "ready", 240)
        log(f"  {name}: {n} connections open in {ready['seconds']:.1f} s")
        configs = ["nettop", "nettop-ticks", "nethogs", "iftop"]
        for rep in range(args.reps):
            for cfg in rotated(configs, rep):
                if cfg.startswith("nettop") and once and rep > 0:
                    continue
                if over_budget(args):
                    return
                windows = args.reps if cfg.startswith("nettop") and once else 1
                idle_measure(args, gen, name, n, cfg, rep, windows, max_conns, runs)
    finally:
        OWNED.stop(gen, signal.SIGTERM, 10)


def idle_measure(args, gen, name, n, cfg, rep, windows, max_conns, runs):
    """Starts one monitor on the idle connections and records `windows` measurement windows of it."""
    base = {"workload": name, "config": cfg, "connections": n, "socket_ends": 2 * n}
    mon = Monitor("nettop" if cfg.startswith("nettop") else cfg, args)
    out_path = os.path.join(args.out_dir, f"{name}-ticks.ndjson") if cfg == "nettop-ticks" else None
    recs = []
    try:
        extra = ["--max-connections", str(max_conns)]
        if cfg == "nettop-ticks":
            extra += ["--port", "1"]
        mon.start(NS_LO, "lo", nettop_extra=extra, out_path=out_path, extra_wait=n / 5000)
        base["foreign_monitors"] = foreign_monitors({mon.proc.pid})
        if cfg.startswith("nettop"):
            base["first_tick_s"] = mon.first_tick_s
            # Connections opened before nettop are rows from /proc without kernel entries; one byte each
            # way makes them kernel-traced rows, as on a host nettop has been watching.
            base["poke_s"] = poke(gen, 120)["seconds"]
            pid = mon.proc.pid
            for _ in range(2):  # the tick under way may have started before the poke
                w = wchar(pid)
                wait_for(lambda: mon.check_alive() or wchar(pid) > w, 30, "a nettop tick")
        for window in range(windows):
            rec = dict(base, rep=rep + window, loadavg=os.getloadavg()[0])
            recs.append(rec)
            skip = line_count(out_path) if out_path else 0
            before = mon.sample()
            time.sleep(args.idle_window)
            after = mon.sample()
            rec["cpu_per_s"] = (after[0] - before[0]) / (after[1] - before[1])
            rec["rss_peak_kb"] = status_kb(mon.proc.pid, "VmHWM")
            rec["rss_now_kb"] = status_kb(mon.proc.pid, "VmRSS")  # steady state, the start-up peak aside
            if cfg == "nettop" and window == windows - 1:
                rec["bpf_maps"] = bpf_maps(mon.proc.pid)
            if out_path:
                rec["ticks"] = nettop_ticks(out_path, skip)
                if rec["ticks"]:
                    # poll_ms is wall time, which a busy machine stretches; CPU per tick is not.
                    rec["cpu_ms_per_tick"] = (after[0] - before[0]) * 1000 / len(rec["ticks"])
        mon.stop()
    except (RuntimeError, subprocess.SubprocessError, OSError, ValueError, KeyError) as e:
        if not recs or "cpu_per_s" in recs[-1]:
            recs.append(dict(base, rep=rep + len(recs)))
        recs[-1]["error"] = str(e)
        mon.stop()
    for rec in recs:
        runs.append(rec)
        extra_text = ""
        if rec.get("ticks"):
            extra_text = "  poll_ms " + ",".join(f"{t['poll_ms']:.1f}" for t in rec["ticks"]) + \
                         f"  tracked {rec['ticks'][-1]['tracked']}"
        log(f"  {name:12} rep {rec['rep']} {cfg:12} " +
            (f"cpu {rec['cpu_per_s']:.3f} s/s  rss {rec['rss_peak_kb'] / 1024:.1f} MB" if "cpu_per_s" in rec
             else f"ERROR {rec.get('error')}") + extra_text)
    if out_path and os.path.exists(out_path):
        os.unlink(out_path)


# ---- summary ---------------------------------------------------------------------------------------

def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def args_seconds(rec):
    return rec.get("seconds", 3)


def eff(rec):
    """Throughput per CPU second of the workload (None without both)."""
    if rec.get("value") and rec.get("workload_cpu_s"):
        return rec["value"] / rec["workload_cpu_s"]
    return None


def summarize(runs):
    out = {}
    for rec in runs:
        out.setdefault(rec["workload"], {}).setdefault(rec["config"], []).append(rec)
    summary = {}
    for wl, by_cfg in out.items():
        s = summary[wl] = {}
        if wl.startswith("idle"):
            for cfg, recs in by_cfg.items():
                ok = [r for r in recs if "error" not in r]
                e = s[cfg] = {"cpu_per_s": spread([r["cpu_per_s"] for r in ok]),
                              "rss_peak_mb": spread([r["rss_peak_kb"] / 1024 for r in ok]),
                              "rss_now_mb": spread([r["rss_now_kb"] / 1024 for r in ok if r.get("rss_now_kb")]),
                              "errors": len(recs) - len(ok)}
                if cfg.startswith("nettop"):
                    e["first_tick_s"] = spread([r["first_tick_s"] for r in ok])
                ticks = [t for r in ok for t in r.get("ticks", [])]
                if ticks:
                    e["cpu_ms_per_tick"] = spread([r.get("cpu_ms_per_tick") for r in ok])
                    e["poll_ms"] = spread([t["poll_ms"] for t in ticks])
                    e["tick_ms"] = spread([t.get("tick_ms") for t in ticks])
                    e["tracked"] = spread([t["tracked"] for t in ticks])
                    e["map_full_drops"] = max(t["map_full_drops"] for t in ticks)
                maps = [r["bpf_maps"] for r in ok if r.get("bpf_maps")]
                if maps:
                    e["bpf_maps"] = maps[-1]
                    e["bpf_memlock_mb"] = sum(m["memlock"] for m in maps[-1].values()) / 2**20
            continue
        base = {r["rep"]: r["value"] for r in by_cfg.get("none", []) if "value" in r}
        for cfg, recs in by_cfg.items():
            if cfg == "nettop-bpf-stats":
                r = recs[0]
                if "bpf_cpu_per_s" in r:
                    s[cfg] = {"bpf_cpu_per_s": r["bpf_cpu_per_s"], "bpf_ns_per_unit": r["bpf_ns_per_unit"],
                              "bpf_share_of_workload_cpu": r["bpf_share_of_workload_cpu"],
                              "unit": r["unit"], "value": r["value"],
                              "progs": {k: {kk: round(vv, 1) for kk, vv in v.items()}
                                        for k, v in sorted(r["bpf_progs"].items(), key=lambda kv: -kv[1]["cpu_per_s"])}}
                continue
            ok = [r for r in recs if "value" in r]
            e = s[cfg] = {"unit": recs[0]["unit"], "value": spread([r["value"] for r in ok]),
                          "errors": len(recs) - len(ok)}
            # Work done per CPU second of the workload's processes: steadier than throughput when other
            # jobs take the cores, since a monitor's kernel-side cost lands in the workload's CPU time.
            e["work_per_cpu_s"] = spread([r["value"] * args_seconds(r) / r["workload_cpu_s"] for r in ok
                                          if r.get("workload_cpu_s")])
            if cfg != "none":
                e["ratio"] = spread([r["value"] / base[r["rep"]] for r in ok if base.get(r["rep"])])
                e["efficiency_ratio"] = spread([eff(r) / eff(b) for r in ok for b in by_cfg.get("none", [])
                                                if b["rep"] == r["rep"] and eff(r) and eff(b)])
                e["cpu_per_s"] = spread([r.get("cpu_per_s") for r in ok])
                e["rss_peak_mb"] = spread([r["rss_peak_kb"] / 1024 for r in ok if r.get("rss_peak_kb")])
    return summary


def verdicts(summary):
    """Issue 6's targets, each with the measured figure and whether it is met."""
    out = []

    def med(wl, cfg, key):
        d = summary.get(wl, {}).get(cfg, {}).get(key)
        return d["median"] if d else None

    for wl, target in [("bulk-lo-1", 0.97), ("bulk-lo-8", 0.97), ("bulk-veth-1", 0.97), ("bulk-veth-8", 0.97),
                       ("churn", 0.90), ("udp", 0.95)]:
        e = summary.get(wl, {}).get("nettop", {})
        r, w = e.get("ratio"), e.get("efficiency_ratio")
        b = summary.get(wl, {}).get("nettop-bpf-stats", {}).get("bpf_share_of_workload_cpu")
        if r is not None:
            # On a busy machine the spread of the throughput ratio can straddle the target: then the
            # work-per-CPU ratio and the BPF programs' share of the workload's CPU say more.
            out.append({"target": f"{wl}: throughput with nettop >= {target:.0%} of baseline",
                        "measured": f"{r['median']:.3f} ({r['min']:.3f}-{r['max']:.3f})"
                                    + (f"; work/CPU {w['median']:.3f}" if w else "")
                                    + (f"; BPF {b:.1%} of workload CPU" if b is not None else ""),
                        "met": r["median"] >= target,
                        "within_noise": r["min"] < target <= r["max"]})
    c = med("idle-10k", "nettop", "cpu_per_s")
    if c is not None:
        out.append({"target": "nettop CPU <= 2% of a core at 10k connections, 1 s tick", "measured": round(c, 4),
                    "met": c <= 0.02})
    p = med("idle-100k", "nettop-ticks", "poll_ms")
    if p is not None:
        t = med("idle-100k", "nettop-ticks", "tick_ms")
        c = med("idle-100k", "nettop-ticks", "cpu_ms_per_tick")
        out.append({"target": "tick (poll + state update) < 100 ms at 100k connections", "measured": round(p, 1),
                    "met": p < 100,
                    "whole_tick": "tick_ms (with the rows made for the output) "
                                  + (f"{t:.1f}" if t is not None else "-")
                                  + ", CPU per tick " + (f"{c:.1f} ms" if c is not None else "-")})
    r = med("idle-100k", "nettop", "rss_peak_mb")
    if r is not None:
        out.append({"target": "nettop RSS < 150 MB at 100k connections", "measured": round(r, 1), "met": r < 150})
    for wl in summary:
        for peer in ("nethogs", "iftop"):
            mine, theirs = summary[wl].get("nettop", {}), summary[wl].get(peer, {})
            if wl.startswith("idle"):
                a, b = mine.get("cpu_per_s"), theirs.get("cpu_per_s")
                if a and b:
                    out.append({"target": f"{wl}: nettop uses less CPU than {peer}",
                                "measured": f"{a['median']:.4f} vs {b['median']:.4f} s/s",
                                "met": a["median"] < b["median"]})
                continue
            # Overhead = the monitor's own CPU plus what it takes from the workload, the latter read from
            # work per CPU second (steadier than raw throughput on a shared machine).
            a, b = mine.get("efficiency_ratio"), theirs.get("efficiency_ratio")
            ca, cb = mine.get("cpu_per_s"), theirs.get("cpu_per_s")
            ra, rb = mine.get("ratio"), theirs.get("ratio")
            if a and b and ca and cb:
                out.append({"target": f"{wl}: nettop's overhead below {peer}'s",
                            "measured": f"own CPU {ca['median']:.3f} vs {cb['median']:.3f} s/s; work/CPU "
                                        f"{a['median']:.3f} vs {b['median']:.3f}; throughput "
                                        f"{ra['median']:.3f} vs {rb['median']:.3f}",
                            "met": ca["median"] <= cb["median"] and a["median"] >= b["median"]})
    return out


def rounded(x):
    """Floats to 4 significant digits, for a summary small enough to commit."""
    if isinstance(x, float):
        return float(f"{x:.4g}")
    if isinstance(x, dict):
        return {k: rounded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [rounded(v) for v in x]
    return x


def write_summary(path, machine, settings, summary, verdict_list):
    """summary.json: the figures the README quotes, one line per workload and monitor."""
    def one(v):
        return json.dumps(rounded(v), separators=(",", ":"))
    lines = ["{", f' "machine": {one(machine)},', f' "settings": {one(settings)},', ' "summary": {']
    for i, (wl, by_cfg) in enumerate(summary.items()):
        lines.append(f'  "{wl}": {{')
        cfgs = list(by_cfg.items())
        for j, (cfg, e) in enumerate(cfgs):
            lines.append(f'   "{cfg}": {one(e)}' + ("," if j < len(cfgs) - 1 else ""))
        lines.append("  }" + ("," if i < len(summary) - 1 else ""))
    lines.append(" },")
    lines.append(' "targets": [')
    lines += [f"  {one(v)}" + ("," if k < len(verdict_list) - 1 else "") for k, v in enumerate(verdict_list)]
    lines += [" ]", "}"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def fmt_spread(d, digits=3, scale=1.0):
    if not d:
        return "-"
    f = f"{{:.{digits}f}}"
    return f"{f.format(d['median'] * scale)} ({f.format(d['min'] * scale)}-{f.format(d['max'] * scale)})"


def print_tables(summary, verdict_list, machine):
    print(f"\nnettop benchmark on {machine['cpu']} ({machine['cores']} cores, {machine['memory_gb']} GB), "
          f"Linux {machine['kernel']}, nettop {machine['commit']}, {machine['date']}; load average "
          f"{machine.get('loadavg_start', 0):.1f} at start, {machine.get('loadavg_end', 0):.1f} at end")
    print("median (min-max) over the repetitions; ratio = run / no-monitor run of the same repetition\n")
    print(f"{'workload':12} {'monitor':8} {'throughput':>14} {'ratio to baseline':>22} {'work/CPU-s ratio':>22} "
          f"{'monitor CPU s/s':>24} {'peak RSS MB':>10}")
    for wl, by_cfg in summary.items():
        if wl.startswith("idle"):
            continue
        for cfg in CONFIGS:
            e = by_cfg.get(cfg)
            if not e or not e["value"]:
                continue
            value = f"{e['value']['median']:.2f} {e['unit']}" if e["unit"] == "Gbit/s" else \
                f"{e['value']['median']:.0f} {e['unit']}"
            print(f"{wl:12} {cfg:8} {value:>14} {fmt_spread(e.get('ratio')):>22} "
                  f"{fmt_spread(e.get('efficiency_ratio')):>22} {fmt_spread(e.get('cpu_per_s')):>24} "
                  f"{(e['rss_peak_mb']['median'] if e.get('rss_peak_mb') else 0):>10.1f}")
    print(f"\nnettop's BPF programs (one run per workload with kernel.bpf_stats_enabled=1):")
    print(f"{'workload':12} {'BPF CPU ms/s':>12} {'per unit':>14} {'of workload CPU':>15}  "
          f"programs (ns per run x runs per second)")
    for wl, by_cfg in summary.items():
        e = by_cfg.get("nettop-bpf-stats")
        if not e:
            continue
        per = f"{e['bpf_ns_per_unit']:.0f} ns/{ {'Gbit/s': 'MB', 'conn/s': 'conn', 'pkt/s': 'pkt'}[e['unit']]}" \
            if e.get("bpf_ns_per_unit") else "-"
        top = list(e["progs"].items())[:4]
        print(f"{wl:12} {e['bpf_cpu_per_s'] * 1000:>12.1f} {per:>14} {e['bpf_share_of_workload_cpu']:>15.1%}  " +
              ", ".join(f"{k} {v['ns_per_run']:.0f}x{v['runs_per_s']:.0f}" for k, v in top))
    print(f"\n{'idle':10} {'monitor':12} {'CPU s/s':>22} {'peak RSS MB':>20} {'poll_ms per tick':>22} "
          f"{'tick_ms':>22} {'CPU ms per tick':>22} {'rows':>8} {'1st tick s':>10} {'BPF MB':>7}")
    for wl, by_cfg in summary.items():
        if not wl.startswith("idle"):
            continue
        for cfg in ["nettop", "nettop-ticks", "nethogs", "iftop"]:
            e = by_cfg.get(cfg)
            if not e or not e["cpu_per_s"]:
                continue
            rows = f"{e['tracked']['median']:.0f}" if e.get("tracked") else "-"
            first = f"{e['first_tick_s']['median']:.1f}" if e.get("first_tick_s") else "-"
            mem = f"{e['bpf_memlock_mb']:.1f}" if e.get("bpf_memlock_mb") else "-"
            print(f"{wl:10} {cfg:12} {fmt_spread(e['cpu_per_s']):>22} {fmt_spread(e['rss_peak_mb'], 1):>20} "
                  f"{fmt_spread(e.get('poll_ms'), 1):>22} {fmt_spread(e.get('tick_ms'), 1):>22} "
                  f"{fmt_spread(e.get('cpu_ms_per_tick'), 1):>22} "
                  f"{rows:>8} {first:>10} {mem:>7}")
    for wl, by_cfg in summary.items():
        maps = by_cfg.get("nettop", {}).get("bpf_maps")
        if maps:
            print(f"\nBPF maps of nettop at {wl} (memlock): " +
                  ", ".join(f"{k} {v['memlock'] / 2**20:.1f} MB ({v['max_entries']} entries)" for k, v in maps.items()))
    print("\nissue 6 targets:")
    for v in verdict_list:
        mark = "met " if v["met"] else "MISS"
        noise = " (spread straddles the target)" if v.get("within_noise") else ""
        print(f"  [{mark}] {v['target']}: {v['measured']}{noise}")
        if v.get("whole_tick"):
            print(f"         {v['whole_tick']}")


def machine_facts(args):
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    try:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no", "Sources", "bpf"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        commit += "+local changes" if dirty else ""
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    distro = ""
    try:
        with open("/etc/os-release") as f:
            distro = dict(l.rstrip().split("=", 1) for l in f if "=" in l).get("PRETTY_NAME", "").strip('"')
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem_kb / 2**20, 1),
            "kernel": platform.release(), "distro": distro, "commit": commit,
            "date": time.strftime("%Y-%m-%d %H:%M %Z"), "loadavg_start": os.getloadavg()[0]}


# ---- main ------------------------------------------------------------------------------------------

START = time.monotonic()


def over_budget(args):
    if time.monotonic() - START > args.budget:
        log(f"bench: time budget of {args.budget} s used up; the remaining runs are skipped")
        return True
    return False


def setup_namespaces():
    OWNED.add_netns(NS_LO)
    # Namespace-local, so nothing on the host changes: room in the accept queue for a whole idle shard.
    run(in_ns(NS_LO, ["sysctl", "-q", "-w", "net.core.somaxconn=65535"]))
    OWNED.add_netns(NS_A)
    OWNED.add_netns(NS_B)
    run(["ip", "link", "add", VETH_A, "netns", NS_A, "type", "veth", "peer", "name", VETH_B, "netns", NS_B])
    run(["ip", "-n", NS_A, "addr", "add", f"{ADDR_A}/24", "dev", VETH_A])
    run(["ip", "-n", NS_B, "addr", "add", f"{ADDR_B}/24", "dev", VETH_B])
    run(["ip", "-n", NS_A, "link", "set", VETH_A, "up"])
    run(["ip", "-n", NS_B, "link", "set", VETH_B, "up"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nettop", default=os.path.join(ROOT, ".build/release/nettop"))
    ap.add_argument("--benchgen", default=os.path.join(ROOT, ".build/bench/benchgen"))
    ap.add_argument("--out-dir", default=os.path.join(ROOT, "bench-results"))
    ap.add_argument("--reps", type=int, default=3, help="repetitions of the idle workloads")
    ap.add_argument("--traffic-reps", type=int, default=5,
                    help="repetitions of the traffic workloads (their throughput swings most from run to run)")
    ap.add_argument("--seconds", type=int, default=3, help="length of each traffic run")
    ap.add_argument("--idle-window", type=float, default=4.0, help="seconds each monitor is measured at idle")
    ap.add_argument("--idle", default="10000,100000", help="idle connection counts, comma-separated ('' for none)")
    ap.add_argument("--only", default="", help="comma-separated workload names (default: all)")
    ap.add_argument("--first-tick-timeout", type=float, default=60,
                    help="seconds nettop may take to its first tick (its /proc scan), plus 1 s per 5k idle connections")
    ap.add_argument("--no-bpf-stats", action="store_true",
                    help="skip the extra run per workload that measures nettop's BPF programs")
    ap.add_argument("--budget", type=int, default=780, help="seconds after which remaining runs are skipped")
    ap.add_argument("--report", metavar="LATEST_JSON",
                    help="no runs: summarize the runs of an earlier latest.json again (rewrites summary.json beside it)")
    args = ap.parse_args()
    if args.report:
        with open(args.report) as f:
            old = json.load(f)
        summary = summarize(old["runs"])
        verdict_list = verdicts(summary)
        write_summary(os.path.join(os.path.dirname(os.path.abspath(args.report)), "summary.json"), old["machine"],
                      old["settings"], summary, verdict_list)
        print_tables(summary, verdict_list, old["machine"])
        return 0
    if os.geteuid() != 0:
        log("bench: needs root (BPF, network namespaces); run it with sudo make bench")
        return 77
    for tool in (args.nettop, args.benchgen):
        if not os.access(tool, os.X_OK):
            log(f"bench: {tool} is missing; `make bench` builds it")
            return 1
    os.makedirs(args.out_dir, exist_ok=True)
    only = set(filter(None, args.only.split(",")))

    def signalled(signum, _frame):
        raise SystemExit(128 + signum)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signalled)

    machine = machine_facts(args)
    runs = []
    try:
        setup_namespaces()
        servers = []
        for ns in (NS_LO, NS_A):
            port = free_port()
            servers.append((port, OWNED.spawn(in_ns(ns, ["iperf3", "-s", "-p", str(port)]))))
        time.sleep(0.5)
        for name, (unit, ns, dev, measure) in traffic_workloads(args, servers).items():
            if only and name not in only:
                continue
            log(f"bench: {name}")
            run_traffic(args, name, unit, ns, dev, measure, runs)
            if not args.no_bpf_stats:
                run_bpf_cost(args, name, unit, measure, runs)
        for n in [int(x) for x in args.idle.split(",") if x]:
            if only and f"idle-{n // 1000}k" not in only:
                continue
            log(f"bench: idle-{n // 1000}k")
            run_idle(args, n, runs)
    finally:
        OWNED.cleanup()
    machine["loadavg_end"] = os.getloadavg()[0]
    machine["seconds"] = round(time.monotonic() - START)
    summary = summarize(runs)
    verdict_list = verdicts(summary)
    settings = {"reps": args.reps, "traffic_reps": args.traffic_reps, "seconds": args.seconds, "idle_window_s": args.idle_window,
                "configs": CONFIGS, "nettop_args": "--json --interval 1 > /dev/null",
                "nethogs_args": "-a -t -d 1 DEV", "iftop_args": "-t -n -N -P -B -i DEV"}
    with open(os.path.join(args.out_dir, "latest.json"), "w") as f:
        json.dump({"machine": machine, "settings": settings, "summary": summary, "targets": verdict_list,
                   "runs": runs}, f, indent=1)
    write_summary(os.path.join(args.out_dir, "summary.json"), machine, settings, summary, verdict_list)
    print_tables(summary, verdict_list, machine)
    print(f"\nbench: {len(runs)} runs in {machine['seconds']} s; "
          f"{os.path.relpath(args.out_dir, ROOT)}/latest.json has every run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
