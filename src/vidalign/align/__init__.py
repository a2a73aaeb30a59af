"""Training-time alignment of rectified-flow video models: Flow-DPO, Flow-RWR and SFT.

``losses`` (pure loss functions), ``objectives`` (the model calls around them), ``pairs``
(on-policy pairs from the model's own samples and a reward), ``data`` (the trainer's view of
a pair file and its cached latents), ``config`` + ``trainer`` (one trainer for the three
methods), ``export`` (merging the LoRA into a full generator folder).
"""
