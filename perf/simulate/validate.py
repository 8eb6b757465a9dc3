#!/usr/bin/env python3
"""simulate against this machine: calibrate, measure, predict, compare (docs/benchmarks.md).

  python3 perf/simulate/validate.py --reps 5 --save m.json     measure, then compare
  python3 perf/simulate/validate.py --load m.json               compare saved measurements

Calibration, on loopback TCP, from runs other than the ones predicted:
  alpha        4-byte allreduce, 2 ranks, recursive doubling: one message each way
  copy(N,size) tcp_stream_perf, N ranks (a ring's traffic, no reduction), each size on its own
               and warmed up: every byte on a link is copied by the sender's core and by the
               receiver's, so the 2 cores together copy 2 * 2(N-1) * size bytes in (time -
               alpha), and one core's copy rate is the link rate the simulator is given
               (--intra-on-core). Per rank count, because ranks that outnumber the cores evict
               each other's buffers from the caches (a 1 MiB stream copies 2.5x faster at 2
               ranks than at 4), and per size, because 1 MiB buffers may stay in cache.
  gamma(size)  kernels_bench sum/float32 at that size (GB/s of traffic / 3: two reads, a write)
  wakeup(N)    N ranks on 2 cores do not spin (they yield, then sleep): what a 4-byte allreduce
               at N ranks takes beyond the model without it, per receive on its critical path
Validation: allreduce_perf --np N -b 1M -e 64M -f 64 -n 10 -w 3 under GCCL_ALGO=ring and
recursive_doubling for N = 2, 3, 4. Where recursive doubling does not apply (N = 3; above
16 MiB) the engine runs another algorithm: the one its GCCL_DEBUG=INFO log names is the one
simulated, and the row says so. Medians over --reps of out-of-place and in-place times together.

The machine may be shared: a run counts only if other processes used less than --quiet cores
while it ran (/proc/stat against our children's rusage); otherwise it is repeated.
"""
import argparse, collections, json, os, re, resource, statistics, subprocess, sys, tempfile, time

BIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../build/bin')
SIZES = (1 << 20, 64 << 20)
RANKS = (2, 3, 4)
ALGOS = ('ring', 'recursive_doubling')
CORES = 2


def busy_seconds():
    fields = list(map(int, open('/proc/stat').readline().split()[1:9]))
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf('SC_CLK_TCK')


def quiet_run(cmd, env, quiet):
    """the finished process of `cmd` from a run that others did not disturb (or the last try)."""
    for attempt in range(60):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy0, t0 = busy_seconds(), time.time()
        out = subprocess.run(cmd, shell=True, env={**os.environ, **env}, capture_output=True,
                             text=True)
        busy1, t1 = busy_seconds(), time.time()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        ours = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        others = (busy1 - busy0 - ours) / (t1 - t0)
        if others < quiet:
            break
        time.sleep(5)
    settings = ' '.join(f'{k}={v}' for k, v in env.items())
    print(f'# {settings} {cmd}: others {others:.2f} cores, try {attempt}', file=sys.stderr)
    if out.returncode != 0:  # a failed check or a crash: its timings are not a measurement
        sys.exit(f'{settings} {cmd} failed ({out.returncode}):\n{out.stderr[-2000:]}')
    return out


# GCCL_DEBUG=INFO: "rank 0: allreduce of 1048576 bytes on 3 ranks (1 host(s)): direct, ..."
DECISION = re.compile(r'rank 0: allreduce of (\d+) bytes on \d+ ranks [^:]*: (\w+),')


def algorithms_run(log):
    """{bytes: the algorithm rank 0 logged running} from a GCCL_DEBUG=INFO log."""
    return {size: algo for size, algo in DECISION.findall(log)}  # keyed as JSON keeps them


def table_rows(text):
    """{bytes: [out-of-place us, in-place us]} from an nccl-tests shaped table."""
    rows = {}
    for line in text.splitlines():
        fields = line.split()
        if not line.startswith('#') and len(fields) >= 12:
            rows[int(fields[0])] = [float(fields[4]), float(fields[8])]
    return rows


def plan():
    perf = f'{BIN}/allreduce_perf'
    # The model is calibrated on a TCP stream: the ranks must talk TCP too, not the shared
    # memory that local ranks take by default.
    tcp = {'GCCL_TRANSPORT': 'tcp'}
    doubling = {**tcp, 'GCCL_ALGO': 'recursive_doubling'}
    runs = [(f'lat{n}', f'{perf} --np {n} -b 4 -e 4 -n 200 -w 20', doubling) for n in RANKS]
    # Each size on its own, the small one well warmed: a fresh connection's window is still
    # growing through the first megabytes (1 MiB took 550 us after 3 warm-ups, 210 after 20).
    for n in RANKS:
        runs.append((f'stream{n}', f'{BIN}/tcp_stream_perf --np {n} -b 1M -e 1M -n 50 -w 20', {}))
        runs.append((f'stream{n}', f'{BIN}/tcp_stream_perf --np {n} -b 64M -e 64M -n 10 -w 3', {}))
    for n in RANKS:
        for algo in ALGOS:
            runs.append((f'ar{n}_{algo}', f'{perf} --np {n} -b 1M -e 64M -f 64 -n 10 -w 3',
                         {**tcp, 'GCCL_ALGO': algo, 'GCCL_DEBUG': 'INFO'}))
    return runs


def reduce_rates(quiet):
    """{size: bytes/s} of the float32 sum, per byte of one operand."""
    out = quiet_run(f"{BIN}/kernels_bench --benchmark_filter='^sum/float32/(1048576|67108864)$' "
                    '--benchmark_repetitions=5 --benchmark_report_aggregates_only=true '
                    '--benchmark_format=json', {}, quiet).stdout
    return {int(b['name'].split('/')[2].split('_')[0]): b['bytes_per_second'] / 3
            for b in json.loads(out)['benchmarks'] if b['name'].endswith('_median')}


def measure(reps, quiet, path):
    saved = {'gamma': reduce_rates(quiet), 'runs': []}
    for rep in range(reps):
        for name, cmd, env in plan():
            done = quiet_run(cmd, env, quiet)
            saved['runs'].append({'rep': rep, 'name': name, 'rows': table_rows(done.stdout),
                                  'algorithms': algorithms_run(done.stderr)})
            if path:
                json.dump(saved, open(path, 'w'))
    return saved


def samples(runs):
    """{(name, bytes): [us]} over every repetition, out-of-place and in-place together."""
    found = {}
    for r in runs:
        for size, times in r['rows'].items():
            found.setdefault((r['name'], int(size)), []).extend(times)
    return found


def engine_ran(runs, name, size):
    """The algorithm the engine ran for run `name` at `size`, as its log says (the most common
    over repetitions; it is chosen from default cost figures, so it should not vary)."""
    logged = collections.Counter(r['algorithms'][str(size)] for r in runs
                                 if r['name'] == name and str(size) in r.get('algorithms', {}))
    if not logged:
        sys.exit(f'no GCCL_DEBUG=INFO decision logged for {name} at {size} bytes')
    return logged.most_common(1)[0][0]


def simulate(n, algo, size, alpha, copy, gamma, wakeup):
    """(command, simulated us, the algorithm the engine runs)."""
    args = ['--nranks', str(n), '--ranks-per-host', str(n), '--cores-per-host', str(CORES),
            '--intra-on-core', '1', '--algo', algo, '--intra-alpha-us', f'{alpha:.2f}',
            '--intra-bandwidth-gbps', f'{copy * 8 / 1e9:.2f}',
            '--reduce-gbps', f'{gamma * 8 / 1e9:.1f}', '--wakeup-us', f'{wakeup:.2f}',
            '-b', str(size), '-e', str(size)]
    with tempfile.NamedTemporaryFile(suffix='.json') as f:
        subprocess.run([f'{BIN}/simulate', *args, '--json', f.name], check=True,
                       capture_output=True)
        row = json.load(open(f.name))['results'][0]
    return 'simulate ' + ' '.join(args), row['time_us'], row.get('selected', algo)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--reps', type=int, default=5)
    parser.add_argument('--quiet', type=float, default=0.12)
    parser.add_argument('--save')
    parser.add_argument('--load')
    args = parser.parse_args()
    saved = json.load(open(args.load)) if args.load else measure(args.reps, args.quiet, args.save)
    gamma = {int(k): v for k, v in saved['gamma'].items()}
    times = samples(saved['runs'])
    m = {k: statistics.median(v) for k, v in times.items()}
    alpha = m[('lat2', 4)]
    copy = {(n, s): 2 * (n - 1) * s / ((m[(f'stream{n}', s)] - alpha) * 1e-6)
            for n in RANKS for s in SIZES}
    # The 4-byte runs time log2(N) or 2(N-1) receives: the simulated time grows by that many
    # microseconds per microsecond of wakeup.
    wakeup = {2: 0.0}
    for n in RANKS[1:]:
        base = simulate(n, 'recursive_doubling', 4, alpha, copy[(n, SIZES[0])], gamma[SIZES[0]],
                        0)[1]
        per = simulate(n, 'recursive_doubling', 4, alpha, copy[(n, SIZES[0])], gamma[SIZES[0]],
                       1)[1]
        wakeup[n] = max(0.0, (m[(f'lat{n}', 4)] - base) / (per - base))
    print(f'calibration: alpha {alpha:.1f} us; ' + '; '.join(
        f'{s >> 20} MiB: reduce {gamma[s] / 1e9:.1f} GB/s, a core copies ' + ', '.join(
            f'{copy[(n, s)] / 1e9:.2f}' for n in RANKS) + ' GB/s' for s in SIZES) +
          f' at {RANKS} ranks; ' + ', '.join(f'wakeup at {n} ranks {wakeup[n]:.1f} us'
                                            for n in RANKS[1:]) + '\n')
    print('| ranks | size | GCCL_ALGO (runs) | measured µs: median (min-max) | simulated µs | '
          'sim / measured |')
    print('|---:|---:|---|---:|---:|---:|')
    commands = []
    for n in RANKS:
        for size in SIZES:
            for algo in ALGOS:
                key = (f'ar{n}_{algo}', size)
                ran = engine_ran(saved['runs'], key[0], size)
                cmd, sim, runs = simulate(n, ran, size, alpha, copy[(n, size)], gamma[size],
                                          wakeup[n])
                if runs != ran:
                    sys.exit(f'{cmd}: the simulator runs {runs} where the engine ran {ran}')
                commands.append(cmd)
                label = algo if ran == algo else f'{algo} ({ran})'
                print(f'| {n} | {size >> 20} MiB | {label} | {m[key]:.0f} ({min(times[key]):.0f}-'
                      f'{max(times[key]):.0f}) | {sim:.0f} | {sim / m[key]:.2f} |')
    print('\n```sh\n' + '\n'.join(commands) + '\n```')


if __name__ == '__main__':
    main()
