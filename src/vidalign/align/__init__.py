"""Training-time alignment of rectified-flow video models: Flow-DPO, Flow-RWR and SFT."""
