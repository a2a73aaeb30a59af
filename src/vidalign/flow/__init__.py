"""Rectified-flow maths: the interpolation path, time sampling, the Euler and SDE samplers, CFG.

Convention (REFERENCE.md §4): ``x_t = (1 - t)·x0 + t·noise``, ``t = 0`` is data and ``t = 1``
noise, the target velocity is ``v = noise - x0`` and sampling integrates from ``t = 1`` to ``0``.
Everything here is a pure function of tensors; models enter only as a velocity callable
``model(x_t, t, cond) -> v`` with ``t`` of shape ``(B,)``.
"""

from vidalign.flow.cfg import classifier_free_guidance
from vidalign.flow.loss import flow_matching_loss
from vidalign.flow.path import (
    PathSample,
    interpolate,
    noise_from_velocity,
    sample_path,
    target_velocity,
    x0_from_velocity,
)
from vidalign.flow.sde import SDEStep, gaussian_log_prob, sde_sample
from vidalign.flow.solver import VelocityFn, euler_sample
from vidalign.flow.timesteps import (
    TimeSampling,
    sample_logit_normal,
    sample_time,
    sample_uniform,
    shift_time,
    time_grid,
)

__all__ = [
    "PathSample",
    "SDEStep",
    "TimeSampling",
    "VelocityFn",
    "classifier_free_guidance",
    "euler_sample",
    "flow_matching_loss",
    "gaussian_log_prob",
    "interpolate",
    "noise_from_velocity",
    "sample_logit_normal",
    "sample_path",
    "sample_time",
    "sample_uniform",
    "sde_sample",
    "shift_time",
    "target_velocity",
    "time_grid",
    "x0_from_velocity",
]
