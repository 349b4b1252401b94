"""Search strategies: which configurations a sweep tries, and which trials it stops early.

    space           how a space is described; the configurations it can produce; start points
    searches        SEARCHES: grid, random, optuna (tuner's TPE), optuna-tpe, ray-optuna, budgeted
    budgeted        budgeted successive halving: rungs whose schedules end at their budget (BOHB's rule for new ones)
    schedulers      TRIAL_SCHEDULERS: none, asha, hyperband, median, optuna-median, ray-asha, pbt, pb2
    population      population-based training (pbt, pb2): its settings and checks
    optuna_search   tuner's Optuna search (trials told as they ended), samplers, the study's journal
    warm            warm starts: an earlier run's trials told to a new study

Factories take a Sweep (tuner.sweep.spec) and return Ray Tune's own objects; nothing here imports the sweep layer.
"""

from tuner.search.optuna_search import SAMPLERS
from tuner.search.schedulers import TRIAL_SCHEDULERS, trial_scheduler
from tuner.search.searches import BUDGETED_SEARCHES, OPTUNA_SEARCHES, SEARCHES, objectives, search_algorithm, tune_samples

__all__ = ["BUDGETED_SEARCHES", "OPTUNA_SEARCHES", "SAMPLERS", "SEARCHES", "TRIAL_SCHEDULERS", "objectives", "search_algorithm",
           "trial_scheduler", "tune_samples"]
