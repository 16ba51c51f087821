"""End-to-end multi-agent PPO throughput on Cleanup (5 agents): IPPO (Simul-Ind) against AgA; and A2C (D3C's
learner, Appx. G.1) with and without D3C reward mixing on Coins and Cleanup.

Environment steps per second count one step of the environment, all 5 agents acting, learning included:
each timed call runs whole PPO updates (rollout of num_envs x num_steps steps, GAE, epochs of minibatch
policy steps through the GameMethod and critic steps), compiled as `jit(vmap(scan over updates))`, the way
`mixmo run aga-cleanup` runs them. Compilation is timed separately; the run time is the median of repeated
calls after it. Also compared: the minibatch loop scanned vs unrolled, and a Python loop over one compiled
update (segment 1) vs a scan over several updates.

Run: python benchmarks/bench_rl.py [--device cpu|gpu] [--quick]
"""

from __future__ import annotations


import mixmo
from _util import machine, parse_args, train_speed
from mixmo import envs, rl


def measure(env, method, seeds: int, segment: int, repeats: int, config=None, mixer=None, **overrides):
    """`(seconds per update, env steps per second over all seeds, compile seconds)`; PPO unless `config`."""
    config = config or rl.PPOConfig(total_steps=10**9, hidden=(64,), critic_hidden=(64,), **overrides)
    return train_speed(rl.make_train(config, env, method, reward=mixer), seeds, segment, repeats)


def main():
    args = parse_args(__doc__)
    repeats = 2 if args.quick else 3
    env = envs.make("cleanup")
    ippo, aga = mixmo.methods.simul_ind(), mixmo.methods.aga(100.0)
    print(f"machine: {machine()}\n")
    print("Cleanup, 5 agents; policy and critic MLPs 1575-64-out per agent; 16 envs x 128 steps per update, "
          f"2 epochs x 4 minibatches; median of {repeats} calls after compilation\n")
    print("| method | seeds | minibatch loop | updates per call | s / update | env steps/s | compile (s) |")
    print("|---|---:|---|---:|---:|---:|---:|")
    cases = [("IPPO", ippo, 1, True, 4), ("AgA", aga, 1, True, 4)]
    if not args.quick:
        cases += [("IPPO", ippo, 1, False, 4), ("AgA", aga, 1, False, 4), ("IPPO", ippo, 1, True, 1),
                  ("AgA", aga, 1, True, 1), ("IPPO", ippo, 3, True, 4), ("AgA", aga, 3, True, 4)]
    per_update = {}
    for name, method, seeds, scanned, segment in cases:
        seconds, sps, compile_s = measure(env, method, seeds, segment, repeats, scan_minibatches=scanned)
        per_update.setdefault((seeds, scanned, segment), {})[name] = seconds
        loop = "scan" if scanned else "unrolled"
        print(f"| {name} | {seeds} | {loop} | {segment} | {seconds:.3f} | {sps:,.0f} | {compile_s:.1f} |", flush=True)
    print("\n| seeds | minibatch loop | updates per call | AgA / IPPO time per update |")
    print("|---:|---|---:|---:|")
    for (seeds, scanned, segment), times in per_update.items():
        if {"IPPO", "AgA"} <= set(times):
            loop = "scan" if scanned else "unrolled"
            print(f"| {seeds} | {loop} | {segment} | {times['AgA'] / times['IPPO']:.2f} |")
    a2c_table(repeats, quick=args.quick)


def a2c_table(repeats: int, quick: bool):
    """A2C (16 envs x 100-step unrolls, one RMSProp step per update) without and with reward mixing."""
    config = rl.A2CConfig(total_steps=10**9)
    print("\nA2C (D3C Appx. G.1): 16 envs x 100 steps per update, one gradient step; MLPs 64 wide; "
          f"4 updates per call, median of {repeats} calls after compilation\n")
    print("| env | mixing | seeds | s / update | env steps/s | compile (s) |")
    print("|---|---|---:|---:|---:|---:|")
    seeds = (3,) if quick else (1, 3)
    for env_name in ("coins", "cleanup"):
        env = envs.make(env_name)
        for mixing in ("none", "d3c"):
            mixer = rl.d3c() if mixing == "d3c" else None
            for n in seeds:
                seconds, sps, compile_s = measure(env, mixmo.methods.simul_ind(), n, 4, repeats, config, mixer)
                print(f"| {env_name} | {mixing} | {n} | {seconds:.3f} | {sps:,.0f} | {compile_s:.1f} |", flush=True)


if __name__ == "__main__":
    main()
