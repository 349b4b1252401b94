"""A restored Optuna search phase that runs wherever its run folder is now.

Tune pickles the search phase's objects with the paths they had: the searcher's study names the journal's absolute
path (tuner.search.optuna_search rebinds it), and the search generator's experiment names the storage path that new
trials are created under. A run folder moved (or resumed on another machine, or at a URI fetched to another place)
would create every new trial under the old path, where Ray refuses to write. Tuner.restore takes no search algorithm;
tuner.sweep.tuners.restored_tuner hands this one in place of the pickled one.
"""

from __future__ import annotations

from typing import Any


def search_generator(searcher: Any, experiment_path: str, max_concurrent: int | None) -> Any:
    """Tune's SearchGenerator around `searcher` (with its concurrency limit, as tune.run would add it) that, once
    restored from Ray's snapshot, creates new trials under `experiment_path` (the experiment folder as it is now)."""
    from ray.train._internal.storage import get_fs_and_path
    from ray.tune.search import ConcurrencyLimiter, SearchGenerator

    class HereSearchGenerator(SearchGenerator):
        def restore_from_dir(self, dirpath: str) -> None:
            super().restore_from_dir(dirpath)
            storage = getattr(self._experiment, "storage", None)
            if storage is None:
                return
            parent, _, folder = experiment_path.rstrip("/").rpartition("/")
            storage.storage_filesystem, storage.storage_fs_path = get_fs_and_path(parent)
            storage.experiment_dir_name = folder

    return HereSearchGenerator(ConcurrencyLimiter(searcher, max_concurrent) if max_concurrent else searcher)
