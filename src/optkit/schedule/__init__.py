"""lr, warmup and momentum policies with MMCV 1.x semantics, as pure functions of the step."""
from optkit.schedule.cosine import CosineAnnealing
from optkit.schedule.curve import Schedule, lr_curve
from optkit.schedule.fixed import Fixed
from optkit.schedule.policy import LrPolicy
from optkit.schedule.scheduler import Scheduler
from optkit.schedule.step import Step
from optkit.schedule.timeline import Timeline
from optkit.schedule.warmup import Warmup

LR_POLICIES = {"fixed": Fixed, "step": Step, "cosine": CosineAnnealing}

__all__ = [
    "CosineAnnealing",
    "Fixed",
    "LR_POLICIES",
    "LrPolicy",
    "Schedule",
    "Scheduler",
    "Step",
    "Timeline",
    "Warmup",
    "lr_curve",
]
