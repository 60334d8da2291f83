"""lr, warmup and momentum policies with MMCV 1.x semantics, as pure functions of the step.

`LR_POLICIES` and `MOMENTUM_POLICIES` map each config option (conf/schedule/<name>.yaml,
conf/momentum/<name>.yaml) to its policy class; `optkit.config` derives the schemas.
"""
from optkit.schedule.cosine import CosineAnnealing, CosineAnnealingMomentum
from optkit.schedule.cosine_restart import CosineRestart
from optkit.schedule.curve import Curve, MomentumCurve, PolicyCurve, Schedule, lr_curve, momentum_curve
from optkit.schedule.cyclic import Cyclic, CyclicMomentum
from optkit.schedule.exp import Exp
from optkit.schedule.fixed import Fixed
from optkit.schedule.flat_cosine import FlatCosineAnnealing
from optkit.schedule.inv import Inv
from optkit.schedule.inverse_sqrt import InverseSqrt
from optkit.schedule.keys import KEYS, GroupKey
from optkit.schedule.linear import LinearAnnealing, LinearAnnealingMomentum
from optkit.schedule.momentum import MomentumPolicy
from optkit.schedule.onecycle import OneCycle, OneCycleMomentum
from optkit.schedule.policy import LrPolicy
from optkit.schedule.poly import Poly
from optkit.schedule.scheduler import Scheduler
from optkit.schedule.step import Step, StepMomentum
from optkit.schedule.timeline import Timeline
from optkit.schedule.warmup import Warmup
from optkit.schedule.wsd import WSD

LR_POLICIES = {
    "fixed": Fixed,
    "step": Step,
    "exp": Exp,
    "poly": Poly,
    "inv": Inv,
    "cosine": CosineAnnealing,
    "flat_cosine": FlatCosineAnnealing,
    "cosine_restart": CosineRestart,
    "cyclic": Cyclic,
    "onecycle": OneCycle,
    "linear": LinearAnnealing,
    "wsd": WSD,
    "inverse_sqrt": InverseSqrt,
}

# `momentum=none` (conf/momentum/none.yaml) sets `momentum: null`: the optimizer's own stays.
MOMENTUM_POLICIES = {
    "step": StepMomentum,
    "cosine": CosineAnnealingMomentum,
    "cyclic": CyclicMomentum,
    "onecycle": OneCycleMomentum,
    "linear": LinearAnnealingMomentum,
}

__all__ = [
    "LR_POLICIES",
    "MOMENTUM_POLICIES",
    "CosineAnnealing",
    "CosineAnnealingMomentum",
    "CosineRestart",
    "Curve",
    "Cyclic",
    "CyclicMomentum",
    "Exp",
    "Fixed",
    "FlatCosineAnnealing",
    "GroupKey",
    "Inv",
    "KEYS",
    "InverseSqrt",
    "LinearAnnealing",
    "LinearAnnealingMomentum",
    "LrPolicy",
    "MomentumCurve",
    "MomentumPolicy",
    "OneCycle",
    "OneCycleMomentum",
    "PolicyCurve",
    "Poly",
    "Schedule",
    "Scheduler",
    "Step",
    "StepMomentum",
    "Timeline",
    "WSD",
    "Warmup",
    "lr_curve",
    "momentum_curve",
]
