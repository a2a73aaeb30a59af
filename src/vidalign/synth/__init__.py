"""The synthetic video world: a small, fully known world for running the paper's experiment on CPU.

* ``scenes``, ``prompts``: scene specs and the prompt grammar (general and hard sets).
* ``shapes``, ``layout``, ``motion``, ``render``: anti-aliased rendering with physical motion.
* ``degrade``, ``pixels``: VQ / MQ / TA failure modes with severities in [0, 1].
* ``profiles``: twelve generator profiles in two eras; ``sample_clip``.
* ``segment``, ``oracle``: pixel-only judges ``judge(frames, prompt) -> {VQ, MQ, TA}``.
* ``validate``: severity sweeps and Spearman checks of the oracle.
* ``annotators``: simulated raters (Rao-Kupper Bradley-Terry with ties, majority vote).
* ``dataset``, ``stats``: the dataset builder and its Table-1-like summary.
* ``generator_data``, ``generator_config``, ``generator_pretrain``: the base generator,
  pre-trained from scratch on clips of the twelve profiles (``vidalign policy pretrain``).
* ``vlm_pretrain``, ``base_vlm``: the base VLM, a tiny Qwen2-VL taught to caption clips and
  measure their defects (``vidalign reward pretrain``), and its held-out metrics measured again.
* ``attributes``, ``steering``, ``generator_eval``: a generator probed on the world: colour,
  shape and direction read back from pixels, word steering, and oracle scores and attribute
  accuracy beside the clean renderer.
* ``guidance_ablate``: the Flow-NRG ablation (Tables 6 / 7) on the world's own labels.
* ``scorers``: the oracle in the library's shapes (a scorer, a ceiling row, a judge, a GRPO
  reward source), which the CLI and the demo pass into the library.
* ``sample_metrics``: the oracle metric suite of a sample set (``vidalign eval metrics``).

Submodules are imported on use; this package imports nothing heavy.
"""
