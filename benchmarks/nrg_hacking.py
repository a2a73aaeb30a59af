"""Does Flow-NRG's guidance raise the truth, or only its own reward? A diagnostic, never a gate.

Samples the first N prompts of a prompt file unguided and guided with the same seeds, then
scores each sample's x0 twice: by the latent reward model itself at t = 0 (what guidance climbs)
and by the synthetic world's oracle (the truth). A guided row whose latent reward rises while
the oracle's score of the same dimension falls is reward hacking; a guided row whose latent
reward falls points at a sign or wrapper bug.

    .venv/bin/python benchmarks/nrg_hacking.py GENERATOR LATENT_RM PROMPTS.txt \
        [--dim MQ] [--scales 0.3 1 5] [--t-min 0] [--count 32] [--seed 1]
"""

from __future__ import annotations

import argparse

import torch

from vidalign.guidance import GuidanceSettings, reward_guidance
from vidalign.guidance.folder import load_latent_reward
from vidalign.policy import load_generator
from vidalign.policy.sampling import read_prompt_file, sample_latents, sample_seed
from vidalign.synth.oracle import judge


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("generator")
    ap.add_argument("latent_rm")
    ap.add_argument("prompts")
    ap.add_argument("--dim", default="MQ", help="the one dimension guided")
    ap.add_argument("--scales", type=float, nargs="+", default=[0.3, 1.0, 5.0])
    ap.add_argument("--t-min", type=float, default=0.0, help="guide only steps with t >= this")
    ap.add_argument("--count", type=int, default=32, help="prompts used, from the top of the file")
    ap.add_argument("--seed", type=int, default=1, help="run seed of the samples' noise")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    prompts = read_prompt_file(args.prompts)[: args.count]
    gen = load_generator(args.generator)
    rm = load_latent_reward(args.latent_rm, for_guidance=True)
    if args.dim not in rm.dims:
        raise SystemExit(f"{args.latent_rm}: no dimension {args.dim}; it has {rm.dims}")
    j = rm.dims.index(args.dim)
    seeds = [sample_seed(args.seed, i) for i in range(len(prompts))]
    cond = gen.encode_text(prompts)

    print(f"{len(prompts)} prompts, guided dimension {args.dim}, t >= {args.t_min}")
    print("| guidance w | latent RM at t=0 | oracle VQ | oracle MQ | oracle TA |")
    print("|---|---|---|---|---|")
    for scale in [0.0, *args.scales]:
        settings = GuidanceSettings(scale=scale, weights={args.dim: 1.0}, t_min=args.t_min)
        x0 = sample_latents(
            gen, prompts, seeds, velocity_wrapper=lambda m, s=settings: reward_guidance(m, rm, s)
        )
        with torch.no_grad():
            latent = rm(x0, torch.zeros(len(prompts)), cond)[:, j].mean().item()
        scores = [judge(frames, p) for frames, p in zip(gen.decode(x0), prompts, strict=True)]
        mean = {d: sum(s[d] for s in scores) / len(scores) for d in ("VQ", "MQ", "TA")}
        print(
            f"| {scale:g} | {latent:.3f} | {mean['VQ']:.3f} | {mean['MQ']:.3f} | {mean['TA']:.3f} |"
        )


if __name__ == "__main__":
    main()
